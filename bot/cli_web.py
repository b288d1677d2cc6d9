"""``anquan web [--listen 127.0.0.1:8080]``: run the web dashboard (挂图作战) alone, without the chat adapters.

Attached to the main command group in ``bot/cli.py`` with ``main.add_command(web)``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import click

from bot.cli_common import data_files, load_settings, open_db

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.datafiles import DataFiles
    from handlers.context import Core


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8080`` for IPv6) as host and port; a clear error otherwise."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise click.BadParameter(
            f"应写成 主机:端口，例如 127.0.0.1:8080，现在是 {listen!r}", param_hint="--listen"
        )
    return host.strip("[]"), int(port)


def make_server(app: object, listen: str) -> object:
    """A uvicorn server for the app on ``listen`` (no signal handlers of its own: the caller stops it)."""
    import uvicorn

    host, port = split_listen(listen)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", proxy_headers=True)  # type: ignore[arg-type]
    return uvicorn.Server(config)


@click.command("web")
@click.option(
    "--listen", metavar="HOST:PORT", help="监听地址（默认取 ANQUAN_WEB_LISTEN，再默认 127.0.0.1:8080）"
)
def web(listen: str | None) -> None:
    """单独运行网页后台（挂图作战）。干部私聊机器人发 /后台 领登录链接。"""
    try:
        from web.app import create_app  # noqa: F401  (the web extra is installed)
    except ImportError as exc:
        raise click.ClickException(
            "网页后台需要 web 附加包：pip install -e '.[web]'（make run 会自动装）"
        ) from exc
    settings = load_settings()
    files = data_files(settings)
    listen = listen or settings.web_listen or "127.0.0.1:8080"
    split_listen(listen)
    from bot.app import build_core

    db = open_db(settings)
    app = dashboard(settings, build_core(settings, db, files=files), files)
    server = make_server(app, listen)
    click.echo(f"网页后台：{settings.web_base_url}（监听 {listen}）")
    try:
        asyncio.run(server.serve())  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        pass
    finally:
        db.engine.dispose()


class WebServer:
    """The dashboard running as a task beside the bot (``anquan run`` with ANQUAN_WEB_LISTEN)."""

    def __init__(self, server: object, task: asyncio.Task[None]) -> None:
        self.server = server
        self.task = task

    async def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to finish its requests and wait for it (cancelled after ``timeout``)."""
        self.server.should_exit = True  # type: ignore[attr-defined]
        try:
            await asyncio.wait_for(self.task, timeout=timeout)
        except (TimeoutError, asyncio.CancelledError):
            self.task.cancel()


def dashboard(settings: Settings, core: Core, files: DataFiles | None = None) -> object:
    """The dashboard app on ``core`` with the calendar in force (the same one the bot's scheduler uses)."""
    from bot.datafiles import resolve
    from web.app import create_app

    files = files or resolve(settings)
    return create_app(core, base_url=settings.web_base_url, calendar=files.load_calendar(core.texts))


def start_web_server(settings: Settings, core: Core, files: DataFiles | None = None) -> WebServer | None:
    """Start the dashboard on ``settings.web_listen`` in this event loop; None when it is not configured."""
    if not settings.web_listen:
        return None
    server = make_server(dashboard(settings, core, files), settings.web_listen)
    server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]  # the bot owns the signals
    task = asyncio.create_task(server.serve(), name="web")  # type: ignore[attr-defined]
    return WebServer(server, task)
