"""Scheduled jobs, platform-neutral: what a feature's ``@router.schedule`` function receives.

The contract
------------
The scheduler ticks once a minute. On a tick every scheduled function runs once, in its own
transaction, with a :class:`JobContext`. A function that posts on a schedule asks for its *window*
``(await job.window_start(), job.now]``: the time since it last ran to completion (on any replica, kept
in its watermark, which the tick moves on in the same transaction). After downtime the window is
long, so nothing due in between is forgotten; ``job.now`` may be any time (tests drive it with a
controlled clock).

A function decides what fell due in the window, claims each post and queues it::

    @router.schedule("digest", feature="digests")
    async def digest(job: JobContext) -> None:
        for schedule, workspace in await job.schedules("digest"):
            for due in await job.due_for(schedule, workspace):  # occurrences in the window, within grace
                async with job.guard(schedule=schedule.id):   # one failure doesn't stop the others
                    if await job.claim(workspace_id=workspace.id, channel_id=schedule.channel_id,
                                       kind="digest", period=due.period):
                        await job.post(workspace, schedule.channel_id, build(...), kind="digest")

- :meth:`JobContext.due` / :func:`due_in_window` turn a local wall-clock time (``09:00``), the days it
  applies to (:class:`Days`: weekdays, a day of the month, a quarter) and an IANA time zone into the
  occurrences inside the window. A time that does not exist on a spring-forward day fires once at the
  next valid minute (02:30 → 03:00); an ambiguous one on a fall-back day fires once, at its first
  occurrence. Occurrences older than ``Settings.scheduler_grace_hours`` are skipped with a log line
  (``scheduled_post_skipped``) and counted in ``starling_scheduled_skipped_total``.
- :meth:`JobContext.claim` returns True exactly once per (workspace, channel, kind, period), across
  replicas, restarts and retries; :meth:`JobContext.post` queues the message in the same transaction,
  so a claim and its post are committed together or not at all.
- :meth:`JobContext.guard` runs a part in a savepoint. If it fails, its writes are undone, the error is
  logged, and the window is not marked done: the next tick sees the same occurrences again (the parts
  that succeeded find their claims and post nothing), until the grace period is over.
- A JobContext built by hand (no ``name``, no ``since``) has the last minute as its window.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import metrics
from bot.core.i18n import Translator, translator_for
from bot.core.messages import Message, Target
from bot.core.services import Services
from storage import core
from storage import scheduling as sq
from storage.models import ScheduledClaim, Workspace
from storage.scheduling import Schedule

log = structlog.get_logger("starling.jobs")

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_WORDS = {
    **{d: i for i, d in enumerate(WEEKDAYS)},
    **{
        "monday": 0,
        "tuesday": 1,
        "wednesday": 2,
        "thursday": 3,
        "friday": 4,
        "saturday": 5,
        "sunday": 6,
        "mo": 0,
        "di": 1,
        "mi": 2,
        "do": 3,
        "fr": 4,
        "sa": 5,
        "so": 6,
        "montag": 0,
        "dienstag": 1,
        "mittwoch": 2,
        "donnerstag": 3,
        "freitag": 4,
        "samstag": 5,
        "sonntag": 6,
    },
}
_EVERY_DAY = {"daily", "täglich", "taeglich", "everyday", "jeden-tag", "mon-sun", "mo-so"}
_WORKDAYS = {"weekdays", "werktags", "workdays"}
_TIME_RE = re.compile(r"^(\d{1,2})(?::|\.|h)?(\d{2})?(?:h|uhr)?$")
MAX_LOOKBACK = timedelta(days=35)


class ScheduleError(ValueError):
    """A schedule text (days or time) that cannot be understood."""


@dataclass(frozen=True)
class Days:
    """The local dates a schedule fires on: some weekdays, or one day of the month (in some months)."""

    weekdays: frozenset[int] = frozenset(range(7))
    monthday: int | None = None
    months: frozenset[int] = frozenset(range(1, 13))

    def matches(self, day: date) -> bool:
        if self.monthday is not None:
            return day.day == self.monthday and day.month in self.months
        return day.weekday() in self.weekdays

    @property
    def spec(self) -> str:
        """The canonical text stored in the database (``Days.parse(d.spec) == d``)."""
        if self.monthday is not None:
            return f"{'quarter' if self.months == QUARTER_MONTHS else 'month'}:{self.monthday}"
        if self.weekdays == frozenset(range(7)):
            return "daily"
        ordered = sorted(self.weekdays)
        if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
            return f"{WEEKDAYS[ordered[0]]}-{WEEKDAYS[ordered[-1]]}"
        return ",".join(WEEKDAYS[d] for d in ordered)

    @classmethod
    def weekly(cls, *weekdays: int) -> Days:
        return cls(weekdays=frozenset(weekdays))

    @classmethod
    def monthly(cls, monthday: int = 1) -> Days:
        return cls(monthday=monthday)

    @classmethod
    def quarterly(cls, monthday: int = 1) -> Days:
        return cls(monthday=monthday, months=QUARTER_MONTHS)

    @classmethod
    def parse(cls, text: str) -> Days:
        """``mon``, ``mon-fri``, ``mo,mi,fr``, ``daily``, ``weekdays``, ``month:1``, ``quarter:1``."""
        raw = text.strip().lower().replace(" ", "")
        if not raw:
            raise ScheduleError(text)
        if raw in _EVERY_DAY:
            return cls()
        if raw in _WORKDAYS:
            return cls.weekly(0, 1, 2, 3, 4)
        kind, _, num = raw.partition(":")
        if kind in ("month", "monthly", "monat", "monatlich", "quarter", "quarterly", "quartal") and num:
            if not num.isdigit() or not 1 <= int(num) <= 28:
                raise ScheduleError(text)
            return cls.quarterly(int(num)) if kind.startswith(("quart",)) else cls.monthly(int(num))
        picked: set[int] = set()
        for part in raw.split(","):
            lo, dash, hi = part.partition("-")
            if lo not in _DAY_WORDS or (dash and hi not in _DAY_WORDS):
                raise ScheduleError(text)
            start, end = _DAY_WORDS[lo], _DAY_WORDS[hi] if dash else _DAY_WORDS[lo]
            span = range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)]
            picked.update(span)
        return cls(weekdays=frozenset(picked))


QUARTER_MONTHS = frozenset({1, 4, 7, 10})

DaysLike = Days | Iterable[int] | Callable[[date], bool]


def _matcher(days: DaysLike) -> Callable[[date], bool]:
    if isinstance(days, Days):
        return days.matches
    if callable(days):
        return days
    weekdays = frozenset(days)
    return lambda d: d.weekday() in weekdays


def parse_time(text: str) -> time:
    """``9``, ``9:30``, ``09:30``, ``9.30``, ``9h30``, ``9 Uhr`` → a wall-clock time."""
    m = _TIME_RE.match(text.strip().lower().replace(" ", ""))
    if not m:
        raise ScheduleError(text)
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if hour > 23 or minute > 59:
        raise ScheduleError(text)
    return time(hour, minute)


def is_zone(name: str) -> bool:
    """True if ``name`` is an IANA time zone (``Europe/Vienna``, ``UTC``)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local_day(now: datetime, name: str | None, fallback: str = "UTC") -> date:
    """The calendar day ``now`` falls on in the zone ``name`` (or ``fallback``)."""
    return now.astimezone(zone(name, fallback)).date()


