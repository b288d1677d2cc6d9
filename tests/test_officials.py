"""Tests for storage.officials: officials by platform account, one-time binding codes stored hashed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.app import Database
from storage.models import BindingCode
from storage.officials import (
    add_official,
    create_binding_code,
    get_official,
    hash_code,
    list_officials,
    new_code,
    redeem_binding_code,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_official_is_identified_by_platform_and_user_id(database: Database) -> None:
    with database.sessions.begin() as s:
        add_official(s, "telegram", "1001", "张站长", "admin", "应急管理站")
        add_official(s, "telegram", "1001", "张站长（改名）", "admin", "应急管理站")
    with database.sessions() as s:
        assert get_official(s, "telegram", "1001").name == "张站长（改名）"
        assert get_official(s, "wechaty", "1001") is None
        assert len(list_officials(s)) == 1


def test_unknown_role_is_rejected(database: Database) -> None:
    with database.sessions.begin() as s, pytest.raises(ValueError, match="unknown role"):
        add_official(s, "telegram", "1", "x", role="king")


def test_binding_code_binds_once_and_is_stored_only_hashed(database: Database) -> None:
    with database.sessions.begin() as s:
        code = create_binding_code(s, "李主任", unit="王家沟村", now=NOW)
    with database.sessions() as s:
        stored = s.scalars(select(BindingCode)).one()
        assert stored.code_hash == hash_code(code) and code not in stored.code_hash
    with database.sessions.begin() as s:
        official = redeem_binding_code(s, code.lower(), "wechaty", "wxid_li", now=NOW + timedelta(hours=1))
        assert official is not None and official.name == "李主任" and official.unit == "王家沟村"
    with database.sessions.begin() as s:
        assert redeem_binding_code(s, code, "wechaty", "wxid_other", now=NOW + timedelta(hours=2)) is None
        assert get_official(s, "wechaty", "wxid_other") is None


def test_expired_or_unknown_binding_code_binds_nobody(database: Database) -> None:
    with database.sessions.begin() as s:
        code = create_binding_code(s, "王", valid_for=timedelta(days=1), now=NOW)
    with database.sessions.begin() as s:
        assert redeem_binding_code(s, code, "telegram", "5", now=NOW + timedelta(days=2)) is None
        assert redeem_binding_code(s, "NOSUCHCODE", "telegram", "5", now=NOW) is None
        assert get_official(s, "telegram", "5") is None


def test_codes_are_random_and_phone_friendly() -> None:
    codes = {new_code(18) for _ in range(200)}
    assert len(codes) == 200
    assert not any(set(c) & set("01OIL") for c in codes)
