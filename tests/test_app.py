"""Tests for bot.app: adapters are supervised independently and shutdown lets replies go out."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot import app
from bot.adapters.base import Adapter
from bot.bridge import Bridge
from bot.cli import main
from bot.config import Settings
from handlers.messages import DispatchResult, IncomingMessage, Reply
from handlers.profile import DEFAULT_PROFILE
from scheduler.calendar import DEFAULT_PATH as DEFAULT_CALENDAR
from tests.helpers import group_msg


class EchoRouter:
    """Answers every message after a short delay."""

    def dispatch(self, msg: IncomingMessage) -> DispatchResult:
        import time

        time.sleep(0.1)
        return DispatchResult([Reply(msg.chat_id, "re:" + msg.text)])


class FlakyAdapter(Adapter):
    """Fails its first ``failures`` connections, then receives one message and waits for stop."""

    platform = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures, self.starts, self.sent = failures, 0, []

    async def run(self, bridge: Bridge, stop: asyncio.Event) -> None:
        self.starts += 1
        if self.starts <= self.failures:
            raise ConnectionError("connection refused")
        bridge.submit(group_msg("hello"), self._deliver)
        await stop.wait()

    async def _deliver(self, reply: Reply) -> None:
        self.sent.append(reply.text)

    async def send_text(self, chat_id: str, text: str, quote_message_id: str | None = None) -> None:
        self.sent.append(text)


class DeadAdapter(Adapter):
    """Never manages to connect."""

    platform = "dead"

    def __init__(self) -> None:
        self.starts = 0

    async def run(self, bridge: Bridge, stop: asyncio.Event) -> None:
        self.starts += 1
        raise ConnectionError("down")

    async def send_text(self, chat_id: str, text: str, quote_message_id: str | None = None) -> None:
        raise ConnectionError("down")


async def test_a_failing_adapter_is_retried_and_does_not_stop_the_others() -> None:
    flaky, dead = FlakyAdapter(failures=2), DeadAdapter()
    bridge = Bridge(EchoRouter(), None)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(app.serve([flaky, dead], bridge, stop, backoff=0.01))
    for _ in range(100):
        if flaky.starts == 3 and dead.starts >= 3:
            break
        await asyncio.sleep(0.02)
    stop.set()  # stop while the message is still being handled
    await asyncio.wait_for(task, timeout=5)
    assert flaky.starts == 3 and dead.starts >= 3
    assert flaky.sent == ["re:hello"]  # the reply of a message received before stop still went out


def test_unknown_adapters_are_not_built_for_console_only(
    sqlite_database, classifier, texts, profile, clock
) -> None:
    from tests.conftest import make_core

    core = make_core(sqlite_database, classifier, texts, profile, clock)
    adapters = app.make_adapters(Settings(platforms="console"), core)
    assert [a.platform for a in adapters] == ["console"]
    from storage.officials import get_official

    with core.sessions() as s:
        assert get_official(s, "console", "official").role == "admin"


def test_a_platform_without_its_settings_is_refused_clearly(
    sqlite_database, classifier, texts, profile, clock
) -> None:
    import pytest

    from bot.adapters import build_adapter
    from tests.conftest import make_core

    core = make_core(sqlite_database, classifier, texts, profile, clock)
    with pytest.raises(ValueError, match="TOKEN"):
        build_adapter("telegram", Settings(platforms="telegram"), core)
    with pytest.raises(ValueError, match="unknown platform"):
        build_adapter("qq", Settings(), core)


class CappedAdapter(Adapter):
    """Like WeChat after its daily cap: every send is refused until (far) later."""

    platform = "capped"

    async def run(self, bridge: Bridge, stop: asyncio.Event) -> None:
        await stop.wait()

    async def send_text(self, chat_id: str, text: str, quote_message_id: str | None = None) -> None:
        from bot.adapters.base import RetryLater

        raise RetryLater(20 * 3600.0, "daily cap reached")


async def test_a_stop_never_waits_for_a_send_cap(sqlite_database) -> None:  # type: ignore[no-untyped-def]
    import time
    from datetime import UTC, datetime

    from storage.outbox import enqueue

    with sqlite_database.sessions.begin() as s:
        enqueue(
            s,
            dedup_key="cap",
            event="test",
            platform="capped",
            chat_id="room",
            group_id=None,
            text="通知",
            not_before=datetime(2026, 1, 1, tzinfo=UTC),
        )
    bridge = Bridge(EchoRouter(), None)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(app.serve([CappedAdapter()], bridge, stop, sessions=sqlite_database.sessions))
    await asyncio.sleep(0.5)  # the outbox loop has met the cap and is pausing
    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert time.monotonic() - started < 2


class AwayRouter:
    """A router whose database never comes back."""

    def dispatch(self, msg: IncomingMessage, *, retried: bool = False) -> DispatchResult:
        from storage.db import DatabaseUnavailable

        raise DatabaseUnavailable("disconnected")


class OneMessageAdapter(FlakyAdapter):
    def __init__(self) -> None:
        super().__init__(failures=0)


async def test_a_stop_during_a_database_outage_ends_after_the_grace_period() -> None:
    import time

    adapter = OneMessageAdapter()
    bridge = Bridge(AwayRouter(), None, retry_base=0.01, retry_max=0.05)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(app.serve([adapter], bridge, stop, shutdown_grace=0.3))
    await asyncio.sleep(0.2)
    assert bridge.held == 1
    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert 0.2 < time.monotonic() - started < 2
    assert adapter.sent == []


# ---- `anquan run` and `anquan schedule` agree on the calendar in force -----------------------------------------

TOWN_TITLE = "本镇自己的第一条日程"


class _SchedulerStarted(Exception):
    """Raised by the stand-in scheduler: the bot got as far as starting its calendar."""


def _town_calendar(folder: Path) -> Path:
    """A copy of the shipped calendar whose first entry has a title of the town's own."""
    text = DEFAULT_CALENDAR.read_text(encoding="utf-8")
    path = folder / "town_calendar.toml"
    path.write_text(re.sub(r'(?m)^title = ".*"$', f'title = "{TOWN_TITLE}"', text, count=1), encoding="utf-8")
    return path


