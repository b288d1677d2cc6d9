"""Tests for handlers.web_login and storage.web_sessions: ``/后台`` links and ``/退出后台``, on each database.

A link is given only in private to an official, names the configured base URL, is stored only as a hash, works
once within ten minutes; a session lasts eight hours and ``/退出后台`` ends all of the official's sessions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from handlers import web_login
from handlers.context import Core
from handlers.router import Router
from storage import web_sessions
from storage.models import Official, WebLoginToken
from storage.officials import add_official
from tests.conftest import Clock
from tests.helpers import group_msg, private_msg


def _say(router: Router, text: str, sender: str = "admin") -> str:
    return "\n".join(r.text for r in router.dispatch(private_msg(text, sender=sender)).replies)


@pytest.fixture(autouse=True)
def base_url() -> Iterator[None]:
    web_login.configure("https://anquan.example/")
    yield
    web_login.configure(None)


@pytest.fixture
def official_id(core: Core) -> int:
    with core.sessions.begin() as s:
        add_official(s, "telegram", "admin", "刘主任", "admin", "应急管理站")
        return int(s.scalar(select(Official.id).where(Official.user_id == "admin")) or 0)


def test_a_private_link_names_the_base_url_and_only_its_hash_is_kept(
    core: Core, router: Router, official_id: int
) -> None:
    reply = _say(router, "/后台")
    found = re.search(r"https://anquan\.example/login/([A-Za-z0-9_-]{40,})", reply)
    assert found and "10 分钟" in reply
    token = found.group(1)
    with core.sessions() as s:
        stored = s.scalars(select(WebLoginToken.token_hash)).all()
    assert stored == [web_sessions.digest(token)] and token not in stored[0]
    assert "/login/" in _say(router, "/web")


def test_no_link_in_a_group_nor_for_someone_who_is_no_official(router: Router, official_id: int) -> None:
    reply = "\n".join(r.text for r in router.dispatch(group_msg("/后台", sender="admin")).replies)
    assert "/login/" not in reply and "私聊" in reply
    assert "/login/" not in _say(router, "/后台", sender="stranger")


def test_a_link_works_once_and_not_after_ten_minutes(core: Core, official_id: int, clock: Clock) -> None:
    with core.sessions.begin() as s:
        first = web_sessions.create_login_token(s, official_id, now=clock())
        late = web_sessions.create_login_token(s, official_id, now=clock())
    with core.sessions.begin() as s:
        official = web_sessions.redeem_login_token(s, first, now=clock())
        assert official is not None and official.name == "刘主任"
    with core.sessions.begin() as s:
        assert web_sessions.redeem_login_token(s, first, now=clock()) is None
        assert web_sessions.redeem_login_token(s, late, now=clock() + timedelta(minutes=10)) is None
        assert web_sessions.redeem_login_token(s, "made-up", now=clock()) is None


def test_a_session_lasts_eight_hours_and_the_chat_command_ends_all(
    core: Core, router: Router, official_id: int, clock: Clock
) -> None:
    with core.sessions.begin() as s:
        one = web_sessions.create_session(s, official_id, now=clock())
        two = web_sessions.create_session(s, official_id, now=clock())
    with core.sessions() as s:
        assert web_sessions.session_official(s, one, now=clock() + timedelta(hours=7, minutes=59)) is not None
        assert web_sessions.session_official(s, one, now=clock() + timedelta(hours=8)) is None
    assert "2" in _say(router, "/退出后台")
    with core.sessions() as s:
        assert web_sessions.session_official(s, one, now=clock()) is None
        assert web_sessions.session_official(s, two, now=clock()) is None
    assert "没有登录" in _say(router, "/weblogout")


def test_a_disabled_official_cannot_use_a_link_or_a_session(
    core: Core, official_id: int, clock: Clock
) -> None:
    with core.sessions.begin() as s:
        token = web_sessions.create_login_token(s, official_id, now=clock())
        sid = web_sessions.create_session(s, official_id, now=clock())
        official = s.get(Official, official_id)
        assert official is not None
        official.active = False
    with core.sessions.begin() as s:
        assert web_sessions.redeem_login_token(s, token, now=clock()) is None
        assert web_sessions.session_official(s, sid, now=clock()) is None


def test_the_csrf_token_belongs_to_its_session() -> None:
    token = web_sessions.csrf_token("session-a", b"k")
    assert web_sessions.csrf_ok("session-a", b"k", token)
    assert not web_sessions.csrf_ok("session-b", b"k", token)
    assert not web_sessions.csrf_ok("session-a", b"k", None)
