"""The kudos roll-up: the overview's figures over any history in a few small reads.

Two tables summarise ``kudos`` and are kept exact by database triggers on it, in the same transaction as
every write: a kudos given, an undo, erasure's per-row tombstones, retention's deletes, a bulk load. No
code path can forget them, and the figures equal the grouped statements over ``kudos`` itself
(``storage.dashboard``; the tests compare both after gives, undo, erasure and department moves).

- ``kudos_week``: per workspace, week (the Monday of the giver's day), value and the giver's and
  receiver's departments *stored on each kudos* (a move changes no past total): kudos, points, kudos
  across teams. The overview's periods start on a Monday and run until now, so weeks are exact. Its size
  grows with weeks x values x pairs of departments, never with the number of kudos.
- ``kudos_person``: who stands behind those groups, for the minimum-group rule (distinct people, which
  do not add up over weeks): per giver and giving/receiving department pair (``g``) and per receiver,
  value and department pair (``r``), the last day they gave or received there. "People behind a group
  since Monday X" is then a count over at most people x values x departments rows. An erased person's
  kudos (tombstoned ids) count nobody: no person stands behind them any more.

Both tables key their nullable grouping columns by ``k`` (one text, NULL and '' kept apart), so one
``ON CONFLICT`` upsert works alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Index, UniqueConstraint, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

TOMBSTONE_LIKE = "former-%"  # storage.privacy.TOMBSTONE_PREFIX (not imported: privacy imports this module)


class KudosWeek(SQLModel, table=True):
    """Kudos per workspace, week, value and (stored) pair of departments; no person."""

    __tablename__ = "kudos_week"
    __table_args__ = (UniqueConstraint("workspace_id", "week", "k"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(max_length=120)
    week: date  # Monday of the giver's day
    k: str = Field(max_length=400)  # the grouping columns as one key (see the module)
    value_tag: str | None = Field(default=None, max_length=40)
    giver_department: str | None = Field(default=None, max_length=120)
    receiver_department: str | None = Field(default=None, max_length=120)
    kudos: int = 0
    points: int = 0
    cross_team: int = 0


class KudosPerson(SQLModel, table=True):
    """The last day a person gave (``g``) or received (``r``) kudos in one group: for distinct counts."""

    __tablename__ = "kudos_person"
    __table_args__ = (
        UniqueConstraint("workspace_id", "role", "k", "user_id"),
        # covering: "people behind each value" and "behind each pair of departments" read only the index
        Index("ix_kudos_person_value", "workspace_id", "role", "value_tag", "user_id", "last_day"),
        Index(
            "ix_kudos_person_pair",
            "workspace_id",
            "role",
            "giver_department",
            "receiver_department",
            "user_id",
            "last_day",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(max_length=120)
    role: str = Field(max_length=1)  # g | r
    k: str = Field(max_length=400)
    value_tag: str | None = Field(default=None, max_length=40)  # receivers only
    giver_department: str | None = Field(default=None, max_length=120)
    receiver_department: str | None = Field(default=None, max_length=120)
    user_id: str = Field(max_length=120)
    last_day: date


# --- the triggers (one definition for the migration and for bulk loads) -------------------------------

SEP = "|"  # joins the parts of ``k``; each part is '-' for NULL or '=' + the value, so no two keys collide


def _part(expr: str) -> str:
    return f"coalesce('=' || {expr}, '-')"


def _k_week(row: str) -> str:
    parts = [_part(f"{row}.{c}") for c in ("value_tag", "giver_department", "receiver_department")]
    return f" || '{SEP}' || ".join(parts)


def _k_giver(row: str) -> str:
    return f"{_part(f'{row}.giver_department')} || '{SEP}' || {_part(f'{row}.receiver_department')}"


def _week(row: str, dialect: str) -> str:
    if dialect == "sqlite":
        return f"date({row}.giver_day, '-6 days', 'weekday 1')"
    return f"CAST(date_trunc('week', {row}.giver_day) AS date)"


def _int(expr: str, dialect: str) -> str:
    return expr if dialect == "sqlite" else f"CAST({expr} AS integer)"


def _add(row: str, dialect: str, *, week: bool = True) -> list[str]:
    """Statements that count kudos row ``row`` (NEW) in; ``week=False``: only who stands behind it."""
    greatest = "max" if dialect == "sqlite" else "GREATEST"
    where = "WHERE true " if dialect == "sqlite" else ""  # SQLite: INSERT…SELECT…ON CONFLICT needs a WHERE
    out = []
    if week:
        out.append(
            "INSERT INTO kudos_week (workspace_id, week, k, value_tag, giver_department, receiver_department, "
            "kudos, points, cross_team) "
            f"SELECT {row}.workspace_id, {_week(row, dialect)}, {_k_week(row)}, {row}.value_tag, "
            f"{row}.giver_department, {row}.receiver_department, 1, {row}.points, "
            f"{_int(f'{row}.cross_team', dialect)} {where}"
            "ON CONFLICT (workspace_id, week, k) DO UPDATE SET kudos = kudos_week.kudos + 1, "
            "points = kudos_week.points + excluded.points, cross_team = kudos_week.cross_team + excluded.cross_team"
        )
    for role, person, key, tag in (
        ("g", "giver_id", _k_giver(row), "NULL"),
        ("r", "receiver_id", _k_week(row), f"{row}.value_tag"),
    ):
        out.append(
            "INSERT INTO kudos_person (workspace_id, role, k, value_tag, giver_department, receiver_department, "
            "user_id, last_day) "
            f"SELECT {row}.workspace_id, '{role}', {key}, {tag}, {row}.giver_department, "
            f"{row}.receiver_department, {row}.{person}, {row}.giver_day "
            f"WHERE {row}.{person} NOT LIKE '{TOMBSTONE_LIKE}' "
            "ON CONFLICT (workspace_id, role, k, user_id) DO UPDATE SET "
            f"last_day = {greatest}(kudos_person.last_day, excluded.last_day)"
        )
    return out


def _remove(row: str, dialect: str, *, week: bool = True) -> list[str]:
    """Statements that count kudos row ``row`` (OLD, already gone or changed) out."""
    same = "IS" if dialect == "sqlite" else "IS NOT DISTINCT FROM"
    week_key = f"workspace_id = {row}.workspace_id AND week = {_week(row, dialect)} AND k = {_k_week(row)}"
    out = []
    if week:
        out += [
            f"UPDATE kudos_week SET kudos = kudos - 1, points = points - {row}.points, "
            f"cross_team = cross_team - {_int(f'{row}.cross_team', dialect)} WHERE {week_key}",
            f"DELETE FROM kudos_week WHERE {week_key} AND kudos <= 0",
        ]
    depts = (
        f"kudos.giver_department {same} {row}.giver_department "
        f"AND kudos.receiver_department {same} {row}.receiver_department"
    )
    for role, person, key, extra in (
        ("g", "giver_id", _k_giver(row), ""),
        ("r", "receiver_id", _k_week(row), f" AND kudos.value_tag {same} {row}.value_tag"),
    ):
        mine = f"kudos.workspace_id = {row}.workspace_id AND kudos.{person} = {row}.{person} AND {depts}{extra}"
        key_where = f"workspace_id = {row}.workspace_id AND role = '{role}' AND k = {key} AND user_id = {row}.{person}"
        out.append(f"DELETE FROM kudos_person WHERE {key_where} AND NOT EXISTS (SELECT 1 FROM kudos WHERE {mine})")
        out.append(
            f"UPDATE kudos_person SET last_day = (SELECT max(kudos.giver_day) FROM kudos WHERE {mine}) "
            f"WHERE {key_where}"
        )
    return out


# Columns whose change moves a kudos between groups; a change of only giver or receiver (erasure's
# tombstones) changes who stands behind the groups, not the counts.
GROUPED = ("workspace_id", "points", "value_tag", "cross_team", "giver_department", "receiver_department", "giver_day")
PEOPLE = ("giver_id", "receiver_id")


def _changed(columns: tuple[str, ...], dialect: str) -> str:
    if dialect == "sqlite":
        return "(" + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns) + ")"
    old, new = (", ".join(f"{r}.{c}" for c in columns) for r in ("OLD", "NEW"))
    return f"(({old}) IS DISTINCT FROM ({new}))"


def create_triggers(dialect: str) -> list[str]:
    """DDL of the triggers that keep both tables exact (``sqlite`` or ``postgresql``)."""
    grouped, people = _changed(GROUPED, dialect), _changed(PEOPLE, dialect)
    if dialect == "sqlite":

        def body(stmts: list[str]) -> str:
            return "BEGIN " + "; ".join(stmts) + "; END"

        return [
            f"CREATE TRIGGER kudos_rollup_insert AFTER INSERT ON kudos FOR EACH ROW {body(_add('NEW', dialect))}",
            f"CREATE TRIGGER kudos_rollup_delete AFTER DELETE ON kudos FOR EACH ROW {body(_remove('OLD', dialect))}",
            f"CREATE TRIGGER kudos_rollup_update AFTER UPDATE OF {', '.join(GROUPED)} ON kudos FOR EACH ROW "
            f"WHEN {grouped} {body(_remove('OLD', dialect) + _add('NEW', dialect))}",
            f"CREATE TRIGGER kudos_rollup_people AFTER UPDATE OF {', '.join(PEOPLE)} ON kudos FOR EACH ROW "
            f"WHEN {people} AND NOT {grouped} "
            f"{body(_remove('OLD', dialect, week=False) + _add('NEW', dialect, week=False))}",
        ]

    def block(stmts: list[str]) -> str:
        return "; ".join(stmts) + ";"

    function = (
        "CREATE OR REPLACE FUNCTION kudos_rollup() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF TG_OP <> 'INSERT' THEN "
        f"IF TG_ARGV[0] = 'all' THEN {block(_remove('OLD', dialect))} "
        f"ELSE {block(_remove('OLD', dialect, week=False))} END IF; END IF; "
        "IF TG_OP <> 'DELETE' THEN "
        f"IF TG_ARGV[0] = 'all' THEN {block(_add('NEW', dialect))} "
        f"ELSE {block(_add('NEW', dialect, week=False))} END IF; END IF; "
        "RETURN NULL; END $$"
    )
    return [
        function,
        "CREATE TRIGGER kudos_rollup_change AFTER INSERT OR DELETE ON kudos FOR EACH ROW "
        "EXECUTE FUNCTION kudos_rollup('all')",
        f"CREATE TRIGGER kudos_rollup_update AFTER UPDATE OF {', '.join(GROUPED)} ON kudos FOR EACH ROW "
        f"WHEN {grouped} EXECUTE FUNCTION kudos_rollup('all')",
        f"CREATE TRIGGER kudos_rollup_people AFTER UPDATE OF {', '.join(PEOPLE)} ON kudos FOR EACH ROW "
        f"WHEN ({people} AND NOT {grouped}) EXECUTE FUNCTION kudos_rollup('people')",
    ]


def drop_triggers(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS kudos_rollup_{op}" for op in ("insert", "delete", "update", "people")]
    return [
        "DROP TRIGGER IF EXISTS kudos_rollup_change ON kudos",
        "DROP TRIGGER IF EXISTS kudos_rollup_update ON kudos",
        "DROP TRIGGER IF EXISTS kudos_rollup_people ON kudos",
        "DROP FUNCTION IF EXISTS kudos_rollup()",
    ]


def ddl_digest(dialect: str) -> str:
    """A short digest of this module's DDL for ``dialect``: a migration pins the version it installed."""
    text = "\n".join(create_triggers(dialect) + rebuild(dialect) + drop_triggers(dialect))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def rebuild(dialect: str) -> list[str]:
    """Statements that fill both (empty) tables from ``kudos`` at once: the migration, a bulk load."""
    week = _week("kudos", dialect)
    kw, kg = _k_week("kudos"), _k_giver("kudos")
    cross = _int("kudos.cross_team", dialect)
    return [
        "DELETE FROM kudos_week",
        "DELETE FROM kudos_person",
        "INSERT INTO kudos_week (workspace_id, week, k, value_tag, giver_department, receiver_department, "
        "kudos, points, cross_team) "
        f"SELECT kudos.workspace_id, {week}, {kw}, kudos.value_tag, kudos.giver_department, "
        f"kudos.receiver_department, count(*), sum(kudos.points), sum({cross}) FROM kudos "
        f"GROUP BY kudos.workspace_id, {week}, {kw}, kudos.value_tag, kudos.giver_department, kudos.receiver_department",
        "INSERT INTO kudos_person (workspace_id, role, k, value_tag, giver_department, receiver_department, "
        "user_id, last_day) "
        f"SELECT kudos.workspace_id, 'g', {kg}, NULL, kudos.giver_department, kudos.receiver_department, "
        f"kudos.giver_id, max(kudos.giver_day) FROM kudos WHERE kudos.giver_id NOT LIKE '{TOMBSTONE_LIKE}' "
        f"GROUP BY kudos.workspace_id, {kg}, kudos.giver_department, kudos.receiver_department, kudos.giver_id",
        "INSERT INTO kudos_person (workspace_id, role, k, value_tag, giver_department, receiver_department, "
        "user_id, last_day) "
        f"SELECT kudos.workspace_id, 'r', {kw}, kudos.value_tag, kudos.giver_department, kudos.receiver_department, "
        f"kudos.receiver_id, max(kudos.giver_day) FROM kudos WHERE kudos.receiver_id NOT LIKE '{TOMBSTONE_LIKE}' "
        f"GROUP BY kudos.workspace_id, {kw}, kudos.value_tag, kudos.giver_department, kudos.receiver_department, "
        "kudos.receiver_id",
    ]


