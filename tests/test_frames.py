"""Behaviour tests for scopes and message frames (handlers/frames.py)."""

from __future__ import annotations

import pytest

from handlers.frames import Frames, Scopes, explained, read_frames, repair_undone, scope_clauses, scopes_for
from handlers.hits import Hit, apply_patterns, roles_of, scan_keywords
from handlers.rules import DEFAULT_RULES, CompiledRules, compile_rules, read_rules


@pytest.fixture(scope="module")
def rules() -> CompiledRules:
    """The bundled rules, compiled once for the module."""
    return compile_rules(read_rules(DEFAULT_RULES), frozenset())


def _hits(rules: CompiledRules, text: str) -> list[Hit]:
    hits = scan_keywords(text, rules.entries, rules.keywords)
    hits = apply_patterns(text, hits, rules.evidence_patterns)
    return apply_patterns(text, hits, rules.modifier_patterns)


def _scopes(rules: CompiledRules, text: str) -> tuple[list[Hit], Scopes]:
    hits = _hits(rules, text)
    return hits, scopes_for(text, hits, scope_clauses(text, hits, rules.contrast_open), rules.frames)


def _word(hits: list[Hit], word: str) -> Hit:
    return next(h for h in hits if h.word == word)


def test_a_repair_closes_its_scope_until_a_contrast(rules: CompiledRules) -> None:
    hits, scopes = _scopes(rules, "电线修好了，但是杆子又歪了")
    assert scopes.of_clause == {0: 0, 1: 1}
    assert not scopes.alive(_word(hits, "电线"))
    assert scopes.alive(_word(hits, "歪了"))


def test_a_lone_contrast_character_opening_a_clause_starts_a_scope(rules: CompiledRules) -> None:
    text = "杆子换了新的 可新杆子歪了"
    hits = _hits(rules, text)
    assert not any("contrast" in h.entry.roles for h in hits)
    assert scope_clauses(text, hits, rules.contrast_open) == {0: 0, 1: 1}
    assert scope_clauses(text, hits, frozenset()) == {0: 0, 1: 0}


def test_clause_negation_silences_what_follows_it(rules: CompiledRules) -> None:
    hits, scopes = _scopes(rules, "不是着火，是炉子冒烟")
    assert not scopes.alive(_word(hits, "着火"))
    assert scopes.alive(_word(hits, "冒烟"))
    assert explained("不是着火，是炉子冒烟", hits)


def test_an_undone_repair_is_not_a_repair(rules: CompiledRules) -> None:
    for text, undone in (("那堵墙还没修好", True), ("那堵墙修好了", False)):
        hits = _hits(rules, text)
        fixed = next(h for h in hits if "fixed" in h.entry.roles)
        assert repair_undone(text, fixed) is undone


@pytest.mark.parametrize(
    ("undone", "done"),
    [
        # "盖子叫人搬走了": done to the thing, also when the resolution hit begins with the agent (人搬走了)
        ("水井的盖子叫人搬走了，剩个黑窟窿", "危房里的人搬走了"),
        # "火灭了 气还开着": the danger is still there
        ("火灭了 气还开着", "火灭了 人都回家了"),
        # "要求尽快补齐" asks for a repair; "已按要求补齐" reports one done as required
        ("连墙件缺了好几个，要求尽快补齐", "连墙件已按要求补齐"),
    ],
)
def test_resolutions_that_are_no_repair(rules: CompiledRules, undone: str, done: str) -> None:
    for text, expected in ((undone, True), (done, False)):
        fixed = [h for h in _hits(rules, text) if "fixed" in h.entry.roles]
        assert fixed and all(repair_undone(text, h) is expected for h in fixed), text


def test_dismissed_all_clear_does_not_close_the_scope(rules: CompiledRules) -> None:
    _, scopes = _scopes(rules, "锅炉压力表的针都顶到头了 烧锅炉的老汉还说没事")
    assert not scopes.negated_message


