"""Duplicates at scale: 200 distinct hazards stay 200 reports and 20 genuine repeats are all linked.

The hazards are generated from templates (households, numbered buildings and poles, directions and landmarks
times objects times villages) and go through the real router, classifier and SQLite database.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from bot.app import Database
from handlers.classifier import Classifier
from handlers.context import Core
from handlers.profile import Profile
from handlers.router import Router
from handlers.texts import Texts
from storage.models import Report
from tests.conftest import Clock, make_core
from tests.helpers import group_msg

# A household as first named and as a neighbour names it again (王大爷家 is 老王家).
HOUSEHOLDS = [
    ("李家", "李家"),
    ("王大爷家", "老王家"),
    ("老张家", "张家"),
    ("赵二虎家", "赵二虎家"),
    ("刘婶家", "刘家"),
    ("孙家", "孙家"),
    ("周家", "老周家"),
    ("吴家", "吴家"),
    ("郑大娘家", "郑家"),
    ("冯家", "冯家"),
    ("陈老汉家", "老陈家"),
    ("杨家", "杨家"),
    ("黄家", "黄家"),
    ("高二毛家", "高二毛家"),
    ("马大爷家", "老马家"),
    ("郭家", "郭家"),
]
# Landmarks the rules know (学校, 村口 …) and places they do not (粮站, 打谷场 …).
LANDMARKS = [
    "学校门口",
    "村委会",
    "卫生室",
    "戏台子",
    "村口",
    "河边",
    "桥头",
    "小卖部门口",
    "广场",
    "后沟",
    "敬老院",
    "粮站旁边",
    "打谷场",
    "老槐树底下",
    "垃圾站边上",
    "供销社门口",
]
DIRECTIONS = ["东", "西", "南", "北"]


@dataclass(frozen=True)
class Family:
    """One kind of hazard: how it is told the first time and again, what tells its instances apart, how common."""

    kind: str  # owner | landmark | building | pole | direction | none (one of its kind in a village)
    first: tuple[str, ...]
    again: str | None
    weight: int


FAMILIES = [
    Family(
        "owner",
        (
            "{o}院里的煤气罐漏气了，味儿挺大",
            "{o}厨房的液化气罐漏气，一进门就闻着味",
            "{o}那个煤气罐子呲呲往外漏气",
        ),
        "{again}那个煤气罐又漏气了，还是没人管",
        4,
    ),
    Family(
        "owner",
        ("{o}的烟囱堵了，屋里一股煤烟味", "{o}炉子的烟筒漏烟，怕中煤气"),
        "{again}的烟筒又漏烟了，怕中煤气",
        1,
    ),
    Family("building", ("{n}号楼楼下的燃气管道漏气了", "{n}号楼那截燃气管子锈穿了，闻着有味"), None, 1),
    Family("pole", ("{n}号电线杆歪了，眼看要倒", "{n}号电线杆歪得厉害，快倒了"), None, 2),
    Family(
        "direction",
        ("村{d}头那根电线杆歪得厉害，快倒了", "{d}边那根电线杆歪了，眼看要倒"),
        "{d}头那根电线杆又歪了，怕倒",
        1,
    ),
    Family("landmark", ("{l}的配电箱门坏了，里面的线都露着",), None, 1),
    Family("landmark", ("{l}的电线断了耷拉在地上",), None, 1),
    Family(
        "owner",
        ("{o}的老窑洞裂了好宽的缝，下雨怕塌", "{o}住的窑洞顶上掉土，裂缝越来越大"),
        "{again}那个窑洞的缝又宽了，怕塌",
        3,
    ),
    Family("owner", ("{o}的院墙裂了一道大缝，往外歪",), None, 1),
    Family(
        "building",
        ("{n}号楼的消防通道被杂物堵死了", "{n}号楼{u}单元楼道里堆满了纸箱子，堵了消防通道"),
        "{n}号楼的消防通道还是堵着，一直没人清",
        2,
    ),
    Family(
        "owner",
        ("{o}门口的柴草垛挨着炉灰堆，怕着火",),
        "{again}门口的柴草垛还是挨着炉灰堆，怕着火",
        1,
    ),
    Family("landmark", ("{l}的灭火器都过期了",), None, 1),
    Family("landmark", ("{l}的护栏断了，娃娃们老在那玩",), "{l}的护栏还是断的，上次说的还没修", 1),
    Family("landmark", ("{l}的井盖没了，晚上看不见",), "{l}那个井盖还没盖上，晚上怕掉人", 1),
    Family("owner", ("{o}房顶上的瓦片松了，随时往下掉",), None, 1),
    Family("none", ("村里那台变压器嗡嗡响，还冒火花",), "村里那台变压器又冒火花了", 1),
    Family("none", ("村里的沼气池盖子烂了，怕掉进去人",), None, 1),
    Family("none", ("咱村的蓄水池围栏塌了一截",), None, 1),
]


@dataclass(frozen=True)
class Hazard:
    """One generated message: where it is sent, what it says, and how to say it again (if it can be)."""

    village: str
    text: str
    again: str | None


def generate(villages: list[str], per_village: int, seed: int = 7) -> list[Hazard]:
    """Distinct hazards: within a village no household, landmark, number or direction is used twice."""
    rng = random.Random(seed)
    hazards: list[Hazard] = []
    for village in villages:
        owners = rng.sample(HOUSEHOLDS, len(HOUSEHOLDS))
        landmarks = rng.sample(LANDMARKS, len(LANDMARKS))
        buildings = rng.sample(range(1, 13), 12)
        poles = rng.sample(range(1, 30), 29)
        directions = rng.sample(DIRECTIONS, len(DIRECTIONS))
        pools = {"owner": owners, "landmark": landmarks, "building": buildings, "pole": poles}
        pools["direction"] = directions
        made = 0
        while made < per_village:
            family = rng.choices(FAMILIES, weights=[f.weight for f in FAMILIES])[0]
            pool = pools.setdefault(family.first[0], [""]) if family.kind == "none" else pools[family.kind]
            if not pool:
                continue
            ident = pool.pop()
            owner, again_owner = ident if family.kind == "owner" else ("", "")
            values = {
                "o": owner,
                "again": again_owner,
                "l": ident,
                "n": ident,
                "d": ident,
                "u": rng.randint(1, 4),
            }
            text = rng.choice(family.first).format(**values)
            again = family.again.format(**values) if family.again else None
            hazards.append(Hazard(village, text, again))
            made += 1
    return hazards


def _send(
    router: Router, core: Core, chats: dict[str, str], village: str, text: str, n: int
) -> Report | None:
    """Send one message to the village's group (a new sender each time); the report it made, if any."""
    with core.sessions() as s:
        before = s.scalar(select(func.max(Report.id))) or 0
    router.dispatch(group_msg(text, sender=f"m{n}", chat=chats[village], title=f"{village}村民群"))
    with core.sessions() as s:
        report = s.scalars(select(Report).where(Report.id > before)).one_or_none()
        if report is not None:
            s.expunge(report)
        return report


