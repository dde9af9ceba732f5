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
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
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
    cast,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel
from sqlmodel import select as sm_select

from storage import goodwill, outbox, prompts, pulse, scheduling, suggestions  # noqa: F401  (registers their tables)
from storage.core import cached_config, config_changed
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
    }
)
# Columns that hold a person's id only in some rows (a DM's recipient).
CONDITIONAL_PERSON_COLUMNS = {
    "outbox": ("target_id", "target_kind", "dm"),
    "outbox_lane": ("target_id", "target_kind", "dm"),
}
# Tables whose rows about an erased person are deleted rather than pseudonymised: they describe only
# that person (roles, platform identities, personal chats, queued DMs) and keep other identifiers.
ERASE_ROWS = frozenset(
    {"outbox", "outbox_lane", "privacy_role", "teams_user", "teams_conversation", "teams_pending_file", "web_session"}
)
PSEUDONYM_PREFIX = "former-"

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


async def feature_enabled(session: AsyncSession, workspace_id: str, feature: str) -> bool:
    """Whether ``feature`` is on in the workspace. LLM use is off by default in the works-council profile."""
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
    """Kudos points per department with the number of distinct people behind each total."""
    who = col(Kudos, "receiver_id") if direction == "received" else col(Kudos, "giver_id")
    dept = col(Member, "department")
    stmt = (
        select(dept, func.sum(col(Kudos, "points")), func.count(func.distinct(who)))
        .select_from(Kudos)
        .join(Member, and_(col(Member, "workspace_id") == col(Kudos, "workspace_id"), col(Member, "user_id") == who))
        .where(col(Kudos, "workspace_id") == workspace_id, dept.is_not(None))
    )
    if since is not None:
        stmt = stmt.where(col(Kudos, "created_at") >= since)
    if value_tag:
        stmt = stmt.where(col(Kudos, "value_tag") == value_tag)
    if department:
        stmt = stmt.where(func.lower(dept) == department.lower())
    stmt = stmt.group_by(dept).order_by(func.sum(col(Kudos, "points")).desc(), dept)
    return [GroupTotal(str(d), int(p), int(n)) for d, p, n in (await session.execute(stmt)).all()]


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


def _person_rows_clause(table: Table, user_id: str) -> Any:
    """Rows naming the person: an id column equal to their id, or a ``<@id>`` mention in any text."""
    own = _person_id_clause(table, user_id)
    conds: list[Any] = [own] if own is not None else []
    for c in _text_columns(table):
        conds.append(cast(c, String).contains(_mention(user_id), autoescape=True))
    return or_(*conds) if conds else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


async def export_person(session: AsyncSession, *, workspace_id: str, user_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row in every table that is about the person, table by table (empty tables left out).

    Columns a table lists in ``info={"export_omit": (...)}`` are left out of the rows: the bytes of a
    file waiting in Teams for the person's consent (``teams_pending_file.content``) are such a column.
    That file is itself the person's data (an earlier export, the fact sheet), so the export lists the
    offer (name, type, size, when it expires) but does not nest the file.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for table in all_tables():
        clause = _person_rows_clause(table, user_id)
        if clause is None:
            continue
        scope = _scope(table, workspace_id)
        omit = set(table.info.get("export_omit", ()))
        stmt = select(*[c for c in table.columns if c.name not in omit]).where(clause)
        if scope is not None:
            stmt = stmt.where(scope)
        rows = (await session.execute(stmt)).mappings().all()
        if rows:
            out[table.name] = [{k: _jsonable(v) for k, v in r.items()} for r in rows]
    return out


# --- erasure ------------------------------------------------------------------------------------------


def _name_patterns(names: Iterable[str]) -> list[re.Pattern[str]]:
    """Full names first, then their parts (3+ letters), as whole words, case-insensitive."""
    full = sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True)
    parts = sorted({p for n in full for p in re.split(r"\s+", n) if len(p) >= 3} - set(full), key=len, reverse=True)
    return [re.compile(rf"(?<!\w){re.escape(n)}(?!\w)", re.IGNORECASE) for n in [*full, *parts]]


@dataclass
class Scrubber:
    user_id: str
    pseudonym: str
    label: str
    names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._patterns = _name_patterns(self.names)
        self._id = re.compile(rf"(?<![\w\-.]){re.escape(self.user_id)}(?![\w\-])")

    def text(self, value: str) -> str:
        value = value.replace(_mention(self.user_id), _mention(self.pseudonym))
        value = self._id.sub(self.pseudonym, value)
        for p in self._patterns:
            value = p.sub(self.label, value)
        return value

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.pseudonym if value == self.user_id else self.text(value)
        if isinstance(value, dict | list):
            return json.loads(self.text(json.dumps(value, ensure_ascii=False)))
        return value


