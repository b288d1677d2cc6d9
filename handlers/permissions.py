"""Who may do what: the officials' roles and scopes, decided in one place for every platform, the CLI aside.

- ``admin`` (镇安全办): everything, tips included, and the only one who tags leadership, station and enterprise
  groups.
- ``station`` (站所): hazards town-wide; tips only if an admin granted the ``tips`` permission.
- ``village`` (村干部): only their own village: its hazards, its review items, its group, and ``/广播`` to their
  own village's groups.

Each check returns None when allowed, or the key of the Chinese refusal in ``texts.toml`` with its values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from storage.models import Group, Official


@dataclass(frozen=True)
class Refusal:
    """Why an official may not do something: a ``texts.toml`` key and the values for its placeholders."""

    key: str
    values: dict[str, object] = field(default_factory=dict)


def is_admin(official: Official | None) -> bool:
    """True for an active admin."""
    return official is not None and official.role == "admin"


def may_read_tips(official: Official | None) -> bool:
    """Tips (their text, follow-up and closing) are for admins and officials an admin granted ``tips``."""
    return official is not None and (official.role == "admin" or bool(official.tips))


def town_wide(official: Official | None) -> bool:
    """Admins and stations act on the whole town; village officials on their own village only."""
    return official is not None and official.role in ("admin", "station")


def may_act_on_village(official: Official | None, village: str | None) -> bool:
    """True when the official may change or see in full a hazard of ``village`` (None: place unknown)."""
    if official is None:
        return False
    if town_wide(official):
        return True
    return official.role == "village" and village is not None and village == official.unit


def report_scope(official: Official, village: str | None, label: object) -> Refusal | None:
    """None if the official may change this hazard, else the refusal naming their village and the hazard's."""
    if may_act_on_village(official, village):
        return None
    return Refusal(
        "permissions.other_village",
        {"unit": official.unit or "", "id": label, "village": village or "未注明的地点"},
    )


def group_scope(official: Official, group: Group | None) -> Refusal | None:
    """None if the official may act on messages of this group (review items, reply-filing)."""
    if town_wide(official):
        return None
    if group is not None and group.kind == "village" and group.unit == official.unit:
        return None
    return Refusal("permissions.other_group", {"unit": official.unit or ""})


def tag_scope(official: Official, kind: str, unit: str, current: Group | None) -> Refusal | None:
    """None if the official may tag a group as ``kind``/``unit``; only admins grant kinds other than village."""
    if official.role == "admin":
        return None
    if kind != "village":
        return Refusal("permissions.tag_admin_only", {"kind": kind})
    if current is not None and current.kind not in (None, "village"):
        # A leadership or station group is never turned into a village group by anyone but an admin.
        return Refusal("permissions.tag_admin_only", {"kind": current.kind})
    if official.role == "station":
        return None
    if unit != official.unit or (current is not None and current.unit not in (None, official.unit)):
        return Refusal("permissions.tag_own_village", {"unit": official.unit or ""})
    return None


def broadcast_scope(official: Official, groups: Iterable[Group]) -> Refusal | None:
    """None if the official may broadcast to all these groups; a village official only to their own village's."""
    if town_wide(official):
        return None
    for group in groups:
        if group.kind != "village" or group.unit != official.unit:
            return Refusal("permissions.broadcast_own_village", {"unit": official.unit or ""})
    return None