def test_nobody_hurt_is_no_all_clear_while_the_danger_goes_on(rules: CompiledRules) -> None:
    going_on = "屋后边坡今早垮了一块，把猪圈埋了，人没事，坡上还在往下掉"
    hits, scopes = _scopes(rules, going_on)
    assert scopes.alive(_word(hits, "在往下掉"))
    over = "塌的是他家猪圈 人都没事 猪也赶出来了"  # nothing goes on: the incident is over
    hits, scopes = _scopes(rules, over)
    assert not scopes.alive(_word(hits, "猪圈"))


def test_an_all_clear_while_work_goes_on_is_a_brush_off(rules: CompiledRules) -> None:
    # "厨师说没事 还在炒菜": the alarm goes on and so does the cooking, so nothing is cleared
    _, scopes = _scopes(rules, "饭店的燃气报警器一直在叫 厨师说没事 还在炒菜")
    assert not scopes.negated_message
    _, cleared = _scopes(rules, "饭店的燃气报警器叫了一下 厨师说没事")
    assert cleared.negated_message


def _frames(rules: CompiledRules, text: str, positions: list[int], clauses: set[int]) -> Frames:
    hits, scopes = _scopes(rules, text)
    return read_frames(text, hits, roles_of(hits), None, scopes, positions, clauses, False, rules.frames)


def test_past_story_unless_said_to_be_so_now(rules: CompiledRules) -> None:
    story = "我小时候住的那孔老窑塌过一回"
    assert _frames(rules, story, [len(story)], {0}).past_strong
    now = "以前修过的那孔窑现在又裂了一道缝"
    assert not _frames(rules, now, [now.index("裂")], {0}).past


def test_question_but_not_complaint(rules: CompiledRules) -> None:
    assert _frames(rules, "液化气罐几年检验一次？", [], set()).question
    assert not _frames(rules, "那堵墙又裂开一道 谁管管啊？", [5], {0}).question


# ---- "不是A，是B": a correction reports B (round 12) -----------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["不是停电，是电线叫大风刮断了", "不是漏水，是燃气表那儿有味", "不是狗叫，是配电箱里冒火星"],
)
def test_a_correction_to_something_worse_is_not_an_all_clear(rules: CompiledRules, text: str) -> None:
    assert not explained(text, _hits(rules, text))


def test_an_explanation_milder_than_the_denied_report_still_explains_it_away(rules: CompiledRules) -> None:
    text = "不是着火 是老李家的炉子冒烟"
    assert explained(text, _hits(rules, text))


def test_negation_ends_where_the_corrected_part_begins(rules: CompiledRules) -> None:
    text = "井盖不是丢了是碎了"
    hits, scopes = _scopes(rules, text)
    assert scopes.alive(_word(hits, "碎了"))


def test_an_all_clear_quoted_to_dispute_it_closes_nothing(rules: CompiledRules) -> None:
    # "“老井早就封了”——封了个啥": the quoted repair is someone else's claim; said plainly, it closes its scope
    quoted, q_scopes = _scopes(rules, "引用：“老井早就封了”——封了个啥，盖板让人撬开了")
    assert not q_scopes.negated_message
    assert q_scopes.alive(_word(quoted, "盖板"))
    _, s_scopes = _scopes(rules, "老井早就封了，盖板焊死了")
    assert s_scopes.negated_message


def test_an_explanation_of_what_it_turned_out_to_be_closes_what_was_said_before_it(
    rules: CompiledRules,
) -> None:
    hits, scopes = _scopes(rules, "楼下说着火了，结果是谁家在烤腊肉")
    assert not scopes.alive(_word(hits, "着火了"))
    # a cause is no all-clear: "原来是电线短路" leaves the fire burning
    hits, scopes = _scopes(rules, "仓库着火了，原来是电线短路引起的，火越烧越大")
    assert scopes.alive(_word(hits, "着火了"))
