"""Tests for handlers.rewards: the national defaults, a township's own tariff, and bad tariffs refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from handlers.rewards import Tariff, TariffError, load_tariff


def test_national_defaults() -> None:
    tariff = load_tariff({}, "克虎镇安全办")
    assert tariff.rate == Decimal("0.15") and tariff.department == "克虎镇安全办" and tariff.claim_days == 60
    assert tariff.reward("violation", 200_000_00) == 30_000_00
    assert tariff.reward("violation", 10_000_00) == 3_000_00
    assert tariff.reward("major_hazard", 5_000_000_00) == 300_000_00
    assert tariff.reward("major_hazard", None) == 3_000_00
    assert tariff.reward("general", 999_00) == 500_00


def test_a_townships_own_tariff() -> None:
    tariff = load_tariff(
        {"rewards": {"rate": 0.2, "minimum": 1000, "maximum": 50000, "general": 300, "claim_days": 90}}, "x"
    )
    assert tariff.reward("violation", 100_000_00) == 20_000_00
    assert tariff.reward("violation", 1_000_000_00) == 50_000_00
    assert tariff.reward("general", None) == 300_00 and tariff.claim_days == 90


@pytest.mark.parametrize(
    "section",
    [{"rate": 2}, {"minimum": -1}, {"minimum": 5000, "maximum": 100}, {"claim_days": 0}, {"general": "五百"}],
)
def test_bad_tariffs_are_refused_in_chinese(section: dict[str, object]) -> None:
    with pytest.raises(TariffError, match="镇情档案 \\[rewards\\]"):
        load_tariff({"rewards": section}, "x")


def test_unknown_categories_are_refused() -> None:
    with pytest.raises(ValueError, match="category"):
        Tariff().reward("bribery", 100)
