"""Everything that happens to chats rather than in them: membership, migration, refused deliveries, platform
log-outs and the periodic chores.

Like the message dispatcher, each call is synchronous (the bridge runs it in a worker thread) and is one
transaction; the two share the core and the in-memory ``ChatMemory``.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy.orm import Session

from handlers import broadcasts, review, tip_followup
from handlers.chat_memory import ChatMemory
from handlers.context import Core
from handlers.messages import MembershipChange, Reply
from storage import audit, idempotency, outbox
from storage import groups as group_repo
from storage.models import SELF_TAG_KINDS, Group

log = logging.getLogger(__name__)

# Private-chat dedup keys only need to outlive a platform's redelivery window.
PRIVATE_KEY_TTL = timedelta(days=2)
# Group keys outlive every platform's redelivery window (Telegram keeps updates for 24 hours) with room to spare.
GROUP_KEY_TTL = timedelta(days=7)


def record_group(session: Session, core: Core, platform: str, chat_id: str, title: str | None) -> Group:
    """Record a group as active under its current title, tagging an untagged one from a village in the title."""
    group = group_repo.get_group(session, platform, chat_id)
    kind = unit = None
    if group is None or group.kind is None:
        found = core.profile.find_unit(title)
        # A title is typed by anyone: it may suggest a village, never leadership, station or enterprise.
        if found is not None and found.kind in SELF_TAG_KINDS:
            kind, unit = found.kind, found.name
    recorded = group_repo.upsert_group(
        session, platform, chat_id, title=title, kind=kind, unit=unit, active=True
    )
    if kind is not None:
        audit.record(
            session,
            "title",
            "group.tagged",
            f"group:{recorded.id}",
            f"-/- -> {kind}/{unit}",
            now=core.clock(),
        )
    return recorded


class ChatEvents:
    """The group and platform events service: what adapters report besides messages, and the chores."""

    def __init__(self, core: Core, memory: ChatMemory) -> None:
        self.core = core
        self.memory = memory
        self._purged_on: date | None = None  # the local day closed tips were last purged

    def membership(self, change: MembershipChange) -> None:
        """Record that the bot joined (tagging the group from its title) or left a group."""
        with self.core.sessions.begin() as session:
            if change.joined:
                record_group(session, self.core, change.platform, change.chat_id, change.title)
            else:
                group_repo.upsert_group(session, change.platform, change.chat_id, active=False)
        log.info(
            "group membership",
            extra={"platform": change.platform, "chat": change.chat_id, "joined": change.joined},
        )

    def migrate_chat(self, platform: str, old_chat_id: str, new_chat_id: str) -> None:
        """A group got a new chat id (Telegram group → supergroup): keep its tags and re-address queued pushes."""
        with self.core.sessions.begin() as session:
            group_repo.move_chat(session, platform, old_chat_id, new_chat_id)
        log.info("group chat id migrated", extra={"platform": platform, "chat": new_chat_id})

    def mark_inactive(self, platform: str, chat_id: str) -> None:
        """The platform refused to deliver to a group (the bot was removed or blocked): stop pushing to it."""
        with self.core.sessions.begin() as session:
            group_repo.upsert_group(session, platform, chat_id, active=False)

    def undelivered(self, platform: str, reply: Reply) -> None:
        """The platform refused a private reply: count it, and keep it in memory if it carries a receipt code."""
        now = self.core.clock()
        self.memory.private_counter.add("reply-undelivered", now)
        if reply.receipt:
            self.memory.held_receipts.hold(platform, reply.chat_id, reply.text, now)

    def defer_reply(self, platform: str, reply: Reply, retry_after: float) -> None:
        """Queue a group reply the platform would not take now, to be sent by the outbox after ``retry_after``."""
        now = self.core.clock()
        with self.core.sessions.begin() as session:
            group = group_repo.get_group(session, platform, reply.chat_id)
            outbox.enqueue(
                session,
                dedup_key=f"reply:{platform}:{reply.chat_id}:{reply.quote_message_id}",
                event="reply",
                platform=platform,
                chat_id=reply.chat_id,
                group_id=group.id if group else None,
                text=reply.text,
                not_before=now + timedelta(seconds=retry_after),
            )

    def platform_event(self, platform: str, event: str) -> int:
        """A platform connection changed (``login`` / ``logout``): tell the leadership groups on the other platforms.

        Returns how many notices were queued in the outbox.
        """
        if event != "logout":
            return 0
        now = self.core.clock()
        text = self.core.texts(
            "notices.platform_logout", platform=self.core.texts.label("platforms", platform)
        )
        queued = 0
        with self.core.sessions.begin() as session:
            for group in group_repo.list_groups(session, kinds=["leadership", "station"], active_only=True):
                if group.platform == platform:
                    continue
                queued += outbox.enqueue_to_group(
                    session,
                    group,
                    dedup_key=f"{event}:{platform}:{now:%Y%m%d%H%M}:{group.id}",
                    event=f"platform-{event}",
                    text=text,
                )
        log.warning("platform logged out", extra={"platform": platform, "notices": queued})
        return queued

    def housekeeping(self) -> None:
        """Periodic chores: broadcast receipts, forgetting old private keys, review notices and expiry."""
        now = self.core.clock()
        with self.core.sessions.begin() as session:
            broadcasts.finish(session, self.core.texts, now)
            idempotency.purge_private(session, now - PRIVATE_KEY_TTL)
            idempotency.purge_group(session, now - GROUP_KEY_TTL)
            review.housekeeping(session, self.core, now)
            tip_followup.expire(session, now)
            today = now.astimezone(self.core.tz).date()
            if self._purged_on != today:
                retention = self.core.profile.rewards.retention_days
                tip_followup.purge_closed(session, now, retention, self.core.data_dir)
                self._purged_on = today
        self.memory.purge(now)