# --- reading ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """A workspace (or one team of it, by the departments stored on the kudos) since a Monday."""

    workspace_id: str
    since: date  # a Monday
    department: str | None = None


def c(model: Any, name: str) -> Any:
    return getattr(model, name)


def _in_team(model: Any, department: str) -> Any:
    d = department.lower()
    return or_(func.lower(c(model, "giver_department")) == d, func.lower(c(model, "receiver_department")) == d)


def _weeks_where(s: Scope) -> list[Any]:
    out = [c(KudosWeek, "workspace_id") == s.workspace_id, c(KudosWeek, "week") >= s.since]
    if s.department:
        out.append(_in_team(KudosWeek, s.department))
    return out


def _people_where(s: Scope, role: str) -> list[Any]:
    out = [
        c(KudosPerson, "workspace_id") == s.workspace_id,
        c(KudosPerson, "role") == role,
        c(KudosPerson, "last_day") >= s.since,
    ]
    if s.department:
        out.append(_in_team(KudosPerson, s.department))
    return out


def _day(d: Any) -> date:
    return d if isinstance(d, date) else date.fromisoformat(str(d))


async def kudos_by_week(session: AsyncSession, s: Scope) -> list[tuple[date, int, int, int]]:
    """(Monday, kudos, points, kudos across teams) for each week with kudos."""
    week = c(KudosWeek, "week")
    stmt = (
        select(
            week,
            func.sum(c(KudosWeek, "kudos")),
            func.sum(c(KudosWeek, "points")),
            func.sum(c(KudosWeek, "cross_team")),
        )
        .where(*_weeks_where(s))
        .group_by(week)
        .order_by(week)
    )
    return [(_day(w), int(n), int(p), int(x)) for w, n, p, x in (await session.execute(stmt)).all()]


