"""Privacy: per-feature switches, profile settings, roles, the audit log, retention, export and erasure.

Export, erasure and retention work over the whole schema (``SQLModel.metadata``), so a table added by a
later feature is covered without changes here: rows are found by the person's id in any id-like column,
by ``<@id>`` mentions and names in text, and each table has a retention policy (``RETENTION`` below or
``info={"retention": ...}`` on the table itself; a test fails for a table with personal data and none).
"""

from __future__ import annotations

import calendar
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    LargeBinary,
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    func,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel
from sqlmodel import select as sm_select

from storage import (  # noqa: F401  (registers their tables)
    goodwill,
    kudos_rollup,
    outbox,
    prompts,
    pulse,
    scheduling,
    suggestions,
)
from storage.core import DEDUPE_WINDOW_DAYS, cached_config, config_changed
from storage.models import Kudos, Member, Workspace, ts_column
from storage.teams import FILE_OFFER_HOURS
from storage.types import utcnow

FEATURES = (
    "kudos",
    "reaction_kudos",
    "leaderboards",
    "personal_stats",
    "prompts",
    "prompt_answers",
    "suggestions",
    "votes",
    "digests",
    "llm",
    "feedback_import",
    "pulse",
    "goodwill",
    "web",
)
PROFILES = ("standard", "works-council")
WORKS_COUNCIL = "works-council"
WORKS_COUNCIL_ROLE = "works-council"

# Columns that hold a person's platform id, in any table, now or later.
PERSON_COLUMNS = frozenset(
    {
        "user_id",
        "giver_id",
        "receiver_id",
        "voter_id",
        "author_id",
        "actor_id",
        "submitter_id",
        "approver_id",
        "reviewer_id",
        "decided_by",
        "changed_by",
        "created_by",
        "subject_id",
        "member_id",
        "respondent_id",
        "requested_by",
    }
)
# Columns that hold a person's id only in some rows (a DM's recipient).
CONDITIONAL_PERSON_COLUMNS = {
    "outbox": ("target_id", "target_kind", "dm"),
    "outbox_lane": ("target_id", "target_kind", "dm"),
}

PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    "standard": {"retention_months": 24, "min_group_size": 5, "individual_boards": True, "person_figures": True},
    WORKS_COUNCIL: {"retention_months": 12, "min_group_size": 5, "individual_boards": False, "person_figures": False},
}


class PrivacySettings(SQLModel, table=True):
    """A workspace's privacy choices beyond the profile name (kept on ``Workspace.privacy_profile``)."""

    __tablename__ = "privacy_settings"

    workspace_id: str = Field(primary_key=True, foreign_key="workspace.id", max_length=120)
    retention_months: int = 24
    min_group_size: int = 5
    individual_boards: bool = True  # False: leaderboards show team aggregates only
    person_figures: bool = True  # False: no per-person figures for managers and admins
    updated_at: datetime = ts_column()


class FeatureSwitch(SQLModel, table=True):
    """An explicit on/off for one feature in one workspace; without a row the profile default applies."""

    __tablename__ = "feature_switch"

    workspace_id: str = Field(primary_key=True, foreign_key="workspace.id", max_length=120)
    feature: str = Field(primary_key=True, max_length=40)
    enabled: bool = True
    changed_by: str | None = Field(default=None, max_length=120)
    changed_at: datetime = ts_column()


class PrivacyRole(SQLModel, table=True):
    """A person with a privacy role, e.g. the works council's delegate who may read the audit log."""

    __tablename__ = "privacy_role"

    workspace_id: str = Field(primary_key=True, foreign_key="workspace.id", max_length=120)
    user_id: str = Field(primary_key=True, max_length=120)
    role: str = Field(primary_key=True, max_length=40)
    created_at: datetime = ts_column()