def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    """The IANA zone ``name``, or ``fallback`` if it is empty or unknown."""
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``at`` on local ``day``.

    A time skipped by a spring-forward change resolves to the next valid minute (02:30 → 03:00); a
    time that happens twice on a fall-back day resolves to its first occurrence.
    """
    naive = datetime.combine(day, at)
    utc = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == naive:
        return utc
    probe = naive
    for _ in range(24 * 60):
        probe += timedelta(minutes=1)
        utc = probe.replace(tzinfo=tz).astimezone(UTC)
        if utc.astimezone(tz).replace(tzinfo=None) == probe:
            return utc
    raise ValueError(f"no valid local time after {naive} in {tz}")  # pragma: no cover - no zone skips a day


@dataclass(frozen=True)
class Occurrence:
    """One time a schedule fell due: the local date and the UTC instant."""

    day: date
    due_at: datetime

    @property
    def period(self) -> str:
        """The claim key for once-a-day schedules: the local date, ``2026-11-23``."""
        return self.day.isoformat()


def due_in_window(at: time, days: DaysLike, tz: ZoneInfo | str, since: datetime, now: datetime) -> list[Occurrence]:
    """Occurrences of ``at`` on ``days`` in ``tz`` with ``since < due_at <= now``, oldest first."""
    zone_ = tz if isinstance(tz, ZoneInfo) else zone(tz)
    matches = _matcher(days)
    if now <= since:
        return []
    day = since.astimezone(zone_).date() - timedelta(days=1)
    last = now.astimezone(zone_).date() + timedelta(days=1)
    out: list[Occurrence] = []
    while day <= last:
        if matches(day):
            instant = local_instant(day, at, zone_)
            if since < instant <= now:
                out.append(Occurrence(day, instant))
        day += timedelta(days=1)
    return out


def next_occurrence(at: time, days: DaysLike, tz: ZoneInfo | str, after: datetime) -> Occurrence | None:
    """The first occurrence strictly after ``after`` (within about a year)."""
    zone_ = tz if isinstance(tz, ZoneInfo) else zone(tz)
    matches = _matcher(days)
    day = after.astimezone(zone_).date()
    for _ in range(370):
        if matches(day):
            instant = local_instant(day, at, zone_)
            if instant > after:
                return Occurrence(day, instant)
        day += timedelta(days=1)
    return None


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant the local ``day`` begins."""
    return local_instant(day, time(0, 0), tz)


