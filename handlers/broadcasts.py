"""Broadcasting publicity to many groups: preview, confirmation within a time limit, queueing, receipts.

Nothing is queued until the official confirms; each group gets one outbox row keyed by (broadcast, group), so
a repeated confirmation or a restart can never send twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from handlers.profile import Profile
from handlers.publicity import DEFAULT_LIBRARY as DEFAULT_LIBRARY  # re-exported
from handlers.publicity import load_library as load_library  # re-exported
from handlers.texts import Texts
from storage import broadcasts as broadcast_repo
from storage import groups as group_repo
from storage import outbox
from storage.models import Broadcast, Group

CONFIRM_MINUTES = 10
PREVIEW_GROUP_NAMES = 15

# Target words in chat (Chinese) and on the CLI (English) → group kinds; None means every kind.
KIND_WORDS: dict[str, tuple[str, ...] | None] = {
    "全部": None,
    "所有": None,
    "all": None,
    "村": ("village",),
    "各村": ("village",),
    "villages": ("village",),
    "站所": ("station",),
    "stations": ("station",),
    "企业": ("enterprise",),
    "enterprises": ("enterprise",),
    "领导": ("leadership",),
    "leadership": ("leadership",),
}
_SPLIT = re.compile(r"[、，,;；]+")


class BroadcastError(ValueError):
    """A broadcast request that cannot be carried out; the message is the Chinese answer."""


def resolve_targets(session: Session, profile: Profile, targets: Iterable[str]) -> list[Group]:
    """The active groups named by target words or unit names; raises BroadcastError for an unknown target."""
    chosen: dict[int, Group] = {}
    active = group_repo.list_groups(session, active_only=True)
    for raw in targets:
        for word in (w.strip() for w in _SPLIT.split(raw)):
            if not word:
                continue
            if word in KIND_WORDS:
                kinds = KIND_WORDS[word]
                matched = [g for g in active if g.kind and (kinds is None or g.kind in kinds)]
            else:
                unit = profile.find_unit(word)
                name = unit.name if unit else word
                matched = [g for g in active if g.unit == name]
                if unit is None and not matched:
                    raise BroadcastError(word)
            chosen.update((g.id, g) for g in matched)
    return sorted(chosen.values(), key=lambda g: g.id)


def expand_text(content: str, library: dict[str, str]) -> str:
    """Replace a leading ``@文案名`` with the library text (anything after it is kept below)."""
    content = content.strip()
    if not content.startswith(("@", "＠")):
        return content
    name, _, rest = content[1:].partition(" ")
    if name not in library:
        raise BroadcastError(name)
    return library[name] + (f"\n{rest.strip()}" if rest.strip() else "")


def _group_label(group: Group) -> str:
    # Never the chat id: a WeCom group's chat id is its robot key, a credential.
    return group.unit or group_repo.group_label(group)


@dataclass(frozen=True)
class Preview:
    """A pending broadcast as shown to the official who asked for it."""

    broadcast: Broadcast
    groups: list[Group]


def create_preview(
    session: Session,
    profile: Profile,
    library: dict[str, str],
    *,
    actor: str,
    target: str,
    content: str,
    reply_platform: str | None,
    reply_chat_id: str | None,
    now: datetime,
) -> Preview:
    """Record a pending broadcast for confirmation; raises BroadcastError (with the bad word) if it can't be."""
    text = expand_text(content, library)
    groups = resolve_targets(session, profile, [target])
    broadcast = broadcast_repo.create_broadcast(
        session,
        actor=actor,
        target=target,
        text=text,
        status="pending",
        group_ids=",".join(str(g.id) for g in groups),
        reply_platform=reply_platform,
        reply_chat_id=reply_chat_id,
        created_at=now,
        expires_at=now + timedelta(minutes=CONFIRM_MINUTES),
    )
    return Preview(broadcast, groups)


def preview_text(texts: Texts, preview: Preview) -> str:
    """The preview message asking for confirmation."""
    names = [_group_label(g) for g in preview.groups]
    shown = "、".join(names[:PREVIEW_GROUP_NAMES]) + ("……" if len(names) > PREVIEW_GROUP_NAMES else "")
    return texts(
        "broadcast.preview",
        id=preview.broadcast.id,
        count=len(names),
        groups=shown,
        text=preview.broadcast.text,
        minutes=CONFIRM_MINUTES,
    )


def queue(session: Session, texts: Texts, profile: Profile, broadcast: Broadcast, now: datetime) -> int:
    """Write one outbox row per target group and mark the broadcast confirmed; returns the number of groups."""
    ids = [int(x) for x in broadcast.group_ids.split(",") if x]
    body = texts("broadcast.message", office=profile.office, text=broadcast.text)
    count = 0
    for gid in ids:
        group = session.get(Group, gid)
        if group is None:
            continue
        outbox.enqueue_to_group(
            session,
            group,
            dedup_key=f"broadcast:{broadcast.id}:{gid}",
            event="broadcast",
            text=body,
            broadcast_id=broadcast.id,
            not_before=now,
        )
        count += 1
    broadcast.status = "confirmed"
    broadcast.confirmed_at = now
    session.flush()
    return count


def finish(session: Session, texts: Texts, now: datetime) -> int:
    """For every confirmed broadcast whose rows are all delivered or given up, queue the sender's receipt."""
    done = 0
    for broadcast in broadcast_repo.unfinished(session):
        counts = broadcast_repo.delivery_counts(session, broadcast.id)
        if counts.get("queued", 0):
            continue
        total = sum(counts.values())
        failed = broadcast_repo.undelivered(session, broadcast.id)
        failures = ""
        if failed:
            names = []
            for row in failed:
                group = session.get(Group, row.group_id) if row.group_id else None
                names.append(
                    _group_label(group) if group else group_repo.shown_chat_id(row.platform, row.chat_id)
                )
            failures = texts("broadcast.receipt_failures", groups="、".join(names))
        if broadcast.reply_platform and broadcast.reply_chat_id:
            outbox.enqueue(
                session,
                dedup_key=f"broadcast-receipt:{broadcast.id}",
                event="broadcast-receipt",
                platform=broadcast.reply_platform,
                chat_id=broadcast.reply_chat_id,
                text=texts(
                    "broadcast.receipt",
                    id=broadcast.id,
                    sent=counts.get("sent", 0),
                    total=total,
                    failures=failures,
                ),
                not_before=now,
            )
        broadcast.status = "finished"
        broadcast.finished_at = now
        done += 1
    session.flush()
    return done