async def value_mix(session: AsyncSession, s: Scope) -> list[tuple[str | None, int, int]]:
    """(value tag, points, distinct receivers) per value, most points first (as ``dashboard.value_mix``)."""
    tag = c(KudosWeek, "value_tag")
    pts = func.sum(c(KudosWeek, "points"))
    points = {
        t: int(p) for t, p in (await session.execute(select(tag, pts).where(*_weeks_where(s)).group_by(tag))).all()
    }
    ptag = c(KudosPerson, "value_tag")
    receivers = {
        t: int(n)
        for t, n in (
            await session.execute(
                select(ptag, func.count(func.distinct(c(KudosPerson, "user_id"))))
                .where(*_people_where(s, "r"))
                .group_by(ptag)
            )
        ).all()
    }
    rows = [(t, p, receivers.get(t, 0)) for t, p in points.items()]
    rows.sort(key=lambda r: -r[1])
    return rows


async def department_edges(session: AsyncSession, s: Scope) -> list[tuple[str, str, int, int, int]]:
    """(giving department, receiving department, kudos, distinct givers, distinct receivers)."""

    def pair(model: Any) -> tuple[Any, Any]:
        return c(model, "giver_department"), c(model, "receiver_department")

    gd, rd = pair(KudosWeek)
    kudos = (
        await session.execute(
            select(gd, rd, func.sum(c(KudosWeek, "kudos")))
            .where(*_weeks_where(s), gd.is_not(None), rd.is_not(None))
            .group_by(gd, rd)
        )
    ).all()
    pgd, prd = pair(KudosPerson)
    people: dict[tuple[str, str, str], int] = {}
    for role in ("g", "r"):
        stmt = (
            select(pgd, prd, func.count(func.distinct(c(KudosPerson, "user_id"))))
            .where(*_people_where(s, role), pgd.is_not(None), prd.is_not(None))
            .group_by(pgd, prd)
        )
        for a, b, n in (await session.execute(stmt)).all():
            people[(role, a, b)] = int(n)
    rows = [(str(a), str(b), int(n), people.get(("g", a, b), 0), people.get(("r", a, b), 0)) for a, b, n in kudos]
    rows.sort(key=lambda r: -r[2])
    return rows