@dataclass
class JobContext:
    services: Services
    session: AsyncSession
    now: datetime
    worker: str = "scheduler"
    queued: int = field(default=0)
    since: datetime | None = None  # None: read from the function's watermark when first needed
    grace: timedelta = timedelta(hours=6)
    name: str = ""
    failed: bool = False
    uses_window: bool = False  # the window was asked for: the tick moves the watermark on
    feature: str = ""  # the feature the function was registered with (``@router.schedule(..., feature=)``)
    gate: Callable[[AsyncSession, str, str], Awaitable[bool]] | None = None  # the router's feature gate

    async def feature_on(self, workspace_id: str, feature: str | None = None) -> bool:
        """Whether this job's feature (or ``feature``) is switched on in the workspace."""
        name = feature or self.feature
        if self.gate is None or not name:
            return True
        return await self.gate(self.session, workspace_id, name)

    async def window_start(self) -> datetime:
        """Where this run's window begins: the end of the last completed run (at most the grace period back)."""
        if self.since is None:
            if self.name:
                mark = await sq.read_watermark(self.session, name=self.name)
                self.since = mark if mark is not None else self.now - self.grace
            else:
                self.since = self.now - timedelta(minutes=1)
        self.uses_window = True
        return self.since

    async def claim(self, *, workspace_id: str, channel_id: str, kind: str, period: str) -> bool:
        """True if this run may post; False if another run (or an earlier one) already claimed it, or if this
        job's feature is switched off in the workspace (the scheduler's gate: nothing of it is stored)."""
        if not await self.feature_on(workspace_id):
            return False
        won = await core.insert_ignore(
            self.session,
            ScheduledClaim,
            {
                "workspace_id": workspace_id,
                "channel_id": channel_id,
                "kind": kind,
                "period": period,
                "claimed_at": self.now,
                "claimed_by": self.worker,
            },
            ["workspace_id", "channel_id", "kind", "period"],
        )
        if won:
            metrics.SCHEDULED_POSTS.labels(kind).inc()
        return won

    async def post(
        self,
        workspace: Workspace,
        channel_id: str,
        message: Message,
        *,
        kind: str,
        dedupe_key: str | None = None,
        thread_id: str | None = None,
    ) -> None:
        """Queue a post to a channel in this job's transaction."""
        target = Target(kind="channel", channel_id=channel_id, thread_id=thread_id)
        await self._queue(workspace, target, channel_id, message, kind=kind, dedupe_key=dedupe_key)

    async def dm(
        self, workspace: Workspace, user_id: str, message: Message, *, kind: str, dedupe_key: str | None = None
    ) -> None:
        """Queue a direct message to a person in this job's transaction."""
        target = Target(kind="dm", user_id=user_id)
        await self._queue(workspace, target, user_id, message, kind=kind, dedupe_key=dedupe_key)

    async def _queue(
        self,
        workspace: Workspace,
        target: Target,
        target_id: str,
        message: Message,
        *,
        kind: str,
        dedupe_key: str | None,
    ) -> None:
        if not await self.feature_on(workspace.id):
            return  # the job's feature is switched off there: nothing goes out (the scheduler's gate)
        message = message.model_copy(update={"target": target})
        await core.queue_message(
            self.session,
            workspace_id=workspace.id,
            platform=workspace.platform,
            target_kind=target.kind,
            target_id=target_id,
            thread_id=target.thread_id,
            payload=message.model_dump(mode="json"),
            cause=kind,
            dedupe_key=dedupe_key,
            now=self.now,
        )
        self.queued += 1

    def translator(self, workspace: Workspace, locale: str | None = None) -> Translator:
        return translator_for(locale, workspace.locale, tone=workspace.tone)

    # --- windows ----------------------------------------------------------------------------------

    async def due(
        self,
        at: time,
        days: DaysLike,
        tz: ZoneInfo | str,
        *,
        not_before: datetime | None = None,
        kind: str = "",
        workspace_id: str = "",
        channel_id: str = "",
    ) -> list[Occurrence]:
        """Occurrences in this job's window that are still within the grace period.

        Older ones are skipped with a log line; ones before ``not_before`` (e.g. when the schedule
        was created or changed) are ignored silently.
        """
        start = max(await self.window_start(), self.now - MAX_LOOKBACK)
        cutoff = self.now - self.grace
        out: list[Occurrence] = []
        for occ in due_in_window(at, days, tz, start, self.now):
            if not_before is not None and occ.due_at < not_before:
                continue
            if occ.due_at < cutoff:
                metrics.SCHEDULED_SKIPPED.labels(kind or self.name).inc()
                log.warning(
                    "scheduled_post_skipped",
                    job=self.name,
                    kind=kind,
                    workspace=workspace_id,
                    channel=channel_id,
                    period=occ.period,
                    due_at=occ.due_at.isoformat(),
                    late_by_hours=round((self.now - occ.due_at).total_seconds() / 3600, 2),
                    grace_hours=self.grace.total_seconds() / 3600,
                )
                continue
            out.append(occ)
        return out

    async def schedules(
        self, *kinds: str, features: Mapping[str, str] | None = None
    ) -> list[tuple[Schedule, Workspace]]:
        """The enabled schedules of these kinds with their workspaces, in a stable order. A schedule whose
        feature is switched off in its workspace is left out: the job's own feature, or ``features[kind]``."""
        rows = await sq.schedules_with_workspaces(self.session, kinds=kinds)
        names = features or {}
        return [(s, ws) for s, ws in rows if await self.feature_on(ws.id, names.get(s.kind))]

    async def due_for(self, schedule: Schedule, workspace: Workspace) -> list[Occurrence]:
        """:meth:`due` for a stored schedule (its time zone, or else the workspace's)."""
        try:
            at, days = parse_time(schedule.at), Days.parse(schedule.days)
        except ScheduleError:
            log.error("schedule_unreadable", schedule=schedule.id, at=schedule.at, days=schedule.days)
            return []
        return await self.due(
            at,
            days,
            zone(schedule.timezone, workspace.timezone),
            not_before=schedule.updated_at,
            kind=schedule.kind,
            workspace_id=schedule.workspace_id,
            channel_id=schedule.channel_id,
        )

    @asynccontextmanager
    async def guard(self, **context: object) -> AsyncIterator[None]:
        """Run a part of the job in a savepoint; a failure is logged and retried on a later tick."""
        queued = self.queued
        try:
            async with self.session.begin_nested():
                yield
        except Exception:
            self.queued = queued
            self.failed = True
            metrics.SCHEDULER_JOB_FAILURES.labels(self.name or "job").inc()
            log.exception("scheduled_part_failed", job=self.name, **context)


ScheduledFn = Callable[[JobContext], Awaitable[None]]
