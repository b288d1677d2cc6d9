"""Repository functions for officials and their one-time binding codes. They never commit.

Binding codes are stored only as an HMAC keyed with the installation's secret (kept outside the database), so an
official with a copy of the database can neither read nor brute-force a pending code. A code is redeemed with one
conditional UPDATE: of two people typing the same code at once, exactly one becomes an official.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from storage.models import ROLES, BindingCode, Official, utcnow

# Unambiguous characters for codes people type on a phone (no 0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BIND_CODE_LENGTH = 12  # 31^12: about 59 bits, and the stored form is keyed, so a database copy can't guess it
MAX_CODE_DAYS = 7
# What a binding code looks like inside any text: 12 code letters, optionally grouped in fours by dashes/spaces.
_GROUP = f"[{CODE_ALPHABET}]{{4}}"
CODE_IN_TEXT_RE = re.compile(
    rf"(?<![0-9A-Z]){_GROUP}[-\s]?{_GROUP}[-\s]?{_GROUP}(?![0-9A-Z])", re.IGNORECASE | re.ASCII
)


def normalise_code(code: str) -> str:
    """A code as typed, in its canonical form: upper case, without spaces or dashes."""
    return unicodedata.normalize("NFKC", code).strip().upper().replace("-", "").replace(" ", "")


def hash_code(code: str) -> str:
    """The stored form of a receipt code (normalised, SHA-256); receipt codes are long enough not to need a key."""
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def binding_hash(secret: bytes, code: str) -> str:
    """The stored form of a binding code: an HMAC keyed with the secret kept outside the database."""
    return hmac.new(secret, b"bind:" + normalise_code(code).encode(), hashlib.sha256).hexdigest()


def new_code(length: int) -> str:
    """A random code from the phone-friendly alphabet; ``length`` 16 gives about 79 bits, 17 gives 84."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def format_binding_code(code: str) -> str:
    """A binding code in fours for typing by hand: ABCD-EFGH-JKMN."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def check_role(role: str) -> None:
    """Raise ValueError for a role that does not exist."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")


def get_official(session: Session, platform: str, user_id: str) -> Official | None:
    """The active official with this platform account, or None for everyone else (disabled officials included)."""
    return session.scalar(
        select(Official).where(
            Official.platform == platform, Official.user_id == user_id, Official.active.is_(True)
        )
    )


def find_official(session: Session, platform: str, user_id: str) -> Official | None:
    """The official with this platform account, active or disabled."""
    return session.scalar(select(Official).where(Official.platform == platform, Official.user_id == user_id))


@dataclass(frozen=True)
class Change:
    """What ``add_official`` did: the official, whether it was new, and the fields that changed (old → new)."""

    official: Official
    created: bool
    changed: dict[str, tuple[object, object]]


def add_official(
    session: Session,
    platform: str,
    user_id: str,
    name: str | None = None,
    role: str | None = None,
    unit: str | None = None,
    *,
    tips: bool | None = None,
) -> Change:
    """Register an official, or update one: fields given as None keep their value.

    A new official needs a name; their role defaults to ``station`` (town-wide hazards, no tips).
    """
    if role is not None:
        check_role(role)
    official = find_official(session, platform, user_id)
    if official is None:
        if not name:
            raise ValueError("a new official needs a name")
        official = Official(
            platform=platform, user_id=user_id, name=name, role=role or "station", unit=unit, tips=bool(tips)
        )
        official.active = True
        session.add(official)
        session.flush()
        return Change(official, True, {})
    changed: dict[str, tuple[object, object]] = {}
    for field, value in (("name", name), ("role", role), ("unit", unit), ("tips", tips)):
        if value is not None and getattr(official, field) != value:
            changed[field] = (getattr(official, field), value)
            setattr(official, field, value)
    session.flush()
    return Change(official, False, changed)


def set_active(session: Session, official: Official, active: bool) -> bool:
    """Disable or enable an official; True if that changed anything."""
    if official.active == active:
        return False
    official.active = active
    session.flush()
    return True


