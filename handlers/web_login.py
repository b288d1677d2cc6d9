"""``/后台`` and ``/退出后台``: an official's one-time link to the web dashboard, and ending its sessions.

Web-independent: only storage and wording. The link's host is ``ANQUAN_WEB_BASE_URL`` (set once by the process
that runs the bot or the dashboard through ``configure``; the environment variable otherwise).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from storage import web_sessions

if TYPE_CHECKING:
    from handlers.chat_commands import CommandContext

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
_configured: dict[str, str] = {}


def configure(base_url: str | None) -> None:
    """Set the dashboard's base URL for the links (``Settings.web_base_url``)."""
    if base_url:
        _configured["base_url"] = base_url
    else:
        _configured.pop("base_url", None)


def base_url() -> str:
    """Where the dashboard is reached, without a trailing slash."""
    url = _configured.get("base_url") or os.environ.get("ANQUAN_WEB_BASE_URL") or DEFAULT_BASE_URL
    return url.rstrip("/")


def login_command(ctx: CommandContext) -> str:
    """Official, in private only: a link that logs this official into the dashboard once, within 10 minutes."""
    if ctx.msg.chat_type != "private":
        return ctx.t("web.group_refused")
    official = ctx.official
    assert official is not None  # registered official-only
    token = web_sessions.create_login_token(ctx.session, official.id, now=ctx.core.clock())
    return ctx.t(
        "web.link",
        url=f"{base_url()}/login/{token}",
        minutes=web_sessions.LINK_MINUTES,
        hours=web_sessions.SESSION_HOURS,
    )


def logout_command(ctx: CommandContext) -> str:
    """Official: end every dashboard session of this official, on every browser."""
    official = ctx.official
    assert official is not None  # registered official-only
    count = web_sessions.end_all(ctx.session, official.id, now=ctx.core.clock())
    return ctx.t("web.logged_out", count=count) if count else ctx.t("web.no_sessions")
