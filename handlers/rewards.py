"""The township's reward tariff for verified tips, and the reward it gives.

Defaults follow 《安全生产领域举报奖励办法》(安监总财〔2018〕19号): 重大事故隐患 and 违法行为 earn 15% of the fine,
at least ¥3,000 and at most ¥300,000; 一般隐患 earn a local flat amount (¥500 here). The paying department follows
谁受理、谁奖励. Everything is settable in the town profile's ``[rewards]`` section.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from storage.constants import REWARD_CATEGORIES


class TariffError(ValueError):
    """A ``[rewards]`` section that cannot be used; the message is the Chinese explanation."""


@dataclass(frozen=True)
class Tariff:
    """How much a verified tip earns, who pays, how long the tipster has to claim, and how long tips are kept."""

    rate: Decimal = Decimal("0.15")
    minimum_fen: int = 300_000
    maximum_fen: int = 30_000_000
    general_fen: int = 50_000
    claim_days: int = 60
    department: str = ""
    claim_instructions: str = ""
    retention_days: int = 730

    def reward(self, category: str, fine_fen: int | None) -> int:
        """The reward in fen for a verified tip of ``category`` with the administrative fine ``fine_fen``."""
        if category not in REWARD_CATEGORIES:
            raise ValueError(f"unknown reward category {category!r}")
        if category == "general":
            return self.general_fen
        share = (Decimal(fine_fen or 0) * self.rate).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
        return int(min(max(share, Decimal(self.minimum_fen)), Decimal(self.maximum_fen)))


def _yuan(section: dict[str, Any], key: str, default_fen: int) -> int:
    value = section.get(key)
    if value is None:
        return default_fen
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise TariffError(f"镇情档案 [rewards] {key} 应为不小于 0 的金额（元），现在是 {value!r}")
    return int(Decimal(str(value)) * 100)


def load_tariff(data: dict[str, Any], office: str) -> Tariff:
    """The tariff from a profile's ``[rewards]`` table (missing keys keep the national defaults)."""
    section = data.get("rewards", {})
    if not isinstance(section, dict):
        raise TariffError("镇情档案 [rewards] 应是一个段")
    rate = section.get("rate", 0.15)
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 < rate <= 1:
        raise TariffError(f"镇情档案 [rewards] rate 应在 0 到 1 之间（如 0.15），现在是 {rate!r}")
    tariff = Tariff(
        rate=Decimal(str(rate)),
        minimum_fen=_yuan(section, "minimum", 300_000),
        maximum_fen=_yuan(section, "maximum", 30_000_000),
        general_fen=_yuan(section, "general", 50_000),
        claim_days=int(section.get("claim_days", 60)),
        department=str(section.get("department", office)),
        claim_instructions=str(section.get("claim_instructions", "")),
        retention_days=int(section.get("retention_days", 730)),
    )
    if tariff.minimum_fen > tariff.maximum_fen:
        raise TariffError("镇情档案 [rewards] minimum 不能大于 maximum")
    if not 1 <= tariff.claim_days <= 3650 or not 30 <= tariff.retention_days <= 36500:
        raise TariffError("镇情档案 [rewards] claim_days 应为 1–3650 天，retention_days 应为 30–36500 天")
    return tariff
