"""When a channel's prompt is due: its local time on its days, never on a public holiday of its region.

The due moment is computed per *local date* (``09:30`` in the channel's zone on that date), so a
daylight-saving change neither moves the prompt to 08:30/10:30 nor produces a second one: the claim is
keyed by the local date. A time that does not exist on the spring-forward night (02:30) moves forward by
the gap; a time that happens twice in autumn is taken the first time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from bot.core.jobs import is_zone

DAY_NAMES: dict[str, int] = {}
for _i, _names in enumerate(
    [
        ("mon", "monday", "mo", "montag"),
        ("tue", "tuesday", "tu", "di", "dienstag"),
        ("wed", "wednesday", "we", "mi", "mittwoch"),
        ("thu", "thursday", "th", "do", "donnerstag"),
        ("fri", "friday", "fr", "freitag"),
        ("sat", "saturday", "sa", "samstag", "sonnabend"),
        ("sun", "sunday", "su", "so", "sonntag"),
    ]
):
    for _n in _names:
        DAY_NAMES[_n] = _i
DAY_SETS = {
    "daily": list(range(7)),
    "täglich": list(range(7)),
    "taeglich": list(range(7)),
    "weekdays": [0, 1, 2, 3, 4],
    "werktags": [0, 1, 2, 3, 4],
    "wochentags": [0, 1, 2, 3, 4],
}
SHORT_DAYS = {"de": ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"], "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}
COUNTRIES = ("DE", "AT", "CH")
TIME_RE = re.compile(r"^([01]?\d|2[0-3])(?:[:.h]([0-5]\d))?(?:h|uhr)?$", re.IGNORECASE)
REGION_RE = re.compile(r"^([A-Za-z]{2})(?:-(.+))?$")
LANG_WORDS = {"de": "de", "deutsch": "de", "german": "de", "en": "en", "english": "en", "englisch": "en"}
NO_REGION = ("none", "keine", "kein", "off", "aus", "-")


class ScheduleError(ValueError):
    """Bad schedule input: ``key`` is a translation key, ``params`` its placeholders."""

    def __init__(self, key: str, **params: str) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def parse_time(word: str) -> tuple[int, int] | None:
    m = TIME_RE.match(word.strip())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2) or 0)


def parse_days(word: str) -> list[int] | None:
    """``mon-fri``, ``mo-fr``, ``mon,wed,fri``, ``sat-mon`` (wraps), ``daily``, ``werktags``; None if not days."""
    low = word.strip().lower()
    if low in DAY_SETS:
        return list(DAY_SETS[low])
    days: set[int] = set()
    for part in low.split(","):
        if not part:
            return None
        if "-" in part:
            a, _, b = part.partition("-")
            if a not in DAY_NAMES or b not in DAY_NAMES:
                return None
            i, j = DAY_NAMES[a], DAY_NAMES[b]
            while True:
                days.add(i)
                if i == j:
                    break
                i = (i + 1) % 7
        elif part in DAY_NAMES:
            days.add(DAY_NAMES[part])
        else:
            return None
    return sorted(days)


def format_days(days: list[int], lang: str) -> str:
    names = SHORT_DAYS["de" if lang == "de" else "en"]
    ds = sorted(set(days))
    if ds and ds == list(range(ds[0], ds[-1] + 1)) and len(ds) > 2:
        return f"{names[ds[0]]}–{names[ds[-1]]}"
    return ", ".join(names[d] for d in ds)


def parse_zone(word: str) -> str | None:
    if "/" not in word and word.upper() != "UTC":
        return None
    return word if is_zone(word) else None


def looks_like_zone(word: str) -> bool:
    return "/" in word or word.upper() == "UTC"


def parse_region(word: str) -> str | None:
    """``DE-BY``, ``AT``, ``AT-W``/``AT-9``, ``CH-ZH`` → the canonical region, or None if unknown."""
    m = REGION_RE.match(word.strip())
    if not m:
        return None
    country = m.group(1).upper()
    if country not in COUNTRIES:
        return None
    sub = m.group(2)
    if sub is None:
        return country
    calendar = holidays.country_holidays(country)
    known = {s.upper(): s for s in calendar.subdivisions}
    aliases = {a.upper(): s for a, s in (getattr(calendar, "subdivisions_aliases", None) or {}).items()}
    found = known.get(sub.upper()) or aliases.get(sub.upper())
    return f"{country}-{found}" if found else None


def looks_like_region(word: str) -> bool:
    return bool(REGION_RE.match(word)) and word[:2].upper() in COUNTRIES


@lru_cache(maxsize=256)
def _calendar(region: str, year: int) -> holidays.HolidayBase:
    country, _, sub = region.partition("-")
    return holidays.country_holidays(country, subdiv=sub or None, years=year, language="de")


def holiday_name(region: str | None, day: date) -> str | None:
    """The public holiday on ``day`` in ``region`` (None when it is a normal day or no region is set)."""
    if not region:
        return None
    try:
        name = _calendar(region, day.year).get(day)
    except NotImplementedError:
        return None
    return str(name) if name else None


@dataclass
class SubscribeArgs:
    hour: int
    minute: int
    days: list[int] | None = None
    timezone: str | None = None
    region: str | None = None
    clear_region: bool = False
    language: str | None = None
    rest: list[str] = field(default_factory=list)


def parse_subscribe(args: list[str]) -> SubscribeArgs:
    """``09:30 mon-fri Europe/Berlin DE-BY en`` in any order after the time; everything but the time optional."""
    if not args:
        raise ScheduleError("prompts.err.subscribe_usage")
    hm = parse_time(args[0])
    if hm is None:
        raise ScheduleError("prompts.err.time", value=args[0])
    out = SubscribeArgs(hour=hm[0], minute=hm[1])
    for word in args[1:]:
        low = word.lower()
        if low in LANG_WORDS and word != "DE":  # "DE" is Germany's holidays, "de" the language
            out.language = LANG_WORDS[low]
        elif (days := parse_days(word)) is not None:
            if not days:
                raise ScheduleError("prompts.err.days", value=word)
            out.days = days
        elif looks_like_zone(word):
            zone = parse_zone(word)
            if zone is None:
                raise ScheduleError("prompts.err.timezone", value=word)
            out.timezone = zone
        elif low in NO_REGION:
            out.clear_region = True
        elif looks_like_region(word):
            region = parse_region(word)
            if region is None:
                raise ScheduleError("prompts.err.region", value=word)
            out.region = region
        else:
            raise ScheduleError("prompts.err.subscribe_word", value=word)
    return out


def due_at(day: date, hour: int, minute: int, zone: str) -> datetime:
    """The UTC instant of ``hour:minute`` local time on ``day``.

    A wall time that does not exist (spring forward) moves forward by the gap (02:30 → 03:30); one that
    happens twice (autumn) is taken the first time.
    """
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def is_prompt_day(day: date, days: list[int], region: str | None) -> bool:
    return day.weekday() in days and holiday_name(region, day) is None


def due_day(
    now: datetime,
    *,
    hour: int,
    minute: int,
    days: list[int],
    zone: str,
    region: str | None,
    grace: timedelta,
    not_before: datetime | None = None,
) -> date | None:
    """The local date whose prompt is due at ``now`` (its time has come, less than ``grace`` ago), if any."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    for day in (today, today - timedelta(days=1)):
        if not is_prompt_day(day, days, region):
            continue
        when = due_at(day, hour, minute, zone)
        if when <= now < when + grace and (not_before is None or when >= not_before):
            return day
    return None


def next_due(
    now: datetime, *, hour: int, minute: int, days: list[int], zone: str, region: str | None, horizon: int = 60
) -> datetime | None:
    """The next moment a prompt will be due (for showing a channel's status)."""
    today = now.astimezone(ZoneInfo(zone)).date()
    for offset in range(horizon):
        day = today + timedelta(days=offset)
        if is_prompt_day(day, days, region):
            when = due_at(day, hour, minute, zone)
            if when > now:
                return when
    return None
