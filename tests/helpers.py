"""Small builders shared by tests: chat messages as adapters would hand them to the core."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from handlers.messages import IncomingMessage
from storage.models import Report
from storage.reports import create_report

_ids = itertools.count(1)


def group_msg(
    text: str,
    *,
    sender: str = "u1",
    chat: str = "-100",
    title: str | None = "王家沟村民群",
    platform: str = "telegram",
    message_id: str | None = None,
) -> IncomingMessage:
    """A message typed in a group chat."""
    return IncomingMessage(
        platform=platform,
        chat_id=chat,
        chat_type="group",
        message_id=message_id or str(next(_ids)),
        sender_id=sender,
        sender_name="老王",
        text=text,
        chat_title=title,
    )


def private_msg(
    text: str, *, sender: str = "u9", platform: str = "telegram", message_id: str | None = None
) -> IncomingMessage:
    """A message typed in a private chat with the bot."""
    return IncomingMessage(
        platform=platform,
        chat_id=sender,
        chat_type="private",
        message_id=message_id or str(next(_ids)),
        sender_id=sender,
        sender_name="匿名者",
        text=text,
    )


def file_report(session: Session, **fields: Any) -> Report:
    """File a report straight into the ledger (a hazard with plain defaults; ``fields`` override them)."""
    values: dict[str, Any] = {
        "kind": "hazard",
        "category": "building",
        "severity": "general",
        "text": "测试",
        "confidence": 0.9,
    }
    values.update(fields)
    return create_report(session, actor="test", **values)
