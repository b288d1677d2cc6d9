"""Behaviour tests for the hazard-message classifier (handlers/classifier.py and data/rules.toml)."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from handlers.classifier import CATEGORIES, Classification, Classifier

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FIXTURE_CASES = Path(__file__).resolve().parent / "fixtures" / "classifier_cases.jsonl"
TEST_PLACES = ("王家沟村", "二十里铺")


@pytest.fixture(scope="module")
def clf() -> Classifier:
    """One classifier for the whole module (jieba loads once)."""
    return Classifier.load(places=TEST_PLACES)


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _score(rows: Iterable[dict], preds: Iterable[dict]) -> dict[str, float]:
    """The same metrics as ../shared/tools/eval_parse.py."""
    pos = {"hazard", "tip"}
    tp = fp = fn = 0
    tip_tp = tip_fn = 0
    cat_ok = cat_n = sev_ok = sev_n = loc_ok = loc_n = 0
    for r, p in zip(rows, preds, strict=True):
        gold, got = r.get("intent", "chatter"), p["intent"]
        g_pos, p_pos = gold in pos, got in pos
        tp += g_pos and p_pos
        fp += p_pos and not g_pos
        fn += g_pos and not p_pos
        if gold == "tip":
            tip_tp += got == "tip"
            tip_fn += got != "tip"
        if g_pos and p_pos:
            if "category" in r:
                cat_n += 1
                cat_ok += p["category"] == r["category"]
            if "severity" in r:
                sev_n += 1
                sev_ok += p["severity"] == r["severity"]
        if g_pos and "location" in r and (r["location"] or p["location"]):
            loc_n += 1
            loc_ok += (p["location"] or None) == (r["location"] or None)

    def ratio(a: int, b: int) -> float:
        return a / b if b else 1.0

    return {
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "tip_recall": ratio(tip_tp, tip_tp + tip_fn),
        "category": ratio(cat_ok, cat_n),
        "severity": ratio(sev_ok, sev_n),
        "location": ratio(loc_ok, loc_n),
    }


# ---- single messages ------------------------------------------------------------------------------


def test_village_hazard_gets_category_and_location(clf: Classifier) -> None:
    c = clf.classify("王家沟村东头老窑洞裂了好宽的缝，下雨怕塌")
    assert c.intent == "hazard"
    assert c.category == "building"
    assert c.location == "王家沟村"
    assert c.evidence and 0.0 < c.confidence <= 1.0


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("李家塔村村口那根电线杆歪了，电线都耷拉到地上了", "electric"),
        ("饭店后厨液化气罐的胶管裂了，一股味", "gas"),
        ("后山坡上裂开一道大缝，下面就是几孔窑洞", "geological"),
        ("矿上的主通风机停了，井下还有人", "mining"),
        ("水库边的护栏断了一大截", "water"),
    ],
)
def test_categories(clf: Classifier, text: str, category: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.category) == ("hazard", category)


@pytest.mark.parametrize(
    "text",
    ["收到", "明天几点开会", "热炸了", "手机没电了", "这个视频火了", "气死了，娃娃又不写作业", "偶像塌房了"],
)
def test_chatter_stays_quiet(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert c.intent == "chatter"
    assert c.category is None and c.severity is None


@pytest.mark.parametrize(
    "text",
    [
        "检查了一圈，没有发现隐患",
        "没发现私拉乱接的电线",
        "昨天说的那个漏电插座已经修好了",
        "不是漏气，是下水道的味",
    ],
)
def test_negation_and_resolution_are_chatter(clf: Classifier, text: str) -> None:
    assert clf.classify(text).intent == "chatter"


def test_resolution_is_clause_scoped(clf: Classifier) -> None:
    c = clf.classify("电线修好了，但是杆子又歪了")
    assert c.intent == "hazard"
    assert c.category == "electric"


@pytest.mark.parametrize(
    "text",
    [
        "【转】某省一煤矿发生透水事故，12人被困",
        "转发：南方暴雨引发山体滑坡，多地转移群众",
        "请各村安全员本周内完成液化气用户入户宣传",
        "森林防火期，严禁野外用火，违者依法处理",
        "灭火器过期了去哪儿换？",
        "液化气罐几年检验一次？",
    ],
)
def test_news_notices_and_questions_are_chatter(clf: Classifier, text: str) -> None:
    assert clf.classify(text).intent == "chatter"


@pytest.mark.parametrize(
    ("text", "chat"),
    [
        ("举报 后沟那个煤窑晚上偷偷开采，别说是我说的", "private"),
        ("那家小卖部偷偷卖散装汽油，别说是我说的", "private"),
        ("包工头让工人不系安全带上楼顶干活，帮忙保密", "group"),
    ],
)
def test_tips(clf: Classifier, text: str, chat: str) -> None:
    c = clf.classify(text, chat)
    assert c.intent == "tip"
    assert c.category in CATEGORIES and c.severity in ("major", "general")


def test_illegal_mining_tip_is_major(clf: Classifier) -> None:
    c = clf.classify("举报 后沟那个煤窑晚上偷偷开采，别说是我说的", "private")
    assert (c.category, c.severity, c.location) == ("mining", "major", "后沟")


def test_severity_people_and_imminence(clf: Classifier) -> None:
    assert clf.classify("后塔村后山坡上裂开一道大缝，下面住着七八户").severity == "major"
    assert clf.classify("刮风把电线刮断了，掉在小学门口，娃娃们马上放学").severity == "major"
    assert clf.classify("村口路边的警示牌叫风刮倒了").severity == "general"


def test_traditional_characters_and_emoji(clf: Classifier) -> None:
    c = clf.classify("村委會後面那間舊庫房牆體裂開了，還往外斜😱")
    assert (c.intent, c.category) == ("hazard", "building")
    c = clf.classify("⚡路边变压器的围栏倒了一大片🙏🙏")
    assert (c.intent, c.category) == ("hazard", "electric")
    assert clf.classify("煤氣罐漏氣了，一屋子味").category == "gas"


def test_an_emoji_the_rules_give_words_is_read_before_emoji_are_dropped(clf: Classifier) -> None:
    # normalize.phrases maps the laughing emoji to 哈哈, so burnt food told laughing is a joke
    assert "哈哈" in clf.normalize("锅里的肉炒糊了😂")
    assert "😱" not in clf.normalize("墙裂了😱")


def test_mentions_are_stripped(clf: Classifier) -> None:
    assert clf.classify("@安全员 收到").intent == "chatter"
    c = clf.classify("@克虎镇安全助手 场院边那个水窖盖子坏了，口子一直敞着")
    assert (c.intent, c.category) == ("hazard", "water")


@pytest.mark.parametrize("text", ["/整改完成 23 已加固", "／整改完成23", "  /列表"])
def test_commands(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert c.intent == "command"
    assert c.category is None and c.severity is None


def test_empty_and_huge_messages(clf: Classifier) -> None:
    for text in ("", "   ", "\n\t"):
        assert clf.classify(text).intent == "chatter"
    huge = "电线断了" + "哈" * 20_000
    t0 = time.perf_counter()
    c = clf.classify(huge)
    assert time.perf_counter() - t0 < 0.5
    assert c.intent == "hazard"
    assert clf.classify("哈" * 20_000).intent == "chatter"


def test_profile_places_are_locations(clf: Classifier) -> None:
    c = clf.classify("二十里铺那座桥的护栏断了")
    assert c.intent == "hazard"
    assert c.location == "二十里铺"


@pytest.mark.parametrize("text", ["村里的电线断了", "咱村戏台的房檐掉瓦了", "山沟里的老煤窑口塌了"])
def test_generic_place_words_are_not_locations(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert c.intent == "hazard"
    assert c.location is None


def test_to_json_shape(clf: Classifier) -> None:
    data = clf.classify("王家沟村东头老窑洞裂了好宽的缝").to_json()
    assert set(data) == {
        "intent",
        "category",
        "severity",
        "location",
        "confidence",
        "evidence",
        "review",
        "reason",
        "urgent",
    }
    assert isinstance(data["evidence"], list)
    json.dumps(data, ensure_ascii=False)
    assert isinstance(Classification("chatter", None, None, None, 0.9).to_json()["evidence"], list)


# ---- the rules file -------------------------------------------------------------------------------


def test_broken_rules_file_raises_clear_error(tmp_path: Path) -> None:
    bundled = (REPO / "handlers" / "data" / "rules.toml").read_text(encoding="utf-8")
    broken = tmp_path / "rules.toml"
    broken.write_text(bundled.replace("hazard_threshold = ", "hazard_treshold = ", 1), encoding="utf-8")
    with pytest.raises(ValueError, match=r"limits\.hazard_threshold"):
        Classifier.load(broken)
    broken.write_text(bundled.replace('"mining", "gas", "chemical"', '"minning", "gas", "chemical"', 1))
    with pytest.raises(ValueError, match="minning"):
        Classifier.load(broken)
    broken.write_text("this is = not [toml", encoding="utf-8")
    with pytest.raises(ValueError, match="invalid TOML"):
        Classifier.load(broken)


# ---- corpora --------------------------------------------------------------------------------------


def test_fixture_cases_pass(clf: Classifier) -> None:
    rows = _rows(FIXTURE_CASES)
    assert len(rows) >= 60
    failures = []
    for r in rows:
        got = clf.classify(r["text"], r["chat"])
        expected = (r["intent"], r["category"], r["severity"], r["location"])
        actual = (got.intent, got.category, got.severity, got.location)
        if r["intent"] in ("chatter", "command"):
            expected, actual = expected[:1], actual[:1]
        if expected != actual:
            failures.append((r["text"], expected, actual))
    assert len(failures) / len(rows) <= 0.08, failures


def _need_shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"shared corpus {path} is not available (needs ../shared/data next to the repo)")
    return path


def test_dev_corpus_floors(clf: Classifier) -> None:
    rows = _rows(_need_shared("dev.jsonl"))
    preds = [clf.classify(r["text"], r.get("chat", "group")).to_json() for r in rows]
    m = _score(rows, preds)
    assert m["precision"] >= 0.95, m
    assert m["recall"] >= 0.90, m
    assert m["tip_recall"] >= 0.85, m
    assert m["category"] >= 0.85, m
    assert m["severity"] >= 0.80, m
    assert m["location"] >= 0.85, m


def test_real_chatter_false_positive_rate(clf: Classifier) -> None:
    path = _need_shared("real/chatter_lccc.tsv")
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    flagged = [t for t in lines if clf.classify(t).intent in ("hazard", "tip")]
    assert len(flagged) / len(lines) <= 0.001, flagged[:30]


def test_major_hazard_criteria(clf: Classifier) -> None:
    path = _need_shared("real/major_hazard_criteria.tsv")
    texts = [line.split("\t")[2] for line in path.read_text(encoding="utf-8").splitlines()[1:] if line]
    results = [clf.classify(t) for t in texts]
    detected = [c for c in results if c.intent in ("hazard", "tip")]
    assert len(detected) / len(texts) >= 0.95
    assert sum(c.severity == "major" for c in detected) / len(texts) >= 0.90
    assert all(c.location is None for c in detected)


# ---- structure added for generalisation -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "有件事想反映，千万别跟村主任说是我讲的",
        "镇上来查的时候他们就把货藏起来，我不方便露面",
        # fear of reprisal is a request for anonymity too
        "车间主任让把消防栓前面堆满货 我怕丢工作 只能跟你们说",
        "那个浴室老板把后门安全出口锁死了 老板不让我们往外说 麻烦悄悄查下",
    ],
)
def test_anonymity_phrasing_makes_a_tip(clf: Classifier, text: str) -> None:
    assert clf.classify(text, "private").intent == "tip"


def test_lack_marker_after_the_item(clf: Classifier) -> None:
    c = clf.classify("村西头修路挖的槽子晚上连个警示灯都没有")
    assert (c.intent, c.category) == ("hazard", "construction")


def test_stories_from_the_past_are_chatter_unless_current(clf: Classifier) -> None:
    assert clf.classify("我小时候住的那孔老窑塌过一回").intent == "chatter"
    assert clf.classify("以前修过的那孔窑现在又裂了一道缝").intent == "hazard"


def test_always_major_things(clf: Classifier) -> None:
    c = clf.classify("后沟的淤地坝坝脚渗水了")
    assert (c.intent, c.category, c.severity) == ("hazard", "water", "major")
    c = clf.classify("豆腐坊锅炉的安全阀让人拿铁丝绑死了")
    assert (c.intent, c.category, c.severity) == ("hazard", "special_equipment", "major")


# ---- round 3: generic nouns, frames that generalise ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "饭馆后院的酱缸盖子掀开了 里头的酱都霉了 还在往外卖",  # nouns outside the lexicon + strong states
        "村委会后头那堵墙又裂开一道 比上回还宽 谁管管啊？",  # a complaint question is a report
        "师傅说炉子没事 可是烟筒接口那块还是往外冒烟",  # explained away, then a contrast restarts
        "半山腰的石头一直往下滚 路上落了好几块",  # overlapping keywords (一直往下 / 往下滚)
        "河对面盖房子的 砖头从架子上往下撂 差点砸着一个过路的",  # a near miss
    ],
)
def test_structural_reports_file(clf: Classifier, text: str) -> None:
    assert clf.classify(text).intent == "hazard"


@pytest.mark.parametrize(
    "text",
    [
        "我手机坏了 烦死了",  # a weak state never pairs with a generic noun
        "电饭锅坏了 有会修的没",  # asking for a service
        "电工来看了说插座没毛病 是台灯坏了",  # explained away
        "我家狗把充电线咬断了 又得买新的",  # a pet chewing a cable
        "老板的脸色比锅底还黑 哈哈",  # figurative comparison
        "去年那回涝池上的冰塌了 现在想起来还后怕",  # a past story; 现在 comes after the evidence
        "危窑上礼拜就拆了 老人住进新房了",  # resolved frame
    ],
)
def test_structural_chatter_stays_quiet(clf: Classifier, text: str) -> None:
    assert clf.classify(text).intent == "chatter"


def test_conduct_pattern_and_anonymity_variants_make_tips(clf: Classifier) -> None:
    assert clf.classify("开面包车接娃娃的那个人根本没有驾驶资格 车也好几年没年检了").intent == "tip"
    assert clf.classify("砖厂老板往渠里倒废机油 你们千万别讲是我说的").intent == "tip"


def test_most_specific_thing_decides_category(clf: Classifier) -> None:
    c = clf.classify("工地上那台塔吊的配重块松动了 一转就咯噔咯噔的")
    assert (c.intent, c.category) == ("hazard", "special_equipment")


# ---- round 4: pattern families (sensory, damage shapes, missing protection, people, conduct) -------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("厨房里有股液化气的味道，老人在炕上睡着", "gas"),  # a smell names the hazard
        ("西头那家草房着了，烟大得很", "fire"),  # fire in plain words
        ("学校围墙往外凸了一大块", "building"),  # a shape of damage
        ("挖的水渠两米多深，也不围一下，晚上黑乎乎的", "water"),  # missing protection
        ("井下的人都没带自救器就下去了", "mining"),
        ("地里浇水的潜水泵 电线拿胶布缠的 就泡在渠里", "electric"),  # the specific thing decides
    ],
)
def test_pattern_families_file(clf: Classifier, text: str, category: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.category) == ("hazard", category)


@pytest.mark.parametrize(
    "text",
    [
        "那个加油站晚上偷偷往沟里排废水",  # dumping
        "我就不留名了，那家小作坊用的地沟油",  # conduct + anonymity variant
        "矿上把隐患台账改了，报成已经整改",  # falsified records
    ],
)
def test_conduct_patterns_make_tips(clf: Classifier, text: str) -> None:
    assert clf.classify(text, "private").intent == "tip"


@pytest.mark.parametrize(
    "text",
    [
        "厂长叫人把车间后门的安全出口锁了 说怕丢东西",  # someone responsible defeating a safety measure
        "他们把一氧化碳报警器的探头拆了 嫌老响",  # a detector removed on purpose
        "那个叉车司机的证是借的 天天在仓库里开",  # a borrowed licence
    ],
)
def test_deliberate_defeat_of_safety_is_a_tip_in_private_and_a_hazard_in_a_group(
    clf: Classifier, text: str
) -> None:
    assert clf.classify(text, "private").intent == "tip"
    # a group tip is not filed (the sender is pointed to a private chat): in a group it stays a hazard report
    assert clf.classify(text, "group").intent == "hazard"


@pytest.mark.parametrize(
    "text",
    [
        "这墙没裂，就是刷的漆掉了点",  # negated, then explained
        "电线杆没歪 是照片拍斜了",  # explained away
        "那年冬天炉子倒烟，我们一家差点中毒，现在想想还怕",  # a memory
        "老窑口已经拿水泥封死了，放心吧",  # resolved
        "转：汛期防洪避险知识",  # forwarded tips
        "我今天心态爆炸了，脑子冒烟",  # figurative
        "这个道理就像是煤气一样",  # a comparison, not a smell
    ],
)
def test_round4_chatter_stays_quiet(clf: Classifier, text: str) -> None:
    assert clf.classify(text).intent == "chatter"


def test_sealed_fire_exit_is_still_a_hazard(clf: Classifier) -> None:
    # 封死 resolves an opening (窑口, 井口), not a blocked exit
    assert clf.classify("那个网吧后门封死了，晚上几十个学生在里面").intent == "hazard"


def test_taken_away_is_not_a_repair(clf: Classifier) -> None:
    assert clf.classify("水库边的护栏叫人拆走了一大截").intent == "hazard"


def test_explosives_at_a_quarry_are_mining(clf: Classifier) -> None:
    c = clf.classify("石料场私藏了好几箱雷管炸药 就放在工棚底下", "private")
    assert (c.intent, c.category) == ("tip", "mining")


def test_bad_pattern_in_rules_raises(tmp_path: Path) -> None:
    bundled = (REPO / "handlers" / "data" / "rules.toml").read_text(encoding="utf-8")
    broken = tmp_path / "rules.toml"
    broken.write_text(
        bundled + '\n[[patterns]]\nname = "x"\nroles = ["bogus"]\nregex = "a"\n', encoding="utf-8"
    )
    with pytest.raises(ValueError, match="bogus"):
        Classifier.load(broken)
    broken.write_text(
        bundled + '\n[[patterns]]\nname = "x"\nroles = ["bad"]\nregex = "(a"\n', encoding="utf-8"
    )
    with pytest.raises(ValueError, match="regex"):
        Classifier.load(broken)


def test_new_vocabulary_families(clf: Classifier) -> None:
    """Water depth, makeshift fixes, falling chunks, dumping and news from elsewhere."""
    assert clf.classify("猪圈旁边的水窖积水没过膝盖了").intent == "hazard"
    assert clf.classify("插座的线头拿塑料袋裹着").intent == "hazard"
    assert clf.classify("把废农药倒进河里了 我要举报").intent == "tip"
    assert clf.classify("我二舅在外地矿上 说他们那边前天冒顶了").intent == "chatter"
    assert clf.classify("今天吃了十几个饺子").intent == "chatter"


@pytest.mark.parametrize(
    "text",
    [
        "那个电线杆歪了的事已经报上去了，镇上说下礼拜来修",  # already reported
        "上回说的那堵裂了的墙，镇上来人看了",  # discussed before, officials came
        "要是电线掉下来了就赶紧打电话给电工",  # hypothetical
        "我小时候在河里耍水差点淹死",  # a childhood story however vivid
        "谢谢大家关心，上回漏电的那个闸已经换了",  # thanks before the evidence
        "暴雨橙色预警：今夜有大暴雨，注意防范山体滑坡",  # an official warning is a notice
        "送气上门，换煤气罐打电话",  # ordinary commerce
    ],
)
def test_handled_and_hypothetical_frames_are_chatter(clf: Classifier, text: str) -> None:
    assert clf.classify(text).intent == "chatter"


@pytest.mark.parametrize(
    "text",
    [
        "谢谢来修，可是液化气罐还是有味",  # a contrast reopens the thanked scope
        "上回报的那堵墙还没修，今天又裂了一道缝",  # discussed before, but it is worse now
    ],
)
def test_reports_inside_chatter_frames_still_file(clf: Classifier, text: str) -> None:
    assert clf.classify(text).intent == "hazard"


@pytest.mark.parametrize(
    "text",
    [
        "有人半夜往沟里倒废油，求你们别说出去",
        "砖厂老板让人上头来检查就躲起来，平时照样干",
        "举报有人在林边烧地埂，来了就停，走了又点",
    ],
)
def test_whistleblower_wordings_are_tips(clf: Classifier, text: str) -> None:
    result = clf.classify(text)
    assert result.intent == "tip"
    assert result.category is not None and result.severity is not None


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # the category is what would cause the harm: an energy source that looks burnt keeps its own kind
        ("厨房那个插座昨晚冒火花，边上都烧黑了", "electric"),
        # combustibles next to a heat source are a fire hazard, not a gas one
        ("他家炕洞跟前塞满了干柴，炉子就在边上", "fire"),
        # a gas main dug open stays gas even with someone smoking nearby
        ("修路把天然气管道挖破了，旁边还有人抽烟", "gas"),
        # dumping waste liquid is chemical whatever plant it comes from
        ("洗煤厂把废水偷偷往沟里排", "chemical"),
        # ground sinking is geological even next to a well
        ("水井旁边那块地陷下去一个坑", "geological"),
        # an emergency's own words name its kind, whatever building it happens in
        ("屋里全是烟了，老人还在楼上", "fire"),
        ("后山泥石流下来了，坡下那几间房子还有人", "geological"),
        # exits locked shut and people sleeping where goods are made are fire-safety hazards
        ("那家小旅馆的楼梯口晚上用铁链锁死了", "fire"),
        ("服装厂把工人宿舍放在车间三楼", "fire"),
        # a hydrant with no water is a fire hazard
        ("小区那几个消防栓拧开根本没水", "fire"),
        # the decade a building dates from is no past event
        ("我住的是七十年代的筒子楼，楼梯扶手都松了，一推就晃", "building"),
        # smoke with nothing the rules know burning is a fire
        ("夜里看见粮库的门缝往外冒烟，看门的不在", "fire"),
        # charging an e-bike battery indoors is a fire hazard (the fire brigade's), not an electric one
        ("六楼有人天天把电瓶拎回寝室充电", "fire"),
        ("楼梯底下那几辆电驴子一到晚上就在充电", "fire"),
    ],
)
def test_category_follows_the_source_of_harm(clf: Classifier, text: str, category: str) -> None:
    result = clf.classify(text)
    assert result.intent in ("hazard", "tip")
    assert result.category == category


def test_gas_that_will_not_light_is_not_a_fire(clf: Classifier) -> None:
    result = clf.classify("他把液化气罐放到炕头上烤，说天冷打不着火")
    assert result.category in (None, "gas")
    assert "着火" not in result.evidence


def test_internet_slang_wall_crack_is_chatter_but_a_real_one_files(clf: Classifier) -> None:
    assert clf.classify("这家店墙裂推荐，好吃到哭").intent == "chatter"
    assert clf.classify("后院的院墙裂了一道缝，外头就是走人的路").intent == "hazard"


def test_leak_and_venue_severity(clf: Classifier) -> None:
    # a chemical hazard fuming on people is a leak → major
    assert clf.classify("厂里的液氨罐冒白气，对面的人嗓子疼").severity == "major"
    # a slope failing behind a school, getting worse → major
    assert clf.classify("小学后头的土崖裂缝又宽了，离教室没几米").severity == "major"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # wording families of the chatter frames keep their scope: a real report beside them still files
        ("那根歪了的电线杆 供电所换了根新的", "chatter"),
        ("电线杆换了根新的，可是旁边那根又歪了", "hazard"),
        ("那辆三轮车没超载，就拉了两个人", "chatter"),
        ("万一真着火了 是先打119还是先打村里电话？", "chatter"),
        ("窑洞裂了好宽的缝 万一塌了咋办？", "hazard"),
        ("寒潮来了 水管子拿棉布包一包 别冻裂了", "chatter"),
        ("别人家的电线断了 掉在路上", "hazard"),
        ("朋友圈看的 城里有个小区电梯掉下来了", "chatter"),
        ("看抖音上 南方发大水了 房子都淹了 咱这儿倒好 旱得地都裂了", "chatter"),
        ("锅炉压力表的针都顶到头了 烧锅炉的老汉还说没事", "hazard"),
        ("有户人家窑里放着一箱雷管，是以前炸石头剩下的", "hazard"),
        ("运煤的皮带 防护罩早拆了 工人天天贴着边上走", "hazard"),
    ],
)
def test_frame_families_keep_scope(clf: Classifier, text: str, intent: str) -> None:
    assert clf.classify(text).intent == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # advice to parents, an official's acknowledgement and a safeguarded site are chatter ...
        ("放假了 看好自家娃娃 不要去河边耍水 转给亲戚朋友", "chatter"),
        ("电瓶车别推进楼道充电 切记", "chatter"),
        ("好的已记下 明天带人去看看那几个老井口的封堵情况", "chatter"),
        ("后山滑坡那儿已经拉了警戒线 有专人值守", "chatter"),
        # ... but each keeps its scope, and a request to put a fire out is no report that it is out
        ("滑坡那儿装了监测仪，可是坡上又裂开一道大缝", "hazard"),
        ("坟地里烧纸的 草已经冒烟了 谁在跟前赶紧去踩灭", "hazard"),
        # rhetorical worry and requests for someone to come are complaints, not questions
        ("仓库后墙裂了一条大缝 里头还堆着粮食 能不能派个人来看", "hazard"),
        ("加油站后门堆着好几个液化气罐 一点都不通风 哪天出事就晚了", "hazard"),
    ],
)
def test_round11_frames_keep_scope(clf: Classifier, text: str, intent: str) -> None:
    assert clf.classify(text).intent == intent


@pytest.mark.parametrize(
    "text",
    [
        "那个小窑贴着封条 晚上照样出煤",
        "老板不给工人配安全帽 出了事还让说是自己摔的",
        "饭馆用的气罐是黑市上买的 啥标签都没有",
        "我是矿上的 不能说名字 矿上在越界开采",
        "他们把锅炉的检验报告复印了贴上 其实根本没检",
    ],
)
def test_round11_conduct_wordings_are_tips(clf: Classifier, text: str) -> None:
    assert clf.classify(text, "private").intent == "tip"


def test_round11_vocabulary_and_severity(clf: Classifier) -> None:
    assert clf.classify("厂里起重机的吊钩没有防脱钩装置").intent == "hazard"
    assert clf.classify("铁路道口的栏杆坏了 放不下来").category == "traffic"
    assert clf.classify("那家旅馆的烟感器是假的 里头是空的", "private").category == "fire"
    leak = clf.classify("冷库液氨罐的阀门结了白霜 周围呛得睁不开眼")
    assert (leak.category, leak.severity) == ("chemical", "major")
    slope = clf.classify("地畔上那道崖开了一条缝 崖底下就是老王家的院子 这要塌下来可咋弄")
    assert slope.severity == "major"
    # a laugh about a sting is not a report; stung people are
    assert clf.classify("哈哈哈蜇了一下").intent == "chatter"
    assert clf.classify("林子里那窝马蜂又蛰了两个放羊的").intent == "hazard"


# ---- meaning over strings: a state root in all its forms -------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "王家沟村消防通道被堵",
        "消防通道堵了",
        "消防通道堵住了",
        "消防通道堵死了",
        "消防通道给杂物堵上了",
        "消防通道让车堵着",
        "消防通道堵得严严实实",
        "物业把每层楼的消防通道门都锁住了",
        "安全出口被人锁了",
        "楼道被电动车占了",
    ],
)
def test_a_state_root_matches_its_passive_aspect_and_resultative_forms(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.category) == ("hazard", "fire"), c


def test_morphology_forms_are_generated_from_the_rules_file() -> None:
    from handlers.rules import DEFAULT_RULES, morphology_forms, read_rules

    forms, passive_regex = morphology_forms(read_rules(DEFAULT_RULES))
    assert {"被堵", "堵了", "堵住", "堵死", "堵上", "被裂", "塌了", "漏了"} <= set(forms)
    assert forms["塌了"] is True and forms["堵住"] is False  # 塌 is a strong root, 堵 is not
    assert "倒了" not in forms  # excluded: 倒了 is as often "poured" as "fell over"
    assert passive_regex and "堵" in passive_regex


@pytest.mark.parametrize(
    "text, category",
    [
        ("危房存在安全隐患", "building"),
        ("小区存在安全隐患", "other"),
        ("后山着火了", "fire"),
        ("井下透水了", "mining"),
        ("娃娃溺水了", "water"),
    ],
)
def test_standalone_strong_signals_are_evidence_on_their_own(
    clf: Classifier, text: str, category: str
) -> None:
    c = clf.classify(text)
    assert (c.intent, c.category) == ("hazard", category)


@pytest.mark.parametrize(
    "text",
    [
        "排查安全隐患，请各村做好登记",  # notice
        "村里没有什么安全隐患",  # negation
        "据报道外省一处危房倒塌",  # news from elsewhere
        "小时候那次后山着火了，记得可清楚",  # the past
    ],
)
def test_frames_scope_standalone_signals_away(clf: Classifier, text: str) -> None:
    assert clf.classify(text).intent == "chatter"


@pytest.mark.parametrize("text", ["非法集资", "违规招标", "无证施工噪音扰民", "村干部优亲厚友，低保造假"])
def test_conduct_without_a_safety_dimension_is_no_tip(clf: Classifier, text: str) -> None:
    assert clf.classify(text, "private").intent == "chatter"


@pytest.mark.parametrize(
    "text",
    [
        "后沟那个煤窑晚上偷偷开采",
        "老板私自把燃气报警器拔了，别说是我说的",
        "有个事想反映一下，能不能不写我名字",
    ],
)
def test_conduct_with_a_safety_dimension_or_a_request_for_anonymity_is_a_tip(
    clf: Classifier, text: str
) -> None:
    assert clf.classify(text, "private").intent == "tip"


@pytest.mark.parametrize("text", ["路灯不亮", "河水发黑", "小区附近河道发黑发臭", "工地夜里施工，噪音很大"])
def test_civic_complaints_without_a_safety_dimension_are_chatter(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert c.intent == "chatter" and not c.review
    assert "民生" in c.reason or "没有" in c.reason


def test_a_civic_word_does_not_hide_a_real_hazard(clf: Classifier) -> None:
    assert clf.classify("路灯杆被车撞断了，电线掉在地上").intent == "hazard"


# ---- emergencies happening now ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "山上的火往村里烧过来了，快来人",
        "瓦斯报警器一直在响，班长说没事接着干",
        "井下透水了人没上来",
        "娃娃掉水库里了快来人",
        "塌了 人被埋在里面了",
        "工地脚手架倒了 压着两个工人",
        "赶紧打120 老李从房顶上摔下来了",
        "学校食堂好多娃娃吃了饭肚子疼 吐了好几个",
        "烟花厂炸了 好大一声 窗户都震碎了",
        "大桥上一辆大货车翻下去了",
        "化工厂那边一股刺鼻的味道往村里飘 好多人咳嗽",
    ],
)
def test_an_emergency_now_is_filed_as_major_and_urgent(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.severity, c.urgent) == ("hazard", "major", True), c
    assert c.reason.startswith("紧急情况")


@pytest.mark.parametrize(
    "text", ["救命哈哈哈哈", "快来人啊", "我要报警了", "我掉进河里了亲！", "小心我扔个火星给你"]
)
def test_a_cry_for_help_without_danger_is_no_emergency(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert c.intent == "chatter" and not c.urgent


def test_an_emergency_in_a_group_is_a_hazard_even_when_it_reports_conduct(clf: Classifier) -> None:
    c = clf.classify("矿上瓦斯报警了，老板还让接着干", "group")
    assert (c.intent, c.urgent) == ("hazard", True)


# ---- review, reasons and the model's second opinion ----------------------------------------------------


def test_weak_unframed_evidence_goes_to_review_with_a_suspected_category(clf: Classifier) -> None:
    # the rules alone, then a model that is not sure enough to file it with them (below 0.97)
    assert _rules_only().classify("3号杆好像又歪了点").review
    c = _classify_with(clf, _FixedModel(0.8), "3号杆好像又歪了点")
    assert c.review and c.intent == "chatter"
    assert c.reason.startswith("待干部确认")
    assert c.to_json()["review"] is True


def test_every_verdict_says_why(clf: Classifier) -> None:
    assert clf.classify("王家沟村东头老窑洞裂了好宽的缝").reason.startswith("隐患证据")
    assert clf.classify("收到").reason == "没有隐患证据"
    assert clf.classify("请各村排查窑洞裂缝隐患").reason.startswith("框架")


def _classify_with(clf: Classifier, model: object, text: str, chat: str = "group") -> Classification:
    """Classify ``text`` with a stand-in model in place of the bundled one."""
    saved = clf.model
    clf.model = model  # type: ignore[assignment]
    try:
        return clf.classify(text, chat)
    finally:
        clf.model = saved


class _FixedModel:
    """A stand-in model with fixed scores, to test how the classifier uses a second opinion."""

    auto_threshold = 0.9
    review_threshold = 0.5

    def __init__(self, score: float, major: float = 0.1) -> None:
        self._score = score
        self._major = major

    def score(self, text: str) -> float:
        return self._score

    def category(self, text: str) -> tuple[str, float]:
        return "building", 0.8

    def major(self, text: str) -> float:
        return self._major


@pytest.mark.parametrize(
    "score, intent, review", [(0.95, "hazard", False), (0.7, "chatter", True), (0.2, "chatter", False)]
)
def test_the_model_files_alone_only_above_its_auto_threshold(
    clf: Classifier, score: float, intent: str, review: bool
) -> None:
    c = _classify_with(clf, _FixedModel(score), "那个窑顶好像有道印子")
    assert (c.intent, c.review, c.model_score) == (intent, review, score)
    if intent == "hazard":
        assert c.category == "building" and c.reason.startswith("统计模型")


def test_a_frame_keeps_the_model_from_filing_alone(clf: Classifier) -> None:
    c = _classify_with(clf, _FixedModel(0.95), "请各村排查窑洞裂缝隐患")
    assert c.intent == "chatter"  # a notice: at most an official gets to look at it


def test_a_call_for_help_the_model_agrees_with_is_an_emergency(clf: Classifier) -> None:
    c = _classify_with(clf, _FixedModel(0.6), "快来人 那边不对劲")
    assert (c.intent, c.severity, c.urgent) == ("hazard", "major", True)


@pytest.mark.parametrize("text", ["你们快去看下那个老桥 那边不对劲", "河边的石墩子冲走了两个 那边不对劲"])
def test_what_the_rules_hide_is_no_call_for_help(clf: Classifier, text: str) -> None:
    # 快去看 is a request to look, and stepping stones swept away are no people swept away: the model's
    # review band must not read them as a cry for help
    c = _classify_with(clf, _FixedModel(0.6), text)
    assert not c.urgent and c.severity != "major", c


def test_the_rules_alone_work_without_a_model() -> None:
    rules_only = Classifier.load(use_model=False)
    assert rules_only.model is None
    assert rules_only.classify("消防通道被堵").intent == "hazard"
    assert rules_only.classify("收到").model_score is None


def test_explain_names_the_rule_of_every_hit(clf: Classifier) -> None:
    e = clf.explain("消防通道让车堵着")
    rules = {h["word"]: h["rule"] for h in e["hits"]}
    assert rules["消防通道"] == "things.fire"
    assert e["classification"]["intent"] == "hazard"
    assert e["tokens"] and e["normalized"] == "消防通道让车堵着"


# ---- round 12: emergencies in any form, dialect, corrections -----------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # a person harmed next to a thing (victim + thing)
        ("沼气池里下去的人没动静了", "gas"),
        # rising water now
        ("院子里的水已经到膝盖了还在往上涨", "water"),
        # a vehicle off the road, in any verb
        ("校车滑到沟里了 娃娃们在车里哭", "traffic"),
        # electrocuted, with the passive 叫
        ("娃娃叫电打了 手还粘在上面", "electric"),
        # a fallen wire lying in water where people work
        ("电线断了落在水田里 有人在田里插秧", "electric"),
        # an alarm in a mine that will not stop while the boss says carry on
        ("矿上报警器叫得停不下来 老板说是误报照常上班", "mining"),
        # firedamp over the limit and the work goes on
        ("瓦斯超了还在打眼放炮 吓死人了", "mining"),
        # a collapse named only by its verb: the thing inside the words decides the category
        ("房子塌了 一家人压在里面 快来人", "building"),
        # water into a mine is no figure of speech
        ("矿井里进水了人还在下面", "mining"),
    ],
)
def test_emergencies_now_are_filed_urgent_and_major(clf: Classifier, text: str, category: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.severity, c.urgent, c.category) == ("hazard", "major", True, category), c


@pytest.mark.parametrize(
    "text",
    [
        "崖塌了 压住了放羊的",  # crushing people, verb first
        "楼里燃气管子漏了 整栋楼都是味 有人还在做饭",  # a smell filling a building
        "我跟你说那边厂子冒了好大的烟有人在喊救命",  # someone crying for help
        "有人在桥上 桥被洪水冲得摇摇晃晃的",  # people stranded on a bridge in a flood
        "塌了 下头有人 拿锹",  # a collapse with people under it, nothing named
        "屋头煤气味道好大哦 老辈子倒在床边上喊不答应",  # south-western words for people and rooms
    ],
)
def test_more_emergency_forms_are_urgent(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.severity, c.urgent) == ("hazard", "major", True), c


@pytest.mark.parametrize(
    "text",
    [
        "山上那些老炭窑口子都没堵 放羊的掉下去咋整",  # a worry, not an accident
        "学校门口那个坑谁挖的 也不围一下 娃娃差点掉进去",  # a near miss
    ],
)
def test_worries_and_near_misses_are_not_emergencies(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert not c.urgent, c


@pytest.mark.parametrize(
    "text",
    [
        "我跟你说那个电视剧里那个楼塌了把我吓了一跳",
        "我也两百斤有人愿意让我卡在他心里吗",
        "哥们你脑子进水了吧",
    ],
)
def test_stories_questions_and_idioms_about_people_are_chatter(clf: Classifier, text: str) -> None:
    assert clf.classify(text).intent == "chatter"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("回复 @老杨：不是停电，是电线叫大风刮断了，掉在巷子里", "electric"),
        ("你说的那个井盖不是丢了是碎了 晚上黑咕隆咚的", None),
    ],
)
def test_a_correction_reports_what_it_says_instead(clf: Classifier, text: str, category: str | None) -> None:
    c = clf.classify(text)
    assert c.intent == "hazard", c
    assert category is None or c.category == category


def test_an_explanation_that_is_milder_stays_chatter(clf: Classifier) -> None:
    assert clf.classify("不是着火 是那边在烧田坎上的草 有人守到的").intent == "chatter"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("堡坎垮咯 下雨就往下掉泥巴", "geological"),  # dialect particle 咯 and the word 堡坎
        ("那个电杆杆歪起了 线都吊到地上了", "electric"),  # a reduplicated noun
        ("学校后面的堰塘莫得围栏 娃儿天天在边边上耍", "water"),  # 莫得 = 没有
        ("dian xian 断了 掉在路上", "electric"),  # pinyin typed without choosing characters
        ("房子后面的山体有列缝了 住户还没搬", "geological"),  # a homophone typo
    ],
)
def test_dialect_pinyin_and_typos_are_understood(clf: Classifier, text: str, category: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.category) == ("hazard", category), c


def test_a_boss_brushing_off_a_warning_sign_is_no_all_clear(clf: Classifier) -> None:
    c = clf.classify("就是那个学校的锅炉嗯那个压力表那个针一直在抖然后烧锅炉的老汉说没事")
    assert (c.intent, c.category) == ("hazard", "special_equipment"), c


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # "没有任何的护栏" names a lack, it negates nothing
        ("然后就是那个水库边上呢没有任何的护栏小孩子放了学就跑去那里耍水", "water"),
        # a local report added to a forwarded notice, with an event as its evidence
        (
            "转发的这个燃气安全提示我看了，咱们楼三单元一楼那家饭店天天一股煤气味，今天更大了，该叫人来查查",
            "gas",
        ),
        # water washed out a gully in a local road after forwarded news
        (
            "转个新闻：外地一辆校车侧翻。我们这边去学校那段土路也是，前几天下雨冲出一道大沟，现在还没填。",
            "traffic",
        ),
        # a crane load swung over houses
        ("就是这个工地上面啊那个塔吊呢吊东西的时候从我们屋顶上面过去的好吓人啊", "special_equipment"),
    ],
)
def test_lacks_local_reports_and_loads_overhead_are_filed(clf: Classifier, text: str, category: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.category) == ("hazard", category), c


def test_a_runaway_vehicle_is_an_emergency(clf: Classifier) -> None:
    c = clf.classify("拉煤车刹车失灵了 从坡上冲下来 前面是集市")
    assert (c.intent, c.category, c.severity, c.urgent) == ("hazard", "traffic", "major", True), c


def test_a_website_going_down_is_not_a_person_collapsing(clf: Classifier) -> None:
    assert clf.classify("我就想知道在哪看的，人人影视倒了，我都好几集没看了").intent == "chatter"


@pytest.mark.parametrize(
    "text",
    [
        "屋垮了 人在里头",  # a one-character noun (屋) and people inside
        "煤洞垮了 有人遭埋了",  # 遭 passive of a person buried
        "车翻到坎下去了",  # overturned off a bank
        "电打到人了",  # electrocution said with 电打
        "山上打燃了 往这边来了",  # south-western 打燃 (caught fire)
        "垮方了 路断了",  # south-western 垮方 (a landslip)
    ],
)
def test_south_western_emergencies(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.severity, c.urgent) == ("hazard", "major", True), c


def test_people_living_in_a_cracked_house_is_major_but_not_an_emergency(clf: Classifier) -> None:
    c = clf.classify("房子裂了 人在里面住着")
    assert (c.intent, c.urgent) == ("hazard", False), c


@pytest.mark.parametrize("text", ["引用 张三：井盖没了\n已经补上了", "「窑洞裂缝」是去年的事了 现在修好了"])
def test_a_quoted_hazard_reported_as_repaired_goes_nowhere(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.review) == ("chatter", False), c


@pytest.mark.parametrize(
    ("text", "category"),
    [("变压气冒烟了", "electric"), ("灭火气都过期了", "fire"), ("楼道里然气味好大", "gas")],
)
def test_voice_input_homophones_of_device_names(clf: Classifier, text: str, category: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.category) == ("hazard", category), c


@pytest.mark.parametrize(
    "text",
    [
        "着 火 了 快 来 人",  # typed one character at a time
        "村口 河 水 涨 起 来 了 桥 快 淹 了",  # one or two characters at a time
        "我被困在二楼了 楼下全是水",  # the speaker is trapped in a flooded house
        "学校食堂好多学生吃了饭肚子痛 还有吐的",  # many people sick at once
        "我家隔壁在冒黑烟 敲门没人应",  # smoke and nobody answering
    ],
)
def test_elderly_typing_and_speakers_in_danger_are_emergencies(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.severity, c.urgent) == ("hazard", "major", True), c


def test_short_words_with_spaces_are_not_run_together(clf: Classifier) -> None:
    assert clf.normalize("好的 谢谢 支书 明天 见") == "好的 谢谢 支书 明天 见"
    assert clf.normalize("着 火 了 快 来 人") == "着火了快来人"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("河上的铁索桥 木板少了好几块 学生天天走", None),  # pieces missing
        ("那家饭馆的液化气罐就放在门口太阳底下晒", "gas"),  # a cylinder baking in the sun
        ("谁家的狗又把娃咬了 也不拴", "other"),  # a dog biting a child is no pet story
    ],
)
def test_missing_pieces_sun_and_dogs(clf: Classifier, text: str, category: str | None) -> None:
    c = clf.classify(text)
    assert c.intent == "hazard", c
    assert category is None or c.category == category


def test_a_pet_chewing_the_sofa_is_still_chatter(clf: Classifier) -> None:
    assert clf.classify("狗又把沙发咬了").intent == "chatter"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("水库那边有人溺水了", "water"),
        ("隔壁一家煤气中毒了 正在抢救", "gas"),
        ("化工厂氯气泄漏了", "chemical"),
    ],
)
def test_accidents_told_as_done_now_are_emergencies(clf: Classifier, text: str, category: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.category, c.severity, c.urgent) == ("hazard", category, "major", True), c


@pytest.mark.parametrize("text", ["夏天娃娃容易溺水", "电线老化容易触电"])
def test_a_risk_of_an_accident_is_a_hazard_not_an_emergency(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.urgent) == ("hazard", False), c


@pytest.mark.parametrize(
    "text",
    [
        "俺们村东头那个大口井没盖盖子小孩老在边上玩",  # a well, and a doubled 盖
        "这两天刮风大 麦秸垛离电线太近了",  # too close to a wire
        "山上下来的水把路冲了个大口子",  # a road washed open
        "村口的老槐树空心了 随时会倒 底下天天有人下棋",  # a hollow tree that may fall
    ],
)
def test_elderly_reports_of_wells_trees_and_washouts(clf: Classifier, text: str) -> None:
    assert clf.classify(text).intent == "hazard"


@pytest.mark.parametrize("text", ["我会倒车", "井然有序", "市井小民的生活"])
def test_words_that_merely_contain_a_thing_are_chatter(clf: Classifier, text: str) -> None:
    assert clf.classify(text).intent == "chatter"


# ---- round 2 of issue 8: emergencies in more forms, weak rule signal plus a sure model ---------------------


@pytest.mark.parametrize(
    "text",
    [
        "仓房那边的烟越来越浓 都看不清路了",  # danger growing now
        "工作面突然涌水 人还没撤完",  # a mine disaster underground
        "一开门满屋子都是烟",  # a room full of smoke
        "化肥厂飘过来的气熏得人头晕想吐",  # fumes making people ill
        "村口轰的一声爆了 玻璃都震碎了",  # a bang
        "老磨坊塌了 三个娃在里头耍",  # collapsed with people inside
        "鱼塘边一个放牛的滑下去了",  # slipped into water named first
        "拉化工料的桶翻了 冒黄烟 呛人得很",  # a container broken and fuming
        "火顺着麦秸往场边跑",  # fire running along the straw
        "我爸在院里倒下了 叫不答应",  # kin, unanswering
        "巷道里的人撤不出来了",  # cannot get out, whatever the verb
        "河水猛涨 桥上还站着人",  # water rising fast
        "仓库冒黑烟了 里面可能还有工人",  # people inside, hedged
        "柴房着了 火苗窜得比树还高",  # a comparison beside an emergency is literal
    ],
)
def test_round2_emergency_forms_are_urgent_and_major(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.severity, c.urgent) == ("hazard", "major", True), c


@pytest.mark.parametrize("text", ["这天热得人都要烧起来了", "急得我头都冒烟了", "这瓜比去年的还大"])
def test_heat_and_comparison_hyperbole_stays_chatter(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.urgent) == ("chatter", False), c


def test_a_weak_rule_signal_and_a_sure_model_file_together(clf: Classifier) -> None:
    # a thing and a state the rules cannot pair (斜到 is no bad state of their own), the model sure
    c = clf.classify("电线杆子斜到人家房顶上了 风一吹就蹭瓦")
    assert (c.intent, c.review) == ("hazard", False), c
    assert "统计模型" in c.reason and c.evidence, c


def test_a_sure_model_alone_without_any_rule_signal_does_not_file(clf: Classifier) -> None:
    c = clf.classify("今天吃火锅去不去")
    assert c.intent == "chatter", c


@pytest.mark.parametrize(
    "text",
    [
        "施工吊篮的钢丝绳断了一根 师傅挂在外面",  # hanging outside
        "挖沟的时候土方塌了 一个民工埋到腰了",  # buried up to the waist
        "他去扶倒下的电杆 当场被打倒在地",  # struck down on the spot
        "二楼的雨棚砸下来了 下面是摆摊的",  # fell with people below
        "一氧化碳报警了 工头让我们继续干",  # told to go on, whoever is named
        "有个娃在塘里沉下去了 半天没上来",  # went under
        "硫化氢冒出来了 工人们都在咳",  # people all coughing now
    ],
)
def test_round2_more_emergency_forms_are_filed_major(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.severity) == ("hazard", "major"), c
    assert c.urgent, c


@pytest.mark.parametrize(
    "text",
    ["楼上掉下来了一件衣服 下面是我家的", "孩子们都在吐槽作业多", "疫情那会儿大家都被困在家里"],
)
def test_things_falling_on_nobody_and_idioms_are_not_emergencies(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert c.intent == "chatter" and not c.urgent, c


# ---- round 14: rural emergencies in many forms, categories by cause, chatter sharing their words ----


@pytest.mark.parametrize(
    "text",
    [
        "河里的小木船翻了 上面坐着三个人",  # a boat capsized
        "放牛的老汉让雷劈了 躺在地里",  # struck by lightning
        "那头公牛把喂料的老汉顶倒了",  # an animal attacking someone
        "井里掉下去个娃",  # fell in, the place said first
        "后山的泥把老刘家的窑埋了",  # a slide on a house
        "商场的扶梯突然倒着走",  # an escalator running backwards
        "屋里生着煤炉子 我爹头晕得站不住",  # coal-stove fumes, kin named as 我爹
        "鞭炮铺子里噼里啪啦直响 门口冒着烟",  # fireworks going off
        "面包车跟大货车撞上了",  # a collision
        "招火了 快来人",  # voice input's homophone of 着火
        "食堂的燃气报警器一直在叫 大师傅说没事 还在做饭",  # an all-clear while work goes on
        "沟里那户的房子叫泥埋了 喊不出人来",  # a house buried (passive), nobody answering
        "宾馆三楼窗户往外窜火",  # fire coming out of a window
        "脚手架垮了 上头的人摔下来好几个",  # several people fell
    ],
)
def test_round3_emergency_forms_are_urgent_and_major(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.severity, c.urgent) == ("hazard", "major", True), c


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("宿舍里烧着炭盆 早上有个工人叫不醒", "gas"),  # a brazier and someone unwakeable: carbon monoxide
        ("电动车在结冰的坡上滑倒了好几辆", "traffic"),  # a two-wheeler slipping on ice is traffic
        ("吊桥的钢丝绳断了一根", "traffic"),  # a footbridge's cables are no lifting gear
        ("后山的泥把老刘家的窑埋了", "geological"),  # the slide, not the house, is the cause
    ],
)
def test_round3_category_follows_the_cause(clf: Classifier, text: str, category: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.category) == ("hazard", category), c


def test_a_wire_on_a_wire_net_is_no_online_news(clf: Classifier) -> None:
    # 网上 inside 铁丝网上 is on the net, not "online": the forwarded-news frame must not silence it
    c = clf.classify("电线断了搭在铁丝网上")
    assert (c.intent, c.category) == ("hazard", "electric"), c


def test_water_flowing_into_a_field_is_no_dumping(clf: Classifier) -> None:
    c = clf.classify("渠上的闸门坏了 水一直往下游的地里灌")
    assert (c.intent, c.category) == ("hazard", "water"), c


@pytest.mark.parametrize(
    "text",
    [
        "去年那次发洪水冲走了好几头牛 至今想起来还怕",  # a memory
        "村里那座危桥拆了 新桥下个月通车",  # a dangerous bridge torn down is handled
        "我家老房子今天拆了 准备盖新的",  # rebuilding
        "你的意中人是位盖世英雄 总有一天他会脚踩着两只船来接你",  # an idiom with boats
        "莫慌 那个冒烟的是李三在烧秸秆 他守起的",  # the smoke explained, someone minding it
        "那个垮了的堡坎 村上已经喊人来砌好了",  # rebuilt (south-western wording)
        "晚上风大 阳台的花盆收一下 别刮下来砸着人",  # advice, not a crushing
    ],
)
def test_round3_chatter_sharing_hazard_words_stays_chatter(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.urgent) == ("chatter", False), c


@pytest.mark.parametrize(
    "text",
    [
        "变压器那冒火了 电线耷拉到地上 大家都别过来",  # telling people to stay away
        "食堂房梁咔咔响 灰一直往下掉 快把学生带出去",  # getting people out
        "大坝漫顶了 水往下冲 快通知下面撤人",  # "quick, tell them": no notice
        "井边的土塌了 小刘掉进去了 快拿绳子",  # a person called by name
        "刘大爷在地窖里晕倒了 喊不应",  # a person by kinship title
        "灶上的水烧干了 火灭了气还开着 老汉睡着了叫不起来",  # the fire is out, the gas still on
        "食堂的吊顶在往下掉 学生还在里头吃饭",  # danger under way, people there now
        "村委会的房梁咔咔响 正开会 三十多个人在里头",  # a meeting under way is no notice
        "我叔下沼气池掏渣 下去就倒了",  # a confined space
        "楼道里电瓶车炸了 烟太大下不去",  # 炸了 is literal here
        "野猪冲进学校了 顶伤一个娃",  # an animal attacking now
        "脚手架塌了一半 两个工人在半空吊着",  # people hanging in mid-air
        "王家柴房冒烟了 快提水",  # a call to bring water
        "刘家屯的草垛着了 风还大",  # a stack caught fire
        "娃娃不见了 就在水库边上玩的",  # a child missing by the water
        "拉煤的大车侧翻了 司机卡在车里",  # a vehicle overturned, the driver stuck
        "那边房子塌了快来",  # a bare collapse and a call
        "大棚让雪压塌了 放羊的还在里头",  # a collapse with someone inside
        "加工厂粮库 着了",  # a place that caught fire, said shortly
        "配电室一直冒蓝光 几个小孩在旁边玩",  # arcing with children beside it
        "过河的人让水冲走一个 快叫人",  # people swept away, counted
        "电动车撞人了 流好多血",  # blood
        "我妈在浴室洗澡半天没出声 热水器是烧气的",  # gone quiet
        "塘边水泵漏电 喂鱼的老汉倒在水里了",  # fallen into the water
        "三轮车卡在铁路道口上了 火车快来了",  # stuck on the railway
        "老楼墙皮一块块掉 一楼还有人 赶紧把人喊出来",  # get the people out
    ],
)
def test_emergencies_in_the_forms_of_blind_written_corpora_are_urgent(clf: Classifier, text: str) -> None:
    # rounds 4-7: calls to act, danger under way with people there, short cries and consequences
    c = clf.classify(text)
    assert (c.intent, c.severity, c.urgent) == ("hazard", "major", True), c


@pytest.mark.parametrize(
    "text",
    [
        "做了个梦 梦见村里着火了 吓死我了",  # a dream
        "算了一下午的账 脑袋都快着火了",  # a head on fire
        "今天闷得跟着了火一样 喝口冰水",  # weather as a simile
        "前天落水的那个娃抢救过来了 谢天谢地",  # rescued: the danger is over
        "上个月的大水早就退完了 地里又能种了",  # the flood is over
        "厨房的油锅起火了 拿锅盖一盖就灭了 虚惊",  # put out at once
        "被困的五个矿工全部获救了 谢天谢地",  # the rescue is over
        "今天下午消防演习 大家听到警报别慌",  # a drill
        "矿上招井下工人 包吃住 有意者私聊",  # a job advert
        "家里液化气罐没气了 谁有换气的电话",  # asking for the gas man
        "着火了吗？没有 是隔壁在熏腊肉",  # explained away
        "晚霞红得像着了火一样 好看",  # a simile
        "快来看 我家的花开了",  # 快来看 is no call for help
        "昨晚看的那个电影 大楼塌了那段真吓人",  # a film
        "元宵节放烟花噼里啪啦的 真热闹",  # fireworks set off on purpose
        "手机掉水里了 晚上别打我电话",  # a phone is no person
        "车熄火了 在路边等拖车",  # an engine that stalled
    ],
)
def test_lookalikes_from_blind_written_corpora_stay_chatter(clf: Classifier, text: str) -> None:
    # rounds 4-7: figures of speech, dreams, danger that is over, drills, adverts, films and other lookalikes
    c = clf.classify(text)
    assert (c.intent, c.urgent) == ("chatter", False), c


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("拉学生的面包车司机一路上都在刷手机", "hazard"),  # a driver on the phone
        ("开车的时候我手机没电了 导航用不了", "chatter"),  # a phone while driving, no hazard
        ("司机师傅手机号多少", "chatter"),
    ],
)
def test_a_driver_on_the_phone_is_a_traffic_hazard(clf: Classifier, text: str, intent: str) -> None:
    c = clf.classify(text)
    assert c.intent == intent, c
    if intent == "hazard":
        assert c.category == "traffic"


@pytest.mark.parametrize(
    "text",
    [
        "村口那根电线杆在晃 风还挺大",  # nobody there
        "戏楼檐子上的瓦一刮风就往下掉 底下天天有人晒太阳",  # it keeps happening: file it, no emergency
    ],
)
def test_danger_recurring_or_with_nobody_there_is_a_hazard_not_an_emergency(
    clf: Classifier, text: str
) -> None:
    c = clf.classify(text)
    assert (c.intent, c.urgent) == ("hazard", False), c


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("洗衣机一碰就麻手 是不是漏电了", "hazard"),  # a worried question about one's own hazard is a report
        ("后山那个老窑口又在冒烟 不是早封了吗", "hazard"),  # a rhetorical question, no resolution
        ("车间里一股怪味 好几个人头疼 厂长说正常", "hazard"),  # a boss brushing it off is no all-clear
        ("上坟的人烧完纸 火还没熄就走了", "hazard"),  # a fire left burning
        ("礼堂顶上掉了几块瓦 周末还在里面放电影", "hazard"),  # 放电影 is a film show, no figure of speech
        ("我表哥打电话回来说东莞那边一个厂着火了 不是他们厂", "chatter"),  # news from far away
        ("俗话说小孩玩火夜里尿炕", "chatter"),  # a folk saying
    ],
)
def test_round5_village_questions_brush_offs_and_far_news(clf: Classifier, text: str, intent: str) -> None:
    c = clf.classify(text)
    assert c.intent == intent, c


def test_no_warning_sign_is_a_missing_sign_not_an_unlicensed_vehicle(clf: Classifier) -> None:
    # 没牌子 is a missing warning sign (a hazard), not 没牌照 (conduct for a tip)
    c = clf.classify("村后挖的水坑边上没栏杆也没牌子 娃娃放学老去")
    assert (c.intent, c.category) == ("hazard", "water"), c


@pytest.mark.parametrize(
    "text",
    [
        "村口的电线垂得太低 拉草的车过去差一点就挂上了",  # a near miss with 挂
        "猪圈的烤灯挂在草堆上 草都烤黄了",  # scorched straw
    ],
)
def test_round6_near_misses_and_scorch_marks_are_hazards_to_the_rules_alone(text: str) -> None:
    # the rules alone, so the model's second opinion cannot hide a missing rule
    assert _rules_only().classify(text).intent == "hazard"


@functools.cache
def _rules_only() -> Classifier:
    return Classifier.load(use_model=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("表哥骑摩托一次带四个小孩去赶集", ("hazard", "traffic")),  # an overloaded two-wheeler
        ("外地的车在村口那个急弯翻了好几回 也没个警示牌", ("hazard", "traffic")),  # 外地 is no far news
        (
            "出租屋的燃气热水器装在浴室里 洗澡就头晕 房东说用了五年都没事",
            ("hazard", "gas"),
        ),  # a landlord's all-clear
        ("镇上那辆罐车翻在沟里了 一股刺鼻的酸味", ("hazard", "chemical")),  # a tanker leaking is chemical
        ("屋顶漏水那事 师傅来做了防水 昨晚下大雨一滴都没漏", ("chatter", None)),  # a repair that held
        ("酒席散了以后好几桌人上吐下泻 已经送卫生院了", ("hazard", "other")),  # food poisoning
    ],
)
def test_round9_village_forms(clf: Classifier, text: str, expected: tuple[str, str | None]) -> None:
    c = clf.classify(text)
    assert (c.intent, c.category) == expected, c


def test_round9_a_heap_higher_than_a_man_is_literal_and_hundreds_are_a_crowd(clf: Classifier) -> None:
    heap = clf.classify("废品站的泡沫纸皮堆得比人还高 紧挨着灶间 灶口直冒火星")
    assert heap.intent == "hazard", heap
    crowd = clf.classify("车间的安全出口用铁链锁着 里面一百多个人在加班")
    assert (crowd.intent, crowd.severity) == ("hazard", "major"), crowd


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("邻居家煤改气的阀门一直滋滋响 抹上肥皂水直冒泡", ("hazard", "major")),  # a gas leak by its signs
        ("独居的刘奶奶屋里煤炉烟筒接口松了 一进门就熏眼睛 老人说没事没事", ("hazard", None)),  # a brush-off
        ("辣椒烘房的炉子烧得通红 紧挨着泡沫彩钢板", ("hazard", None)),  # 辣椒 is no figure of speech
        ("地震把楼梯震裂了 楼上还有好几个走不动的老年人没下来", ("hazard", "major")),  # old people upstairs
    ],
)
def test_round10_village_forms(clf: Classifier, text: str, expected: tuple[str, str | None]) -> None:
    c = clf.classify(text)
    assert c.intent == expected[0], c
    if expected[1] is not None:
        assert c.severity == expected[1], c


def test_an_emergency_is_never_a_civic_complaint(clf: Classifier) -> None:
    # 外卖 is a civic word; a crash with people lying in the road is still an emergency
    c = clf.classify("送外卖路过桥头 摩托车撞树了 两个人躺着不敢动")
    assert (c.intent, c.severity, c.urgent) == ("hazard", "major", True), c


def test_people_there_now_alone_does_not_make_a_hazard_major(clf: Classifier) -> None:
    # "还在…玩" only makes danger under way an emergency: to the rules alone, a crack nobody says is
    # growing stays a general hazard however many children play by it
    c = _rules_only().classify("围墙上有道裂缝 娃娃们还在墙边玩")
    assert (c.intent, c.urgent) == ("hazard", False), c


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("山脚那口泉今天出的是黄泥巴水 以前都是清的 还有咕咚咕咚的响声", "hazard"),  # a debris-flow sign
        ("茶厂锅炉的压力表碎了看不清 烧锅炉的说照烧不碍事", "hazard"),  # "carry on, it's fine"
        ("超市那台电梯上个月卡了两回 现在照样在用", "hazard"),  # 卡了 is no game lag
        ("看电视里那个房子一下就垮了 好吓人", "chatter"),  # television
        ("屋后那个坡请人砌了挡土墙 这下落雨睡得着了", "chatter"),  # a repair: the model must not file it
        ("我家做饭跟火灾现场一样 烟雾报警器天天叫", "chatter"),  # a comparison
        ("刚才冒烟的是楼下烧烤店的炉子 人家正常营业 不是失火", "chatter"),  # explained
    ],
)
def test_round11_village_forms(clf: Classifier, text: str, intent: str) -> None:
    # the intent is what a user sees: filed or not (the model may still send chatter to review)
    c = clf.classify(text)
    assert c.intent == intent, c


@pytest.mark.parametrize(
    "text",
    [
        "水库边禁止游泳的牌子让风刮倒了 埋雪里了",  # a sign's wording is no notice
        "后沟的水突然变小了 还带着泥浆 老辈人说这是要下泥石流",  # folk wisdom is no old story
        "隔壁拿磷化铝熏粮仓 粮仓跟住人的屋就隔一道木板墙",  # phosphine beside a bedroom
        "学校后墙根有个马蜂窝 比篮球还大",  # a literal size
    ],
)
def test_round12_village_forms_are_hazards(text: str) -> None:
    # the rules alone, so the model's second opinion cannot hide a missing rule
    assert _rules_only().classify(text).intent == "hazard"


@pytest.mark.parametrize(
    ("text", "by_rules", "major", "severity"),
    [
        # upgrades: only when the model is sure and people or time are named
        ("村口那根电线杆歪了 娃娃们天天从底下过", "general", 0.9, "major"),
        ("村口那根电线杆歪了 娃娃们天天从底下过", "general", 0.6, "general"),  # the model unsure
        ("村口那根电线杆歪了", "general", 0.99, "general"),  # nobody and no time named
        # downgrades: only when the model is nearly sure and nothing makes the hazard major by itself
        ("敬老院的消防通道堆满了纸箱子", "major", 0.05, "general"),
        ("敬老院的消防通道堆满了纸箱子", "major", 0.3, "major"),  # the model unsure
        ("着火了 快来人", "major", 0.01, "major"),  # an emergency stays major whatever the model says
        ("学校锅炉房的安全阀锈死了", "major", 0.01, "major"),  # a thing whose failure is always major
    ],
)
def test_the_model_regrades_the_rules_severity_only_when_sure_and_allowed(
    clf: Classifier, text: str, by_rules: str, major: float, severity: str
) -> None:
    assert _rules_only().classify(text).severity == by_rules  # what the rules alone grade it
    c = _classify_with(clf, _FixedModel(0.1, major=major), text)
    assert (c.intent, c.severity) == ("hazard", severity), c


@pytest.mark.parametrize(
    "text",
    [
        "楼道里一股味 像是煤气 谁家有人在家先关一下阀",  # a call to shut the valve, not a question
        "山上那些老炭窑口子都没堵 放羊的掉下去咋整",  # worry, not a question
        "学校后墙裂了好长一道缝 娃娃天天在底下玩 这个要不要紧",  # asking whether it is serious reports it
        "锅炉的压力表坏了 烧锅炉的说他看烟就知道压力多少",  # knowing how much asks nothing
        "工地宿舍的插座烧黑了 宿管说没事",  # the dorm manager's all-clear is none
    ],
)
def test_calls_and_worries_phrased_as_questions_are_reports(text: str) -> None:
    assert _rules_only().classify(text).intent == "hazard"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("驿站门口那箱充电宝在冒白烟 几个小孩在门口等拿快递", "hazard"),  # 快递 is a setting, not a complaint
        ("快递站门口的充电桩插座烧黑了一个孔 还有人插着在充", "hazard"),  # a strong state is no civic matter
        ("饭店后厨拿喷枪对着液化气罐烤", "hazard"),  # heating a gas bottle
        ("村口大黑狗不拴链 见到送外卖的就追", "hazard"),  # a dog off its chain
        ("锅炉房压力表玻璃碎了 看不清多少压力", "hazard"),  # "can't see how much" is no question
        ("市民来电反映：小区附近河道河水发黑发臭，希望环保部门治理。", "chatter"),  # still a civic complaint
        ("阿拉屋里电视机坏脱了 啥人晓得修电视个电话伐", "chatter"),  # Wu: who knows a TV repairman
    ],
)
def test_round13_village_forms(text: str, intent: str) -> None:
    assert _rules_only().classify(text).intent == intent


@pytest.mark.parametrize(
    "text",
    [
        "校车师傅一边开一边刷抖音 还在弯道超车",  # scrolling while driving is no forwarded video
        "鞭炮厂那边又在晒药 旁边的人还在抽烟",  # 那边又 is no far news
        "送气的给我换的罐罐 阀门拧不紧 一直在漏味",  # the gas man is no request for service
        "那条黑狗又咬人了 这个月第三个",  # a dog biting people is no pet chewing things
        "那个坎子上又有人摔了 晚上黑黢黢的 路灯坏了大半个月",  # injuries make a lamp a safety matter
        "老窑口那里一直在冒黄水 比去年大多了",  # water breaking out of an old pit
    ],
)
def test_round14_indirect_village_reports_are_hazards(text: str) -> None:
    assert _rules_only().classify(text).intent == "hazard"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("网格巡查 3组李某家院墙裂缝约2米 墙头往外闪 墙外是上学路 已提醒", "hazard"),  # a patrol note
        ("广场舞台上头的铁皮棚一刮风就一颤一颤的 掉了两颗螺丝 跳舞的都在底下", "hazard"),  # 广场舞台
        ("我们在井下 工作面顶板一直淋水 越来越大 赶紧帮忙通知调度", "hazard"),  # a call, not a notice
        ("校车刹车片早该换了 老板不让修", "hazard"),  # "should have been replaced" is no repair
        ("村口急弯一个牌子没有 上个月有辆拉砖的车在那翻过一回", "hazard"),  # history after a present report
        ("新装的燃气灶师傅试过了 接头都拿肥皂水检查了", "chatter"),  # tested
        ("台风走了 太阳好大 赶紧把谷子拉出去晒晒", "chatter"),  # grain is no person to get out
        ("一不留神锅烧干了 一屋子糊味 饭也没吃成", "chatter"),  # burnt food
        ("那段塌方的路修通了没 我明天要拉西瓜进城", "chatter"),  # a question about a repair
        ("孩子说卷子上有一道题问遇到火灾咋办 她答对了", "chatter"),  # an exam question
    ],
)
def test_round15_village_forms(text: str, intent: str) -> None:
    c = _rules_only().classify(text)
    assert c.intent == intent and not (intent == "chatter" and c.urgent), c


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("回访情况：上周反映的电杆倾斜问题，供电所已于昨日更换新杆，来电人对处理结果表示满意。", "chatter"),
        ("瓦斯监控系统运行正常，各测点数据未超限", "chatter"),  # an inspection that found nothing
        ("本次共检查生产经营单位12家，发现一般隐患21处，无重大隐患", "chatter"),  # a summary
        ("楼下饭店的油烟直接往我家窗户上排，一到饭点满屋子油烟味", "chatter"),  # cooking fumes: civic
        ("我孙子玩那个游戏 喊了一下午快来人要塌了", "chatter"),  # a game
        ("杨家坡村泥石流沟口住有3户，汛期监测预警责任人未落实", "hazard"),  # 监测预警 is no notice
        ("一楼商铺装修时拆掉了承重墙，楼上多户客厅地面开裂", "hazard"),  # no repair: a load-bearing wall gone
        (
            "观光电梯频繁异响，轿厢抖动明显，检验合格标志已过期",
            "hazard",
        ),  # an expired certificate is no repair
        ("餐馆后厨液化气钢瓶塞在灶台底下，胶管老化开裂，希望上门检查", "hazard"),  # an inspection visit
    ],
)
def test_round16_citizen_and_inspector_registers(clf: Classifier, text: str, intent: str) -> None:
    c = clf.classify(text)
    assert c.intent == intent, c
    assert not c.urgent or intent == "hazard", c


@pytest.mark.parametrize(
    "text",
    [
        "渔港风太大 码头那条船缆绳断了在漂 船上老陈两口子还没上岸",  # adrift, people still aboard
        "宿舍插线板烧化了冒黑烟 娃娃们还在睡",  # smoke, children asleep
        "锅炉压力表指针顶到头了 安全阀冻住了不跳 烧锅炉的说没事",  # the boiler man's all-clear
        "集上那个大棚顶子被雪压塌了 卖菜的好几个埋下面了",  # people buried
        "刚下完雨有人上房顶捡瓦 现在一只手挂在房檐上 下面没人接",  # hanging from the eaves
        "电动车在楼道充电自燃 楼梯全是黑烟 楼上的下不来",  # an e-bike fire is no coal seam
    ],
)
def test_round17_weather_emergencies_are_major(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.severity) == ("hazard", "major"), c
    if "自燃" in text:
        assert c.category == "fire", c


def test_round17_a_bridge_built_with_thinner_steel_is_a_tip() -> None:
    c = _rules_only().classify("乡里修的那座桥包工头把钢筋换成细的了 我在那干过活亲眼看到的", "private")
    assert c.intent == "tip", c


class _FixedCategoryModel(_FixedModel):
    """A stand-in model sure of one category."""

    def __init__(self, category: str, probability: float) -> None:
        super().__init__(0.1)
        self._category = (category, probability)

    def category(self, text: str) -> tuple[str, float]:
        return self._category


@pytest.mark.parametrize(
    ("model_says", "expected"),
    [
        (("mining", 0.9), "mining"),  # sure, and the rules saw a mine too: the model names it
        (("mining", 0.6), "building"),  # unsure: the rules' choice
        (("chemical", 0.95), "building"),  # a category the rules saw no evidence of: never
    ],
)
def test_the_model_names_the_category_only_among_the_rules_candidates_when_the_rules_are_unclear(
    clf: Classifier, model_says: tuple[str, float], expected: str
) -> None:
    text = "煤矿边的房子墙裂了"  # the rules see a mine and a house, neither clearly ahead
    assert _rules_only().classify(text).category == "building"
    c = _classify_with(clf, _FixedCategoryModel(*model_says), text)
    assert (c.intent, c.category) == ("hazard", expected), c


def test_a_clear_rules_category_is_never_the_models_to_change(clf: Classifier) -> None:
    # only 电线杆 votes: nothing else to choose from
    c = _classify_with(clf, _FixedCategoryModel("water", 0.99), "那根电线杆歪了")
    assert c.category == "electric", c


# ---- blind rounds: emergencies said as the people there say them are urgent and major ----
# (new sentences in the forms each round found, not copies of corpus lines)
ROUND_EMERGENCIES_URGENT = [
    # an earlier session's round 12
    "落石把一辆车砸了 司机还在车里头",  # 把-construction: what was crushed comes first
    "乡上那个水电站的闸门打开了 下游河滩上还有人在放牛",  # water released onto people downstream
    "游乐场的摩天轮停在半空了 上面有人 已经一个钟头了",  # people stuck in mid-air
    "变压器爆了 一声响 现在在燃",  # an exploded transformer still burning
    "刚刚对面楼里有人从五楼坠下来了",  # a fall from a height
    "山洪把桥冲断了 对岸有二十几个学生过不来",  # people cut off by a flood
    "江边钓鱼的那个人滑到江里去了",  # fell into a river
    # round 9
    "我爸去后山放羊到现在没回来 山上下着暴雪",  # someone missing in a blizzard
    "白毛风起来了 二舅在草场上 电话一直打不通了",  # out of reach in the storm
    "娃娃从学校出来就没回家 全村人打着手电在找",  # a search party
    "暴风雪里班车陷在半路上 车上十几个人 暖气已经停了",  # stranded; heating that stopped is no repair
    "水库冰面裂开了 有个钓鱼的掉下去了",  # through the ice
    "西坡的草着了 火往这边烧 羊圈就在下面",  # grassland on fire
    "山上火过了河了 帐篷里还有老人",  # a fire crossing the river
    "化工园那边正往村里飘黄烟 娃娃们还在操场上",  # fumes drifting in, children outside now
    "房子着火了 女人和娃往哪里撤",  # where to evacuate is a call, not a question
    # round 10
    "车间的卷板机把小李的胳膊卷进去了 机器还在转",  # caught in a machine
    "粮仓里的玉米塌下来把他埋住了 只露个头",  # someone buried
    "河堤脚下在冒浑水 一股一股往外翻沙",  # piping at the embankment
    "锅炉房那边管子漏气 看门的已经晕倒一个了",  # someone already down
    "宿舍楼下的电瓶在冒烟 楼梯口全是烟 我们出不去",  # trapped by smoke
    "厂房里嘭的一声 到处是粉尘 火星子在飘",  # a bang, dust and sparks
    "我娘在地里放牛 山洪下来了 哪个帮我喊她一声",  # "call her for me" is no question
    "压面机把手压进去了 没人知道开关在哪",  # "nobody knows where" is no question
    # round 11
    "幼儿园午睡室的插座冒烟了 娃娃们都还在床上睡着",  # smoke now, children asleep there now
    "桥面塌下去一块 后面的车还在往桥上开",  # a collapse, and traffic still driving onto it
    "基坑边的土往下滑了 挖机还在坑底挖",  # a slipping pit wall, a digger still at the bottom
    "缆车停在半路一直晃 我们吊在半空中下不去",  # swaying, people hanging in mid-air
    "18楼外墙保温层在烧 火往上窜",  # a facade burning now
    # round 13
    "庙会放的烟花那几箱一起炸了 火星子往人堆里窜",  # fireworks exploding are literal
    "浇地的水泵漏电 老刘扶着管子倒在渠里了 没人敢上去拉",  # someone down in the water, nobody dares
    "表弟在水库边滑下去了 抓着树枝 我拉不上来",  # I cannot pull him up
    "电线刮断落在羊圈上 羊已经电死两只了 我爹还要进去赶羊",  # livestock killed, a person going in
    # round 22
    "有没有人会游泳 河里有个娃",  # asking who can swim is a call for help, not a question
    "卸货的叉车把人挤墙上了",  # a person pinned
    "老刘倒在配电箱旁边了 手都黑了 120咋打 地址咋说",  # calling an ambulance now
    "大坝上有人在喊 闸门那边冲走一个钓鱼的",  # someone swept away
    "煤车刹车坏了 停不住 司机在喊让人躲开",  # a vehicle that cannot stop
    "索道停了 我们挂在半空中 风好大 有人在哭",  # stuck in mid-air
    "条桥好似喺度郁 啲车仲喺度过 点算",  # Cantonese: the bridge is moving and cars are still crossing
]


@pytest.mark.parametrize("text", ROUND_EMERGENCIES_URGENT)
def test_emergencies_of_the_blind_rounds_are_urgent_and_major(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.severity, c.urgent) == ("hazard", "major", True), c


# ---- blind rounds 9-17: emergencies told indirectly are filed as major ----
ROUND_EMERGENCIES_MAJOR = [
    # round 18
    "商场那部电梯困人了 里头有个大肚子的",  # people trapped in a lift
    "游乐场的摩天轮卡在半空了 上面好几个娃",  # a ride stuck in mid-air with people on it
    "路边那根电线断了掉在地上 放学的娃娃天天从那过",  # a fallen wire where children pass
    "田埂边上刚电倒一头牛 线还泡在水里",  # an animal struck by current
    "水库开闸放水了 下游河滩上还有人在钓鱼 没人通知他们",  # nobody warned them: no notice
    "那段盘山路的路基垮了半边 车照样过",  # traffic still passing a collapsing road
    "仓库着火了 原来是电线短路引起的 火越烧越大",  # a cause named is no all-clear
    # round 21
    "电梯停在五楼和六楼中间了 里面有个老人",  # stuck between floors
    "缆车卡在半山腰不动了",  # stuck in mid-air on a mountain
    "放羊的老汉倒在沟里 喊他也不应",  # a person down somewhere
    "村口那根线在地上直冒火花",  # a fallen wire sparking
    "刚才娃在河边玩 一转眼不见了",  # a child gone by the water
    "上游水库要泄洪 沿河住的马上撤",  # an evacuation call
    "jiu ming 车翻沟里了",  # a call for help in pinyin
    "冷库氨气漏了 大家往上风跑",  # an ammonia leak
    "这味道正常吗 屋里一股臭鸡蛋味 老人还在床上躺着",  # a gas smell with people inside, asked as a question
    "我们组的井水今天一股汽油味 好几家已经拿来做饭了",  # tainted drinking water
    "有没有长梯子 我二叔掉到后山那口枯井里了 还能应声",  # a relative fell into a well; asking for a ladder
    "采石场那边有个哑炮没炸 几个人要过去看",  # a misfired charge with people walking up to it
    "【网格员上报】东沟组一户土坯房山墙夜里局部倒塌，剩下的墙还在掉土，请镇里派人来看。",  # a grid member's report
    # round 12
    "管沟挖了三米深没撑子 土一块块往下掉 底下俩人在接管子",  # people under it at this moment
    "外架一整片在晃 还有两个人在十层够不着",  # people still up there
    "媳妇在地窖里掏菜 喊她不应了",  # no answer from a confined space
    "顶板落了！",  # a roof fall, said in three words
    "景区那根电线一直冒火花 一群游客还在底下拍照",  # sparks, tourists there now
    "花炮厂晒药场上有人蹲着抽烟",  # smoking on a fireworks drying yard
    # round 14
    "我是卫生室的 一家三口煤气中毒 男的已经没意识了 谁家有车先开过来",  # asking for a car in an emergency
    "有冇人喺鱼塘附近 阿强个仔跌咗落水 佢唔识游水",  # Cantonese: fell in, cannot swim
    "下这么大雨 上山采药的小刘一天没回来了 电话打不通",  # missing in a flash-flood storm
    "学校门口一群野狗围着个娃娃咬 快拿棍子来",  # dogs attacking a child
    "我遭压到了 房子垮了 腿动不得",  # 动不得 is no prohibition
    "桥垮了",  # two words
    # round 15
    "我是卫生院的 正往梁家庄赶 烧伤了两个 火还没灭住 先把人抬到上风口",  # a doctor on the way
    "工头非叫我们下雨天接着在配电箱那干 箱子里都进水了 小李手一碰麻得直跳",  # made to carry on
    "学校围墙边的电线杆倒了 线垂在操场边 课间娃娃都在那跑 我正往教室里赶 电工来了没有",  # "has the electrician come?"
    "我老舅刚打电话 说他们那边山体滑坡 路断了 前头有车被埋",  # a relayed call is no far news
    "老婆刚视频 说加油站卸油的时候油管崩了 地上全是汽油",  # a video call; a burst pipe is literal
    "锅炉压力表针都打到红线外头了 安全阀也不起跳 我要不要跑",  # past the red line
    "采石场上面那块崖裂开一道大口子 碎石一直往下掉 老板还让我们在底下装车 说没事",  # the boss's all-clear
    # round 16
    "在吗 在吗 锅炉房压力表指针打到头了 烧锅炉的人不知道跑哪去了",  # greetings are no question
    "更正一下 不是西头的仓库 是东头那个冷库 氨味冲得很 门口几个卸货的都在咳",  # ammonia, people coughing
    "村委会那个彩钢棚顶上雪太厚了 在往下弯 里头正开会 坐了三十来号人",  # bending, a crowd inside
    "后头山开裂了 昨晚听见山里头闷闷的响 寨子里人还没走",  # a landslide coming
    "都是在食堂吃的饭 现在一排人躺在卫生院走廊上吐",  # food poisoning
    "先别跟我妈讲 我在山上挖药迷路了 天黑了又下雨",  # lost in the mountains
    "变压器一直冒火星子 底下一群娃在那弹玻璃球",  # sparks, children there now
]


@pytest.mark.parametrize("text", ROUND_EMERGENCIES_MAJOR)
def test_emergencies_of_the_blind_rounds_are_filed_as_major(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.severity) == ("hazard", "major"), c


# ---- blind rounds 9-17: lookalikes stay chatter and are no emergency ----
ROUND_LOOKALIKES = [
    # round 18
    "去年那回电梯困人 物业半小时就来了",  # a past lift entrapment, told as history
    "通知：明天上午九点到十二点停电检修",  # a notice stays a notice
    "着火了着火了 锅里的排骨炒糊了😂",  # burnt food, told laughing
    "有人掉水里了 哈哈 水才到膝盖 已经自己爬上来了",  # out already
    "这家的麻辣烫太猛了 嗓子冒烟 嘴里着火",  # chillies, not a fire
    "上回那个塌方早就处理完了 大家不用再问了",  # dealt with long ago
    "楼下说着火了 结果是谁家在烤腊肉 虚惊一场",  # it turned out to be cooking
    "村口那次塌方是前年的事了 别再转发了",  # an old event passed around again
    # round 9
    "我爸到现在还没回来 估计又在老王家喝酒",  # late home, no danger
    "万一山洪下来往哪边跑 有人知道吗",  # a hypothetical question stays a question
    "空调坏了 暖风已经停了 谁会修",  # a broken heater and a request for service
    "今年的雪真大 山上全白了",  # snow alone
    # round 10
    "这周加班压得我要塌方了哈哈",  # work pressure as a figure of speech
    "昨晚看了《唐山大地震》 房子塌下来那段真吓人",  # a film named in book-title marks
    "咱家那孔塌了的老窑前年就推平了 现在是停车场",  # long since levelled
    "小狗把水桶踢翻了 一地水",  # a pail knocked over
    "今天炒了一锅辣椒 呛得直咳嗽",  # chillies are no figure of speech, and no hazard
    # round 12
    "这个月工资再不发我就要爆炸了",  # I am going to explode
    "上周掉河里那个娃救上来了 在医院住了两天 已经回家了",  # rescued and home
    "刚才冒烟那个是老张家在熏腊肉 不是着火 别打119了",  # explained, do not call
    "有人要苞米秸秆不 我家堆了一院子 白给 自己来拉",  # giving straw away
    # round 14
    "刚看那个矿难电影 透水那段看得我心都揪起来了",  # a film
    "这天儿冷得嘎嘎的 跟掉冰窟窿里似的",  # a comparison
    "上礼拜矿上冒顶那个事 调查组今天来了",  # the incident, over
    "今年庙会烟花放得太炸了 比过年还热闹",  # slang
    "昨天那个冒烟的是砖厂开窑点火 年年都这样 正常的",  # explained
    "那个塌方的地方早就清干净了 我昨天骑摩托过去 好得很",  # cleared
    "楼顶漏水 请师傅来做了防水 花了三千多",  # repaired
    "老房子要拆了重修 哪个认得靠得住的包工头",  # a plan and a request
    "讲个笑话 我婆娘说我是屋头最大的安全隐患",  # a joke
    # round 15
    "孩子考试又不及格 我这火气蹭蹭往上窜",  # temper
    "那个煤气味是楼下在熬中药 不是漏气 物业拿仪器测过了 数值正常",  # explained and measured
    "睇到条片 云南嗰边山洪冲走咗架车",  # Cantonese: a video from far away
    "游戏又崩了 气死我了",  # a game crashing
    # round 17
    "冻成狗了 被窝出不来",  # a joke about the cold
    "我家大黄狗走丢了 左耳朵缺一块 哪个看到了跟我讲一声",  # a lost dog
    # round 22
    "98年那回发大水，水淹到二楼窗户",  # a year of the last century: a story of the past
    "爷爷说早些年这沟里发过泥石流",  # long ago
    "股票又崩了，全线塌方",  # shares, not a landslide
    "过年放鞭炮注意点，莫往柴堆上丢",  # advice
]


@pytest.mark.parametrize("text", ROUND_LOOKALIKES)
def test_lookalikes_of_the_blind_rounds_stay_chatter(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.urgent) == ("chatter", False), c


# ---- round 23: a big fire, a child missing by the water, a live wire down, equipment burning, a ride stuck ----
@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("火！火！羊圈！", "fire"),  # a cry of fire
        ("我家 厨房 火 很大 老公不在 怎么办 帮帮我", "fire"),  # a big fire in simple, spaced words
        ("妈妈学校后面冒黑烟 好多好多黑烟", "fire"),  # thick smoke now
        ("我姐刚打电话说她们村后坡烧荒烧进林子里去了，火压不住", "fire"),  # a fire out of control
        ("俺家娃跟同学去河边洗澡到现在没回 电话打不通", "water"),  # a child missing by the water
        ("水渠里漂着个娃娃的鞋 娃找不着了", "water"),
        ("高压线断了一根 搭在院墙上 嗞嗞响", "electric"),  # a fallen wire, live
        ("小区配电箱冒烟了 噼啪响 有焦味", "electric"),  # electrical equipment burning now
        ("索道停了 缆车吊在半空 风好大", "special_equipment"),  # people stuck in mid-air
        ("电梯坏了关着人了在里面喊救名", "special_equipment"),  # 救名: a voice-input 救命
    ],
)
def test_round23_emergencies_are_filed_urgent_and_major(clf: Classifier, text: str, category: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.severity, c.urgent, c.category) == ("hazard", "major", True, category), c


@pytest.mark.parametrize(
    "text",
    [
        "孩子不听话 我这火很大",  # temper, not a fire
        "楼下配电箱又在冒烟 物业还是没人管",  # a standing complaint, not an emergency now
        "俺家的电表箱冒火星子 啪啪响",  # sparks: a hazard, not a fire under way
        "路边那截山体裂开了 石头卡在半坡上",  # a rock stuck on a slope, nobody in mid-air
    ],
)
def test_round23_lookalikes_are_not_emergencies(clf: Classifier, text: str) -> None:
    assert not clf.classify(text).urgent


def test_asking_for_someone_to_be_sent_is_a_call_for_help(clf: Classifier) -> None:
    """'你们能不能叫人来' asks officials to act: a report, not a question for information."""
    c = clf.classify("缆车停半空了 我恐高 快哭了 你们能不能叫人来")
    assert (c.intent, c.severity, c.review) == ("hazard", "major", False), c


def test_asking_whether_people_got_out_is_no_all_clear(clf: Classifier) -> None:
    """'人都撤出来了吗' asks; only '人都撤出来了' says the danger is handled."""
    assert clf.classify("井下透水了 人都撤出来了吗").intent == "hazard"
    assert clf.classify("井下透水了 人都撤出来了").intent == "chatter"


# ---- round 24: voice typos, people through the ice, a stove and people not waking, caught in a machine ----------
@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("冰窟窿 俩娃", "water"),  # two words and a number
        ("快来仁啊 冰上调下去一个", "water"),  # 快来仁, 调下去: voice-input 快来人, 掉下去
        ("煤气中读 老两口 谁家车能开去县医院", "gas"),  # 中读: voice-input 中毒
        ("尕娃掉水窖里了", "water"),  # a water cellar is water too
        ("磨面机绞住她头发了 电闸在哪", "other"),  # caught in a machine
        ("救生圈扔下去够不着", "water"),
        ("屋里炉子烧了一夜 二叔一家早上都没起来 敲门没动静", "gas"),  # a stove at night, nobody waking
    ],
)
def test_round24_emergencies_are_filed_urgent_and_major(clf: Classifier, text: str, category: str) -> None:
    c = clf.classify(text)
    assert (c.intent, c.severity, c.urgent, c.category) == ("hazard", "major", True, category), c


@pytest.mark.parametrize(
    "text",
    [
        "村里那台脱粒机皮带罩子掉了 今天李婶袖子差点卷进去",  # a near miss
        "大河套那冰窟窿没人插个杆儿 昨儿个俩半大小子差点掉下去",  # a worry about the ice
        "我爸叫不醒 昨晚喝多了 睡得跟死猪一样",  # drunk, not poisoned
    ],
)
def test_round24_lookalikes_are_not_emergencies(clf: Classifier, text: str) -> None:
    assert not clf.classify(text).urgent
