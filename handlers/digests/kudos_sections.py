"""The kudos part of the digest: totals, values mix, cross-team share, top givers and receivers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.i18n import Translator
from bot.core.messages import Bar, BarList, Block, Fields, Note, Section, bar_rows, user_text
from handlers.digests.sections import DigestScope, register_section
from handlers.privacy_rules import rankings_allowed
from storage import core
from storage import digests as dq
from storage.digests import KudosFact
from storage.models import CompanyValue
from storage.privacy import TOMBSTONE_PREFIX

TOP_N = 3


@dataclass
class KudosStats:
    kudos: int = 0
    points: int = 0
    cross_team: int = 0
    givers: set[str] = field(default_factory=set)
    receivers: set[str] = field(default_factory=set)
    value_points: Counter[str | None] = field(default_factory=Counter)
    value_people: dict[str | None, set[str]] = field(default_factory=dict)
    received: Counter[str] = field(default_factory=Counter)
    given: Counter[str] = field(default_factory=Counter)

    @property
    def participants(self) -> set[str]:
        return self.givers | self.receivers


def aggregate(facts: Iterable[KudosFact]) -> KudosStats:
    """The period's figures. An erased person's kudos count, but the person counts as nobody: each of
    their rows carries its own tombstone id, and one person must not pass for several behind a figure
    (nor appear in a ranking)."""
    stats = KudosStats()
    for f in facts:
        stats.kudos += 1
        stats.points += f.points
        stats.cross_team += int(f.cross_team)
        stats.value_points[f.value_tag] += f.points
        people = stats.value_people.setdefault(f.value_tag, set())
        if not f.giver_id.startswith(TOMBSTONE_PREFIX):
            stats.givers.add(f.giver_id)
            stats.given[f.giver_id] += f.points
            people.add(f.giver_id)
        if not f.receiver_id.startswith(TOMBSTONE_PREFIX):
            stats.receivers.add(f.receiver_id)
            stats.received[f.receiver_id] += f.points
            people.add(f.receiver_id)
    return stats


async def stats_for(scope: DigestScope) -> KudosStats:
    if "kudos" not in scope.memo:
        facts = await dq.kudos_between(scope.session, workspace_id=scope.workspace.id, start=scope.start, end=scope.end)
        scope.memo["kudos"] = aggregate(facts)
    stats: KudosStats = scope.memo["kudos"]
    return stats


def value_name(t: Translator, tag: str | None, values: dict[str, CompanyValue]) -> str:
    if tag is None:
        return t("digests.kudos.no_value")
    v = values.get(tag)
    if v is None:
        return user_text(f"#{tag}")
    return user_text(v.label_de if t.lang == "de" else v.label_en)


def percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


async def overview(scope: DigestScope) -> list[Block]:
    """Kudos given, people recognised, givers, cross-team share; hidden for fewer than five people."""
    t = scope.t
    stats = await stats_for(scope)
    blocks: list[Block] = [Section(text=t("digests.kudos.title"))]
    if stats.kudos == 0:
        return [*blocks, Section(text=t("digests.kudos.quiet"))]
    if not scope.group_ok(len(stats.participants)):
        return [*blocks, Note(text=t("digests.kudos.too_few", min=scope.min_size))]
    blocks.append(
        Fields(
            items=[
                (t("digests.kudos.count"), str(stats.kudos)),
                (t("digests.kudos.recognised"), str(len(stats.receivers))),
                (t("digests.kudos.givers"), str(len(stats.givers))),
                (t("digests.kudos.cross_team"), f"{percent(stats.cross_team, stats.kudos)} %"),
            ]
        )
    )
    return blocks


def split_values(stats: KudosStats, group_ok: Callable[[int], bool]) -> tuple[list[str | None], list[str | None]]:
    """The values shown on their own, and the rest. A value given among fewer than the minimum group joins
    the rest; and since the period's total is shown too, the rest must stand for the minimum group (or be
    empty), else the smallest shown value joins it as well: the total minus the shown values is the rest."""
    shown = [tag for tag, _ in stats.value_points.most_common() if group_ok(len(stats.value_people[tag]))]
    rest = [tag for tag in stats.value_points if tag not in shown]

    def rest_people() -> set[str]:
        return set().union(*(stats.value_people[tag] for tag in rest)) if rest else set()

    while rest and shown and not group_ok(len(rest_people())):
        rest.append(shown.pop())  # most_common order: the last shown has the fewest points
    return shown, rest


async def values_mix(scope: DigestScope) -> list[Block]:
    """Points per company value; a value given among fewer than five people joins "other values"."""
    t = scope.t
    stats = await stats_for(scope)
    if stats.kudos == 0 or not scope.group_ok(len(stats.participants)):
        return []
    values = {v.tag: v for v in await core.list_values(scope.session, workspace_id=scope.workspace.id)}
    shown_tags, rest = split_values(stats, scope.group_ok)
    shown = [(value_name(t, tag, values), float(stats.value_points[tag])) for tag in shown_tags]
    other_points = sum(stats.value_points[tag] for tag in rest)
    other_people = set().union(*(stats.value_people[tag] for tag in rest)) if rest else set()
    shown.sort(key=lambda x: -x[1])
    if other_points and scope.group_ok(len(other_people)):
        shown.append((t("digests.kudos.other_values"), float(other_points)))
    if not shown:
        return []
    rows = [Bar(label=label, value=v, display=t.plural("digests.kudos.points", int(v))) for label, v in shown]
    blocks: list[Block] = [BarList(title=t("digests.kudos.values"), rows=rows)]
    if other_points:
        blocks.append(Note(text=t("digests.kudos.other_values_why", min=scope.min_size)))
    return blocks


async def ranking(
    session: AsyncSession, *, workspace_id: str, t: Translator, counts: Counter[str], hidden: set[str], limit: int
) -> list[Bar]:
    """The top ``limit`` people by points with dense ranks, leaving out people who opted out."""
    ordered = [(uid, n) for uid, n in counts.most_common() if uid not in hidden]
    # Everyone tied with the last place shown is shown too: a tie is never cut in two.
    cut = ordered[limit - 1][1] if len(ordered) >= limit else 0
    top = [(uid, n) for uid, n in ordered if n >= cut] if len(ordered) > limit else ordered
    names = await dq.display_names(session, workspace_id=workspace_id, user_ids=[u for u, _ in top])
    rows = bar_rows([(user_text(names.get(uid, uid)), float(n)) for uid, n in top])
    for row, (_uid, n) in zip(rows, top, strict=True):
        row.display = t.plural("digests.kudos.points", n)
    return rows


async def top_people(scope: DigestScope) -> list[Block]:
    """Top receivers and givers by name, without opted-out people; never in the works-council profile."""
    t = scope.t
    stats = await stats_for(scope)
    if stats.kudos == 0 or not scope.group_ok(len(stats.participants)):
        return []
    if not scope.names_allowed or not await rankings_allowed(scope.session, scope.workspace):
        return [Note(text=t("digests.kudos.no_names"))]
    hidden = await dq.leaderboard_hidden(scope.session, workspace_id=scope.workspace.id)
    blocks: list[Block] = []
    for key, counts in (("receivers", stats.received), ("givers", stats.given)):
        rows = await ranking(
            scope.session, workspace_id=scope.workspace.id, t=t, counts=counts, hidden=hidden, limit=TOP_N
        )
        if rows:
            blocks.append(BarList(title=t(f"digests.kudos.top_{key}"), rows=rows))
    return blocks


def register() -> None:
    register_section("kudos", overview, order=10)
    register_section("kudos-values", values_mix, order=20)
    register_section("kudos-people", top_people, order=30)
