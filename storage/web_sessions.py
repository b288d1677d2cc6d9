"""The web dashboard's login links and sessions: random values handed out once, kept only as SHA-256 hashes.

A login link is valid for ``LINK_MINUTES`` and is used by one conditional ``UPDATE`` (two browsers racing for the
same link: one wins). A session lasts ``SESSION_HOURS`` unless ended by 退出 or ``/退出后台``. Nothing here commits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from storage.models import Official, WebLoginToken, WebSession

LINK_MINUTES = 10
SESSION_HOURS = 8
TOKEN_BYTES = 32


def digest(raw: str) -> str:
    """The SHA-256 (hex) under which a token or session id is stored."""
    return hashlib.sha256(raw.encode()).hexdigest()


def create_login_token(session: Session, official_id: int, *, now: datetime) -> str:
    """A new one-time login token for the official; only its hash is stored. Returns the raw token."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        WebLoginToken(
            token_hash=digest(raw),
            official_id=official_id,
            created_at=now,
            expires_at=now + timedelta(minutes=LINK_MINUTES),
        )
    )
    session.flush()
    return raw


def login_token_usable(session: Session, raw: str, *, now: datetime) -> bool:
    """Whether the token would log in now (known, unused, unexpired), without using it."""
    return (
        session.scalar(
            select(WebLoginToken.id).where(
                WebLoginToken.token_hash == digest(raw),
                WebLoginToken.used_at.is_(None),
                WebLoginToken.expires_at > now,
            )
        )
        is not None
    )


def redeem_login_token(session: Session, raw: str, *, now: datetime) -> Official | None:
    """Use the token once: the active official it was made for, or None (unknown, expired, used, disabled)."""
    hashed = digest(raw)
    result = cast(
        CursorResult[Any],
        session.execute(
            update(WebLoginToken)
            .where(
                WebLoginToken.token_hash == hashed,
                WebLoginToken.used_at.is_(None),
                WebLoginToken.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        return None
    official = session.scalar(
        select(Official)
        .join(WebLoginToken, WebLoginToken.official_id == Official.id)
        .where(WebLoginToken.token_hash == hashed)
    )
    if official is None or not official.active:
        return None
    return official


def create_session(session: Session, official_id: int, *, now: datetime) -> str:
    """A new browser session for the official; only its hash is stored. Returns the raw session id."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        WebSession(
            session_hash=digest(raw),
            official_id=official_id,
            created_at=now,
            expires_at=now + timedelta(hours=SESSION_HOURS),
        )
    )
    session.flush()
    return raw


def session_official(session: Session, raw: str, *, now: datetime) -> Official | None:
    """The active official of a live session (not ended, not expired), or None."""
    if not raw:
        return None
    return session.scalar(
        select(Official)
        .join(WebSession, WebSession.official_id == Official.id)
        .where(
            WebSession.session_hash == digest(raw),
            WebSession.ended_at.is_(None),
            WebSession.expires_at > now,
            Official.active.is_(True),
        )
    )


def end_session(session: Session, raw: str, *, now: datetime) -> bool:
    """End one session (the page's 退出); True if it was live."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(WebSession)
            .where(WebSession.session_hash == digest(raw), WebSession.ended_at.is_(None))
            .values(ended_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    return bool(result.rowcount)


def end_all(session: Session, official_id: int, *, now: datetime) -> int:
    """End every live session of the official (``/退出后台``); how many were ended."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(WebSession)
            .where(
                WebSession.official_id == official_id,
                WebSession.ended_at.is_(None),
                WebSession.expires_at > now,
            )
            .values(ended_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    return int(result.rowcount or 0)


def csrf_token(raw_session: str, secret: bytes) -> str:
    """The session's CSRF token: an HMAC of the session id, so it needs no storage and differs per session."""
    return hmac.new(secret, b"csrf:" + raw_session.encode(), hashlib.sha256).hexdigest()


def csrf_ok(raw_session: str, secret: bytes, given: str | None) -> bool:
    """True when ``given`` is this session's CSRF token (compared in constant time)."""
    return bool(given) and hmac.compare_digest(csrf_token(raw_session, secret), given or "")
