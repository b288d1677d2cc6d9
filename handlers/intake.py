"""Filing what villagers and whistleblowers write: group hazards, anonymous private reports, tips.

Anonymous reports go to the separate tip store (storage.tips): no sender id, chat id, name or platform, a random
number, hour-only times, and a receipt code stored hashed. They never take part in duplicate linking.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from handlers.classifier import Classification
from handlers.context import Core
from handlers.messages import IncomingMessage, Outcome
from handlers.similarity import describe, same_hazard
from storage import reports as report_repo
from storage import tips as tip_repo
from storage.models import Group, Report
from storage.officials import new_code

log = logging.getLogger(__name__)

RECEIPT_LENGTH = 18  # 18 symbols of a 31-letter alphabet: about 89 bits


def format_receipt(code: str) -> str:
    """Group a receipt code in sixes so it can be copied by hand: ABC234-DEF567-GHJ89K."""
    return "-".join(code[i : i + 6] for i in range(0, len(code), 6))


class FiledCard(NamedTuple):
    """What a hazard's reply card shows, taken from the fields it was filed with (no Report loaded back)."""

    id: int
    category: str
    severity: str
    location: str | None
    village: str | None
    deadline: datetime | None


def _deadline(core: Core, severity: str, now: datetime) -> datetime:
    return now + timedelta(days=core.profile.deadline_days.get(severity, 30))


def _village(core: Core, group: Group | None, c: Classification) -> str | None:
    # A village named in the text wins over the group's own village (people report what they saw elsewhere).
    named = core.profile.village_of(c.location)
    if named:
        return named
    if group is not None and group.kind == "village" and group.unit:
        return group.unit
    return None


def _lookups(session: Session, core: Core, report: dict, now: datetime) -> tuple[list[Any], int | None]:
    """The duplicate check's candidates and the sender's reports in the last hour, from one statement.

    The count is None when there is no duplicate check (its window is 0): it is then counted on its own if needed.
    """
    window = core.profile.duplicate_window_days
    if window <= 0:
        return [], None
    return report_repo.similar_and_recent(
        session,
        village=report["village"],
        group_id=report["group_id"],
        since=now - timedelta(days=window),
        limit=core.duplicates.max_candidates,
        platform=report["platform"],
        reporter_id=report["reporter_id"],
        counted_since=now - timedelta(hours=1),
    )


def _find_duplicate(session: Session, core: Core, report: dict, candidates: list[Any]) -> Report | None:
    # Open hazards of the same village (or group) from one bounded query, then "same object at the same place" in
    # Python: those of the same category first, then the others, which only a shared object can link.
    if not candidates:
        return None
    rules = core.duplicates
    places = tuple(core.profile.place_names())
    new = describe(
        rules,
        report["text"],
        report["evidence"].split(),
        report["location"],
        reporter=report["reporter_id"],
        places=places,
    )
    memo = core.sightings
    category = report["category"]
    # Each row ends in (category, id, text, evidence, location, reporter_id) (see storage.reports): a slice of the row
    # costs a small part of what reading its columns by name does, and this runs for every candidate of every message.
    rows = sorted((row[-6:] for row in candidates), key=lambda row: row[0] != category)
    for other_category, other_id, text, evidence, location, reporter_id in rows:
        # An old report's text never changes: its description is kept in a bounded memo on the core.
        key = (text, evidence or "", location, reporter_id)
        old = memo.get(key)
        if old is None:
            old = describe(
                rules, text, (evidence or "").split(), location, reporter=reporter_id, places=places
            )
            memo.put(key, old)
        if same_hazard(rules, new, old, same_category=other_category == category):
            return session.get(Report, other_id)
    return None


