"""The ledger's monthly and quarterly statistics, counted by the database.

Repository functions: they take a session and never commit, and return counts and rows; ``scheduler`` assembles
the reports and words them. A report's status at an instant is read from its audit trail (the last status the
trail reached before it; its current status if the trail has none). Every count is a bounded number of
aggregate statements whatever the size of the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    SQLColumnExpression,
    Subquery,
    and_,
    case,
    exists,
    func,
    select,
    union,
)
from sqlalchemy.orm import Session, aliased

from storage.models import OPEN_STATUSES, Report, ReportEvent, Tip, TipEvent, TipReward

NOT_COUNTED = ("rejected", "duplicate")
DONE = ("rectified", "closed")
VERIFIED = ("rectifying", "rectified", "closed")


# ---------------------------------------------------------------------------------------------------------------
# Monthly


def _slice_counts(
    status: SQLColumnExpression[str], start: datetime, end: datetime
) -> list[ColumnElement[int]]:
    """new, open, overdue, listed, counted and done, as ``COUNT(*) FILTER (WHERE …)``, for reports in ``status``."""
    counted = status.not_in(NOT_COUNTED)
    is_open = status.in_(OPEN_STATUSES)
    return [
        func.count().filter(and_(counted, Report.created_at >= start)),
        func.count().filter(is_open),
        func.count().filter(and_(is_open, Report.deadline < end)),
        func.count().filter(and_(is_open, Report.listed_at < end)),
        func.count().filter(counted),
        func.count().filter(status.in_(DONE)),
    ]


def _status_at(moment: datetime) -> Subquery:
    """Rows (report_id, status) for the reports whose status changed at or after ``moment``: their status then.

    A report's status just before ``moment`` is the last status its audit trail records before it (the latest
    entry; on a tie of times, the greatest status, as the trail is read in (time, status) order), or its current
    status if the trail has none before it. Every status change appends to the trail, so a report whose trail
    has nothing at or after ``moment`` is still in its current status, and only the changed ones are read here.
    """
    changed = select(ReportEvent.report_id).where(
        ReportEvent.to_status.is_not(None), ReportEvent.at >= moment
    )
    ranked = (
        select(
            ReportEvent.report_id,
            ReportEvent.to_status,
            func.row_number()
            .over(
                partition_by=ReportEvent.report_id,
                order_by=(ReportEvent.at.desc(), ReportEvent.to_status.desc()),
            )
            .label("rn"),
        )
        .where(
            ReportEvent.report_id.in_(changed),
            ReportEvent.to_status.is_not(None),
            ReportEvent.at < moment,
        )
        .subquery("ranked")
    )
    return (
        select(ranked.c.report_id, ranked.c.to_status.label("status"))
        .where(ranked.c.rn == 1)
        .subquery("status_at_end")
    )


def _first_in(
    events: type[ReportEvent] | type[TipEvent],
    owner: SQLColumnExpression[int],
    statuses: tuple[str, ...],
    start: datetime,
    end: datetime,
) -> ColumnElement[bool]:
    """Whether the first trail entry moving to one of ``statuses`` falls in [start, end)."""
    key = events.report_id if events is ReportEvent else events.tip_id  # type: ignore[union-attr]
    in_window = exists().where(
        key == owner, events.to_status.in_(statuses), events.at >= start, events.at < end
    )
    earlier = exists().where(key == owner, events.to_status.in_(statuses), events.at < start)
    return and_(in_window, ~earlier)


def month_slices(
    session: Session, start: datetime, end: datetime
) -> tuple[dict[tuple[str, str], list[int]], int]:
    """Per (village, category) of reports filed before ``end``: [new, open, overdue, listed, counted, done] at ``end``.

    Also the number of tips filed as reports since ``start``. ``""`` stands for no village. Two statements: the
    slices by current status over the whole ledger (one parallel scan, no join), corrected for the few reports
    whose status changed at or after ``end``: their counts move from today's status to that one.
    """
    at_end = _status_at(end)
    sums: dict[tuple[str, str], list[int]] = {}
    tips = 0
    main = select(
        Report.village,
        Report.category,
        *_slice_counts(Report.status, start, end),
        func.count().filter(and_(Report.kind == "tip", Report.created_at >= start)),
    ).where(Report.created_at < end)
    for row in session.execute(main.group_by(Report.village, Report.category)):
        key = (row[0] or "", row[1])
        sums[key] = [int(v) for v in row[2:8]]
        tips += int(row[8])
    correction = (
        select(
            Report.village,
            Report.category,
            *_slice_counts(Report.status, start, end),
            *_slice_counts(at_end.c.status, start, end),
        )
        .join(at_end, at_end.c.report_id == Report.id)
        .where(Report.created_at < end, at_end.c.status != Report.status)
        .group_by(Report.village, Report.category)
    )
    for row in session.execute(correction):
        values = sums.setdefault((row[0] or "", row[1]), [0] * 6)
        for i in range(6):
            values[i] += int(row[8 + i] or 0) - int(row[2 + i] or 0)
    return sums, tips


def rectified_candidates(
    session: Session, start: datetime, end: datetime
) -> Sequence[Row[str | None, str, datetime, datetime | None, datetime | None]]:
    """Counted reports (at ``end``) with a rectification moment in [start, end), in filing order.

    Rows of ``village, category, created_at, rectified_at, first``: ``first`` is the first move to 已整改 or
    已销号 in the trail, ``rectified_at`` the recorded rectification time; the earlier of the two is when the report
    was rectified (the caller keeps those inside the window). Only reports with such a moment inside the window
    are read, so the rows are the month's, not the ledger's.
    """
    at_end = _status_at(end)
    done = aliased(ReportEvent)
    candidates = union(
        select(ReportEvent.report_id.label("id")).where(
            ReportEvent.to_status.in_(DONE), ReportEvent.at >= start, ReportEvent.at < end
        ),
        select(Report.id.label("id")).where(Report.rectified_at >= start, Report.rectified_at < end),
    ).subquery("candidates")
    first_done = (
        select(func.min(done.at))
        .where(done.report_id == Report.id, done.to_status.in_(DONE))
        .scalar_subquery()
    )
    status = func.coalesce(at_end.c.status, Report.status)
    return session.execute(
        select(
            Report.village, Report.category, Report.created_at, Report.rectified_at, first_done.label("first")
        )
        .join(candidates, candidates.c.id == Report.id)
        .outerjoin(at_end, at_end.c.report_id == Report.id)
        .where(Report.created_at < end, status.not_in(NOT_COUNTED))
        .order_by(Report.id)
    ).all()


def month_tips(session: Session, start: datetime, end: datetime) -> tuple[int, int, int]:
    """Tips filed as reports first verified in [start, end); tips in the tip store received, and first verified.

    Verified: first moved to 整改中/已整改/已销号. One statement of three COUNT subqueries.
    """
    tips = select(
        select(func.count(Report.id))
        .where(
            Report.kind == "tip",
            Report.created_at < end,
            _first_in(ReportEvent, Report.id, VERIFIED, start, end),
        )
        .scalar_subquery(),
        select(func.count(Tip.id))
        .where(Tip.kind == "tip", Tip.created_at >= start, Tip.created_at < end)
        .scalar_subquery(),
        select(func.count(Tip.id))
        .where(Tip.kind == "tip", Tip.created_at < end, _first_in(TipEvent, Tip.id, VERIFIED, start, end))
        .scalar_subquery(),
    )
    # three COUNT(*) subqueries: the stubs type a row of scalar subqueries as objects
    verified, store_received, store_verified = cast("tuple[int | None, ...]", session.execute(tips).one())
    return int(verified or 0), int(store_received or 0), int(store_verified or 0)


def month_rewards(session: Session, start: datetime, end: datetime) -> tuple[int, int]:
    """Reward records created in [start, end) (cancelled ones aside), and rewards paid out in it."""
    rewarded, paid = cast(
        "tuple[int | None, ...]",
        session.execute(
            select(
                select(func.count(TipReward.tip_id))
                .where(
                    TipReward.verified_at >= start, TipReward.verified_at < end, TipReward.status != "void"
                )
                .scalar_subquery(),
                select(func.count(TipReward.tip_id))
                .where(TipReward.paid_at >= start, TipReward.paid_at < end)
                .scalar_subquery(),
            )
        ).one(),
    )
    return int(rewarded or 0), int(paid or 0)


# ---------------------------------------------------------------------------------------------------------------
# Quarterly


def _per_report(end: datetime) -> Any:
    """One row per report filed before ``end``: its slice keys, deadline, status at ``end`` and first done time."""
    status_at_end = (
        select(ReportEvent.to_status)
        .where(ReportEvent.report_id == Report.id, ReportEvent.to_status.is_not(None), ReportEvent.at < end)
        .order_by(ReportEvent.at.desc(), ReportEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    done_event = (
        select(func.min(ReportEvent.at))
        .where(ReportEvent.report_id == Report.id, ReportEvent.to_status.in_(DONE))
        .scalar_subquery()
    )
    done_at = case(
        (done_event.is_(None), Report.rectified_at),
        (Report.rectified_at.is_(None), done_event),
        (done_event < Report.rectified_at, done_event),
        else_=Report.rectified_at,
    )
    return (
        select(
            Report.village.label("village"),
            Report.category.label("category"),
            Report.severity.label("severity"),
            Report.created_at.label("created_at"),
            Report.deadline.label("deadline"),
            func.coalesce(status_at_end, Report.status).label("status"),
            done_at.label("done_at"),
        )
        .where(Report.created_at < end)
        .subquery()
    )


def _sum_of(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _aggregates(per: Any, start: datetime, end: datetime) -> list[Any]:
    counted = per.c.status.not_in(NOT_COUNTED)
    is_open = per.c.status.in_(OPEN_STATUSES)
    major = per.c.severity == "major"
    found = and_(counted, per.c.created_at >= start)
    return [
        _sum_of(found).label("found"),
        _sum_of(and_(found, major)).label("found_major"),
        _sum_of(and_(counted, per.c.done_at >= start, per.c.done_at < end)).label("fixed"),
        _sum_of(is_open).label("open"),
        _sum_of(and_(is_open, major)).label("open_major"),
        _sum_of(and_(is_open, per.c.deadline.is_not(None), per.c.deadline < end)).label("overdue"),
        _sum_of(counted).label("filed_total"),
        _sum_of(per.c.status.in_(DONE)).label("done_total"),
    ]


def quarter_totals(session: Session, start: datetime, end: datetime) -> Row[Any]:
    """The quarter's totals: ``found, found_major, fixed, open, open_major, overdue, filed_total, done_total``.

    Found: counted reports filed since ``start``; fixed: counted reports first done in [start, end); open,
    overdue and the totals as of ``end`` (statuses read from the audit trail).
    """
    return session.execute(select(*_aggregates(_per_report(end), start, end))).one()


def quarter_slices(
    session: Session, start: datetime, end: datetime, by: Literal["village", "category"]
) -> Sequence[Row[Any]]:
    """``quarter_totals``' numbers grouped by village or category, each row with its ``key`` (None: no village)."""
    per = _per_report(end)
    column = per.c[by]
    return session.execute(select(column.label("key"), *_aggregates(per, start, end)).group_by(column)).all()


def quarter_tips(session: Session, start: datetime, end: datetime) -> tuple[int, int]:
    """Tips received and verified in [start, end): the tip store's tips, and tips left in the reports table."""
    received = 0
    verified = 0
    for table, events, owner in (
        (Tip, TipEvent, TipEvent.tip_id),
        (Report, ReportEvent, ReportEvent.report_id),
    ):
        received += (
            session.scalar(
                select(func.count())
                .select_from(table)
                .where(table.kind == "tip", table.created_at >= start, table.created_at < end)
            )
            or 0
        )
        first = (
            select(owner.label("owner"), func.min(events.at).label("first"))
            .where(events.to_status.in_(VERIFIED))
            .group_by(owner)
            .subquery()
        )
        verified += (
            session.scalar(
                select(func.count())
                .select_from(first.join(table, table.id == first.c.owner))
                .where(table.kind == "tip", first.c.first >= start, first.c.first < end)
            )
            or 0
        )
    return received, verified
