"""Binding codes outside private chats: a code seen in a group is voided at once and the admins are told.

Anyone in the group could otherwise copy it and become an official. The group sees one short warning; each admin
gets a private notice through the outbox; the audit trail keeps the event.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from handlers.context import Core
from storage import audit, outbox
from storage import officials as official_repo
from storage.groups import group_label
from storage.models import BindingCode, Group

log = logging.getLogger(__name__)


def candidates(text: str) -> list[str]:
    """Substrings of ``text`` shaped like a binding code (12 code letters, optionally in dashed fours)."""
    return [m.group(0) for m in official_repo.CODE_IN_TEXT_RE.finditer(text)]


def void_leaked(session: Session, core: Core, codes: list[str], group: Group | None) -> list[BindingCode]:
    """Void every pending code among ``codes`` and alert the admins; returns the codes that were voided."""
    now = core.clock()
    voided = []
    for code in codes:
        row = official_repo.void_binding_code(session, core.secret, code, now=now)
        if row is None:
            continue
        voided.append(row)
        where = group_label(group) if group is not None else "?"
        audit.record(session, "bot", "code.leaked", f"code:{row.id}", f"seen in group {where}", now=now)
        text = core.texts("permissions.code_leaked_alert", name=row.name, id=row.id, where=where)
        for admin in official_repo.list_officials(session, active_only=True):
            if admin.role != "admin":
                continue
            outbox.enqueue(
                session,
                dedup_key=f"code-leaked:{row.id}:{admin.id}",
                event="code-leaked",
                platform=admin.platform,
                chat_id=admin.user_id,
                text=text,
            )
        log.warning("binding code seen in a group and voided", extra={"code": row.id})
    return voided
