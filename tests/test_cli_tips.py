"""Tests for bot.cli_tips: ``anquan purge`` counts with --dry-run and purges without it."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.cli_common import load_settings, open_db
from storage.models import utcnow
from storage.officials import new_code
from storage.tips import create_tip, get_tip


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("ANQUAN_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANQUAN_DATA_DIR", str(tmp_path / "data"))


def test_purge_dry_run_then_for_real() -> None:
    db = open_db(load_settings())
    with db.sessions.begin() as s:
        values = {"kind": "tip", "category": "mining", "severity": "major", "confidence": 0.9}
        old = create_tip(
            s, receipt_code=new_code(18), now=utcnow() - timedelta(days=800), text="旧举报", **values
        )
        old.status = "closed"
        fresh = create_tip(s, receipt_code=new_code(18), now=utcnow(), text="新举报", **values)
        ids = old.id, fresh.id
    dry = CliRunner().invoke(main, ["purge", "--dry-run"])
    assert dry.exit_code == 0 and "有 1 条" in dry.output and "未删除" in dry.output
    with db.sessions() as s:
        assert get_tip(s, ids[0]).text == "旧举报"  # type: ignore[union-attr]
    done = CliRunner().invoke(main, ["purge"])
    assert done.exit_code == 0 and "已清理 1 条" in done.output
    with db.sessions() as s:
        assert get_tip(s, ids[0]).text == "" and get_tip(s, ids[1]).text == "新举报"  # type: ignore[union-attr]


def test_export_rewards_honours_the_dates_and_writes_xlsx_or_csv(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from storage.tip_threads import create_reward

    db = open_db(load_settings())
    values = {"kind": "tip", "category": "mining", "severity": "major", "confidence": 0.9, "text": "偷挖"}
    with db.sessions.begin() as s:
        for days_ago in (40, 10):
            tip = create_tip(s, receipt_code=new_code(18), now=utcnow() - timedelta(days=days_ago), **values)
            create_reward(
                s,
                tip,
                category="general",
                fine_fen=None,
                computed_fen=50_000,
                verified_by="刘主任",
                department="安全办",
                claim_days=60,
                now=utcnow() - timedelta(days=days_ago),
            )
    since = (utcnow() - timedelta(days=20)).date().isoformat()
    out = tmp_path / "奖励.xlsx"
    result = CliRunner().invoke(main, ["export", "rewards", "--from", since, "--out", str(out)])
    assert result.exit_code == 0 and "已导出 1 条" in result.output
    sheet = load_workbook(out).active
    assert sheet.max_row == 3  # title, header, one reward
    csv_out = CliRunner().invoke(main, ["export", "rewards", "--format", "csv", "--out", "-"])
    assert csv_out.output.startswith("\ufeff序号") and csv_out.output.count("\n") == 3
    missing = CliRunner().invoke(main, ["export", "rewards", "--out", str(tmp_path / "nope" / "x.xlsx")])
    assert missing.exit_code != 0 and not (tmp_path / "nope").exists()
