"""Tests for handlers.intake: what filing one group hazard costs the database, so it cannot silently grow back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from bot.app import Database
from handlers.router import Router
from storage.models import Report
from tests.helpers import group_msg

# Claim the message key, read the group, look for duplicates and count the sender's hour (one statement), insert
# the report and its "filed" event (one statement on PostgreSQL), link the key to the report (BEGIN and COMMIT
# come on top).
STATEMENTS_PER_FILED_HAZARD = {"sqlite": 6, "postgresql": 5}


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """Collect the SQL statements run on ``database`` inside the block."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    engine = database.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_filed_group_hazard_costs_a_bounded_number_of_statements(
    database: Database, router: Router
) -> None:
    first = router.dispatch(group_msg("王家沟村口的电线杆歪了，随时会倒", sender="u1"))
    assert first.outcome == "filed"  # the group is new: recorded and tagged from its title on the way
    with statements(database) as seen:
        result = router.dispatch(group_msg("王家沟村小学后面的土崖裂了好宽的缝，下雨怕塌", sender="u2"))
    assert result.outcome == "filed" and result.report_id is not None
    assert len(seen) <= STATEMENTS_PER_FILED_HAZARD[database.engine.dialect.name], "\n".join(seen)
    with database.sessions() as s:
        report = s.get(Report, result.report_id)
        assert report is not None
        assert (report.village, report.status) == ("王家沟村", "reported")
        assert [e.action for e in report.events] == ["filed"]


def test_a_repeat_is_linked_to_the_open_report_even_when_it_was_filed_in_another_category(
    database: Database, router: Router
) -> None:
    first = router.dispatch(group_msg("王家沟村委会的井盖没了，晚上看不见", sender="u1"))
    assert first.outcome == "filed"
    with database.sessions.begin() as s:
        report = s.get(Report, first.report_id)
        assert report is not None and report.category != "water"
        report.category = "water"  # as a classifier that reads 井 as a well would have filed it
    again = router.dispatch(group_msg("村委会那个井盖还没盖上，晚上怕掉人", sender="u2", chat="g1"))
    assert (again.outcome, again.report_id) == ("duplicate", first.report_id)


def test_an_open_report_of_another_category_about_another_thing_is_not_a_repeat(
    database: Database, router: Router
) -> None:
    first = router.dispatch(group_msg("王家沟村李家的煤气罐漏气了，味儿挺大", sender="u1"))
    second = router.dispatch(group_msg("李家门口的电线又冒火花了", sender="u2"))
    assert first.outcome == second.outcome == "filed"
    assert second.report_id != first.report_id
