"""Fuzzing: generated messages (random Unicode, control characters, lone surrogates, huge lines, command-shaped
noise, mixed with real hazards) through ``Router.dispatch`` and through ``anquan parse``.

Nothing may crash or log a traceback, and the bot must keep answering real hazards afterwards. The suite runs a
few thousand messages; ``ANQUAN_FUZZ_N=100000`` runs the full hundred thousand (router and ``anquan parse``), and
``ANQUAN_FUZZ_SEED`` picks another seed.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.context import Core
from handlers.messages import IncomingMessage, QuotedMessage
from handlers.router import Router
from storage.officials import add_official

FUZZ_N = int(os.environ.get("ANQUAN_FUZZ_N", "2000"))
FUZZ_SEED = int(os.environ.get("ANQUAN_FUZZ_SEED", "20261203"))
ANQUAN = str(Path(sys.executable).with_name("anquan"))
BOT_USERNAME = "anquan_test_bot"
OFFICIAL_TG = "9001"

REAL_HAZARDS = [
    "村东头电线杆子歪了，快倒了",
    "王家沟村东头老窑洞裂了好宽的缝，下雨怕塌",
    "后沟煤矿井口冒烟了",
    "学校门口的桥护栏断了",
    "电线着火了",
]
REAL_CHATTER = ["收到", "明天几点开会", "热炸了", "好的", "哈哈哈"]
COMMAND_HEADS = [
    "/整改完成 ",
    "/整改完成",
    "／整改完成 ",
    "/整改中 ",
    "/销号 ",
    "/绑定",
    "/绑定 ",
    "/进度",
    "/进度 ",
    "/查询 ",
    "／查询",
    "/清单",
    "/清单 全部",
    "/帮助",
    "/广播 全部 ",
    "/确认广播 ",
    "/登记 ",
    "/忽略 ",
    "/不是隐患 ",
    "/done@" + BOT_USERNAME + " ",
    "/done@other_bot ",
    "/start",
    "@" + BOT_USERNAME + " ",
    "@某人 ",
    "举报 ",
    "/",
    "／",
    "//",
]
# Characters that break naive code: controls, NUL, bidi overrides, zero-width, BOM, line separators, surrogates.
NASTY = [
    "\x00",
    "\x07",
    "\x1b[31m",
    "\r",
    "\n",
    "\t",
    "\u200b",
    "\u200d",
    "\u202e",
    "\ufeff",
    "\u2028",
    "\ufffd",
    "\ud800",
    "\udfff",
    "\udcff",
    "\U0001f525",
    "🧯",
    "ｱ",
    "Ⅻ",
    "𠀀",
    "%s",
    "{0}",
    "{text}",
    "'; DROP TABLE reports; --",
    "\\",
    '"',
]


# --- the generator -----------------------------------------------------------------------------------------


def _junk(rng: random.Random, size: int) -> str:
    pieces = []
    for _ in range(size):
        roll = rng.random()
        if roll < 0.35:
            pieces.append(chr(rng.randint(0x4E00, 0x9FFF)))
        elif roll < 0.55:
            pieces.append(chr(rng.randint(0x20, 0x7E)))
        elif roll < 0.70:
            pieces.append(rng.choice(NASTY))
        elif roll < 0.80:
            pieces.append(chr(rng.randint(0, 0x1F)))
        elif roll < 0.90:
            pieces.append(chr(rng.randint(0xD800, 0xDFFF)))  # lone surrogates
        else:
            pieces.append(chr(rng.randint(0x80, 0x10FFFF)))
    return "".join(pieces)


def fuzz_texts(n: int, seed: int) -> Iterator[str]:
    """``n`` generated message texts: noise of every kind, command-shaped noise, and real messages among them."""
    rng = random.Random(seed)
    for i in range(n):
        roll = rng.random()
        if roll < 0.10:
            yield rng.choice(REAL_HAZARDS)
        elif roll < 0.15:
            yield rng.choice(REAL_CHATTER)
        elif roll < 0.45:
            head = rng.choice(COMMAND_HEADS)
            tail = rng.choice(
                [
                    str(rng.randint(-5, 10**12)),
                    _junk(rng, rng.randint(0, 20)),
                    f"{rng.randint(1, 50)} {_junk(rng, rng.randint(0, 30))}",
                    "T" + str(rng.randint(0, 999999)),
                    rng.choice(REAL_HAZARDS),
                    "",
                ]
            )
            yield head + tail
        elif roll < 0.50:
            # Huge lines: a platform may cap them, the console and a JSON payload do not.
            yield _junk(rng, 50) * rng.randint(100, 2000) if i % 7 else rng.choice(REAL_HAZARDS) * 5000
        elif roll < 0.60:
            yield rng.choice(REAL_HAZARDS) + _junk(rng, rng.randint(1, 10))
        else:
            yield _junk(rng, rng.randint(0, 80))


_ids = itertools.count(1)


def as_message(text: str, rng: random.Random) -> IncomingMessage:
    """``text`` as a console- or Telegram-shaped message, in a group or a private chat, now and then quoting."""
    n = next(_ids)
    private = rng.random() < 0.3
    if rng.random() < 0.5:  # the console: one local user, no flood limits
        official = rng.random() < 0.3
        sender = "official" if official else "villager"
        return IncomingMessage(
            platform="console",
            chat_id=f"private:{sender}" if private else "group:克虎村",
            chat_type="private" if private else "group",
            message_id=f"fuzz-{n}",
            sender_id=sender,
            sender_name="控制台值班员" if official else "村民",
            text=text,
            chat_title=None if private else "克虎村群",
            unlimited=True,
        )
    sender = OFFICIAL_TG if rng.random() < 0.2 else str(rng.randint(10_000, 99_999))
    quoted = None
    if not private and rng.random() < 0.1:
        quoted = QuotedMessage(str(rng.randint(1, n)), str(rng.randint(1, 9)), _junk(rng, 5), _junk(rng, 20))
    return IncomingMessage(
        platform="telegram",
        chat_id=sender if private else f"-100{rng.randint(1, 5)}",
        chat_type="private" if private else "group",
        message_id=str(n),
        sender_id=sender,
        sender_name=_junk(rng, rng.randint(0, 140)),
        text=text,
        chat_title=None
        if private
        else rng.choice(["王家沟村民群", "克虎村群", _junk(rng, 12), "后沟村\u202e群"]),
        reply_to=quoted,
        bot_username=BOT_USERNAME,
    )


# --- through the router -------------------------------------------------------------------------------------


def _fuzz_router(core: Core) -> Router:
    with core.sessions.begin() as s:
        add_official(s, "console", "official", "控制台值班员", role="admin")
        add_official(s, "telegram", OFFICIAL_TG, "值班员", role="admin")
    return Router(core)


def _assert_still_answers(router: Router) -> None:
    msg = IncomingMessage(
        platform="telegram",
        chat_id="-100777",
        chat_type="group",
        message_id=f"after-{next(_ids)}",
        sender_id="4242",
        sender_name="老王",
        text="王家沟村东头老窑洞裂了好宽的缝，下雨怕塌",
        chat_title="王家沟村民群",
    )
    result = router.dispatch(msg)
    assert result.report_id is not None and any(f"#{result.report_id}" in r.text for r in result.replies)


def _no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert bad == [], [(r.name, r.getMessage()) for r in bad[:5]]


def test_generated_messages_never_crash_the_router(core: Core, caplog: pytest.LogCaptureFixture) -> None:
    router = _fuzz_router(core)
    rng = random.Random(FUZZ_SEED)
    outcomes: dict[str, int] = {}
    with caplog.at_level(logging.WARNING):
        for text in fuzz_texts(FUZZ_N, FUZZ_SEED):
            result = router.dispatch(as_message(text, rng))
            outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
            for reply in result.replies:
                reply.text.encode("utf-8")  # every reply can be sent: no lone surrogate in it
    _no_tracebacks(caplog)
    assert "failed" not in outcomes, outcomes
    assert (
        outcomes.get("filed", 0) + outcomes.get("duplicate", 0) > 0
    )  # real hazards among the noise were filed
    _assert_still_answers(router)


nasty_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=300)
command_text = st.builds(lambda head, tail: head + tail, st.sampled_from(COMMAND_HEADS), nasty_text)
mixed_text = st.one_of(
    nasty_text,
    command_text,
    st.sampled_from(REAL_HAZARDS + REAL_CHATTER),
    st.builds(lambda a, b: a + b, st.sampled_from(REAL_HAZARDS), nasty_text),
    st.builds(lambda s, k: s * k, st.text(max_size=20), st.integers(1, 3000)),
)


@settings(
    max_examples=int(os.environ.get("ANQUAN_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    text=mixed_text,
    name=nasty_text,
    title=st.one_of(st.none(), nasty_text),
    private=st.booleans(),
    official=st.booleans(),
    console=st.booleans(),
)
def test_structured_messages_never_crash_the_router(
    core: Core,
    caplog: pytest.LogCaptureFixture,
    text: str,
    name: str,
    title: str | None,
    private: bool,
    official: bool,
    console: bool,
) -> None:
    router = Router(core)
    if official:
        with core.sessions.begin() as s:
            add_official(s, "console" if console else "telegram", OFFICIAL_TG, "值班员", role="admin")
    n = next(_ids)
    msg = IncomingMessage(
        platform="console" if console else "telegram",
        chat_id=OFFICIAL_TG if private else "-1005",
        chat_type="private" if private else "group",
        message_id=str(n),
        sender_id=OFFICIAL_TG,
        sender_name=name,
        text=text,
        chat_title=None if private else title,
        bot_username=None if console else BOT_USERNAME,
        unlimited=console,
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        result = router.dispatch(msg)
        for reply in result.replies:
            reply.text.encode("utf-8")
    _no_tracebacks(caplog)
    assert result.outcome != "failed"


# --- through ``anquan parse`` ------------------------------------------------------------------------------


def _parse(args: list[str], data: bytes, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANQUAN_")}
    env["ANQUAN_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([ANQUAN, "parse", *args], input=data, capture_output=True, timeout=900, env=env)


def _bad_bytes(rng: random.Random) -> bytes:
    return bytes(rng.choice([0xFF, 0xFE, 0xC0, 0x80, 0xED, 0xA0, 0xE7]) for _ in range(rng.randint(1, 4)))


def test_generated_lines_never_crash_anquan_parse(tmp_path: Path) -> None:
    rng = random.Random(FUZZ_SEED)
    lines: list[bytes] = []
    for text in fuzz_texts(FUZZ_N, FUZZ_SEED):
        raw = text.replace("\n", " ").encode("utf-8", "replace")  # lone surrogates: "?"
        if rng.random() < 0.1:
            raw = _bad_bytes(rng) + raw  # bytes that are not UTF-8 at all
        lines.append(raw)
    proc = _parse([], b"\n".join(lines) + b"\n", tmp_path)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    out = proc.stdout.decode("utf-8").splitlines()
    assert len(out) == len(lines)  # one answer per line, in order
    answers = [json.loads(line) for line in out]
    assert all("intent" in a for a in answers)
    first_real = next(i for i, raw in enumerate(lines) if raw.decode("utf-8", "replace") in REAL_HAZARDS)
    assert answers[first_real]["intent"] == "hazard"


def test_generated_json_lines_never_crash_anquan_parse(tmp_path: Path) -> None:
    rng = random.Random(FUZZ_SEED + 1)
    objects = []
    for text in fuzz_texts(max(FUZZ_N // 4, 200), FUZZ_SEED + 1):
        obj: object = {"text": text, "chat": rng.choice(["group", "private"])}
        if rng.random() < 0.05:
            obj = rng.choice([[text], {"txt": text}, {"text": 5}, {"text": text, "chat": "channel"}, text])
        objects.append(json.dumps(obj))  # ASCII escapes: lone surrogates reach the parser as \\udXXX
    lines = [line for line in objects if line.strip()]
    proc = _parse(["--jsonl"], ("\n".join(lines) + "\n").encode(), tmp_path)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    out = proc.stdout.decode("utf-8").splitlines()
    assert len(out) == len(lines)
    assert all("intent" in json.loads(o) or "error" in json.loads(o) for o in out)