async def receivers_of(session: AsyncSession, s: Scope, tags: list[str | None]) -> int:
    """Distinct receivers of the kudos with any of ``tags`` (None: no value) since ``s.since``: the people
    behind what those values add up to."""
    ptag = c(KudosPerson, "value_tag")
    named = [t for t in tags if t is not None]
    which = or_(ptag.in_(named), ptag.is_(None)) if None in tags else ptag.in_(named)
    stmt = select(func.count(func.distinct(c(KudosPerson, "user_id")))).where(*_people_where(s, "r"), which)
    return int((await session.execute(stmt)).scalar_one())


async def people_beside(session: AsyncSession, s: Scope, pairs: list[tuple[str, str]]) -> int:
    """The givers and receivers of the kudos since ``s.since`` that no shown arrow carries: between the
    department ``pairs`` (the hidden arrows) or with a side that has no department."""
    gd, rd = c(KudosPerson, "giver_department"), c(KudosPerson, "receiver_department")
    which = or_(gd.is_(None), rd.is_(None), *(and_(gd == a, rd == b) for a, b in pairs))
    where = [c(KudosPerson, "workspace_id") == s.workspace_id, c(KudosPerson, "last_day") >= s.since, which]
    if s.department:
        where.append(_in_team(KudosPerson, s.department))
    stmt = select(func.count(func.distinct(c(KudosPerson, "user_id")))).where(*where)
    return int((await session.execute(stmt)).scalar_one())


