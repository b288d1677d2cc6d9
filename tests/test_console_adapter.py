"""Tests for bot.adapters.console: a terminal user switches roles and chats and sees the bot's answers."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

from bot.adapters.console import ConsoleAdapter
from bot.bridge import Bridge
from handlers.context import Core
from handlers.router import Router
from storage.officials import add_official
from storage.reports import list_reports
from storage.tips import list_tips


async def _chat(core: Core, lines: list[str], *, interactive: bool = False) -> str:
    with core.sessions.begin() as s:
        add_official(s, "console", "official", "控制台值班员", role="admin")
    out = io.StringIO()
    adapter = ConsoleAdapter(
        core.profile, core.texts, io.StringIO("\n".join(lines) + "\n"), out, interactive=interactive
    )
    stop = asyncio.Event()
    await asyncio.wait_for(adapter.run(Bridge(*Router(core).parts), stop), timeout=30)
    assert stop.is_set()  # end of input ends the program
    return out.getvalue()


async def test_switches_change_who_speaks_and_where(core: Core) -> None:
    out = await _chat(
        core,
        [
            ":群 庙坪",
            "村小学门口的电线杆歪了，快倒了",
            ":私聊",
            "后沟那个煤窑晚上偷偷开采，别说是我说的",
            ":干部",
            ":群",
            "/整改完成 1",
        ],
    )
    assert "已切换：村民，庙坪村群。" in out
    assert "已登记隐患 #1" in out
    assert "回执码：" in out
    assert "隐患 #1 已标记为已整改" in out
    with core.sessions() as s:
        reports = list_reports(s)
        assert len(reports) == 1  # the private tip is in the tip store, not among the group reports
        assert reports[0].village == "庙坪村" and reports[0].status == "rectified"
        (tip,) = list_tips(s)
        assert tip.kind == "tip" and "偷偷开采" in tip.text


async def test_unknown_switches_and_villages_are_explained(core: Core) -> None:
    out = await _chat(core, [":飞", ":群 火星村"])
    assert "不认识的切换命令" in out
    assert "镇情档案里没有“火星村”" in out


async def test_interactive_mode_shows_a_banner_and_prefixes_the_bot(core: Core) -> None:
    out = await _chat(core, ["王家沟村东头老窑洞裂了好宽的缝，下雨怕塌", ":退出", "收到"], interactive=True)
    assert "终端试用模式" in out
    assert "【克虎镇安全助手】已登记隐患 #1" in out


# --- as a program: ``anquan run`` with piped input ------------------------------------------------------

ANQUAN = str(Path(sys.executable).with_name("anquan"))


def _anquan_run(tmp_path: Path, data: bytes) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANQUAN_")}
    env |= {"ANQUAN_DATA_DIR": str(tmp_path / "data"), "ANQUAN_SECRET_KEY": "test"}
    return subprocess.run(
        [ANQUAN, "run"], input=data, capture_output=True, timeout=180, env=env, cwd=tmp_path
    )


def test_bytes_that_are_not_utf8_are_replaced_and_the_message_is_filed(tmp_path: Path) -> None:
    proc = _anquan_run(
        tmp_path,
        b"\xff\xfe\xe7\x94\xb5\xe7\xba\xbf\xe7\x9d\x80\xe7\x81\xab\xe4\xba\x86\n"
        + "村东头电线杆子歪了，快倒了\n".encode(),
    )
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "UnicodeEncodeError" not in err
    assert "已登记重大隐患 #1" in out  # 电线着火了, behind two bad bytes
    assert "已登记隐患 #2" in out  # and the bot carries on


def test_piped_input_sends_the_last_broadcast_before_the_program_ends(tmp_path: Path) -> None:
    lines = [":干部", "/广播 全部 今晚大风，注意防火", "/确认广播 1"]
    proc = _anquan_run(tmp_path, ("\n".join(lines) + "\n").encode())
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "广播 #1 已开始发送" in out
    assert out.rstrip().endswith("今晚大风，注意防火")  # the push itself, printed before exit
    assert "Traceback" not in err