class AuditEntry(SQLModel, table=True):
    """One admin or approver action, or an admin's look-up of one person's data."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(max_length=120, index=True)
    actor_id: str = Field(max_length=120)
    action: str = Field(max_length=80)
    subject_id: str | None = Field(default=None, max_length=120)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = ts_column(index=True)


# --- settings, switches, roles ------------------------------------------------------------------------


async def get_settings(session: AsyncSession, *, workspace_id: str) -> PrivacySettings:
    """The workspace's privacy settings (profile defaults until an admin changed them).

    A fresh object each call; change it and hand it to ``save_settings``.
    """

    async def load() -> dict[str, Any] | None:
        row = await session.get(PrivacySettings, workspace_id)
        return row.model_dump() if row is not None else None

    stored = await cached_config(session, workspace_id=workspace_id, name="privacy", load=load)
    if stored is not None:
        return PrivacySettings(**stored)
    ws = await session.get(Workspace, workspace_id)
    profile = ws.privacy_profile if ws is not None and ws.privacy_profile in PROFILES else "standard"
    return PrivacySettings(workspace_id=workspace_id, **PROFILE_DEFAULTS[profile])


async def save_settings(session: AsyncSession, settings: PrivacySettings) -> None:
    settings.updated_at = utcnow()
    await session.merge(settings)
    await session.flush()
    await config_changed(session, workspace_id=settings.workspace_id)


async def _switches(session: AsyncSession, workspace_id: str) -> dict[str, bool]:
    async def load() -> dict[str, bool]:
        rows = await session.execute(
            sm_select(FeatureSwitch.feature, FeatureSwitch.enabled).where(FeatureSwitch.workspace_id == workspace_id)
        )
        return {feature: bool(enabled) for feature, enabled in rows.all()}

    return await cached_config(session, workspace_id=workspace_id, name="switches", load=load)


# A feature that is part of another is off whenever that one is off (kudos by reaction with ``kudos`` off,
# answers with ``prompts`` off, votes with ``suggestions`` off, rankings and personal stats with ``kudos`` off).
FEATURE_PARENTS: dict[str, str] = {
    "reaction_kudos": "kudos",
    "leaderboards": "kudos",
    "personal_stats": "kudos",
    "prompt_answers": "prompts",
    "votes": "suggestions",
}


async def feature_enabled(session: AsyncSession, workspace_id: str, feature: str) -> bool:
    """Whether ``feature`` is on in the workspace (and the feature it is part of, see ``FEATURE_PARENTS``).
    LLM use is off by default in the works-council profile."""
    parent = FEATURE_PARENTS.get(feature)
    if parent is not None and not await feature_enabled(session, workspace_id, parent):
        return False
    switches = await _switches(session, workspace_id)
    if feature in switches:
        return switches[feature]
    if feature == "llm":
        ws = await session.get(Workspace, workspace_id)
        return not (ws is not None and ws.privacy_profile == WORKS_COUNCIL)
    return True


async def feature_states(session: AsyncSession, *, workspace_id: str) -> dict[str, bool]:
    return {f: await feature_enabled(session, workspace_id, f) for f in FEATURES}


async def set_feature(session: AsyncSession, *, workspace_id: str, feature: str, enabled: bool, actor_id: str) -> None:
    await session.merge(
        FeatureSwitch(
            workspace_id=workspace_id, feature=feature, enabled=enabled, changed_by=actor_id, changed_at=utcnow()
        )
    )
    await session.flush()
    await config_changed(session, workspace_id=workspace_id)


async def apply_profile(session: AsyncSession, *, workspace_id: str, profile: str, actor_id: str) -> PrivacySettings:
    """Switch the profile and reset its settings to the profile's preset (LLM off in works-council)."""
    ws = await session.get(Workspace, workspace_id)
    assert ws is not None
    was = ws.privacy_profile
    ws.privacy_profile = profile
    session.add(ws)
    settings = PrivacySettings(workspace_id=workspace_id, **PROFILE_DEFAULTS[profile])
    await save_settings(session, settings)
    if profile == WORKS_COUNCIL:
        await set_feature(session, workspace_id=workspace_id, feature="llm", enabled=False, actor_id=actor_id)
    if profile == WORKS_COUNCIL and was != WORKS_COUNCIL:
        # Visibility becomes opt-in: consent given under another profile does not carry over.
        await session.execute(
            update(Member).where(col(Member, "workspace_id") == workspace_id).values(leaderboard_opt_in=False)
        )
    return settings


async def min_group_size(session: AsyncSession, workspace_id: str) -> int:
    """The smallest group any aggregate may describe in this workspace."""
    return (await get_settings(session, workspace_id=workspace_id)).min_group_size


def min_group_ok(n_people: int, min_size: int) -> bool:
    """The one rule for every aggregate: it may be shown only if it covers at least ``min_size`` people."""
    return n_people >= max(min_size, 1)


async def person_figures_visible(session: AsyncSession, workspace_id: str) -> bool:
    """False in the works-council profile: managers and admins see no per-person figures of others."""
    return (await get_settings(session, workspace_id=workspace_id)).person_figures


async def has_role(session: AsyncSession, *, workspace_id: str, user_id: str, role: str) -> bool:
    return await session.get(PrivacyRole, (workspace_id, user_id, role)) is not None


