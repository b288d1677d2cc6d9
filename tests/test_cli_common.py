"""Tests for bot.cli_common: bad settings and unreachable databases end in a Chinese message, not a traceback."""

from __future__ import annotations

import click
import pytest

from bot.cli_common import load_settings, open_db
from bot.config import Settings


def test_bad_settings_are_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANQUAN_PLATFORMS", "qq")
    with pytest.raises(click.ClickException, match="配置有误"):
        load_settings()


def test_unreachable_database_names_the_url() -> None:
    settings = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/nowhere")
    with pytest.raises(click.ClickException, match="无法打开数据库 postgresql"):
        open_db(settings)
