"""The dashboard's pages: 总览, 村级看板, 台账 (with its Excel export), 隐患详情 with its actions, 举报, 日历.

Actions go through the chat commands' own functions (``handlers.ledger``, ``handlers.chat_commands``,
``handlers.tip_followup``) with the official as actor, so they write the same events and refuse with the same words.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy import select

from handlers import export, ledger, permissions, photos, tip_followup
from handlers.chat_commands import CommandContext, change_status
from handlers.messages import IncomingMessage
from handlers.rules import CATEGORIES
from storage import attachments as attachment_repo
from storage import ledger as ledger_repo
from storage import reports as report_repo
from storage import tip_threads
from storage import tips as tip_repo
from storage.constants import FIVE_ITEMS, OPEN_STATUSES, REPORT_STATUSES
from storage.models import Attachment, ReportEvent, Tip
from web import data
from web.auth import Viewer, checked_form, core_of, viewer

router = APIRouter()
TIP_LIMIT = 100
CALENDAR_DAYS = 30
CALENDAR_PAST_DAYS = 7


class Forbidden(Exception):
    """A page or report outside the official's scope: 403 with the Chinese reason."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _render(request: Request, who: Viewer | None, template: str, **values: Any) -> Response:
    return request.app.state.render(request, who, template, **values)  # type: ignore[no-any-return]


# --- 总览 ------------------------------------------------------------------------------------------------------


@router.get("/")
def overview(request: Request) -> Response:
    """总览: the town's (or the village's) figures, the trend and bar charts, and the next seven days' pushes."""
    who = viewer(request)
    core = core_of(request)
    now = core.clock()
    with core.sessions() as session:
        numbers = data.overview(session, now=now, tz=core.tz, village=who.village)
    today = now.astimezone(core.tz).date()
    pushes = request.app.state.pushes(today, today + timedelta(days=7))
    label = core.texts.label
    return _render(
        request,
        who,
        "overview.html",
        o=numbers,
        pushes=pushes,
        chart={
            "months": numbers.months,
            "found": numbers.found,
            "fixed": numbers.fixed_by_month,
            "villages": [v or "未注明" for v, _ in numbers.by_village],
            "village_counts": [c for _, c in numbers.by_village],
            "categories": [label("categories", c) for c, _ in numbers.by_category],
            "category_counts": [c for _, c in numbers.by_category],
        },
    )


# --- 村级看板 ----------------------------------------------------------------------------------------------------


@router.get("/villages")
def villages(request: Request) -> Response:
    """村级看板: one tile per village and per responsible unit, coloured by open, overdue and major hazards."""
    who = viewer(request)
    core = core_of(request)
    names = [u.name for u in core.profile.villages]
    with core.sessions() as session:
        board = data.tiles(session, names, now=core.clock(), village=who.village)
        units = data.unit_tiles(session, now=core.clock(), village=who.village)
    return _render(request, who, "villages.html", tiles=board, units=units)


# --- 台账 ------------------------------------------------------------------------------------------------------


