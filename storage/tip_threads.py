"""Repository functions for a tip's follow-up thread and its reward record. They never commit.

The tipster's side names nobody and keeps whole hours only; keys are random, so neither rows nor times place the
tipster's writing among other activity more finely than the hour.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from storage.models import Attachment, Tip, TipMessage, TipReward
from storage.tips import add_event, hour


def _next_seq(session: Session, tip_id: int) -> int:
    return (session.scalar(select(func.max(TipMessage.seq)).where(TipMessage.tip_id == tip_id)) or 0) + 1


def ask(session: Session, tip: Tip, question: str, author: str, *, now: datetime) -> TipMessage:
    """Store an official's question on the tip's thread, to the hour like everything else on it.

    Answers sit between questions in the thread's order; exact question times would date an answer to the minutes
    between two questions.
    """
    now = hour(now)
    row = TipMessage(
        id=secrets.token_hex(16),
        tip_id=tip.id,
        seq=_next_seq(session, tip.id),
        kind="question",
        author=author,
        text=question,
        created_at=now,
    )
    session.add(row)
    session.flush()
    add_event(session, tip, author, "question", at=now)
    return row


def supplement(session: Session, tip: Tip, text: str, *, now: datetime) -> TipMessage:
    """Store the tipster's supplement (no author, the hour only) and mark every open question answered."""
    at = hour(now)
    row = TipMessage(
        id=secrets.token_hex(16),
        tip_id=tip.id,
        seq=_next_seq(session, tip.id),
        kind="answer",
        author=None,
        text=text,
        created_at=at,
    )
    session.add(row)
    session.execute(
        update(TipMessage)
        .where(TipMessage.tip_id == tip.id, TipMessage.kind == "question", TipMessage.answered_at.is_(None))
        .values(answered_at=at)
        .execution_options(synchronize_session=False)
    )
    tip.updated_at = at
    session.flush()
    add_event(session, tip, "anonymous", "supplement", at=at)
    return row


def thread(session: Session, tip_id: int) -> list[TipMessage]:
    """The whole thread, oldest first."""
    return list(
        session.scalars(
            select(TipMessage)
            .where(TipMessage.tip_id == tip_id)
            .order_by(TipMessage.seq)
            .execution_options(populate_existing=True)
        )
    )


def open_questions(session: Session, tip_id: int) -> list[TipMessage]:
    """Questions the tipster has not answered yet, oldest first."""
    return [m for m in thread(session, tip_id) if m.kind == "question" and m.answered_at is None]


def mark_read(session: Session, tip_id: int, *, now: datetime) -> int:
    """The tipster has seen the open questions (``/进度``): mark them read, to the hour. Returns how many."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(TipMessage)
            .where(TipMessage.tip_id == tip_id, TipMessage.kind == "question", TipMessage.read_at.is_(None))
            .values(read_at=hour(now))
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount or 0


# --- rewards -------------------------------------------------------------------------------------------------


def get_reward(session: Session, tip_id: int) -> TipReward | None:
    """The tip's reward record, if it was verified."""
    return session.get(TipReward, tip_id)


def create_reward(
    session: Session,
    tip: Tip,
    *,
    category: str,
    fine_fen: int | None,
    computed_fen: int,
    verified_by: str,
    department: str,
    claim_days: int,
    now: datetime,
) -> TipReward:
    """Create (or redo) the reward record of a verified tip, claimable for ``claim_days`` from now."""
    reward = get_reward(session, tip.id)
    if reward is None:
        reward = TipReward(tip_id=tip.id)
        session.add(reward)
    reward.category, reward.fine_fen = category, fine_fen
    reward.computed_fen = reward.amount_fen = computed_fen
    reward.override_reason = None
    reward.first_accepted_at = tip.created_at
    reward.verified_at, reward.verified_by = now, verified_by
    reward.department = department
    reward.claim_deadline = now + timedelta(days=claim_days)
    reward.status, reward.status_note, reward.paid_at = "pending", None, None
    session.flush()
    add_event(session, tip, verified_by, "verified", note=category, at=now)
    return reward


def set_reward_status(
    session: Session, tip: Tip, reward: TipReward, status: str, actor: str, note: str | None, *, now: datetime
) -> None:
    """Mark a reward paid, expired or void, with a note; paying records the date."""
    reward.status, reward.status_note = status, note
    if status == "paid":
        reward.paid_at = now
    session.flush()
    add_event(session, tip, actor, f"reward-{status}", note=note, at=now)


def override_amount(
    session: Session, tip: Tip, reward: TipReward, amount_fen: int, reason: str, actor: str, *, now: datetime
) -> None:
    """An admin sets the reward by hand, with the reason kept next to the computed amount."""
    reward.amount_fen, reward.override_reason = amount_fen, reason
    session.flush()
    add_event(session, tip, actor, "reward-override", note=reason, at=now)


def link_same_matter(session: Session, later: TipReward, earlier_tip_id: int) -> None:
    """Two tips about one matter: the later-accepted one loses its claim to the earlier (first-reporter rule)."""
    later.matter_of = earlier_tip_id
    later.status = "void"
    session.flush()


def expire_rewards(session: Session, now: datetime) -> int:
    """Pending rewards past their claim deadline become expired; returns how many."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(TipReward)
            .where(TipReward.status == "pending", TipReward.claim_deadline < now)
            .values(status="expired")
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount or 0


def list_rewards(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> list[TipReward]:
    """Reward records by verification date, optionally within [since, until)."""
    stmt = select(TipReward).order_by(TipReward.verified_at, TipReward.tip_id)
    if since is not None:
        stmt = stmt.where(TipReward.verified_at >= since)
    if until is not None:
        stmt = stmt.where(TipReward.verified_at < until)
    return list(session.scalars(stmt))


# --- retention -----------------------------------------------------------------------------------------------


def purgeable(session: Session, before: datetime) -> list[Tip]:
    """Closed or rejected tips untouched since ``before`` and not yet purged."""
    return list(
        session.scalars(
            select(Tip).where(
                Tip.status.in_(("closed", "rejected", "duplicate")),
                Tip.updated_at < before,
                Tip.purged_at.is_(None),
            )
        )
    )


def purge(session: Session, tips: list[Tip], *, now: datetime) -> dict[str, int]:
    """Erase the text, thread and photo rows of these tips; number, category, dates and rewards stay.

    Returns counts (tips, messages, photos) and the photo hashes that no row uses any more, for the caller to
    delete from disk.
    """
    ids = [t.id for t in tips]
    if not ids:
        return {"tips": 0, "messages": 0, "photos": 0}
    messages = (
        cast(
            CursorResult[Any], session.execute(delete(TipMessage).where(TipMessage.tip_id.in_(ids)))
        ).rowcount
        or 0
    )
    photos = (
        cast(
            CursorResult[Any], session.execute(delete(Attachment).where(Attachment.tip_id.in_(ids)))
        ).rowcount
        or 0
    )
    for tip in tips:
        tip.text = ""
        tip.location = None
        tip.public_note = None
        tip.rectification_note = None
        tip.evidence = ""
        tip.purged_at = hour(now)
    session.flush()
    return {"tips": len(ids), "messages": messages, "photos": photos}
