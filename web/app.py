"""The dashboard's ASGI app: ``create_app(core)``, for tests, ``anquan web`` and ``anquan run`` (via ``bot.cli_web``).

Pages render with Jinja2 from ``web/templates``; ECharts and the stylesheet are served from ``web/static`` (no CDN:
the office may be offline).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from handlers import permissions, web_login
from handlers.context import Core
from web import auth, pages

if TYPE_CHECKING:
    from scheduler.calendar import Calendar, Push

HERE = Path(__file__).resolve().parent
NAV = (
    ("/", "总览"),
    ("/villages", "村级看板"),
    ("/ledger", "台账"),
    ("/tips", "举报"),
    ("/calendar", "日历"),
)


def create_app(core: Core, *, base_url: str | None = None, calendar: Calendar | None = None) -> FastAPI:
    """The dashboard on this core; ``base_url`` is where officials reach it (https turns the Secure cookie on)."""
    base = (base_url or web_login.base_url()).rstrip("/")
    web_login.configure(base)
    app = FastAPI(title="挂图作战", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.state.core = core
    app.state.secure = base.startswith("https://")
    app.state.calendar = calendar

    def pushes(first: date, last: date) -> list[Push]:
        cal = app.state.calendar
        if cal is None:
            from scheduler.calendar import load_calendar

            cal = app.state.calendar = load_calendar(core.profile.calendar)
        return list(cal.pushes(first, last, core.tz))

    app.state.pushes = pushes

    def local(when: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return when.astimezone(core.tz).strftime(fmt) if when else ""

    def render(
        request: Request, who: auth.Viewer | None, template: str, status_code: int = 200, **values: Any
    ) -> Response:
        nav = [
            (href, name)
            for href, name in NAV
            if href != "/tips" or (who and permissions.may_read_tips(who.official))
        ]
        return templates.TemplateResponse(
            request,
            template,
            {
                "who": who,
                "csrf": who.csrf if who else "",
                "nav": nav,
                "path": request.url.path,
                "label": core.texts.label,
                "local": local,
                "town": core.profile.town,
                "bot": core.profile.bot_name,
                **values,
            },
            status_code=status_code,
        )

    app.state.render = render

    @app.exception_handler(auth.NotLoggedIn)
    async def _not_logged_in(request: Request, exc: auth.NotLoggedIn) -> Response:
        return RedirectResponse("/welcome", status_code=303)

    @app.exception_handler(auth.CsrfRefused)
    async def _csrf(request: Request, exc: auth.CsrfRefused) -> Response:
        return render(
            request, None, "error.html", status_code=403, message="表单已过期或来路不明，请刷新页面后重试。"
        )

    @app.exception_handler(pages.Forbidden)
    async def _forbidden(request: Request, exc: pages.Forbidden) -> Response:
        try:
            who: auth.Viewer | None = auth.viewer(request)
        except auth.NotLoggedIn:
            who = None
        return render(request, who, "error.html", status_code=403, message=exc.message)

    @app.get("/welcome")
    def welcome(request: Request) -> Response:
        """Without a session: how to get a link."""
        return render(request, None, "welcome.html")

    @app.get("/web")
    def web_alias() -> Response:
        return RedirectResponse("/", status_code=303)

    @app.get("/后台")
    def web_alias_zh() -> Response:
        return RedirectResponse("/", status_code=303)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        # Login links carry their token in the path: never sent on as a referrer, never cached, never framed.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(auth.router)
    app.include_router(pages.router)
    return app
