"""Repository functions for officials and their one-time binding codes. They never commit."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import ROLES, BindingCode, Official, utcnow

# Unambiguous characters for codes people type on a phone (no 0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def hash_code(code: str) -> str:
    """The stored form of a binding or receipt code (normalised to upper case, no spaces or dashes)."""
    normal = code.strip().upper().replace("-", "").replace(" ", "")
    return hashlib.sha256(normal.encode()).hexdigest()


def new_code(length: int) -> str:
    """A random code from the phone-friendly alphabet; ``length`` 16 gives about 79 bits, 17 gives 84."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def get_official(session: Session, platform: str, user_id: str) -> Official | None:
    """The official with this platform account, or None for everyone else."""
    return session.scalar(select(Official).where(Official.platform == platform, Official.user_id == user_id))


def add_official(
    session: Session, platform: str, user_id: str, name: str, role: str = "official", unit: str | None = None
) -> Official:
    """Register (or update) an official by platform account."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    official = get_official(session, platform, user_id)
    if official is None:
        official = Official(platform=platform, user_id=user_id, name=name, role=role, unit=unit)
        session.add(official)
    else:
        official.name, official.role, official.unit = name, role, unit
    session.flush()
    return official


def list_officials(session: Session) -> list[Official]:
    """All officials, in registration order."""
    return list(session.scalars(select(Official).order_by(Official.id)))


def create_binding_code(
    session: Session,
    name: str,
    role: str = "official",
    unit: str | None = None,
    *,
    valid_for: timedelta = timedelta(days=7),
    now: datetime | None = None,
) -> str:
    """Issue a one-time code for ``/绑定``; only its hash is stored, the code is returned once."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    code = new_code(8)
    now = now or utcnow()
    session.add(
        BindingCode(code_hash=hash_code(code), name=name, role=role, unit=unit, expires_at=now + valid_for)
    )
    session.flush()
    return code


def redeem_binding_code(
    session: Session, code: str, platform: str, user_id: str, *, now: datetime | None = None
) -> Official | None:
    """Bind the account to the official the code was issued for; None if the code is unknown, used or expired."""
    now = now or utcnow()
    binding = session.scalar(select(BindingCode).where(BindingCode.code_hash == hash_code(code)))
    if binding is None or binding.used_at is not None or binding.expires_at < now:
        return None
    official = add_official(session, platform, user_id, binding.name, binding.role, binding.unit)
    binding.used_at = now
    binding.official_id = official.id
    session.flush()
    return official
