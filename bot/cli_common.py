"""What every ``anquan`` subcommand needs: settings and the database, with Chinese errors instead of tracebacks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from pydantic import ValidationError

from bot.config import Settings
from storage.db import scrub_password

if TYPE_CHECKING:
    from bot.app import Database


def load_settings() -> Settings:
    """The installation's settings, or a Chinese error saying what is wrong with them."""
    try:
        return Settings()
    except (ValidationError, ValueError) as exc:
        raise click.ClickException(f"配置有误：{exc}") from exc


def open_db(settings: Settings) -> Database:
    """The migrated database, or a Chinese error naming the URL."""
    from bot.app import open_database

    try:
        return open_database(settings)
    except Exception as exc:
        # Neither the URL nor the driver's message may show the database password.
        detail = scrub_password(str(exc), settings.db_url)
        raise click.ClickException(f"无法打开数据库 {settings.db_url_display}：{detail}") from exc
