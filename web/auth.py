"""Login by one-time link, the session cookie, and the CSRF check for every POST.

The cookie holds a random session id (the database keeps only its SHA-256); it is HttpOnly, SameSite=Strict, and
Secure when the dashboard's base URL is https. The CSRF token is an HMAC of the session id with the bot's secret.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from handlers.context import Core
from storage import web_sessions
from storage.models import Official

COOKIE = "anquan_session"
router = APIRouter()


class NotLoggedIn(Exception):
    """No live session: every page sends the browser to the explanation of how to get a link."""


class CsrfRefused(Exception):
    """A POST without this session's CSRF token."""


@dataclass(frozen=True)
class Viewer:
    """The official looking at the dashboard, their session id and CSRF token."""

    official: Official
    sid: str
    csrf: str

    @property
    def village(self) -> str | None:
        """The village a village official is limited to (None: the whole town)."""
        return self.official.unit if self.official.role == "village" else None


def core_of(request: Request) -> Core:
    """The bot's core the app was built on."""
    return request.app.state.core  # type: ignore[no-any-return]


def viewer(request: Request) -> Viewer:
    """The logged-in official, or ``NotLoggedIn``."""
    sid = request.cookies.get(COOKIE, "")
    if not sid:
        raise NotLoggedIn
    core = core_of(request)
    with core.sessions() as session:
        official = web_sessions.session_official(session, sid, now=core.clock())
        if official is None:
            raise NotLoggedIn
        session.expunge(official)
    return Viewer(official, sid, web_sessions.csrf_token(sid, core.secret))


async def checked_form(request: Request, who: Viewer) -> dict[str, str]:
    """The POSTed form, after checking its CSRF token (``CsrfRefused`` otherwise)."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if not web_sessions.csrf_ok(who.sid, core_of(request).secret, values.get("csrf")):
        raise CsrfRefused
    return values


def set_cookie(request: Request, response: Response, sid: str) -> None:
    """Attach the session cookie with the flags the base URL calls for."""
    response.set_cookie(
        COOKIE,
        sid,
        max_age=web_sessions.SESSION_HOURS * 3600,
        httponly=True,
        samesite="strict",
        secure=bool(request.app.state.secure),
        path="/",
    )


@router.get("/login/{token}")
def login_page(request: Request, token: str) -> Response:
    """Opening the link: a page that logs in by POST (a browser submits it at once; a chat app's link preview,
    which fetches the link without running scripts, cannot use the link up). A used or expired link: why not."""
    core = core_of(request)
    with core.sessions() as session:
        usable = web_sessions.login_token_usable(session, token, now=core.clock())
    if not usable:
        return request.app.state.render(request, None, "welcome.html", status_code=403, link_failed=True)
    return request.app.state.render(request, None, "login.html", token=token)


@router.post("/login/{token}")
def login(request: Request, token: str) -> Response:
    """Use the link once: a new session and its cookie, then 总览; a used or expired link gets the explanation."""
    core = core_of(request)
    with core.sessions.begin() as session:
        official = web_sessions.redeem_login_token(session, token, now=core.clock())
        sid = web_sessions.create_session(session, official.id, now=core.clock()) if official else None
    if sid is None:
        return request.app.state.render(request, None, "welcome.html", status_code=403, link_failed=True)
    response = RedirectResponse("/", status_code=303)
    set_cookie(request, response, sid)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """The page's 退出: end this session only."""
    who = viewer(request)
    await checked_form(request, who)
    core = core_of(request)
    with core.sessions.begin() as session:
        web_sessions.end_session(session, who.sid, now=core.clock())
    response = RedirectResponse("/welcome", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