def file_group_report(
    session: Session, core: Core, msg: IncomingMessage, group: Group, c: Classification
) -> Outcome:
    """File a hazard seen in a group chat, link it to an open duplicate, or refuse a flood."""
    t = core.texts
    now = core.clock()
    if c.intent == "tip":
        # A tip typed in a group is not filed with the sender's identity: point them to a private chat.
        return Outcome("tip-in-group", t("replies.tip_in_group"))
    fields: dict[str, Any] = {
        "kind": "hazard",
        "category": c.category or "other",
        "severity": c.severity or "general",
        "text": msg.text,
        "location": c.location,
        "village": _village(core, group, c),
        "confidence": c.confidence,
        "evidence": " ".join(c.evidence),
        "group_id": group.id,
        "platform": msg.platform,
        "reporter_id": msg.sender_id,
        "reporter_name": msg.sender_name or None,
        "anonymous": False,
        "created_at": now,
        "updated_at": now,
    }
    actor = f"villager({msg.platform}:{msg.sender_id})"
    candidates, recent = _lookups(session, core, fields, now)
    original = _find_duplicate(session, core, fields, candidates)
    if original is not None:
        dup_id = report_repo.file_hazard(
            session, actor=actor, status="duplicate", duplicate_of=original.id, deadline=None, **fields
        )
        report_repo.add_event(session, original, actor, "reported-again", note=f"#{dup_id}", at=now)
        log.info("report linked as duplicate", extra={"report": dup_id, "original": original.id})
        status = t.label("statuses", original.status)
        reply = t("replies.hazard_duplicate", id=original.id, status=status)
        return Outcome("duplicate", with_advice(core, c, reply), original.id)
    # Checked after duplicate linking: a merged duplicate neither counts nor is refused. An emergency never is.
    if not (msg.unlimited or c.urgent):
        if recent is None:
            recent = report_repo.count_recent_by_reporter(
                session, msg.platform, msg.sender_id, now - timedelta(hours=1)
            )
        if recent >= core.profile.reports_per_hour:
            return Outcome("flood-limited", t("replies.flood_limited", hotline=core.profile.hotline))
    deadline = _deadline(core, fields["severity"], now)
    report = FiledCard(
        report_repo.file_hazard(session, actor=actor, deadline=deadline, **fields),
        fields["category"],
        fields["severity"],
        fields["location"],
        fields["village"],
        deadline,
    )
    silent = c.confidence < core.profile.reply_threshold and not c.urgent
    log.info("hazard filed", extra={"report": report.id, "silent": silent})
    if silent:
        return Outcome("filed-silently", None, report.id)
    return Outcome("filed", with_advice(core, c, hazard_reply(core, report, group)), report.id)


def with_advice(core: Core, c: Classification, reply: str) -> str:
    """Put the safety advice for an emergency happening now (``c.urgent``) in front of a reply."""
    if not c.urgent:
        return reply
    advice = core.texts.get("advice", c.category or "") or core.texts("advice.default")
    return f"{advice}\n{reply}"


def hazard_reply(core: Core, report: Report | FiledCard, group: Group | None) -> str:
    """The card a villager gets back for a filed hazard."""
    t = core.texts
    place = report.location or report.village or (group.unit if group else None) or t("replies.place_unknown")
    values = {
        "id": report.id,
        "category": t.label("categories", report.category),
        "severity": t.label("severities", report.severity),
        "place": place,
        "deadline": core.local_date(report.deadline),
        "unit": report.village or t("replies.unit_default"),
    }
    key = "replies.hazard_filed_major" if report.severity == "major" else "replies.hazard_filed"
    return t(key, **values)


def file_anonymous_report(session: Session, core: Core, msg: IncomingMessage, c: Classification) -> Outcome:
    """File a private hazard or tip in the tip store, with nothing that identifies the sender; reply once with a receipt.

    Tips have their own random numbers and hour-only times, so they leave no gap in the group numbering and
    cannot be lined up with a platform's message timestamps. ``report_id`` stays None: a tip is not a report.
    """
    t = core.texts
    now = core.clock()
    code = new_code(RECEIPT_LENGTH)
    kind = "tip" if c.intent == "tip" else "hazard"
    severity = c.severity or "general"
    tip = tip_repo.create_tip(
        session,
        receipt_code=code,
        now=now,
        kind=kind,
        category=c.category or "other",
        severity=severity,
        text=msg.text,
        location=c.location,
        village=core.profile.village_of(c.location),
        confidence=c.confidence,
        evidence=" ".join(c.evidence),
        deadline=_deadline(core, severity, tip_repo.hour(now)),
    )
    shown = format_receipt(code)
    number = tip_repo.tip_label(tip.id)
    no_identity = t("replies.no_identity")
    if kind == "tip":
        return Outcome(
            "anonymous-filed",
            t("replies.tip_filed", id=number, code=shown, no_identity=no_identity),
            tip_id=tip.id,
        )
    reply = t(
        "replies.private_hazard_filed",
        id=number,
        code=shown,
        category=t.label("categories", tip.category),
        no_identity=no_identity,
    )
    return Outcome("anonymous-filed", with_advice(core, c, reply), tip_id=tip.id)
