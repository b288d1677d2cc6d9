"""Repository functions for group chats. They take a session and never commit."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import GROUP_KINDS, Group
from storage.outbox import readdress

# Titles come from the platform and may be longer than the column (PostgreSQL refuses, SQLite doesn't care).
TITLE_MAX = 256
# Every group message looks its group up: the statement is built once (building costs more than running it).
_GET_GROUP = select(Group).where(
    Group.platform == bindparam("platform"), Group.chat_id == bindparam("chat_id")
)


def get_group(session: Session, platform: str, chat_id: str) -> Group | None:
    """The group with this platform chat id, if the bot knows it."""
    return session.scalar(_GET_GROUP, {"platform": platform, "chat_id": chat_id})


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
    """Create the group or update the given fields in one ``INSERT … ON CONFLICT``; None fields keep their value.

    Two messages from a group the bot has not seen yet may arrive at once: both upserts succeed, one creates.
    """
    if kind is not None and kind not in GROUP_KINDS:
        raise ValueError(f"unknown group kind {kind!r}; expected one of {', '.join(GROUP_KINDS)}")
    if title is not None:
        title = title[:TITLE_MAX]
    given: dict[str, Any] = {
        name: value
        for name, value in (("title", title), ("kind", kind), ("unit", unit), ("active", active))
        if value is not None
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(Group).values(platform=platform, chat_id=chat_id, **given)
    keys = ["platform", "chat_id"]
    if given:
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=given)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    session.execute(stmt)
    found = session.scalars(
        select(Group)
        .where(Group.platform == platform, Group.chat_id == chat_id)
        .execution_options(populate_existing=True)
    ).one()
    return found


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


def group_label(group: Group) -> str:
    """How a group is named to people: its title or unit, never its chat id (a WeCom chat id is a robot's key)."""
    return group.title or group.unit or f"群{group.id}"


def shown_chat_id(platform: str, chat_id: str) -> str:
    """A chat id fit for printing and logs: a WeCom robot key (a credential) becomes a short fingerprint."""
    if platform != "wecom":
        return chat_id
    return "key#" + hashlib.sha256(chat_id.encode()).hexdigest()[:8]


def move_chat(session: Session, platform: str, old_chat_id: str, new_chat_id: str) -> None:
    """A group got a new chat id (Telegram group → supergroup): it keeps its tags under the new id (or retires
    when a group with that id is known already), and its still-queued pushes follow it."""
    old = get_group(session, platform, old_chat_id)
    if old is not None:
        if get_group(session, platform, new_chat_id) is None:
            old.chat_id = new_chat_id
        else:
            old.active = False
    readdress(session, platform, old_chat_id, new_chat_id)