@pytest.fixture
def sqlite_core(
    sqlite_database: Database, classifier: Classifier, texts: Texts, profile: Profile, clock: Clock
) -> Core:
    """The core on a fresh SQLite database."""
    return make_core(sqlite_database, classifier, texts, profile, clock)


def test_distinct_hazards_stay_apart_and_repeats_are_linked(sqlite_core: Core, profile: Profile) -> None:
    villages = [v.name for v in profile.villages][:10]
    assert len(villages) == 10
    chats = {v: f"-10{i}" for i, v in enumerate(villages)}
    router = Router(sqlite_core)
    hazards = generate(villages, per_village=20)
    assert len(hazards) == 200 and len({(h.village, h.text) for h in hazards}) == 200

    filed: list[tuple[Hazard, Report]] = []
    merged: list[str] = []
    for n, hazard in enumerate(hazards):
        report = _send(router, sqlite_core, chats, hazard.village, hazard.text, n)
        if report is None:
            continue  # not recognised as a hazard by the classifier: not a duplicate question
        if report.duplicate_of is not None:
            with sqlite_core.sessions() as s:
                merged.append(
                    f"{hazard.text} → #{report.duplicate_of} {s.get(Report, report.duplicate_of).text}"
                )
        else:
            filed.append((hazard, report))
    assert len(filed) + len(merged) >= 180, f"only {len(filed) + len(merged)} of 200 were taken as hazards"
    assert len(merged) <= 2, "distinct hazards merged:\n" + "\n".join(merged)

    repeatable = [(h, r) for h, r in filed if h.again]
    picked = [pair for v in villages for pair in [p for p in repeatable if p[0].village == v][:2]]
    assert len(picked) == 20
    wrong = []
    for n, (hazard, original) in enumerate(picked):
        assert hazard.again is not None
        again = _send(router, sqlite_core, chats, hazard.village, hazard.again, 1000 + n)
        if again is None or again.duplicate_of != original.id:
            wrong.append(f"{hazard.again} → {again.duplicate_of if again else '未登记'}, 应为 #{original.id}")
    assert not wrong, "repeats not linked to their report:\n" + "\n".join(wrong)


def test_two_households_get_two_numbers_and_a_repeat_gets_the_first(sqlite_core: Core) -> None:
    router = Router(sqlite_core)
    chats = {"王家沟村": "-200"}
    li = _send(router, sqlite_core, chats, "王家沟村", "李家的煤气罐漏气了", 1)
    wang = _send(router, sqlite_core, chats, "王家沟村", "王家的煤气罐也漏气了", 2)
    cave = _send(router, sqlite_core, chats, "王家沟村", "村东头老窑洞裂了好宽的缝，下雨怕塌", 3)
    again = _send(router, sqlite_core, chats, "王家沟村", "东头那个老窑洞又裂开了，比上次还宽", 4)
    assert li and wang and cave and again
    assert (li.duplicate_of, wang.duplicate_of, cave.duplicate_of) == (None, None, None)
    assert again.duplicate_of == cave.id and again.status == "duplicate"


def test_my_house_from_two_neighbours_is_two_houses(sqlite_core: Core) -> None:
    router = Router(sqlite_core)
    chats = {"庙坪村": "-201"}
    first = _send(router, sqlite_core, chats, "庙坪村", "我家的烟囱堵了，屋里一股煤烟味", 1)
    second = _send(router, sqlite_core, chats, "庙坪村", "我家的烟囱堵了，屋里一股煤烟味儿", 2)
    assert first and second and second.duplicate_of is None