async def people_apart(session: AsyncSession, s: Scope, department: str) -> int:
    """The people behind the kudos since ``s.since`` that touch no one of ``department`` (neither side's
    stored department is it): what the workspace's figures minus the team's figures are about."""
    d = department.lower()
    touches = or_(
        func.lower(func.coalesce(c(KudosPerson, "giver_department"), "")) == d,
        func.lower(func.coalesce(c(KudosPerson, "receiver_department"), "")) == d,
    )
    stmt = select(func.count(func.distinct(c(KudosPerson, "user_id")))).where(
        c(KudosPerson, "workspace_id") == s.workspace_id, c(KudosPerson, "last_day") >= s.since, ~touches
    )
    return int((await session.execute(stmt)).scalar_one())


async def team_people(session: AsyncSession, s: Scope) -> int:
    """The people of the team behind its figures since ``s.since``: its givers and receivers by the
    departments stored on the kudos (as ``dashboard.team_people``)."""
    assert s.department
    d = s.department.lower()
    role, uid = c(KudosPerson, "role"), c(KudosPerson, "user_id")
    in_team = or_(
        and_(role == "g", func.lower(c(KudosPerson, "giver_department")) == d),
        and_(role == "r", func.lower(c(KudosPerson, "receiver_department")) == d),
    )
    stmt = select(func.count(func.distinct(uid))).where(
        c(KudosPerson, "workspace_id") == s.workspace_id, c(KudosPerson, "last_day") >= s.since, in_team
    )
    return int((await session.execute(stmt)).scalar_one())
