"""The web dashboard in a real browser: Playwright for Python driving Debian's chromium against a real uvicorn
server on a free loopback port, with the login link produced by ``/后台`` over the Telegram fake.

Walks every page (screenshots go to pytest's temp folder, never the repo), filters the ledger and opens the
exported xlsx, accepts a report through the form and sees the event in chat's ``/查询``; a village official cannot
open another village's report or the tips page; a reused link and a POST without the CSRF token fail.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
playwright_api = pytest.importorskip("playwright.async_api")

from openpyxl import load_workbook  # noqa: E402

from bot.adapters.telegram import RetryPolicy, SendLimiter, TelegramAdapter  # noqa: E402
from bot.app import Database  # noqa: E402
from bot.bridge import Bridge  # noqa: E402
from bot.cli_web import make_server  # noqa: E402
from handlers import web_login  # noqa: E402
from handlers.classifier import Classifier  # noqa: E402
from handlers.profile import Profile  # noqa: E402
from handlers.router import Router  # noqa: E402
from handlers.texts import Texts  # noqa: E402
from storage.officials import add_official  # noqa: E402
from storage.reports import set_status  # noqa: E402
from tests.conftest import Clock, make_core  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI, private_chat, text_update, user  # noqa: E402
from tests.helpers import file_report  # noqa: E402
from web.app import create_app  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (apt-get install -y chromium); the browser tests drive it",
)

ADMIN = user(6120334580, "主任", "刘")
STATION = user(6120334581, "站长", "张")
VILLAGE = user(6120334582, "书记", "王")
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/login/[A-Za-z0-9_-]+)")


@pytest.fixture(autouse=True)
def _forget_base_url() -> Iterator[None]:
    """create_app sets the links' base URL for the process; each test starts and ends without one."""
    yield
    web_login.configure(None)


class Site:
    """The bot behind the Telegram fake and the dashboard on loopback, sharing one core."""

    def __init__(self, api: FakeTelegramAPI, base: str, db: Database, ids: dict[str, int]) -> None:
        self.api, self.base, self.db, self.ids = api, base, db, ids

    async def say(self, sender: dict[str, Any], text: str, timeout: float = 10.0) -> str:
        """Send a private message to the bot and wait for its answer."""
        before = len(self.api.sent)
        self.api.push_update(text_update(private_chat(sender), sender, text))
        await self.api.wait_for(
            lambda: any(s.chat_id == str(sender["id"]) for s in self.api.sent[before:]), timeout
        )
        return next(s.text for s in self.api.sent[before:] if s.chat_id == str(sender["id"]))

    async def link(self, sender: dict[str, Any]) -> str:
        """A login link from ``/后台``."""
        found = LINK.search(await self.say(sender, "/后台"))
        assert found, "no login link in the reply"
        return found.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def site(
    sqlite_database: Database, classifier: Classifier, texts: Texts, profile: Profile, clock: Clock
) -> AsyncIterator[Site]:
    core = make_core(sqlite_database, classifier, texts, profile, clock)
    with sqlite_database.sessions.begin() as s:
        add_official(s, "telegram", str(ADMIN["id"]), "刘主任", "admin", "应急管理站")
        add_official(s, "telegram", str(STATION["id"]), "张站长", "station", "应急管理站")
        add_official(s, "telegram", str(VILLAGE["id"]), "王书记", "village", "王家沟村")
        soon = clock() + timedelta(days=7)
        wang = file_report(s, text="王家沟村后山煤窑顶板裂缝", village="王家沟村", deadline=soon)
        set_status(s, wang, "rectified", "刘主任(telegram:6120334580)", note="已加固")
        wang.rectified_by, wang.rectified_at = "刘主任(telegram:6120334580)", clock()
        other = file_report(s, text="王家沟村口电线老化", village="王家沟村", deadline=soon)
        li = file_report(s, text="李家庄村河边护栏坏了", village="李家庄村", category="water", deadline=soon)
        ids = {"wang": wang.id, "wang_other": other.id, "li": li.id}
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server: Any = make_server(create_app(core, base_url=base), f"127.0.0.1:{port}")
    server.install_signal_handlers = lambda: None
    web_task = asyncio.create_task(server.serve())
    bridge = Bridge(*Router(core).parts)
    async with FakeTelegramAPI() as api:
        adapter = TelegramAdapter(
            api.token,
            base_url=api.base_url,
            poll_timeout=2.0,
            limiter=SendLimiter(chat_interval=0.05),
            retry=RetryPolicy(base_delay=0.05, max_seconds=20.0),
        )
        stop = asyncio.Event()
        bot_task = asyncio.create_task(adapter.run(bridge, stop))
        for _ in range(100):
            if server.started:
                break
            await asyncio.sleep(0.05)
        try:
            yield Site(api, base, sqlite_database, ids)
        finally:
            stop.set()
            server.should_exit = True
            await asyncio.wait_for(bot_task, 15)
            await asyncio.wait_for(web_task, 15)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


