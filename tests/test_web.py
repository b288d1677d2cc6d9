"""Tests for the web dashboard (web/): login by one-time link, cookie flags, CSRF, village scope, the pages, the
action forms writing chat's own events, and the Excel export of exactly the filtered view.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from handlers import web_login
from handlers.context import Core
from handlers.router import Router
from storage.officials import add_official
from tests.conftest import Clock
from tests.helpers import file_report, private_msg
from web.app import create_app

BASE = "https://anquan.example"


@pytest.fixture(autouse=True)
def _forget_base_url() -> Iterator[None]:
    """create_app sets the links' base URL for the process; each test starts and ends without one."""
    yield
    web_login.configure(None)


def _say(router: Router, sender: str, text: str) -> str:
    result = router.dispatch(private_msg(text, sender=sender))
    return "\n".join(r.text for r in result.replies)


def _token(router: Router, sender: str) -> str:
    reply = _say(router, sender, "/后台")
    found = re.search(r"/login/([A-Za-z0-9_-]+)", reply)
    assert found, reply
    return found.group(1)


@pytest.fixture
def town(core: Core) -> dict[str, int]:
    """An admin, a station official, a 王家沟村 official; reports in 王家沟村 and 李家庄村."""
    with core.sessions.begin() as s:
        add_official(s, "telegram", "admin", "刘主任", "admin", "应急管理站")
        add_official(s, "telegram", "zhang", "张站长", "station", "应急管理站")
        add_official(s, "telegram", "wang", "王书记", "village", "王家沟村")
        soon = core.clock() + timedelta(days=7)
        past = core.clock() - timedelta(days=2)
        found = core.clock() - timedelta(days=40)
        ids = {
            "wang_major": file_report(
                s,
                text="王家沟村后山煤窑顶板裂缝",
                severity="major",
                village="王家沟村",
                deadline=soon,
                created_at=found,
            ).id,
            "wang_overdue": file_report(
                s, text="王家沟村口电线老化", village="王家沟村", deadline=past, created_at=found
            ).id,
            "li": file_report(
                s, text="李家庄村河边护栏坏了", village="李家庄村", category="water", created_at=found
            ).id,
        }
    return ids


def _client(core: Core) -> TestClient:
    return TestClient(create_app(core, base_url=BASE), base_url="https://testserver")


