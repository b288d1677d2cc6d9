"""Scopes and message frames: which parts of a message still count, and how the message is framed.

*Scopes* are the parts of a message between contrast words (但是, 可, 又…). Resolution (修好了),
message-level negation (没发现), explained-away and resolved frames close the scope they are in, and a
clause-level negation (没, 不是) silences what follows it in its clause; :meth:`Scopes.alive` says whether a
hit still counts. *Frames* (forwarded news, notices, questions, figures of speech, stories from the past,
thanks) are read from the whole message once the evidence is known; they can veto weak evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from handlers.hits import AGENT_MARKS, CLAUSE_SEP, Hit, clause_at
from handlers.rules import FramePatterns

__all__ = ["Frames", "Scopes", "explained", "read_frames", "repair_undone", "scope_clauses", "scopes_for"]

# "还说没事", "硬说不要紧": the speaker disputes the all-clear that follows
DISMISSIVE = (
    "还说",
    "硬说",
    "非说",
    "偏说",
    "老说",
    "倒说",
    "还讲",
    "非要说",
    "长说",
    "板说",
    "头说",
    "导说",
    "主说",
    "汉说",
    "班的说",
)
# "人没事": nobody was hurt; with danger still going on after it ("坡垮了一块 人没事 坡上还在往下掉") no all-clear
PEOPLE_UNHURT = ("人", "人都", "人倒是", "人也", "人还")
_GOING_ON = frozenset({"ongoing", "imminent", "urgent"})
# "希望…尽快修复", "请求…处理": asking for a repair or a fix
# ("按要求补齐" is done as required: no request)
REQUEST = re.compile(
    r"希望|请求|(?<![按照])要求|恳请|请|盼|建议|督促|责令|尽快|赶紧|及时|派人|等待|等着|还没|尚未|迟迟"
)
# "火灭了 气还开着": what follows a resolution (a word or the resolved pattern) says the danger is still there
STILL_THERE = re.compile(r"\s?[^，。,！!？?\s]{0,3}(?:还|仍|依然|照样)(?:开着|在|冒|漏|有|没关|没停|亮着)")
# "说没事接着干", "说没事 还在炒菜": an all-clear followed by carrying on is a brush-off, not an all-clear
CARRY_ON = re.compile(r"[^，。,！!？?]{0,4}(?:接着|继续|照样|还让|让干|干活|开工|下井|别管|还在)")
# "不是着火，是…的炉子冒烟": what follows a negated report and explains it
_EXPLANATION_SEPS = (
    "，是",
    ",是",
    " 是",
    "，那是",
    ",那是",
    " 那是",
    "，只是",
    ",只是",
    " 只是",
    "，而是",
    " 而是",
)


@dataclass(slots=True)
class Scopes:
    """Which scope each clause is in, which scopes are closed, and where negation starts per clause."""

    of_clause: dict[int, int]
    resolved: set[int]
    negated_message: set[int]  # scopes closed by message-level negation or explained/resolved frames
    negated_from: dict[int, int]  # clause -> offset of its first negation word
    # clause -> offset where its negation ends: the 是 of "不是A是B" (what follows is asserted, not denied)
    negated_to: dict[int, int] = field(default_factory=dict)

    def alive(self, hit: Hit) -> bool:
        """True if the hit still counts: its scope is open and no negation precedes it in its clause
        (or the negation ended before it, as in "井盖不是丢了是碎了")."""
        if self.of_clause[hit.clause] in self.resolved:
            return False
        neg = self.negated_from.get(hit.clause)
        if neg is None or hit.start < neg:
            return True
        end = self.negated_to.get(hit.clause)
        return end is not None and hit.start >= end

    def at(self, text: str, pos: int) -> int:
        """Return the scope holding a text offset."""
        clause = clause_at(text, pos)
        known = [c for c in self.of_clause if c <= clause]
        return self.of_clause[max(known)] if known else 0

    def closed_at(self, text: str, pos: int) -> bool:
        """True if the scope holding a text offset is closed (resolved, negated or explained away)."""
        return self.at(text, pos) in self.resolved


def scope_clauses(text: str, hits: Sequence[Hit], contrast_open: frozenset[str]) -> dict[int, int]:
    """Map each clause to its scope: a contrast word, or a lone 可/但 opening a clause, starts a new scope."""
    n_clauses = (hits[-1].clause + 1) if hits else 1
    contrast_clauses = {h.clause for h in hits if "contrast" in h.entry.roles}
    # "…换了新的 可新杆子…": a lone 可/但 opening a clause is a contrast too
    clause = 0
    for i, ch in enumerate(text):
        if ch in CLAUSE_SEP and (i == 0 or text[i - 1] not in CLAUSE_SEP):
            clause += 1
        elif ch in contrast_open and (i == 0 or text[i - 1] in CLAUSE_SEP):
            contrast_clauses.add(clause)
    of_clause: dict[int, int] = {}
    scope = 0
    for c in range(n_clauses):
        if c in contrast_clauses and c > 0:
            scope += 1
        of_clause[c] = scope
    return of_clause


def repair_undone(text: str, hit: Hit) -> bool:
    """True if a resolution word is not a repair: "还没修好" / "也没整改" (negated), "盖子叫人搬走了" (done by
    someone to it) or "火灭了 气还开着" (the danger is still there)."""
    before = text[max(0, hit.start - 2) : hit.start]
    if "没" in before or "未" in before or "不" in before:
        return True
    if STILL_THERE.match(text, hit.end):
        return True  # "火灭了 气还开着": the fire is out, the gas is still on
    if REQUEST.search(text, max(0, hit.start - 8), hit.start):
        return True  # "希望供电部门尽快修复": a request for a repair is no repair
    # the hit may begin with the agent itself ("盖子叫|人搬走了"), so its first character counts too
    agent = text[max(0, hit.start - 4) : hit.start + 1]
    return any(a + "人" in agent for a in AGENT_MARKS)


# whoever has a reason to brush the danger off — who profits from carrying on, or the old people who will not
# leave their house: their "没事" a little before is no all-clear
_INTERESTED = re.compile(
    "老板|工头|包工头|班长|带班的|经理|厂长|矿长|物业|房东|船老大|船主|车主|队长|主任|宿管|管理员|烧锅炉的|奶奶|爷爷|老人|大爷|婆婆|老太太|老汉"
)
_QUOTE_RE = re.compile(r"“[^”]{1,40}”|「[^」]{1,40}」")


def _quoted_spans(text: str) -> list[tuple[int, int]]:
    """The spans of text inside Chinese quotation marks (“…”, 「…」): words someone else said."""
    if "“" not in text and "「" not in text:
        return []
    return [m.span() for m in _QUOTE_RE.finditer(text)]


def _inside(pos: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in spans)


# explanations that look back at what was said before them ("结果是谁家在烤腊肉"); the explained pattern only
# matches them when they say it was something harmless (a cause, "原来是电线短路", explains nothing away)
_LOOKING_BACK = ("结果是", "原来是")


def scopes_for(text: str, hits: Sequence[Hit], of_clause: dict[int, int], patterns: FramePatterns) -> Scopes:
    """Close the scopes that message-level negation, explained-away and resolved frames
    ("电工说线路没毛病", "上礼拜就拆了") and repairs ("修好了") are in, and note clause negations."""
    # "烧锅炉的老汉还说没事": someone brushing a hazard off ("还说/硬说…没事") is no all-clear
    negated_message = {
        of_clause[h.clause]
        for h in hits
        if "neg_msg" in h.entry.roles
        and not text[max(0, h.start - 3) : h.start].endswith(DISMISSIVE)
        and not (text[max(0, h.start - 3) : h.start].endswith(PEOPLE_UNHURT) and _danger_goes_on(hits, h))
        and not CARRY_ON.match(text, h.end)
        and not _INTERESTED.search(text, max(0, h.start - 16), h.start)
    }
    scopes = Scopes(of_clause, set(), negated_message, {})
    quoted = _quoted_spans(text)
    for m in patterns.explained.finditer(text):
        # "老板还让我们在底下装车 说没事": the all-clear of whoever wants the work to go on is none
        if not _inside(m.start(), quoted) and not _INTERESTED.search(text, max(0, m.start() - 16), m.start()):
            at = scopes.at(text, m.start())
            negated_message.add(at)
            if text.startswith(_LOOKING_BACK, m.start()):
                # "着火了 结果是谁家在烤腊肉": the explanation is about what was said before it, in any scope
                negated_message.update(scope for scope in of_clause.values() if scope < at)
    for m in patterns.resolved.finditer(text):
        # "引用：“老窑早就封了”——封了个啥": an all-clear someone else said, quoted to dispute it, closes nothing
        if not STILL_THERE.match(text, m.end()) and not _inside(m.start(), quoted):
            negated_message.add(scopes.at(text, m.start()))
    scopes.resolved |= negated_message
    for h in hits:
        roles = h.entry.roles
        if "fixed" in roles and not repair_undone(text, h) and not _inside(h.start, quoted):
            scopes.resolved.add(of_clause[h.clause])
        if "neg" in roles and not _lack_follows(hits, h):
            scopes.negated_from[h.clause] = min(scopes.negated_from.get(h.clause, h.start), h.start)
            if h.word == "不是":
                corrected = _correction_at(text, h.end)
                if corrected is not None and clause_at(text, corrected) == h.clause:
                    # "井盖不是丢了是碎了": the negation covers 丢了 only, 碎了 is asserted
                    scopes.negated_to[h.clause] = corrected
    return scopes


def _danger_goes_on(hits: Sequence[Hit], said: Hit) -> bool:
    """True if danger under way or about to happen is named after ``said`` ("人没事，坡上还在往下掉")."""
    return any(h.start >= said.end and h.entry.roles & _GOING_ON for h in hits)


def _lack_follows(hits: Sequence[Hit], neg: Hit) -> bool:
    """True when a negation word names something missing ("没有任何的护栏", "没有什么警示牌"): a lacking
    item follows within three characters, so the words state a lack and negate nothing."""
    return any(
        "lack_item" in h.entry.roles and 0 <= h.start - neg.end <= 3 for h in hits if h.start >= neg.end
    )


# "是" inside these words does not start the corrected part of "不是A是B" (还是, 就是, 都是…)
_NOT_CORRECTION_BEFORE = frozenset("还就但可要若总只都也真正于凡倒像算老不而那")
_SEPS_BEFORE_CORRECTION = frozenset("，,、 ")


def _correction_at(text: str, after: int) -> int | None:
    """Where B starts in "不是A，是B" / "不是A是B" / "不是A，而是B" (``after`` is the end of 不是), or None.

    A must hold at least one character and stay within one sentence; the 是 must follow a comma, 而 or
    那, or stand alone (not 还是, 都是)."""
    limit = min(len(text), after + 24)
    i = text.find("是", after + 1, limit)
    while i != -1:
        if any(ch in "。！!？?；;" for ch in text[after:i]):
            return None
        prev = text[i - 1]
        if prev in _SEPS_BEFORE_CORRECTION or prev in "而那":
            return i + 1
        if prev not in _NOT_CORRECTION_BEFORE and text[after:i].strip("，, ") != "":
            return i + 1
        i = text.find("是", i + 1, limit)
    return None


def explained(text: str, hits: Sequence[Hit]) -> bool:
    """True for "不是着火，是…的炉子冒烟": a negated report followed by a milder explanation.

    "不是A，是B" explains a report away only when what is denied (A) weighs more than what is said
    instead (B): "不是停电，是电线叫风刮断了" and "不是漏水，是燃气表那儿有味" are corrections that report
    B, not all-clears."""
    for h in hits:
        if h.word != "不是":
            continue
        rest = text[h.end :]
        if not any(sep in rest for sep in _EXPLANATION_SEPS):
            continue
        b_start = _correction_at(text, h.end)
        if b_start is None:
            return True
        denied = _weight([x for x in hits if h.end <= x.start < b_start])
        said = _weight([x for x in hits if x.start >= b_start])
        if denied > said:
            return True
    return False


_URGENT_ROLES = frozenset({"signal", "urgent", "emergency_event", "major"})
_STATE_ROLES = frozenset({"bad", "strong"})


def _weight(part: Sequence[Hit]) -> int:
    """How much a part of a message reports: 3 an event or emergency (着火), 2 a thing in a bad state or a
    leak sign (炉子冒烟, 有味), 1 a bare bad state (漏水), 0 nothing."""
    roles: set[str] = set()
    for h in part:
        roles |= h.entry.roles
        if "event" in h.entry.roles and h.entry.category:
            return 3
    if roles & _URGENT_ROLES:
        return 3
    thing = any("thing" in h.entry.roles for h in part)
    if "leak" in roles or (thing and roles & _STATE_ROLES):
        return 2
    return 1 if roles & _STATE_ROLES or "event" in roles else 0


@dataclass(slots=True)
class Frames:
    """How the message is framed, each flag a reason the evidence may not be a local report now."""

    local: bool  # a named place or a local word (咱村, 我家)
    local_news: bool  # the local word sits next to the evidence, so forwarded news gives way
    notice: bool  # an official notice or slogan
    news: bool  # forwarded news from elsewhere
    service: bool  # asking for a service or an item ("有会修的没")
    question: bool  # a question for information, not a complaint
    figurative: bool  # a figure of speech about the evidence
    past: bool  # a story from the past, not said to be so now
    past_strong: bool  # a childhood story, however vivid
    thanked: bool  # thanks before the evidence: talk about a handled hazard
    negated: bool  # message-level negation or an explanation that nothing is wrong


def read_frames(
    text: str,
    hits: Sequence[Hit],
    present: set[str],
    location: str | None,
    scopes: Scopes,
    evidence_positions: Sequence[int],
    evidence_clauses: set[int],
    evidence_too_weak: bool,
    patterns: FramePatterns,
) -> Frames:
    """Read the message's frames; ``evidence_too_weak`` says the score is below the hazard threshold."""
    # forwarded news gives way only to a local report next to the evidence ("朋友圈…咱村口那电线断了"),
    # not to a local aside elsewhere in the message ("南方发大水了…咱这儿倒好 旱得…")
    local_hits = [h for h in hits if "local" in h.entry.roles]
    near: set[int] = set()
    if local_hits:
        # events count too ("咱们楼…一股煤气味"), not only thing-state pairs
        near = evidence_clauses | {clause_at(text, p) for p in evidence_positions}
    local_news = location is not None or any(h.clause in near or h.clause + 1 in near for h in local_hits)
    # a complaint ("谁管管啊？", "能不能来人看看") is a report, not a question for information
    # a question or a request for a car in an emergency ("谁家有车先开过来", "有冇人识救") is a call for help
    calls = "urgent" in present and bool(present & {"event", "emergency_event"})
    question = (
        ("question" in present or text.endswith(("?", "？"))) and "complaint" not in present and not calls
    )
    # a figurative word vetoes only when it shares a clause with the evidence ("说是没电了" is an excuse
    # in its own clause, not a figure of speech about the stopped fan)
    # a comparison beside an emergency in its clause is literal ("火苗子窜得比房还高"), not a figure of speech;
    # one that holds the emergency's words is not ("热得人都要烧起来了")
    fig = patterns.figurative.search(text)
    literal = fig is not None and any(
        "urgent" in h.entry.roles
        and "event" in h.entry.roles
        and h.clause == clause_at(text, fig.start())
        and (h.end <= fig.start() or h.start >= fig.end())
        for h in hits
    )
    figurative = (fig is not None and not literal) or any(
        "figurative" in h.entry.roles and (h.clause in evidence_clauses or not evidence_clauses) for h in hits
    )
    past = _told_as_past(text, hits, present, evidence_positions)
    # "谢谢…漏电的那个闸": thanks before the evidence is talk about a handled hazard, unless a contrast
    # ("谢谢来修，可是…还是有味") or a complaint reopens it
    first_ev = min(evidence_positions, default=len(text))
    thanked = (
        any("thanks" in h.entry.roles and h.start < first_ev for h in hits)
        and len(set(scopes.of_clause.values())) == 1
        and "complaint" not in present
    )
    # message-level negation closed its scope already; it frames the message out only if nothing survived
    negated = (bool(scopes.negated_message) and evidence_too_weak) or explained(text, hits)
    return Frames(
        local=location is not None or "local" in present,
        local_news=local_news,
        notice="notice" in present,
        news="news" in present,
        # asking for a service or an item ("有会修的没", "谁家有…借我") is chatter whatever else it says
        service="service" in present and not calls,
        question=question,
        figurative=figurative,
        past=past,
        # "小时候…差点淹死": a childhood story stays a story however vivid it is
        past_strong=past and "past_strong" in present,
        thanked=thanked,
        negated=negated,
    )


def _told_as_past(
    text: str, hits: Sequence[Hit], present: set[str], evidence_positions: Sequence[int]
) -> bool:
    """True for a story from the past ("小时候那孔窑塌过一回") unless it says it is so now ("现在又") before
    the evidence ends; "…现在的娃娃金贵" after the story does not make the story current."""
    last_ev = max(evidence_positions, default=len(text))
    first_ev = min(evidence_positions, default=len(text))
    # "…是以前炸石头剩下的": a leftover from the past is still there now, wherever it is said;
    # "急弯一个牌子没有，上个月…翻过一回": history told after a present report is background, not the frame
    return (
        ("past_strong" in present or any(h.start <= first_ev for h in hits if "past" in h.entry.roles))
        and "remnant" not in present
        and not any(h.start <= last_ev for h in hits if h.entry.roles & {"present", "imminent"})
    )