async def set_role(session: AsyncSession, *, workspace_id: str, user_id: str, role: str, on: bool) -> None:
    if on:
        await session.merge(PrivacyRole(workspace_id=workspace_id, user_id=user_id, role=role, created_at=utcnow()))
    else:
        await session.execute(
            delete(PrivacyRole).where(
                col(PrivacyRole, "workspace_id") == workspace_id,
                col(PrivacyRole, "user_id") == user_id,
                col(PrivacyRole, "role") == role,
            )
        )
    await session.flush()


# --- audit --------------------------------------------------------------------------------------------


async def record_audit(
    session: AsyncSession,
    workspace_id: str,
    actor_id: str,
    action: str,
    subject_id: str | None = None,
    details: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> None:
    """Write one audit entry in the caller's transaction (kept only if the action is kept)."""
    session.add(
        AuditEntry(
            workspace_id=workspace_id,
            actor_id=actor_id,
            action=action,
            subject_id=subject_id,
            details=details or {},
            created_at=at or utcnow(),
        )
    )
    await session.flush()


async def audit_entries(session: AsyncSession, *, workspace_id: str, limit: int = 20) -> list[AuditEntry]:
    stmt = (
        sm_select(AuditEntry)
        .where(AuditEntry.workspace_id == workspace_id)
        .order_by(col(AuditEntry, "created_at").desc(), col(AuditEntry, "id").desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars().all())


# --- aggregates ---------------------------------------------------------------------------------------


@dataclass
class GroupTotal:
    group: str
    points: int
    people: int


async def department_totals(
    session: AsyncSession,
    *,
    workspace_id: str,
    since: datetime | None,
    direction: str = "received",
    value_tag: str | None = None,
    department: str | None = None,
) -> list[GroupTotal]:
    """Kudos points per department with the number of distinct people behind each total.

    A kudos counts for the department its receiver (or giver) had when it was given, stored on the row:
    moving a person to another team changes no past total, so no difference of totals is her figure.
    An erased person's kudos keep their points but count as nobody: each row holds its own tombstone id,
    and one person must not pass for many behind a total."""
    received = direction == "received"
    who = col(Kudos, "receiver_id") if received else col(Kudos, "giver_id")
    dept = col(Kudos, "receiver_department") if received else col(Kudos, "giver_department")
    person = case((who.startswith(TOMBSTONE_PREFIX, autoescape=True), null()), else_=who)
    stmt = select(dept, func.sum(col(Kudos, "points")), func.count(func.distinct(person))).where(
        col(Kudos, "workspace_id") == workspace_id, dept.is_not(None)
    )
    if since is not None:
        stmt = stmt.where(col(Kudos, "created_at") >= since)
    if value_tag:
        stmt = stmt.where(col(Kudos, "value_tag") == value_tag)
    if department:
        stmt = stmt.where(func.lower(dept) == department.lower())
    stmt = stmt.group_by(dept).order_by(func.sum(col(Kudos, "points")).desc(), dept)
    return [GroupTotal(str(d), int(p), int(n)) for d, p, n in (await session.execute(stmt)).all()]


async def people_outside(
    session: AsyncSession,
    *,
    workspace_id: str,
    since: datetime | None,
    direction: str = "received",
    value_tag: str | None = None,
    departments: Sequence[str] = (),
) -> int:
    """The people behind what ``departments``' totals leave over of the period's kudos: receivers (or givers)
    counted for another department or for none (an erased person counts as nobody)."""
    received = direction == "received"
    who = col(Kudos, "receiver_id") if received else col(Kudos, "giver_id")
    dept = col(Kudos, "receiver_department") if received else col(Kudos, "giver_department")
    stmt = select(func.count(func.distinct(who))).where(
        col(Kudos, "workspace_id") == workspace_id, ~who.startswith(TOMBSTONE_PREFIX, autoescape=True)
    )
    if since is not None:
        stmt = stmt.where(col(Kudos, "created_at") >= since)
    if value_tag:
        stmt = stmt.where(col(Kudos, "value_tag") == value_tag)
    if departments:
        stmt = stmt.where(or_(dept.is_(None), func.lower(dept).not_in([d.lower() for d in departments])))
    return int((await session.execute(stmt)).scalar_one())


# --- the whole schema ---------------------------------------------------------------------------------


def col(model: Any, name: str) -> Any:
    return model.__table__.c[name]


def all_tables() -> list[Table]:
    """Every table of the schema (this module imports each feature's table module, so all are registered)."""
    return list(SQLModel.metadata.sorted_tables)


def _base_type(column: Any) -> Any:
    t = column.type
    return t.impl if isinstance(t, TypeDecorator) else t


def _string_columns(table: Table) -> list[Any]:
    return [c for c in table.columns if isinstance(_base_type(c), String)]


def _text_columns(table: Table) -> list[Any]:
    return [c for c in table.columns if isinstance(_base_type(c), String | JSON)]


def person_columns(table: Table) -> list[str]:
    names = [c.name for c in table.columns if c.name in PERSON_COLUMNS]
    extra = CONDITIONAL_PERSON_COLUMNS.get(table.name)
    if extra:
        names.append(extra[0])
    return names


def _scope(table: Table, workspace_id: str) -> Any:
    """Rows of one workspace (processed-event keys carry it as a prefix); None for tables without a scope."""
    if "workspace_id" in table.c:
        return table.c.workspace_id == workspace_id
    if table.name == "processed_event":
        return table.c.key.startswith(f"{workspace_id}:", autoescape=True)
    if table.name == "workspace":
        return table.c.id == workspace_id
    for fk in table.foreign_keys:  # a child row belongs to its parent's workspace
        parent = fk.column.table
        if "workspace_id" in parent.c:
            return fk.parent.in_(select(fk.column).where(parent.c.workspace_id == workspace_id))
    return None


def _mention(user_id: str) -> str:
    return f"<@{user_id}>"


def _person_id_clause(table: Table, user_id: str) -> Any:
    """Rows whose person columns hold the person's id; None for tables without such columns."""
    conds: list[Any] = []
    for c in _string_columns(table):
        if c.name in PERSON_COLUMNS or c.name in ("channel_id",):
            conds.append(c == user_id)
    extra = CONDITIONAL_PERSON_COLUMNS.get(table.name)
    if extra:
        conds.append(and_(table.c[extra[0]] == user_id, table.c[extra[1]] == extra[2]))
    return or_(*conds) if conds else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# --- finding a person: the one row set that export and erasure share ----------------------------------


@dataclass
class Identity:
    """How a person appears in stored data: their platform id, their full name and handle, and the parts of
    their name that no other member of the workspace shares (an ambiguous surname is left alone, so a
    colleague's own name is never touched)."""

    user_id: str
    names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        names = sorted({n for n in self.names if n}, key=len, reverse=True)
        # The id as a whole token; each name as a whole word with its inflections (Annas, Anna's, Berger’s).
        parts = [rf"(?<![\w\-]){re.escape(n)}(?:'s|’s|s)?(?![\w\-])" for n in names]
        parts.append(rf"(?<![\w\-.]){re.escape(self.user_id)}(?![\w\-])")  # after the names: "Anna Schmidt" whole
        self._name = re.compile("|".join(parts), re.IGNORECASE)
        self._mention = re.compile(rf"<@{re.escape(self.user_id)}(?:\|[^>]*)?>")

    @property
    def terms(self) -> list[str]:
        """Substrings a row must contain to be looked at closely (lower case; JSON keeps non-ASCII escaped)."""
        base = [self.user_id, *self.names]
        return sorted({t.lower() for t in base + [json.dumps(t)[1:-1] for t in base if not t.isascii()]})

    def found_in(self, value: Any) -> bool:
        if value is None:
            return False
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return bool(self._mention.search(text) or self._name.search(text))

    def scrub(self, value: Any, label: str) -> Any:
        if isinstance(value, str):
            return self._name.sub(label, self._mention.sub(label, value))
        if isinstance(value, dict | list):
            return json.loads(self.scrub(json.dumps(value, ensure_ascii=False), label))
        return value


async def identity_of(
    session: AsyncSession, *, workspace_id: str, user_id: str, extra_names: Iterable[str] = ()
) -> Identity:
    """The person's :class:`Identity` from their member row and the workspace's other members."""
    member_t = SQLModel.metadata.tables["member"]
    rows = (
        await session.execute(
            select(member_t.c.user_id, member_t.c.display_name, member_t.c.handle).where(
                member_t.c.workspace_id == workspace_id
            )
        )
    ).all()
    own = [n for uid, dn, h in rows if uid == user_id for n in (dn, h) if n] + [n for n in extra_names if n]
    others = {p.lower() for uid, dn, h in rows if uid != user_id for n in (dn, h) if n for p in re.split(r"\s+", n)}
    others |= {n.lower() for uid, dn, h in rows if uid != user_id for n in (dn, h) if n}
    names = [n.strip() for n in own if len(n.strip()) >= 2 and n.strip().lower() not in others]
    parts = [p for n in own for p in re.split(r"\s+", n) if len(p) >= 3 and p.lower() not in others]
    return Identity(user_id=user_id, names=sorted(set(names + parts)))


def _anonymous_row(table: Table, row: Any) -> bool:
    """A row whose author is deliberately unknown (an anonymous suggestion, answer or its audit row)."""
    if "anonymous" in table.c and row.get("anonymous"):
        return True
    if table.name == "outbox" and row.get("cause") == "anonymous":  # a message an anonymous action queued
        return True
    authors = [c for c in ("author_id", "actor_id") if c in table.c]
    return bool(authors) and all(row.get(c) is None for c in authors)


@dataclass
class Found:
    table: Table
    row: dict[str, Any]
    own: bool  # the person is in one of the row's person columns
    anonymous: bool  # someone else's anonymous row that names the person in its text

    @property
    def key(self) -> tuple[str, tuple[Any, ...]]:
        return self.table.name, tuple(self.row[c.name] for c in self.table.primary_key.columns)


async def rows_about(session: AsyncSession, *, workspace_id: str, who: Identity) -> list[Found]:
    """Every row of every table about the person: their id in a person column, or their id, mention or
    name in any text (a thread post of their answer, a claim ``now:<id>``, a kudos reason)."""
    out: list[Found] = []
    for table in all_tables():
        own = _person_id_clause(table, who.user_id)
        texts = _text_columns(table)
        files = [c for c in table.columns if isinstance(_base_type(c), LargeBinary)]
        conds: list[Any] = [own] if own is not None else []
        conds += [func.lower(cast(c, String)).contains(t, autoescape=True) for c in texts for t in who.terms]
        if not conds:
            continue
        scope = _scope(table, workspace_id)
        # Files kept for delivery (another person's export waiting in Teams) are read whole: a file that
        # names the person goes with them.
        stmt = select(table) if files else select(table).where(or_(*conds))
        if scope is not None:
            stmt = stmt.where(scope)
        for row in (await session.execute(stmt)).mappings().all():
            data = dict(row)
            is_own = _is_own(table, data, who.user_id)
            in_text = any(who.found_in(data[c.name]) for c in texts)
            in_file = any(who.found_in(bytes(data[c.name] or b"").decode("utf-8", errors="replace")) for c in files)
            # a queued file about the person, e.g. ``starling-data-<id>-<day>.json``
            in_file = in_file or (
                _carries_file(table, data) and who.user_id.lower() in json.dumps(data.get("payload")).lower()
            )
            if not (is_own or in_text or in_file):
                continue  # a substring only (e.g. inside another word)
            out.append(Found(table, data, is_own, not is_own and _anonymous_row(table, data)))
    return out


def _is_own(table: Table, row: dict[str, Any], user_id: str) -> bool:
    if any(row.get(c) == user_id for c in person_columns(table) if c in PERSON_COLUMNS or c == "channel_id"):
        return True
    extra = CONDITIONAL_PERSON_COLUMNS.get(table.name)
    return bool(extra and row.get(extra[0]) == user_id and row.get(extra[1]) == extra[2])


EXPORT_OMIT = frozenset({"receipt_hash", "embedding"})  # a digest that could link, and model vectors


async def export_person(session: AsyncSession, *, workspace_id: str, user_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row about the person, table by table: the rows erasure deletes, unlinks or rewrites, less
    other people's anonymous rows that mention them (those are not the person's data, and their
    content could point to their author).

    Columns a table lists in ``info={"export_omit": (...)}`` are left out of the rows: the bytes of a
    file waiting in Teams for the person's consent (``teams_pending_file.content``) are such a column.
    That file is itself the person's data (an earlier export, the fact sheet), so the export lists the
    offer (name, type, size, when it expires) but does not nest the file.
    """
    who = await identity_of(session, workspace_id=workspace_id, user_id=user_id)
    out: dict[str, list[dict[str, Any]]] = {}
    for found in await rows_about(session, workspace_id=workspace_id, who=who):
        if found.anonymous or (not found.own and _carries_file(found.table, found.row)):
            continue  # others' anonymous rows, others' files: not the person's data
        omit = set(found.table.info.get("export_omit", ())) | EXPORT_OMIT
        out.setdefault(found.table.name, []).append({k: _jsonable(v) for k, v in found.row.items() if k not in omit})
    return out


# --- erasure ------------------------------------------------------------------------------------------

TOMBSTONE_PREFIX = "former-"  # other features recognise a tombstone by it
# Tables whose rows about the person describe only them: the rows go. Elsewhere (a kudos they gave, an
# approver's decision, an audit entry) others' records stay and the person becomes a fresh, unlinked
# tombstone id in each row.
ERASE_DELETE = frozenset(
    {
        "member",
        "budget_day",
        "privacy_role",
        "teams_user",
        "teams_conversation",
        "teams_pending_file",
        "outbox",
        "outbox_lane",
        "prompt_answer",
        "prompt_highlight",
        "prompt_draft_request",
        "suggestion_vote",
        "suggestion_follower",
        "suggestion_approver",
        "web_session",
        "kudos_person",  # the roll-up's copy of who gave and received; the triggers on kudos keep it in step
    }
)
# Identity columns of other people are never rewritten, even when a name part matches.
IDENTITY_COLUMNS = frozenset({"display_name", "handle"})


def tombstone() -> str:
    """A random id standing in for an erased person in one row: two rows never share one."""
    return f"{TOMBSTONE_PREFIX}{secrets.token_hex(8)}"


@dataclass
class ErasureReport:
    deleted: dict[str, int] = field(default_factory=dict)  # rows that described only the person
    unlinked: dict[str, int] = field(default_factory=dict)  # others' records: the person is a tombstone
    rewritten: dict[str, int] = field(default_factory=dict)  # texts that named the person
    touched: set[tuple[str, tuple[Any, ...]]] = field(default_factory=set)

    def add(self, bucket: dict[str, int], table: str) -> None:
        bucket[table] = bucket.get(table, 0) + 1


def _carries_file(table: Table, row: dict[str, Any]) -> bool:
    if any(isinstance(_base_type(c), LargeBinary) and row.get(c.name) for c in table.columns):
        return True
    payload = row.get("payload")
    return isinstance(payload, dict) and bool(payload.get("attachments"))


async def erase_person(
    session: AsyncSession, *, workspace_id: str, user_id: str, label: str, extra_names: Iterable[str] = ()
) -> ErasureReport:
    """Erase a person: rows that describe only them are deleted; in others' records (a kudos they gave,
    a decision they made, an audit entry) their id becomes a fresh random tombstone per row, so no two
    rows can be linked; their id, mentions and names (with inflections) leave every text column, replaced
    by ``label``; files naming them (a queued export) are deleted. Other people's own names are never
    rewritten. Returns what was deleted, unlinked and rewritten."""
    who = await identity_of(session, workspace_id=workspace_id, user_id=user_id, extra_names=extra_names)
    report = ErasureReport()
    tables = all_tables()
    for found in await rows_about(session, workspace_id=workspace_id, who=who):
        table, row = found.table, found.row
        pk = list(table.primary_key.columns)
        where = and_(*[c == row[c.name] for c in pk])
        report.touched.add(found.key)
        if (found.own and table.name in ERASE_DELETE) or _carries_file(table, row):
            await _delete_with_children(session, table, where, tables, {})
            report.add(report.deleted, table.name)
            continue
        values: dict[str, Any] = {}
        if found.own:
            for name in person_columns(table):
                if row.get(name) == user_id:
                    values[name] = tombstone()
        for c in _text_columns(table):
            if c.name in values or row.get(c.name) is None:
                continue
            if c.name in IDENTITY_COLUMNS and not found.own:
                continue
            new = who.scrub(row[c.name], label)
            if new != row[c.name]:
                values[c.name] = new
        if not values:
            continue
        still_there = (await session.execute(select(*pk).where(where))).first()
        if still_there is None:  # gone with a parent deleted above
            continue
        await session.execute(update(table).where(where).values(**values))
        report.add(report.unlinked if found.own else report.rewritten, table.name)
    await session.flush()
    return report


# --- retention ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retention:
    """What happens to a table's rows older than the retention period.

    ``delete``: the rows go. ``anonymize``: person columns become NULL (or "anonymous") and ``clear``
    text columns are emptied, the rest stays for aggregates. ``keep``: configuration or current state,
    not a history (erasure still covers it). With ``expires`` the timestamp is the moment the row runs
    out (a file offer): it is deleted once that moment has passed, whatever the retention period."""

    action: str  # delete | anonymize | keep
    timestamp: str | None = None
    expires: bool = False
    within_hours: int | None = None  # for ``expires``: the longest a row lives (the fact sheet says so)
    max_days: int | None = None  # a fixed, short life in days, whatever the retention period
    min_months: int | None = None  # a floor: kept at least this long, whatever the retention period
    only: dict[str, tuple[str, ...]] = field(default_factory=dict)  # column -> allowed values
    clear: tuple[str, ...] = ()
    reason: str = ""
    derived_from: str | None = None  # ``keep``: rows computed from another table's, which go when those go


KEEP_CONFIG = Retention("keep", reason="configuration")
#: The audit log is kept at least this long, whatever retention an admin sets (``privacy retention``).
AUDIT_LOG_FLOOR_MONTHS = 24
#: A message that could not be delivered for this long is deleted, sent or not.
PENDING_DAYS = 7
RETENTION: dict[str, Retention] = {
    "workspace": KEEP_CONFIG,
    "company_value": KEEP_CONFIG,
    "member": Retention(
        "delete", "updated_at", reason="people not seen for the retention period and named in no other row (leavers)"
    ),
    "kudos": Retention("delete", "created_at"),
    # the overview's roll-up of kudos: database triggers keep it equal to the kudos rows that are left
    "kudos_week": Retention("keep", reason="derived from kudos, follows their deletion", derived_from="kudos"),
    "kudos_person": Retention("keep", reason="derived from kudos, follows their deletion", derived_from="kudos"),
    "budget_day": Retention("delete", "day"),
    "processed_event": Retention("delete", "created_at", max_days=DEDUPE_WINDOW_DAYS, reason="dedupe window"),
    "dedupe_secret": Retention("delete", "day", max_days=DEDUPE_WINDOW_DAYS, reason="dedupe window"),
    "outbox": Retention(
        "delete", "created_at", reason=f"sent or undeliverable; pending ones after {PENDING_DAYS} days"
    ),
    "scheduled_claim": Retention("delete", "claimed_at"),
    "audit_log": Retention("delete", "created_at", min_months=AUDIT_LOG_FLOOR_MONTHS, reason="audit floor"),
    "privacy_settings": KEEP_CONFIG,
    "feature_switch": KEEP_CONFIG,
    "privacy_role": Retention("keep", reason="current roles"),
    # prompts
    "prompt_subscription": KEEP_CONFIG,
    "custom_prompt": Retention("keep", reason="the workspace's own prompt library"),
    "prompt_post": Retention("delete", "posted_at"),
    "prompt_answer": Retention("delete", "created_at"),
    "prompt_highlight": Retention("delete", "created_at"),
    "prompt_draft_request": Retention("delete", "created_at"),
    "customer_feedback": Retention("delete", "created_at"),
    # suggestions and their audit trail
    "suggestion_settings": KEEP_CONFIG,
    "suggestion_approver": Retention("keep", reason="current approvers"),
    "suggestion": Retention("delete", "created_at"),
    "suggestion_event": Retention("delete", "at"),
    "suggestion_vote": Retention("delete", "created_at"),
    "suggestion_follower": Retention("delete", "created_at"),
    "suggestion_draft": Retention("delete", "created_at"),
    "suggestion_anon_bucket": Retention("delete", "hour"),
    # service-goal pulses (results are aggregates; who was asked is deleted at the close)
    "pulse": Retention("delete", "opened_at"),
    "pulse_answer": Retention("delete", "answered_on"),
    "pulse_recipient": Retention("keep", reason="who was asked, only while a pulse is open; deleted at its close"),
    "pulse_goal": KEEP_CONFIG,
    # platforms and delivery
    "teams_conversation": Retention(
        "delete", "updated_at", only={"kind": ("personal",)}, reason="personal chats of people not seen; channels kept"
    ),
    "teams_user": Retention("delete", "updated_at", reason="platform identity of people not seen"),
    "teams_pending_file": Retention(
        "delete", "expires_at", expires=True, within_hours=FILE_OFFER_HOURS, reason="file offers"
    ),
    "outbox_lane": Retention("keep", reason="delivery state"),
    "schedule": KEEP_CONFIG,  # digest and leaderboard schedules
    # the goodwill budget: cases lose person and story after the period; the ledger has no person and
    # is kept for the bookkeeping period (goodwill.LEDGER_YEARS), then deleted by the goodwill ledger job
    "goodwill_settings": KEEP_CONFIG,
    "goodwill_budget": KEEP_CONFIG,
    "goodwill_team_member": Retention("keep", reason="current team members"),
    "goodwill_period": Retention("keep", reason="team totals per period, no person"),
    "goodwill_case": Retention("anonymize", "created_at", clear=("story",)),
    "goodwill_entry": Retention("keep", reason=f"finance ledger, no person; {goodwill.LEDGER_YEARS} years"),
    "goodwill_highlight": Retention("delete", "created_at"),
}


def retention_policy(table: Table) -> Retention | None:
    """The table's policy: ``info={"retention": Retention(...)}`` on the table, else ``RETENTION``."""
    declared = table.info.get("retention")
    if isinstance(declared, Retention):
        return declared
    return RETENTION.get(table.name)


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall-clock moment ``months`` calendar months earlier (day clamped to the month's end)."""
    total = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _children(table: Table, tables: list[Table]) -> list[tuple[Table, Any, Any]]:
    out = []
    for child in tables:
        for fk in child.foreign_keys:
            if fk.column.table is table and child is not table:
                out.append((child, fk.parent, fk.column))
    return out


async def _delete_with_children(
    session: AsyncSession, table: Table, where: Any, tables: list[Table], counts: dict[str, int]
) -> None:
    for child, child_col, parent_col in _children(table, tables):
        await _delete_with_children(session, child, child_col.in_(select(parent_col).where(where)), tables, counts)
    res = await session.execute(delete(table).where(where))
    n = int(res.rowcount or 0)  # type: ignore[attr-defined]
    if n:
        counts[table.name] = counts.get(table.name, 0) + n


async def apply_retention(
    session: AsyncSession,
    *,
    workspace_id: str,
    cutoff: datetime,
    cutoff_day: date | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Delete or anonymize the workspace's rows older than ``cutoff``, and rows of ``expires`` tables
    whose moment has passed by ``now``; returns rows affected per table."""
    tables = all_tables()
    counts: dict[str, int] = {}
    for table in reversed(tables):
        policy = retention_policy(table)
        if policy is None or policy.action == "keep" or policy.timestamp is None:
            continue
        scope = _scope(table, workspace_id)
        if scope is None:
            continue
        ts = table.c[policy.timestamp]
        if policy.expires:
            if now is None:
                continue
            await _delete_with_children(session, table, and_(scope, ts <= now), tables, counts)
            continue
        until, until_day = cutoff, cutoff_day
        if policy.max_days is not None and now is not None:
            until = max(cutoff, now - timedelta(days=policy.max_days))
            until_day = until.date()
        if policy.min_months is not None and now is not None:
            until = min(cutoff, months_before(now, policy.min_months))
            until_day = until.date()
        is_day = isinstance(_base_type(ts), Date) and not isinstance(_base_type(ts), DateTime)
        if is_day:
            old = ts < (until_day or until.date())
        elif isinstance(_base_type(ts), String):  # an ISO text such as "2026-11-18T09"
            old = ts < until.astimezone(UTC).strftime("%Y-%m-%dT%H")
        else:
            old = ts < until
        where = and_(scope, old, *[table.c[k].in_(v) for k, v in policy.only.items()])
        if table.name == "member":
            await _retire_members(session, table, where, tables, counts)
            continue
        if table.name == "outbox" and now is not None:  # undeliverable for days: gone, sent or not
            stale = and_(scope, ts < now - timedelta(days=PENDING_DAYS), table.c.status.in_(("pending", "sending")))
            await _delete_with_children(session, table, or_(where, stale), tables, counts)
            continue
        if policy.action == "delete":
            await _delete_with_children(session, table, where, tables, counts)
        elif policy.action == "anonymize":
            values: dict[str, Any] = {}
            for name in person_columns(table):
                c = table.c[name]
                values[name] = None if c.nullable else "anonymous"
            for name in policy.clear:
                values[name] = None if table.c[name].nullable else ""
            pseudo = table.c[person_columns(table)[0]] if person_columns(table) else None
            if pseudo is not None:
                where = and_(where, pseudo.is_not(None), pseudo != "anonymous")
            res = await session.execute(update(table).where(where).values(**values))
            n = int(res.rowcount or 0)  # type: ignore[attr-defined]
            if n:
                counts[table.name] = counts.get(table.name, 0) + n
    await session.flush()
    return counts


async def _retire_members(
    session: AsyncSession, table: Table, where: Any, tables: list[Table], counts: dict[str, int]
) -> None:
    """Members not seen for the retention period whose id is in no other row any more (people who left,
    once their kudos and answers have aged out) are deleted."""
    for row in (await session.execute(select(table.c.id, table.c.user_id).where(where))).all():
        referenced = False
        for other in tables:
            if other is table:
                continue
            clause = _person_id_clause(other, row.user_id)
            if clause is None:
                continue
            if (await session.execute(select(1).select_from(other).where(clause).limit(1))).first():
                referenced = True
                break
        if not referenced:
            await session.execute(delete(table).where(table.c.id == row.id))
            counts[table.name] = counts.get(table.name, 0) + 1