async def _shot(page: Any, folder: Path, name: str) -> None:
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


async def test_an_official_walks_every_page_filters_exports_and_accepts(
    site: Site, browser: Any, tmp_path: Path
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    context = await browser.new_context(viewport={"width": 412, "height": 900}, accept_downloads=True)
    page = await context.new_page()
    link = await site.link(ADMIN)
    await page.goto(link)  # the page logs in by POST at once
    await page.wait_for_url(f"{site.base}/")
    await page.wait_for_function("document.querySelector('#trend canvas') !== null")
    assert "未整改" in await page.content()
    await _shot(page, shots, "overview")
    for name, title in (
        ("villages", "村级看板"),
        ("calendar", "日程推送"),
        ("tips", "举报"),
        ("ledger", "隐患台账"),
    ):
        await page.click(f"header nav a[href='/{name}']")
        assert title in await page.inner_text("main h1")
        await _shot(page, shots, name)

    # Filter the ledger to 王家沟村, then export exactly that view.
    await page.select_option("select[name=village]", "王家沟村")
    await page.click("#filters button[type=submit]")
    assert await page.inner_text("#total") == "2"
    async with page.expect_download() as info:
        await page.click("#export")
    download = await info.value
    target = tmp_path / "ledger.xlsx"
    await download.save_as(str(target))
    sheet = load_workbook(target).worksheets[0]
    numbers = sorted(row[1] for row in sheet.iter_rows(min_row=3, values_only=True))
    assert numbers == sorted([f"#{site.ids['wang']}", f"#{site.ids['wang_other']}"])

    # The reused link opens nothing.
    other = await browser.new_context()
    reused = await other.new_page()
    response = await reused.goto(link)
    assert response is not None and response.status == 403 and "不能用了" in await reused.content()
    await other.close()
    await context.close()

    # A station official accepts through the form; chat's /查询 shows the acceptance with its actor.
    station = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await station.new_page()
    await page.goto(await site.link(STATION))
    await page.wait_for_url(f"{site.base}/")
    await page.goto(f"{site.base}/reports/{site.ids['wang']}")
    await _shot(page, shots, "report")
    await page.select_option("#form-accept select[name=verdict]", "合格")
    await page.fill("#form-accept input[name=note]", "现场复核通过")
    await page.click("#form-accept button[type=submit]")
    assert f"#{site.ids['wang']}" in await page.inner_text("#message")
    assert "现场复核通过" in await page.inner_text("#timeline")
    card = await site.say(STATION, f"/查询 {site.ids['wang']}")
    assert "现场复核通过" in card and "张站长" in card

    # A POST without the CSRF token is refused.
    refused = await page.request.post(
        f"{site.base}/reports/{site.ids['wang_other']}/action", form={"action": "measures", "measures": "x"}
    )
    assert refused.status == 403
    await station.close()


async def test_a_village_official_stays_in_their_village(site: Site, browser: Any, tmp_path: Path) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(await site.link(VILLAGE))
    await page.wait_for_url(f"{site.base}/")
    assert "举报" not in await page.inner_text("header nav")
    response = await page.goto(f"{site.base}/reports/{site.ids['li']}")
    assert response is not None and response.status == 403
    assert "王家沟村" in await page.inner_text("main")
    response = await page.goto(f"{site.base}/tips")
    assert response is not None and response.status == 403
    await page.goto(f"{site.base}/villages")
    tiles = await page.inner_text(".tiles")
    assert "王家沟村" in tiles and "李家庄村" not in tiles
    await page.screenshot(path=str(tmp_path / "village.png"))
    await context.close()
