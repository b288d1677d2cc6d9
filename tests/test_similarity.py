"""Tests for handlers.similarity: the same object at the same place is one hazard, anything else is two."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from handlers.similarity import (
    DEFAULT_RULES,
    DuplicateRules,
    DuplicateRulesError,
    describe,
    same_hazard,
    similarity,
)

PLACES = ["王家沟村", "王家沟", "庙坪村", "庙坪", "高家塔村", "高家塔"]


@pytest.fixture(scope="module")
def rules() -> DuplicateRules:
    """The bundled rules."""
    return DuplicateRules.load()


def _same(
    rules: DuplicateRules,
    old: tuple[str, tuple[str, ...]],
    new: tuple[str, tuple[str, ...]],
    *,
    old_by: str = "a",
    new_by: str = "b",
    old_location: str | None = None,
    new_location: str | None = None,
    same_category: bool = True,
) -> bool:
    """Whether ``new`` (text, classifier evidence) is a repeat of ``old``."""
    first = describe(rules, old[0], old[1], old_location, reporter=old_by, places=PLACES)
    second = describe(rules, new[0], new[1], new_location, reporter=new_by, places=PLACES)
    return same_hazard(rules, second, first, same_category=same_category)


def _bundled() -> dict[str, Any]:
    return tomllib.loads(DEFAULT_RULES.read_text(encoding="utf-8"))


def test_two_households_gas_tanks_are_two_hazards(rules: DuplicateRules) -> None:
    assert not _same(
        rules,
        ("李家的煤气罐漏气了", ("煤气罐+漏气", "漏气")),
        ("王家的煤气罐也漏气了", ("煤气罐+漏气", "漏气")),
    )


def test_building_3_and_building_5_are_two_hazards(rules: DuplicateRules) -> None:
    assert not _same(
        rules, ("3号楼的消防通道被堵了", ("消防通道+堵了",)), ("5号楼的消防通道被堵了", ("消防通道+堵了",))
    )


def test_poles_at_the_east_and_the_west_end_are_two_hazards(rules: DuplicateRules) -> None:
    assert not _same(rules, ("东头的电线杆歪了", ("电线杆+歪了",)), ("西头的电线杆歪了", ("电线杆+歪了",)))


def test_numbered_poles_and_ordinals_keep_instances_apart(rules: DuplicateRules) -> None:
    assert not _same(rules, ("5号杆歪了快倒了", ("杆子+歪了",)), ("7号杆歪了快倒了", ("杆子+歪了",)))
    assert not _same(rules, ("第二个井盖没了", ("井盖+没了",)), ("第三个井盖没了", ("井盖+没了",)))


def test_the_real_repeat_is_linked(rules: DuplicateRules) -> None:
    assert _same(
        rules,
        ("村东头老窑洞裂了好宽的缝，下雨怕塌", ("窑洞+裂了", "窑洞+的缝", "窑洞+塌")),
        ("东头那个老窑洞又裂开了，比上次还宽", ("窑洞+裂开",)),
    )


def test_same_object_without_marks_and_close_wording_is_linked(rules: DuplicateRules) -> None:
    assert _same(
        rules,
        ("村里那根电线杆歪得厉害，快倒了", ("电线杆+歪得厉害",)),
        ("村里那根电线杆歪得厉害了，怕倒", ("电线杆+歪得厉害",)),
    )


def test_same_object_without_marks_and_other_wording_is_not_linked(rules: DuplicateRules) -> None:
    assert not _same(
        rules,
        ("煤气罐漏气了", ("煤气罐+漏气",)),
        ("有个液化气罐子阀门坏了呲呲冒气，闻着一股味", ("阀门+坏了", "液化气罐子+冒气")),
    )


def test_a_repeat_marker_links_the_same_object_without_marks(rules: DuplicateRules) -> None:
    assert _same(
        rules,
        ("李家的煤气罐漏气了", ("煤气罐+漏气",)),
        ("上次说的那个液化气罐还在漏，一屋子味", ("液化气罐+漏",)),
    )


def test_different_objects_in_one_village_are_not_linked(rules: DuplicateRules) -> None:
    assert not _same(
        rules,
        ("东头的电线杆歪了", ("电线杆+歪了",)),
        ("东头的配电箱又冒火花了", ("配电箱+冒火花",)),
    )


def test_a_repeat_classified_in_another_category_is_linked_by_its_object(rules: DuplicateRules) -> None:
    # The first report was filed as water, the repeat as other: the same manhole cover at the same place.
    assert _same(
        rules,
        ("村委会的井盖没了，晚上看不见", ("井盖+没了",)),
        ("村委会那个井盖还没盖上，晚上怕掉人", ("井盖",)),
        same_category=False,
    )


def test_reports_of_other_categories_need_a_named_object_to_be_linked(rules: DuplicateRules) -> None:
    # Close wording and the same household are enough within one category, never across two.
    first, again = ("李家着火了", ("着火",)), ("李家又着火了", ("着火",))
    assert _same(rules, first, again)
    assert not _same(rules, first, again, same_category=False)
    assert not _same(
        rules,
        ("李家的煤气罐漏气了", ("煤气罐+漏气",)),
        ("李家的电线又冒火花了", ("电线+冒火花",)),
        same_category=False,
    )


def test_conflicting_owner_beats_a_repeat_marker(rules: DuplicateRules) -> None:
    assert not _same(
        rules, ("李家的煤气罐漏气了", ("煤气罐+漏气",)), ("王家的煤气罐又漏气了", ("煤气罐+漏气",))
    )


def test_one_household_named_two_ways_is_one_owner(rules: DuplicateRules) -> None:
    assert _same(
        rules,
        ("王大爷家院里的煤气罐漏气了", ("煤气罐+漏气",)),
        ("老王家那个液化气罐子呲呲冒气", ("液化气罐子+冒气",)),
    )


def test_a_village_name_is_not_a_household(rules: DuplicateRules) -> None:
    sighting = describe(rules, "王家沟村东头老窑洞裂了", ("窑洞+裂了",), "王家沟村", places=PLACES)
    assert sighting.marks == {("direction", "东")}


def test_my_house_is_the_senders_own(rules: DuplicateRules) -> None:
    old = ("我家的烟囱堵了，屋里全是烟", ("烟囱+堵了",))
    new = ("我家的烟囱堵了，屋里全是烟味", ("烟囱+堵了",))
    assert _same(rules, old, new, old_by="u1", new_by="u1")
    assert not _same(rules, old, new, old_by="u1", new_by="u2")


def test_numbers_in_chinese_and_digits_are_the_same_number(rules: DuplicateRules) -> None:
    assert _same(
        rules, ("十二号楼消防通道堵了", ("消防通道+堵了",)), ("12号楼的安全出口被堵了", ("安全出口+堵了",))
    )


def test_marks_of_different_kinds_need_an_explicit_repeat(rules: DuplicateRules) -> None:
    old = ("李家的煤气罐漏气了", ("煤气罐+漏气",))
    assert not _same(rules, old, ("村口小卖部的煤气罐漏气了", ("煤气罐+漏气",)))
    assert _same(rules, old, ("村口那个煤气罐又漏气了", ("煤气罐+漏气",)))


def test_named_places_below_the_village_keep_reports_apart(rules: DuplicateRules) -> None:
    old = ("王家沟村后沟那面坡裂了", ("那面坡+裂",))
    new = ("王家沟村阳坡那面坡裂了", ("那面坡+裂",))
    assert not _same(rules, old, new, old_location="王家沟村后沟", new_location="王家沟村阳坡")
    again = ("阳坡那面坡裂开了一道大缝", ("那面坡+裂开",))
    assert _same(rules, new, again, old_location="王家沟村阳坡", new_location="阳坡")


def test_places_the_rules_do_not_know_still_keep_reports_apart(rules: DuplicateRules) -> None:
    old = ("粮站旁边的电线断了", ("电线+断了",))
    assert not _same(rules, old, ("果园里的电线断了", ("电线+断了",)))
    assert not _same(
        rules, ("王家的路塌了一个大坑", ("大坑+塌了",)), ("炭场的路塌了一个大坑", ("大坑+塌了",))
    )
    assert _same(rules, old, ("粮站门口那根电线断了，耷拉在地上", ("电线+断了", "电线+耷拉")))


def test_rewordings_of_one_hazard_are_similar() -> None:
    assert similarity("村东头老窑洞裂了好宽的缝", "村东头那个老窑洞裂缝了") > 0.3


def test_different_hazards_are_not_similar() -> None:
    assert similarity("村东头老窑洞裂了好宽的缝", "小学门口电线断了") < 0.1


def test_empty_text_is_never_similar() -> None:
    assert similarity("", "窑洞") == 0.0
    assert similarity("！！", "窑洞") == 0.0


def test_a_township_can_add_a_repeat_marker(rules: DuplicateRules) -> None:
    old, new = ("煤气罐漏气了", ("煤气罐+漏气",)), ("那个液化气罐今儿个照样呲呲冒气", ("液化气罐+冒气",))
    assert not _same(rules, old, new)
    data = _bundled()
    data["repeat"]["markers"].append("照样")
    assert _same(DuplicateRules.from_dict(data), old, new)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["wording"].update(close=1.5), "[wording] close 应为0 到 1 之间的数"),
        (lambda d: d.pop("repeat"), "缺少 [repeat] markers"),
        (lambda d: d["objects"]["groups"].append(["井盖", "电线杆"]), "“井盖”同时在两组里"),
        (lambda d: d["numbers"].update(units=[["号楼"]]), "[numbers] units 应为[量词, 种类] 的列表"),
        (lambda d: d["candidates"].update(max=0), "[candidates] max 应为1 到 1000 之间的整数"),
    ],
)
def test_a_broken_rules_file_is_refused_in_chinese(edit: Any, message: str) -> None:
    data = _bundled()
    edit(data)
    with pytest.raises(DuplicateRulesError, match=message.replace("[", r"\[").replace("]", r"\]")):
        DuplicateRules.from_dict(data)


def test_an_unreadable_rules_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "duplicates.toml"
    path.write_text("[wording\n", encoding="utf-8")
    with pytest.raises(DuplicateRulesError, match=r"重复隐患规则文件 .*duplicates\.toml 读不出来"):
        DuplicateRules.load(path)


def test_a_pole_number_is_one_number_however_the_pole_is_called(rules: DuplicateRules) -> None:
    assert not _same(rules, ("5号杆歪了快倒了", ("杆子+歪了",)), ("7号电线杆歪了", ("电线杆+歪了",)))
    assert _same(rules, ("5号杆歪了快倒了", ("杆子+歪了",)), ("5号电线杆歪得更厉害了", ("电线杆+歪得",)))


def test_an_object_is_known_by_its_last_word(rules: DuplicateRules) -> None:
    assert _same(
        rules,
        ("那面坡裂缝了，怕滑坡", ("那面坡+裂缝", "滑坡")),
        ("那个坡又往下溜土了，怕滑坡", ("坡+溜土", "滑坡")),
    )
    assert not _same(rules, ("村口的电线断了", ("电线+断了",)), ("村口的电线杆又歪了", ("电线杆+歪了",)))


def test_the_sighting_memo_is_bounded_and_keeps_the_recently_used() -> None:
    from handlers.similarity import SightingMemo, describe

    memo = SightingMemo(size=2)
    rules = DuplicateRules.load()
    a, b, c = (describe(rules, t) for t in ("东头电线杆歪了", "西头窑洞裂了", "桥护栏断了"))
    memo.put(("a",), a)
    memo.put(("b",), b)
    assert memo.get(("a",)) is a  # used: now the newest
    memo.put(("c",), c)
    assert memo.get(("b",)) is None and memo.get(("a",)) is a and memo.get(("c",)) is c
