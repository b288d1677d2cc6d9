"""Structured logging set-up: one line per event, ``key=value`` fields, never message text.

Third-party loggers that would leak secrets or senders are turned down: httpx logs request URLs
(which carry the Telegram token), wechaty logs every received message with the sender's id and name, and
SQLAlchemy's engine log would print statements (its parameters are hidden by ``storage.db.make_engine`` anyway).
"""

from __future__ import annotations

import logging
import sys

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}
# hpack and h2 log gRPC headers (with the puppet token) at DEBUG.
QUIET_LOGGERS = (
    "httpx",
    "httpcore",
    "telegram",
    "apscheduler",
    "grpclib",
    "hpack",
    "h2",
    "jieba",
    "alembic",
    "sqlalchemy",
)


class KeyValueFormatter(logging.Formatter):
    """``time level logger message key=value ...`` with the record's extra fields appended."""

    def format(self, record: logging.LogRecord) -> str:
        base = f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} {record.levelname} {record.name} {record.getMessage()}"
        extras = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD)
        line = f"{base} {extras}" if extras else base
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(level: str = "INFO") -> None:
    """Send our logs to stderr as key=value lines and keep chatty libraries at WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # wechaty names its loggers after classes (Wechaty, Message, Contact ...) and logs senders at INFO.
    from bot.adapters.wechaty import quiet_wechaty_loggers

    quiet_wechaty_loggers()