async def erase_person(
    session: AsyncSession, *, workspace_id: str, user_id: str, label: str, extra_names: Iterable[str] = ()
) -> tuple[str, dict[str, int]]:
    """Erase a person from the workspace: their id becomes a random pseudonym everywhere, their names in
    any text become ``label`` ("former colleague"), their member row keeps no personal field, and
    messages addressed to them are deleted. Counts for other people (kudos they gave or got) remain.
    Returns the pseudonym and the number of rows changed per table."""
    pseudonym = f"{PSEUDONYM_PREFIX}{uuid.uuid4().hex[:16]}"
    member = (
        await session.execute(sm_select(Member).where(Member.workspace_id == workspace_id, Member.user_id == user_id))
    ).scalar_one_or_none()
    names = [*extra_names]
    if member is not None:
        names += [member.display_name or "", member.handle or ""]
    scrub = Scrubber(user_id=user_id, pseudonym=pseudonym, label=label, names=[n for n in names if n])
    counts: dict[str, int] = {}
    for table in all_tables():
        if table.name not in ERASE_ROWS:
            continue
        clause = _person_id_clause(table, user_id)
        scope = _scope(table, workspace_id)
        if clause is None:
            continue
        res = await session.execute(delete(table).where(clause, *([scope] if scope is not None else [])))
        if res.rowcount:  # type: ignore[attr-defined]
            counts[table.name] = int(res.rowcount)  # type: ignore[attr-defined]
    if member is not None:
        member_t = SQLModel.metadata.tables["member"]
        await session.execute(
            update(member_t)
            .where(member_t.c.id == member.id)
            .values(
                display_name=label,
                handle=None,
                department=None,
                locale=None,
                timezone=None,
                is_admin=False,
                is_bot=False,
                leaderboard_opt_out=True,
                leaderboard_opt_in=False,
            )
        )
    await _erase_files_naming(session, workspace_id, scrub, counts)
    for table in all_tables():
        texts = _text_columns(table)
        if not texts:
            continue
        terms = [user_id, *scrub.names]
        terms += [json.dumps(t)[1:-1] for t in terms if not t.isascii()]  # JSON stored ASCII-escaped
        conds = [cast(c, String).contains(term, autoescape=True) for c in texts for term in terms]
        if table.name == "member" and member is not None:
            conds.append(table.c.id == member.id)
        scope = _scope(table, workspace_id)
        stmt = select(table).where(or_(*conds))
        if scope is not None:
            stmt = stmt.where(scope)
        rows = (await session.execute(stmt)).mappings().all()
        pk = list(table.primary_key.columns)
        changed = 0
        for row in rows:
            new = {c.name: scrub.value(row[c.name]) for c in texts if row[c.name] is not None}
            new = {k: v for k, v in new.items() if v != row[k]}
            if not new:
                continue
            where = and_(*[c == row[c.name] for c in pk])
            await session.execute(update(table).where(where).values(**new))
            changed += 1
        if changed:
            counts[table.name] = counts.get(table.name, 0) + changed
    await session.flush()
    return pseudonym, counts


async def _erase_files_naming(
    session: AsyncSession, workspace_id: str, scrub: Scrubber, counts: dict[str, int]
) -> None:
    """Files kept for delivery (binary columns of ``ERASE_ROWS`` tables, e.g. another person's export
    waiting in Teams) that name the erased person are deleted: they cannot be scrubbed in place."""
    for table in all_tables():
        files = [c for c in table.columns if isinstance(_base_type(c), LargeBinary)]
        scope = _scope(table, workspace_id)
        if table.name not in ERASE_ROWS or not files or scope is None:
            continue
        pk = list(table.primary_key.columns)
        doomed = []
        for row in (await session.execute(select(*pk, *files).where(scope))).mappings().all():
            texts = [bytes(row[c.name] or b"").decode("utf-8", errors="replace") for c in files]
            if any(scrub.text(text) != text for text in texts):
                doomed.append(and_(*[c == row[c.name] for c in pk]))
        if doomed:
            res = await session.execute(delete(table).where(or_(*doomed)))
            counts[table.name] = counts.get(table.name, 0) + int(res.rowcount or 0)  # type: ignore[attr-defined]


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
    only: dict[str, tuple[str, ...]] = field(default_factory=dict)  # column -> allowed values
    clear: tuple[str, ...] = ()
    reason: str = ""


KEEP_CONFIG = Retention("keep", reason="configuration")
RETENTION: dict[str, Retention] = {
    "workspace": KEEP_CONFIG,
    "company_value": KEEP_CONFIG,
    "member": Retention("keep", reason="current people; removed by erasure"),
    "kudos": Retention("delete", "created_at"),
    "budget_day": Retention("delete", "day"),
    "processed_event": Retention("delete", "created_at"),
    "outbox": Retention("delete", "created_at", only={"status": ("sent", "dead")}),
    "scheduled_claim": Retention("delete", "claimed_at"),
    "audit_log": Retention("delete", "created_at"),
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
    "teams_conversation": Retention("keep", reason="where to deliver; personal chats erased with the person"),
    "teams_user": Retention("keep", reason="platform identity; erased with the person"),
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
        is_day = isinstance(_base_type(ts), Date) and not isinstance(_base_type(ts), DateTime)
        if is_day:
            old = ts < (cutoff_day or cutoff.date())
        elif isinstance(_base_type(ts), String):  # an ISO text such as "2026-11-18T09"
            old = ts < cutoff.astimezone(UTC).strftime("%Y-%m-%dT%H")
        else:
            old = ts < cutoff
        where = and_(scope, old, *[table.c[k].in_(v) for k, v in policy.only.items()])
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
