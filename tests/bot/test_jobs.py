"""Local wall-clock schedules: days, times, daylight saving, and windows that never lose or double a post."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.jobs import Days, ScheduleError, due_in_window, local_instant, next_occurrence, parse_time

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "weekdays"),
    [
        ("mon", {0}),
        ("Montag", {0}),
        ("mo-fr", {0, 1, 2, 3, 4}),
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("werktags", {0, 1, 2, 3, 4}),
        ("mo,mi,fr", {0, 2, 4}),
        ("fri-mon", {4, 5, 6, 0}),
        ("täglich", set(range(7))),
        ("daily", set(range(7))),
    ],
)
def test_days_parse_english_and_german(text: str, weekdays: set[int]) -> None:
    days = Days.parse(text)
    assert days.weekdays == frozenset(weekdays)
    assert Days.parse(days.spec) == days


def test_monthly_and_quarterly_days() -> None:
    assert Days.parse("month:1").matches(date(2026, 12, 1))
    assert not Days.parse("month:1").matches(date(2026, 12, 2))
    quarter = Days.parse("quartal:1")
    assert [m for m in range(1, 13) if quarter.matches(date(2026, m, 1))] == [1, 4, 7, 10]
    assert Days.parse(quarter.spec) == quarter


@pytest.mark.parametrize("bad", ["", "someday", "mon-xyz", "month:31", "month:x"])
def test_days_parse_refuses_nonsense(bad: str) -> None:
    with pytest.raises(ScheduleError):
        Days.parse(bad)


@pytest.mark.parametrize(
    ("text", "at"), [("9", time(9)), ("09:30", time(9, 30)), ("9.30", time(9, 30)), ("17h", time(17))]
)
def test_parse_time(text: str, at: time) -> None:
    assert parse_time(text) == at


@pytest.mark.parametrize("bad", ["25:00", "9:61", "noon", "9:3"])
def test_parse_time_refuses_nonsense(bad: str) -> None:
    with pytest.raises(ScheduleError):
        parse_time(bad)


def test_spring_forward_time_fires_at_the_next_valid_minute() -> None:
    # 2026-03-29: Berlin clocks jump from 02:00 to 03:00; 02:30 does not exist
    assert local_instant(date(2026, 3, 29), time(2, 30), BERLIN) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert local_instant(date(2026, 3, 29), time(3, 0), BERLIN) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert local_instant(date(2026, 3, 28), time(2, 30), BERLIN) == datetime(2026, 3, 28, 1, 30, tzinfo=UTC)


def test_fall_back_time_fires_at_its_first_occurrence() -> None:
    # 2026-10-25: Berlin clocks go back from 03:00 to 02:00; 02:30 happens twice (CEST, then CET)
    assert local_instant(date(2026, 10, 25), time(2, 30), BERLIN) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("first", "dst_day"), [(date(2026, 3, 25), date(2026, 3, 29)), (date(2026, 10, 21), date(2026, 10, 25))]
)
def test_daily_0230_posts_once_every_day_across_a_dst_change(first: date, dst_day: date) -> None:
    since = datetime.combine(first, time(0), tzinfo=BERLIN)
    occurrences = due_in_window(time(2, 30), Days(), BERLIN, since, since + timedelta(days=8))
    assert [o.day for o in occurrences] == [first + timedelta(days=n) for n in range(8)]
    on_dst = next(o for o in occurrences if o.day == dst_day)
    assert on_dst.due_at.astimezone(BERLIN).date() == dst_day


def test_window_is_half_open_and_follows_local_time() -> None:
    monday_9 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # 09:00 in Berlin (CET)
    assert due_in_window(time(9), Days.weekly(0), BERLIN, monday_9 - timedelta(minutes=1), monday_9) != []
    assert due_in_window(time(9), Days.weekly(0), BERLIN, monday_9, monday_9 + timedelta(minutes=1)) == []
    vienna_mon_fri = due_in_window(
        time(8, 30), Days.parse("mo-fr"), "Europe/Vienna", monday_9 - timedelta(days=1), monday_9 + timedelta(days=6)
    )
    assert [o.day.weekday() for o in vienna_mon_fri] == [0, 1, 2, 3, 4]
    nxt = next_occurrence(time(9), Days.weekly(0), BERLIN, monday_9)
    assert nxt is not None and nxt.day == date(2026, 11, 30)


@settings(max_examples=60, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=1, max_value=14 * 24 * 60 - 1), max_size=40),
    start_day=st.sampled_from([date(2026, 3, 22), date(2026, 10, 18)]),
)
def test_any_split_into_windows_posts_each_occurrence_exactly_once(cuts: list[int], start_day: date) -> None:
    """However the scheduler's ticks fall (and across DST changes), each occurrence is due in exactly one window."""
    start = datetime.combine(start_day, time(0), tzinfo=UTC)
    end = start + timedelta(days=14)
    bounds = [start, *sorted({start + timedelta(minutes=c) for c in cuts}), end]
    for at in (time(2, 30), time(9, 0)):
        whole = due_in_window(at, Days.parse("daily"), BERLIN, start, end)
        pieces = [o for a, b in zip(bounds, bounds[1:], strict=False) for o in due_in_window(at, Days(), BERLIN, a, b)]
        assert pieces == whole
        assert len({o.day for o in whole}) == len(whole) == 14