def _run_calendar(monkeypatch: pytest.MonkeyPatch, options: list[str]) -> Path:
    """The calendar file `anquan run` hands its scheduler (the bot stops right there)."""
    seen: list[Path] = []

    def scheduler(*args: Any, **kwargs: Any) -> None:
        calendar = kwargs.get("calendar", args[2] if len(args) > 2 else None)
        seen.append(Path(getattr(calendar, "path", None) or calendar))
        raise _SchedulerStarted

    monkeypatch.setattr(app, "start_scheduler", scheduler)
    monkeypatch.setattr(app, "make_adapters", lambda settings, core: [])
    monkeypatch.setattr("bot.cli.setup_logging", lambda level: None)
    result = CliRunner().invoke(main, [*options, "run"])
    assert isinstance(result.exception, _SchedulerStarted), result.output
    return seen[0]


def _schedule_titles(options: list[str]) -> set[str]:
    result = CliRunner().invoke(main, [*options, "schedule", "--days", "400", "--json"])
    assert result.exit_code == 0, result.output
    return {json.loads(line)["title"] for line in result.stdout.splitlines()}


@pytest.mark.parametrize("where", ["default", "ANQUAN_CALENDAR", "profile", "option"])
def test_the_bot_and_anquan_schedule_use_the_same_calendar(
    where: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key in list(os.environ):
        if key.startswith("ANQUAN_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANQUAN_DATA_DIR", str(tmp_path / "data"))
    town = _town_calendar(tmp_path)
    options: list[str] = []
    if where == "ANQUAN_CALENDAR":
        monkeypatch.setenv("ANQUAN_CALENDAR", str(town))
    elif where == "profile":  # the profile's own [town] calendar, next to it
        profile = tmp_path / "profile.toml"
        profile.write_text(
            DEFAULT_PROFILE.read_text(encoding="utf-8").replace(
                "[town]\n", f'[town]\ncalendar = "{town.name}"\n', 1
            ),
            encoding="utf-8",
        )
        monkeypatch.setenv("ANQUAN_PROFILE", str(profile))
    elif where == "option":
        options = ["--calendar", str(town)]
    expected = DEFAULT_CALENDAR if where == "default" else town
    assert _run_calendar(monkeypatch, options) == expected
    assert (TOWN_TITLE in _schedule_titles(options)) == (expected == town)
