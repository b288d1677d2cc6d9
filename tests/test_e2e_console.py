"""End to end in the console (``make run``): the ledger and a tip thread typed as a township tester would.

The console plays one villager and two officials: the admin (``:干部``) and a station's (``:站所``), so the
acceptance by someone other than who rectified can be shown there too.
"""

from __future__ import annotations

import asyncio
import io
import re

from bot.adapters.console import ConsoleAdapter
from bot.bridge import Bridge
from handlers.context import Core
from handlers.router import Router
from storage.officials import add_official
from storage.tip_threads import get_reward


async def _console(core: Core, lines: list[str]) -> str:
    with core.sessions.begin() as s:
        add_official(s, "console", "official", "控制台值班员", role="admin")
        add_official(s, "console", "inspector", "控制台验收员", role="station")
    out = io.StringIO()
    adapter = ConsoleAdapter(
        core.profile, core.texts, io.StringIO("\n".join(lines) + "\n"), out, interactive=False
    )
    await asyncio.wait_for(adapter.run(Bridge(*Router(core).parts), asyncio.Event()), timeout=60)
    return out.getvalue()


async def test_console_ledger_from_filing_to_closing(core: Core) -> None:
    out = await _console(
        core,
        [
            ":群 王家沟",
            "王家沟村口的路灯杆歪了，随时会倒",
            ":干部",
            "/指派 1 供电所 刘师傅",
            "/措施 1 更换灯杆，加固基础",
            "/资金 1 3000",
            "/延期 1 6月20日 等新灯杆到货",
            "/整改完成 1 已更换",
            "/验收 1 合格",
            ":站所",
            "/验收 1 不合格 基础没浇",
            ":干部",
            "/整改完成 1 补浇了基础",
            ":站所",
            "/验收 1 合格 复查合格",
            "/查询 1",
        ],
    )
    assert "已登记隐患 #1" in out
    assert "隐患 #1 已指派给 供电所，责任人 刘师傅。" in out
    assert "隐患 #1 整改资金：¥3,000。" in out and "延至 2026-06-20" in out
    assert "要由另一名干部验收" in out  # the admin marked it rectified: not theirs to accept
    assert "隐患 #1 验收不合格（第 1 次）：基础没浇" in out and "隐患 #1 验收合格，已销号。" in out
    assert "责任单位：供电所 刘师傅" in out and "整改时限：2026-06-20（延期 1 次）" in out
    assert "状态：已销号" in out and "累计不合格 1 次" in out


async def test_console_tip_thread_question_answer_and_reward(core: Core) -> None:
    first = await _console(core, [":私聊", "举报 后沟那个煤窑晚上偷偷开采，别说是我说的"])
    number = re.search(r"T\d{6}", first).group(0)  # type: ignore[union-attr]
    code = re.search(r"回执码：(\S+)", first).group(1)  # type: ignore[union-attr]
    out = await _console(
        core,
        [
            ":干部",
            ":私聊",
            f"/追问 {number} 晚上几点开工？",
            ":村民",
            f"/进度 {code}",
            "十点以后，拉煤的是三轮车",
            ":干部",
            f"/查询 {number}",
            f"/属实 {number} 违法行为 10万",
            ":村民",
            f"/领奖 {code}",
        ],
    )
    assert "1. 晚上几点开工？" in out and f"已补充到您的举报 {number}" in out
    assert "举报人 答：十点以后，拉煤的是三轮车" in out and "（已读）" in out
    assert "奖励 ¥15,000" in out and "身份证件" in out
    with core.sessions() as s:
        assert get_reward(s, int(number[1:])).status == "pending"  # type: ignore[union-attr]