def _login(client: TestClient, router: Router, sender: str) -> None:
    token = _token(router, sender)
    assert 'action="/login/' in client.get(f"/login/{token}").text
    response = client.post(f"/login/{token}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found
    return found.group(1)


def test_the_link_logs_in_once_and_sets_a_strict_httponly_secure_cookie(
    core: Core, router: Router, town: dict[str, int]
) -> None:
    client = _client(core)
    token = _token(router, "admin")
    # Opening the link (or a chat app's preview fetching it) does not use it up; the page logs in by POST.
    for _ in range(2):
        opened = client.get(f"/login/{token}")
        assert opened.status_code == 200 and opened.headers["referrer-policy"] == "no-referrer"
    response = client.post(f"/login/{token}", follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert (
        "HttpOnly" in cookie
        and "SameSite=strict" in cookie.replace("Strict", "strict")
        and "Secure" in cookie
    )
    assert "总览" in client.get("/").text
    # The same link again: refused, and it opens no session.
    other = _client(core)
    assert other.get(f"/login/{token}").status_code == 403
    again = other.post(f"/login/{token}", follow_redirects=False)
    assert again.status_code == 403 and "不能用了" in again.text
    assert other.get("/", follow_redirects=False).headers["location"] == "/welcome"


def test_a_link_expires_after_ten_minutes(
    core: Core, router: Router, town: dict[str, int], clock: Clock
) -> None:
    token = _token(router, "admin")
    clock.now += timedelta(minutes=11)
    client = _client(core)
    assert client.get(f"/login/{token}").status_code == 403
    assert client.post(f"/login/{token}", follow_redirects=False).status_code == 403


def test_no_link_in_a_group_and_http_base_has_no_secure_flag(
    core: Core, router: Router, town: dict[str, int]
) -> None:
    from tests.helpers import group_msg

    reply = "\n".join(r.text for r in router.dispatch(group_msg("/后台", sender="admin")).replies)
    assert "/login/" not in reply
    client = TestClient(create_app(core, base_url="http://127.0.0.1:8080"))
    response = client.post(f"/login/{_token(router, 'admin')}", follow_redirects=False)
    assert "Secure" not in response.headers["set-cookie"]


def test_without_a_session_every_page_explains_how_to_get_a_link(core: Core, town: dict[str, int]) -> None:
    client = _client(core)
    for page in (
        "/",
        "/villages",
        "/ledger",
        "/tips",
        "/calendar",
        f"/reports/{town['li']}",
        "/ledger/export",
    ):
        response = client.get(page, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/welcome"
    assert "/后台" in client.get("/welcome").text


def test_the_sessions_end_with_logout_and_with_the_chat_command(
    core: Core, router: Router, town: dict[str, int]
) -> None:
    client = _client(core)
    _login(client, router, "admin")
    csrf = _csrf(client.get("/").text)
    client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert client.get("/", follow_redirects=False).status_code == 303
    first, second = _client(core), _client(core)
    _login(first, router, "admin")
    _login(second, router, "admin")
    assert "2" in _say(router, "admin", "/退出后台")
    for c in (first, second):
        assert c.get("/", follow_redirects=False).status_code == 303


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    core: Core, router: Router, town: dict[str, int]
) -> None:
    client = _client(core)
    _login(client, router, "zhang")
    rid = town["li"]
    response = client.post(f"/reports/{rid}/action", data={"action": "measures", "measures": "加装护栏"})
    assert response.status_code == 403
    response = client.post(
        f"/reports/{rid}/action", data={"action": "measures", "measures": "加装护栏", "csrf": "0" * 64}
    )
    assert response.status_code == 403
    assert "加装护栏" not in _say(router, "zhang", f"/查询 {rid}")


def test_a_village_official_sees_only_their_village_and_no_tips(
    core: Core, router: Router, town: dict[str, int]
) -> None:
    client = _client(core)
    _login(client, router, "wang")
    other = client.get(f"/reports/{town['li']}")
    assert other.status_code == 403 and "王家沟村" in other.text
    assert client.get(f"/reports/{town['wang_major']}").status_code == 200
    tips = client.get("/tips")
    assert tips.status_code == 403 and "举报" in tips.text
    ledger = client.get("/ledger?village=李家庄村").text
    assert f"#{town['li']}<" not in ledger and f"#{town['wang_major']}<" in ledger
    board = client.get("/villages").text
    assert "王家沟村" in board and "李家庄村" not in board


def test_accepting_through_the_form_writes_the_event_chat_shows(
    core: Core, router: Router, town: dict[str, int]
) -> None:
    rid = town["li"]
    _say(router, "admin", f"/整改完成 {rid} 护栏已修好")
    client = _client(core)
    _login(client, router, "zhang")
    page = client.get(f"/reports/{rid}")
    assert 'id="form-accept"' in page.text
    response = client.post(
        f"/reports/{rid}/action",
        data={"action": "accept", "verdict": "合格", "note": "现场复核", "csrf": _csrf(page.text)},
    )
    assert response.status_code == 200 and 'id="message"' in response.text
    card = _say(router, "admin", f"/查询 {rid}")
    assert "已销号" in card or "销号" in card
    assert "张站长" in card and "现场复核" in card


def test_refusals_on_the_page_use_the_chat_wording(core: Core, router: Router, town: dict[str, int]) -> None:
    rid = town["li"]
    _say(router, "zhang", f"/整改完成 {rid}")
    client = _client(core)
    _login(client, router, "zhang")
    page = client.get(f"/reports/{rid}")
    response = client.post(
        f"/reports/{rid}/action", data={"action": "accept", "verdict": "合格", "csrf": _csrf(page.text)}
    )
    chat = _say(router, "zhang", f"/验收 {rid} 合格")
    assert chat in response.text.replace("&#34;", '"').replace("&#39;", "'")


def test_the_export_holds_exactly_the_filtered_rows(core: Core, router: Router, town: dict[str, int]) -> None:
    client = _client(core)
    _login(client, router, "admin")
    listed = client.get("/ledger?village=王家沟村&overdue=1")
    assert f"#{town['wang_overdue']}<" in listed.text and f"#{town['wang_major']}<" not in listed.text
    response = client.get("/ledger/export?village=王家沟村&overdue=1")
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    numbers = [row[1] for row in sheet.iter_rows(min_row=3, values_only=True)]
    assert numbers == [f"#{town['wang_overdue']}"]
    texty = load_workbook(io.BytesIO(client.get("/ledger/export?q=护栏").content)).worksheets[0]
    assert [r[1] for r in texty.iter_rows(min_row=3, values_only=True)] == [f"#{town['li']}"]


def test_every_page_renders_with_data(core: Core, router: Router, town: dict[str, int]) -> None:
    client = _client(core)
    _login(client, router, "admin")
    overview = client.get("/").text
    assert "未整改" in overview and "/static/echarts.min.js" in overview
    assert "王家沟村" in client.get("/villages").text
    ledger = client.get("/ledger?sort=village&dir=asc").text
    assert ledger.index("李家庄村河边") < ledger.index("王家沟村口")
    detail = client.get(f"/reports/{town['wang_major']}").text
    assert "五落实" in detail and "煤窑" in detail
    assert client.get("/tips").status_code == 200
    assert "日程推送" in client.get("/calendar").text
    assert client.get("/static/echarts.min.js").status_code == 200


async def test_the_bot_starts_and_stops_the_dashboard_when_a_listen_address_is_set(
    core: Core, tmp_path: object
) -> None:
    import asyncio
    import socket

    import httpx

    from bot.cli_web import start_web_server
    from bot.config import Settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert start_web_server(Settings(), core) is None
    settings = Settings(web_listen=f"127.0.0.1:{port}", web_base_url=f"http://127.0.0.1:{port}")
    server = start_web_server(settings, core)
    assert server is not None
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(50):
                try:
                    response = await client.get(f"http://127.0.0.1:{port}/", follow_redirects=True)
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
        assert "/后台" in response.text
    finally:
        await server.stop()
    assert server.task.done()


def test_photos_are_served_only_to_officials_who_may_see_the_report(
    core: Core, router: Router, town: dict[str, int], tmp_path: Path
) -> None:
    from PIL import Image

    from handlers.photos import PhotoStore, prepare
    from storage.attachments import add_attachment

    core.data_dir = tmp_path
    raw = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(raw, "JPEG")
    photo = prepare(raw.getvalue(), keep_time=False)
    PhotoStore(tmp_path / "photos").save(photo)
    with core.sessions.begin() as s:
        key = add_attachment(
            s,
            sha256=photo.sha256,
            size=len(photo.data),
            mime="image/jpeg",
            role="before",
            now=core.clock(),
            report_id=town["li"],
            added_by="test",
        ).id
    admin, wang = _client(core), _client(core)
    _login(admin, router, "admin")
    _login(wang, router, "wang")
    assert "整改前 1 张" in admin.get(f"/reports/{town['li']}").text
    served = admin.get(f"/photos/{key}")
    assert served.status_code == 200 and served.content == photo.data
    assert wang.get(f"/photos/{key}").status_code == 403


def test_anquan_web_refuses_a_listen_address_without_a_port() -> None:
    from click.testing import CliRunner

    from bot.cli import main

    result = CliRunner().invoke(main, ["web", "--listen", "localhost"])
    assert result.exit_code != 0 and "主机:端口" in result.output


def test_the_overview_counts_what_the_ledger_holds(core: Core, router: Router, town: dict[str, int]) -> None:
    from web import data

    _say(router, "zhang", f"/整改完成 {town['li']} 修好了")
    with core.sessions() as s:
        numbers = data.overview(s, now=core.clock(), tz=core.tz, village=None)
        wang = data.overview(s, now=core.clock(), tz=core.tz, village="王家沟村")
    assert (numbers.open, numbers.overdue, numbers.major_open, numbers.total, numbers.fixed) == (
        2,
        1,
        1,
        3,
        1,
    )
    assert numbers.rate == pytest.approx(1 / 3)
    assert dict(numbers.by_village) == {"王家沟村": 2}
    assert (wang.open, wang.fixed) == (2, 0)
    assert sum(numbers.found) == 3 and sum(numbers.fixed_by_month) == 1
    assert numbers.avg_days == pytest.approx(40)


def test_the_calendar_shows_each_push_with_its_delivery_status(
    core: Core, router: Router, town: dict[str, int]
) -> None:
    from datetime import datetime

    from sqlalchemy import select

    from scheduler.calendar import load_calendar
    from storage.models import OutboxMessage
    from storage.outbox import enqueue

    today = core.clock().astimezone(core.tz).date()
    pushes = load_calendar(core.profile.calendar).pushes(today - timedelta(days=7), today, core.tz)
    assert pushes, "the bundled calendar pushes something every week"
    push = pushes[-1]
    with core.sessions.begin() as s:
        enqueue(
            s,
            dedup_key=push.dedup_key(1),
            event=push.entry.key,
            platform="telegram",
            chat_id="-100",
            text="提醒",
        )
        row = s.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key == push.dedup_key(1))).one()
        row.status, row.sent_at = "sent", core.clock()
        row.created_at = datetime.combine(push.day, datetime.min.time(), core.tz)
    client = _client(core)
    _login(client, router, "admin")
    page = client.get("/calendar").text
    lines = [
        p for p in page.split("<tr") if push.at.strftime("%Y-%m-%d %H:%M") in p and push.entry.title in p
    ]
    assert any("已发 1" in line for line in lines)
    assert "没有记录" in page  # the other past pushes of the week were never queued here


def test_the_board_has_a_tile_per_responsible_unit_linking_to_its_ledger(
    core: Core, router: Router, town: dict[str, int]
) -> None:
    _say(router, "zhang", f"/指派 {town['li']} 克虎煤业 赵矿长")
    client = _client(core)
    _login(client, router, "admin")
    board = client.get("/villages").text
    assert "责任单位" in board and "克虎煤业" in board
    ledger = client.get("/ledger?q=克虎煤业&status=open").text
    assert f"#{town['li']}<" in ledger and f"#{town['wang_major']}<" not in ledger
