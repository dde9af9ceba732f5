from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from handlers.prompts.posting import Candidate, next_from_rotation, rotation_order
from handlers.prompts.schedule import (
    ScheduleError,
    due_at,
    due_day,
    holiday_name,
    next_due,
    parse_days,
    parse_region,
    parse_subscribe,
)

WEEKDAYS = [0, 1, 2, 3, 4]
GRACE = timedelta(hours=6)


def test_parse_subscribe_any_order() -> None:
    s = parse_subscribe(["09:30", "mon-fri", "Europe/Berlin", "DE-BY"])
    assert (s.hour, s.minute, s.days, s.timezone, s.region) == (9, 30, WEEKDAYS, "Europe/Berlin", "DE-BY")
    s = parse_subscribe(["8", "en", "CH-zh", "mo,mi,fr", "Europe/Zurich"])
    assert (s.hour, s.minute, s.days, s.region, s.language) == (8, 0, [0, 2, 4], "CH-ZH", "en")
    s = parse_subscribe(["7.45", "täglich", "AT-W", "de"])
    assert (s.hour, s.minute, s.days, s.region, s.language) == (7, 45, list(range(7)), "AT-9", "de")
    assert parse_subscribe(["09:30", "DE"]).region == "DE"  # upper case: Germany's holidays
    assert parse_subscribe(["09:30", "keine"]).clear_region


@pytest.mark.parametrize(
    ("args", "key"),
    [
        ([], "prompts.err.subscribe_usage"),
        (["25:00"], "prompts.err.time"),
        (["09:30", "Europe/Nowhere"], "prompts.err.timezone"),
        (["09:30", "DE-XX"], "prompts.err.region"),
        (["09:30", "banana"], "prompts.err.subscribe_word"),
    ],
)
def test_parse_subscribe_errors(args: list[str], key: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_subscribe(args)
    assert info.value.key == key


def test_days_and_regions() -> None:
    assert parse_days("sat-mon") == [0, 5, 6]
    assert parse_days("werktags") == WEEKDAYS
    assert parse_days("mon-xyz") is None
    assert parse_region("AT") == "AT" and parse_region("FR") is None and parse_region("CH-XX") is None
    assert holiday_name("DE-BY", date(2027, 3, 26)) == "Karfreitag"
    assert holiday_name("AT", date(2027, 3, 26)) is None  # Good Friday is no public holiday in Austria
    assert holiday_name("AT", date(2026, 10, 26)) == "Nationalfeiertag"
    assert holiday_name("CH-ZH", date(2027, 3, 29)) is not None
    assert holiday_name("DE-BE", date(2026, 11, 1)) is None and holiday_name("DE-BY", date(2026, 11, 1))


def test_local_time_is_kept_across_daylight_saving() -> None:
    # 09:30 in Berlin is 08:30 UTC in winter and 07:30 UTC in summer
    assert due_at(date(2027, 3, 26), 9, 30, "Europe/Berlin") == datetime(2027, 3, 26, 8, 30, tzinfo=UTC)
    assert due_at(date(2027, 3, 30), 9, 30, "Europe/Berlin") == datetime(2027, 3, 30, 7, 30, tzinfo=UTC)
    # 02:30 does not exist on the spring-forward night: it moves by the gap to 03:30 CEST
    assert due_at(date(2027, 3, 28), 2, 30, "Europe/Berlin") == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    # 02:30 happens twice on the autumn night: the first one counts
    assert due_at(date(2027, 10, 31), 2, 30, "Europe/Berlin") == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


def test_due_day_window_holidays_and_weekends() -> None:
    kw = {"hour": 9, "minute": 30, "days": WEEKDAYS, "zone": "Europe/Berlin", "region": "DE-BY", "grace": GRACE}
    thu = datetime(2027, 3, 25, 8, 30, tzinfo=UTC)
    assert due_day(thu - timedelta(minutes=1), **kw) is None
    assert due_day(thu, **kw) == date(2027, 3, 25)
    assert due_day(thu + timedelta(hours=5, minutes=59), **kw) == date(2027, 3, 25)
    assert due_day(thu + GRACE, **kw) is None  # too late: skipped rather than posted in the evening
    assert due_day(datetime(2027, 3, 26, 8, 30, tzinfo=UTC), **kw) is None  # Good Friday in Bavaria
    assert due_day(datetime(2027, 3, 27, 8, 30, tzinfo=UTC), **kw) is None  # Saturday
    assert due_day(thu, **kw, not_before=thu + timedelta(minutes=1)) is None  # subscribed after today's time
    # a late-evening prompt is still due shortly after midnight (the local date before)
    late = {**kw, "hour": 23, "minute": 50, "region": None}
    assert due_day(datetime(2027, 3, 24, 23, 5, tzinfo=UTC), **late) == date(2027, 3, 24)


def test_next_due_skips_holidays() -> None:
    after_good_friday = next_due(
        datetime(2027, 3, 25, 12, 0, tzinfo=UTC),
        hour=9,
        minute=30,
        days=WEEKDAYS,
        zone="Europe/Berlin",
        region="DE-BY",
    )
    assert after_good_friday == datetime(2027, 3, 30, 7, 30, tzinfo=UTC)  # Tuesday after Easter Monday


def _pool(n: int) -> list[Candidate]:
    return [Candidate(f"p-{i:03d}", "perspective", f"de {i}", f"en {i}", True) for i in range(n)]


def test_rotation_uses_every_prompt_once_per_cycle_and_is_reproducible() -> None:
    pool = _pool(12)
    used: set[str] = set()
    seen: list[str] = []
    cycle = 0
    for _ in range(12):
        chosen, cycle = next_from_rotation("C1", cycle, used, pool)
        used.add(chosen.key)
        seen.append(chosen.key)
    assert cycle == 0 and sorted(seen) == sorted(c.key for c in pool)
    nxt, cycle = next_from_rotation("C1", cycle, used, pool)
    assert cycle == 1  # all used: a new cycle starts
    assert [c.key for c in rotation_order("C1", 0, pool)] == seen
    assert [c.key for c in rotation_order("C1", 0, list(reversed(pool)))] == seen  # order-independent
    assert [c.key for c in rotation_order("C2", 0, pool)] != seen  # another channel, another order
    assert nxt.key == rotation_order("C1", 1, pool)[0].key