def _date_arg(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _ledger_query(request: Request, who: Viewer) -> tuple[data.LedgerQuery, dict[str, str], str | None]:
    """The filter the query string asks for, the values to show in the form, and an error if a value is unusable."""
    p = request.query_params
    args = {
        k: p.get(k, "") for k in ("village", "status", "severity", "category", "from", "to", "overdue", "q")
    }
    args["sort"] = p.get("sort", "id")
    args["dir"] = p.get("dir", "desc")
    village = who.village or (args["village"] or None)
    if who.village:
        args["village"] = who.village
    status = args["status"]
    statuses = OPEN_STATUSES if status == "open" else (status,) if status in REPORT_STATUSES else ()
    error = None
    try:
        flt = export.LedgerFilter(
            date_from=_date_arg(args["from"]),
            date_to=_date_arg(args["to"]),
            village=village,
            statuses=tuple(statuses),
            severity=args["severity"] or None,
            category=args["category"] or None,
            overdue_only=bool(args["overdue"]),
        )
    except export.FilterError as exc:
        error = str(exc)
        flt = export.LedgerFilter(village=village)
    try:
        page = max(1, int(p.get("page", "1")))
    except ValueError:
        page = 1
    query = data.LedgerQuery(flt, args["q"][:100], args["sort"], args["dir"] != "asc", page)
    return query, args, error


@router.get("/ledger")
def ledger_page(request: Request) -> Response:
    """台账: the filtered, sorted table, one page at a time, with the Excel export of the same filter."""
    who = viewer(request)
    core = core_of(request)
    query, args, error = _ledger_query(request, who)
    now = core.clock()
    with core.sessions() as session:
        rows, total = data.ledger_page(session, query, now=now, tz=core.tz)
        for r in rows:
            session.expunge(r)
    pages = max(1, -(-total // data.PAGE_SIZE))
    base = {k: v for k, v in args.items() if v}
    return _render(
        request,
        who,
        "ledger.html",
        rows=rows,
        total=total,
        page=query.page,
        pages=pages,
        args=args,
        error=error,
        now=now,
        query_string=lambda **extra: urlencode({**base, **extra}),
        export_query=urlencode({k: v for k, v in base.items() if k not in ("page", "sort", "dir")}),
        villages=[u.name for u in core.profile.villages],
        categories=CATEGORIES,
        statuses=REPORT_STATUSES,
    )


@router.get("/ledger/export")
def ledger_export(request: Request) -> Response:
    """导出 Excel: exactly the rows of the filtered view, through ``handlers.export``."""
    who = viewer(request)
    core = core_of(request)
    query, _, error = _ledger_query(request, who)
    if error:
        raise Forbidden(error)
    now, town = core.clock(), core.profile.town
    with core.sessions() as session:
        if not query.text.strip():
            payload, _ = export.export_xlsx_bytes(
                session, query.flt, texts=core.texts, town=town, tz=core.tz, now=now
            )
        else:
            # Free text narrows the export's own query; rows and sheets are built by the export's functions.
            stmt = data.ledger_statement(query, now=now, tz=core.tz)
            result = session.execute(stmt.execution_options(yield_per=export.PAGE_SIZE))
            rows = (export._report_row(r[0], r[1], r[2], dict(r._mapping)) for r in result)
            buffer = io.BytesIO()
            title = (
                export.title_text(query.flt, core.texts, town, now, core.tz) + f"　含“{query.text.strip()}”"
            )
            export.write_xlsx(rows, buffer, texts=core.texts, title=title, tz=core.tz, now=now)
            payload = buffer.getvalue()
    name = f"{export.file_stem(core.texts, town, query.flt.village, now, core.tz)}.xlsx"
    return StreamingResponse(
        io.BytesIO(payload),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


# --- 隐患详情 ---------------------------------------------------------------------------------------------------


def _command_context(session: Any, request: Request, who: Viewer, command: str, args: str) -> CommandContext:
    """A chat command's context for the official in a private chat, as if they had typed ``/command args``."""
    official = session.merge(who.official, load=True)
    msg = IncomingMessage(
        platform=official.platform,
        chat_id=official.user_id,
        chat_type="private",
        message_id=f"web-{datetime.now().timestamp()}",
        sender_id=official.user_id,
        sender_name=official.name,
        text=f"/{command} {args}",
    )
    return CommandContext(session, core_of(request), msg, None, official, command, args)


def _scope_check(request: Request, who: Viewer, report: Any, report_id: int | str = "") -> None:
    core = core_of(request)
    if report is None or (report.anonymous or report.kind == "tip"):
        raise Forbidden(core.texts("commands.report_not_found", id=report_id or getattr(report, "id", "")))
    refusal = permissions.report_scope(who.official, report.village, report.id)
    if refusal is not None:
        values = dict(refusal.values)
        raise Forbidden(core.texts(refusal.key, **values))


@router.get("/reports/{report_id}")
def report_detail(request: Request, report_id: int) -> Response:
    """隐患详情: the card, the whole timeline, photos, and the action forms."""
    who = viewer(request)
    core = core_of(request)
    now = core.clock()
    with core.sessions() as session:
        report = report_repo.get_report(session, report_id)
        _scope_check(request, who, report, report_id)
        assert report is not None
        five = ledger_repo.five_items(session, report.id)
        events = list(
            session.scalars(
                select(ReportEvent).where(ReportEvent.report_id == report.id).order_by(ReportEvent.id)
            )
        )
        pictures = attachment_repo.list_attachments(session, report_id=report.id)
        extended = ledger_repo.extensions(session, report.id)
        for item in [report, *five.values(), *events, *pictures]:
            session.expunge(item)
    label = core.texts.label
    return _render(
        request,
        who,
        "report.html",
        r=report,
        five=[(code, label("five_items", code), five.get(code)) for code in FIVE_ITEMS],
        events=events,
        pictures=pictures,
        extended=extended,
        overdue=report.status in OPEN_STATUSES and report.deadline is not None and report.deadline < now,
        message=request.query_params.get("msg", ""),
        town_wide=permissions.town_wide(who.official),
        today=now.astimezone(core.tz).date().isoformat(),
        actor_name=ledger._name,
    )


def _one_line(value: str | None) -> str:
    return " ".join((value or "").split())


ACTIONS = {
    "assign": "指派",
    "measures": "措施",
    "funds": "资金",
    "extend": "延期",
    "supervise": "督办",
    "five": "五落实",
    "accept": "验收",
    "fixing": "整改中",
    "rectified": "整改完成",
    "reject": "不属实",
}


def _action_args(report_id: int, action: str, form: dict[str, str]) -> str:
    f = {k: _one_line(v) for k, v in form.items()}
    parts: list[str] = {
        "assign": [f.get("unit", ""), f.get("person", "")],
        "measures": [f.get("measures", "")],
        "funds": [f.get("amount", "")],
        "extend": [f.get("date", ""), f.get("reason", "")],
        "supervise": [f.get("unit", "")],
        "five": [f.get("item", ""), f.get("state", ""), f.get("note", "")],
        "accept": [f.get("verdict", ""), f.get("note", "")],
    }.get(action, [f.get("note", "")])
    return " ".join([str(report_id), *[p for p in parts if p]])


@router.post("/reports/{report_id}/action")
async def report_action(request: Request, report_id: int) -> Response:
    """One of the officials' commands on this report, exactly as in chat; the bot's answer is shown on the page."""
    who = viewer(request)
    form = await checked_form(request, who)
    action = form.get("action", "")
    command = ACTIONS.get(action)
    core = core_of(request)
    if command is None:
        raise Forbidden("未知的操作。")
    with core.sessions.begin() as session:
        report = report_repo.get_report(session, report_id)
        _scope_check(request, who, report, report_id)
        ctx = _command_context(session, request, who, command, _action_args(report_id, action, form))
        handler = {
            "assign": ledger.assign,
            "measures": ledger.measures,
            "funds": ledger.funds,
            "extend": ledger.extend,
            "supervise": ledger.supervise,
            "five": ledger.five,
            "accept": ledger.accept,
        }.get(action, change_status)
        reply = str(handler(ctx))
    return RedirectResponse(f"/reports/{report_id}?{urlencode({'msg': reply})}", status_code=303)


@router.get("/photos/{attachment_id}")
def photo(request: Request, attachment_id: str) -> Response:
    """One evidence photo, only for an official allowed to see its report (or tip)."""
    who = viewer(request)
    core = core_of(request)
    with core.sessions() as session:
        row = session.get(Attachment, attachment_id)
        if row is None:
            raise Forbidden("没有这张照片。")
        if row.tip_id is not None:
            tip = session.get(Tip, row.tip_id)
            if not permissions.may_read_tips(who.official) or (
                who.village and tip is not None and tip.village != who.village
            ):
                raise Forbidden(core.texts("permissions.tips_only"))
        else:
            _scope_check(request, who, report_repo.get_report(session, row.report_id or 0))
        sha = row.sha256
    store = photos.store_for(core)
    content = store.read(sha) if store is not None else None
    if content is None:
        raise Forbidden("照片文件已不在。")
    return Response(content, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


# --- 举报 ------------------------------------------------------------------------------------------------------


def _tips_allowed(request: Request, who: Viewer) -> None:
    if not permissions.may_read_tips(who.official):
        raise Forbidden(core_of(request).texts("permissions.tips_only"))


@router.get("/tips")
def tips_page(request: Request) -> Response:
    """举报: the tips, each with its thread and the ask form, and the reward ledger (tip-permitted roles only)."""
    who = viewer(request)
    _tips_allowed(request, who)
    core = core_of(request)
    with core.sessions() as session:
        stmt = select(Tip).order_by(Tip.id.desc()).limit(TIP_LIMIT)
        if who.village:
            stmt = stmt.where(Tip.village == who.village)
        tips = list(session.scalars(stmt))
        threads = {t.id: tip_threads.thread(session, t.id) for t in tips}
        rewards = [r for r in tip_threads.list_rewards(session) if not who.village or r.tip_id in threads]
        for item in [*tips, *[m for ms in threads.values() for m in ms], *rewards]:
            session.expunge(item)
    return _render(
        request,
        who,
        "tips.html",
        tips=tips,
        threads=threads,
        rewards=rewards,
        tip_label=tip_repo.tip_label,
        message=request.query_params.get("msg", ""),
    )


@router.post("/tips/{tip_id}/ask")
async def tips_ask(request: Request, tip_id: int) -> Response:
    """追问: the question goes on the tip's thread through ``/追问``'s own function."""
    who = viewer(request)
    form = await checked_form(request, who)
    _tips_allowed(request, who)
    core = core_of(request)
    with core.sessions.begin() as session:
        tip = tip_repo.get_tip(session, tip_id)
        if tip is None or (who.village and tip.village != who.village):
            raise Forbidden(core.texts("commands.report_not_found", id=tip_repo.tip_label(tip_id)))
        args = f"{tip_repo.tip_label(tip_id)} {_one_line(form.get('question'))}".strip()
        reply = str(tip_followup.ask_command(_command_context(session, request, who, "追问", args)))
    return RedirectResponse(f"/tips?{urlencode({'msg': reply})}#tip-{tip_id}", status_code=303)


# --- 日历 ------------------------------------------------------------------------------------------------------


@router.get("/calendar")
def calendar_page(request: Request) -> Response:
    """日历: the past week's and the coming month's pushes, each with its outbox delivery status."""
    who = viewer(request)
    core = core_of(request)
    now = core.clock()
    today = now.astimezone(core.tz).date()
    first = today - timedelta(days=CALENDAR_PAST_DAYS)
    pushes = request.app.state.pushes(first, today + timedelta(days=CALENDAR_DAYS))
    keys = [f"{p.entry.key}:{p.day.isoformat()}" for p in pushes]
    since = datetime.combine(first - timedelta(days=1), datetime.min.time(), core.tz)
    with core.sessions() as session:
        status = data.outbox_status(session, keys, since)
    rows = [(p, status.get(k, {})) for p, k in zip(pushes, keys, strict=True)]
    return _render(request, who, "calendar.html", rows=rows, now=now)
