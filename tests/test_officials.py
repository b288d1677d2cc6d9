"""Tests for storage.officials: officials by platform account, keyed one-time binding codes, disabling, removal."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.app import Database
from storage.models import BindingCode, Official
from storage.officials import (
    BIND_CODE_LENGTH,
    CODE_IN_TEXT_RE,
    add_official,
    binding_hash,
    create_binding_code,
    find_official,
    format_binding_code,
    get_official,
    list_officials,
    new_code,
    pending_codes,
    redeem_binding_code,
    remove_official,
    revoke_code,
    set_active,
    void_binding_code,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SECRET = b"installation-secret"


def test_official_is_identified_by_platform_and_user_id(database: Database) -> None:
    with database.sessions.begin() as s:
        add_official(s, "telegram", "1001", "张站长", "admin", "应急管理站")
        change = add_official(s, "telegram", "1001", "张站长（改名）")
        assert not change.created and change.changed == {"name": ("张站长", "张站长（改名）")}
    with database.sessions() as s:
        official = get_official(s, "telegram", "1001")
        # Fields not given on the second add keep their value.
        assert (official.name, official.role, official.unit) == ("张站长（改名）", "admin", "应急管理站")
        assert get_official(s, "wechaty", "1001") is None
        assert len(list_officials(s)) == 1


def test_unknown_role_is_rejected(database: Database) -> None:
    with database.sessions.begin() as s, pytest.raises(ValueError, match="unknown role"):
        add_official(s, "telegram", "1", "x", role="king")


def test_a_disabled_official_is_an_ordinary_user_until_enabled(database: Database) -> None:
    with database.sessions.begin() as s:
        official = add_official(s, "telegram", "7", "刘干事", "station").official
        assert set_active(s, official, False) and not set_active(s, official, False)
    with database.sessions.begin() as s:
        assert get_official(s, "telegram", "7") is None
        assert find_official(s, "telegram", "7") is not None
        assert list_officials(s, active_only=True) == []
        set_active(s, find_official(s, "telegram", "7"), True)
    with database.sessions() as s:
        assert get_official(s, "telegram", "7") is not None


def test_binding_code_binds_once_and_is_stored_only_as_a_keyed_hash(database: Database) -> None:
    with database.sessions.begin() as s:
        code, _ = create_binding_code(s, SECRET, "李主任", "village", "王家沟村", now=NOW)
    assert len(code) == BIND_CODE_LENGTH
    with database.sessions() as s:
        stored = s.scalars(select(BindingCode)).one()
        # Without the secret (kept outside the database) the stored hash can't be checked against guesses.
        assert stored.code_hash == binding_hash(SECRET, code) != binding_hash(b"other", code)
        assert code not in stored.code_hash
    with database.sessions.begin() as s:
        typed = format_binding_code(code).lower()
        official = redeem_binding_code(s, SECRET, typed, "wechaty", "wxid_li", now=NOW + timedelta(hours=1))
        assert official is not None and (official.name, official.role, official.unit) == (
            "李主任",
            "village",
            "王家沟村",
        )
    with database.sessions.begin() as s:
        assert (
            redeem_binding_code(s, SECRET, code, "wechaty", "wxid_other", now=NOW + timedelta(hours=2))
            is None
        )
        assert get_official(s, "wechaty", "wxid_other") is None


def test_expired_unknown_or_wrongly_keyed_codes_bind_nobody(database: Database) -> None:
    with database.sessions.begin() as s:
        code, _ = create_binding_code(s, SECRET, "王", "station", valid_for=timedelta(days=1), now=NOW)
    with database.sessions.begin() as s:
        assert redeem_binding_code(s, SECRET, code, "telegram", "5", now=NOW + timedelta(days=2)) is None
        assert redeem_binding_code(s, SECRET, "NOSUCHCODE", "telegram", "5", now=NOW) is None
        assert redeem_binding_code(s, b"wrong-secret", code, "telegram", "5", now=NOW) is None
        assert get_official(s, "telegram", "5") is None


def test_codes_are_valid_at_most_seven_days(database: Database) -> None:
    with database.sessions.begin() as s, pytest.raises(ValueError, match="1 to 7 days"):
        create_binding_code(s, SECRET, "王", "station", valid_for=timedelta(days=8))


def test_voided_and_revoked_codes_never_bind(database: Database) -> None:
    with database.sessions.begin() as s:
        leaked, _ = create_binding_code(s, SECRET, "甲", "station", now=NOW)
        revoked, row = create_binding_code(s, SECRET, "乙", "village", "庙坪村", now=NOW)
        kept, _ = create_binding_code(s, SECRET, "丙", "admin", now=NOW)
    with database.sessions.begin() as s:
        assert void_binding_code(s, SECRET, leaked, now=NOW).name == "甲"
        assert void_binding_code(s, SECRET, leaked, now=NOW) is None  # already dead
        assert revoke_code(s, row.id, now=NOW) is not None
        assert revoke_code(s, row.id, now=NOW) is None
        assert [c.name for c in pending_codes(s, now=NOW)] == ["丙"]
    with database.sessions.begin() as s:
        assert redeem_binding_code(s, SECRET, leaked, "telegram", "1", now=NOW) is None
        assert redeem_binding_code(s, SECRET, revoked, "telegram", "2", now=NOW) is None
        assert redeem_binding_code(s, SECRET, kept, "telegram", "3", now=NOW) is not None


def test_two_concurrent_redemptions_of_one_code_make_one_official(database: Database) -> None:
    """Forty racing pairs: each code makes exactly one official (on PostgreSQL this raced before)."""
    with database.sessions.begin() as s:
        codes = [create_binding_code(s, SECRET, f"干部{i}", "station", now=NOW)[0] for i in range(40)]
    results: list[bool] = []
    lock = threading.Lock()

    def redeem(code: str, user: str) -> None:
        try:
            with database.sessions.begin() as s:
                ok = redeem_binding_code(s, SECRET, code, "telegram", user, now=NOW) is not None
        except Exception:  # SQLite may refuse a writer with "database is locked": not a success
            ok = False
        with lock:
            results.append(ok)

    for i, code in enumerate(codes):
        threads = [threading.Thread(target=redeem, args=(code, f"u{i}{side}")) for side in "ab"]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    with database.sessions() as s:
        assert len(list_officials(s)) == 40
    assert results.count(True) == 40


def test_removing_an_official_keeps_the_codes_history(database: Database) -> None:
    with database.sessions.begin() as s:
        code, row = create_binding_code(s, SECRET, "赵", "station", now=NOW)
        official = redeem_binding_code(s, SECRET, code, "telegram", "9", now=NOW)
        assert official is not None
        remove_official(s, official)
    with database.sessions() as s:
        assert s.scalars(select(Official)).all() == []
        assert s.get(BindingCode, row.id).official_id is None


def test_codes_are_random_and_phone_friendly() -> None:
    codes = {new_code(BIND_CODE_LENGTH) for _ in range(200)}
    assert len(codes) == 200
    assert not any(set(c) & set("01OIL") for c in codes)


def test_codes_are_recognised_inside_text_in_any_typing() -> None:
    code = new_code(BIND_CODE_LENGTH)
    for typed in (
        code,
        format_binding_code(code),
        format_binding_code(code).lower(),
        format_binding_code(code).replace("-", " "),
    ):
        assert CODE_IN_TEXT_RE.search(f"张主任的码是{typed}，大家别乱用") is not None
    assert CODE_IN_TEXT_RE.search("电话13912345678") is None
    assert CODE_IN_TEXT_RE.search("ABCDEFGHJKMNPQ") is None  # longer runs are not codes
