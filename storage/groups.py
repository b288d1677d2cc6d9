"""Repository functions for group chats. They take a session and never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import GROUP_KINDS, Group


def get_group(session: Session, platform: str, chat_id: str) -> Group | None:
    """The group with this platform chat id, if the bot knows it."""
    return session.scalar(select(Group).where(Group.platform == platform, Group.chat_id == chat_id))


def upsert_group(
    session: Session,
    platform: str,
    chat_id: str,
    *,
    title: str | None = None,
    kind: str | None = None,
    unit: str | None = None,
    active: bool | None = None,
) -> Group:
    """Create the group or update the given fields; fields left as None keep their value."""
    if kind is not None and kind not in GROUP_KINDS:
        raise ValueError(f"unknown group kind {kind!r}; expected one of {', '.join(GROUP_KINDS)}")
    group = get_group(session, platform, chat_id)
    if group is None:
        group = Group(platform=platform, chat_id=chat_id, active=True)
        session.add(group)
    if title is not None:
        group.title = title
    if kind is not None:
        group.kind = kind
    if unit is not None:
        group.unit = unit
    if active is not None:
        group.active = active
    session.flush()
    return group


def list_groups(
    session: Session, *, kinds: Sequence[str] | None = None, active_only: bool = False
) -> list[Group]:
    """All known groups, optionally only some kinds or only active ones, in a stable order."""
    stmt = select(Group).order_by(Group.platform, Group.id)
    if kinds:
        stmt = stmt.where(Group.kind.in_(list(kinds)))
    if active_only:
        stmt = stmt.where(Group.active.is_(True))
    return list(session.scalars(stmt))