def remove_official(session: Session, official: Official) -> None:
    """Delete an official; the codes they redeemed stay, no longer pointing at them."""
    session.execute(
        update(BindingCode).where(BindingCode.official_id == official.id).values(official_id=None)
    )
    session.delete(official)
    session.flush()


def list_officials(session: Session, *, active_only: bool = False) -> list[Official]:
    """All officials (or only the active ones), in registration order."""
    stmt = select(Official).order_by(Official.id)
    if active_only:
        stmt = stmt.where(Official.active.is_(True))
    return list(session.scalars(stmt))


def create_binding_code(
    session: Session,
    secret: bytes,
    name: str,
    role: str,
    unit: str | None = None,
    *,
    tips: bool = False,
    valid_for: timedelta = timedelta(days=MAX_CODE_DAYS),
    now: datetime | None = None,
) -> tuple[str, BindingCode]:
    """Issue a one-time code for ``/绑定`` valid at most seven days; only its keyed hash is stored.

    Returns the code (shown once, never again) and its row.
    """
    check_role(role)
    if valid_for > timedelta(days=MAX_CODE_DAYS) or valid_for <= timedelta(0):
        raise ValueError(f"a binding code is valid for 1 to {MAX_CODE_DAYS} days")
    code = new_code(BIND_CODE_LENGTH)
    now = now or utcnow()
    row = BindingCode(
        code_hash=binding_hash(secret, code),
        name=name,
        role=role,
        unit=unit,
        tips=tips,
        expires_at=now + valid_for,
    )
    session.add(row)
    session.flush()
    return code, row


def _pending(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """The SQL condition of a code that may still be redeemed."""
    return (
        BindingCode.used_at.is_(None),
        BindingCode.voided_at.is_(None),
        BindingCode.expires_at > now,
    )


def _take(
    session: Session, match: ColumnElement[bool], now: datetime, **values: datetime
) -> BindingCode | None:
    """Mark the one pending code matching ``match`` with one conditional UPDATE; the code, or None if none was."""
    taken = cast(
        CursorResult[Any],
        session.execute(
            update(BindingCode)
            .where(match, *_pending(now))
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    )
    if taken.rowcount != 1:
        return None
    return session.scalars(select(BindingCode).where(match).execution_options(populate_existing=True)).one()


def redeem_binding_code(
    session: Session, secret: bytes, code: str, platform: str, user_id: str, *, now: datetime | None = None
) -> Official | None:
    """Bind the account to the official the code was issued for; None if the code is unknown, used, voided or expired.

    The code is taken with one conditional UPDATE, so two concurrent redemptions cannot both succeed.
    """
    now = now or utcnow()
    binding = _take(session, BindingCode.code_hash == binding_hash(secret, code), now, used_at=now)
    if binding is None:
        return None
    # The code decides the whole grant: an account that was an official before takes the code's fields.
    official = find_official(session, platform, user_id)
    if official is None:
        official = Official(platform=platform, user_id=user_id)
        session.add(official)
    official.name, official.role, official.unit = binding.name, binding.role, binding.unit
    official.tips, official.active = binding.tips, True
    session.flush()
    binding.official_id = official.id
    session.flush()
    return official


def void_binding_code(
    session: Session, secret: bytes, code: str, *, now: datetime | None = None
) -> BindingCode | None:
    """Void a pending code that was seen where it should not be; returns it, or None if no pending code matched."""
    now = now or utcnow()
    return _take(session, BindingCode.code_hash == binding_hash(secret, code), now, voided_at=now)


def pending_codes(session: Session, *, now: datetime | None = None) -> list[BindingCode]:
    """Codes that could still be redeemed, oldest first."""
    return list(
        session.scalars(select(BindingCode).where(*_pending(now or utcnow())).order_by(BindingCode.id))
    )


def revoke_code(session: Session, code_id: int, *, now: datetime | None = None) -> BindingCode | None:
    """Revoke a pending code by its number (as ``anquan officials codes`` lists it); None if there is none pending."""
    now = now or utcnow()
    return _take(session, BindingCode.id == code_id, now, voided_at=now)
