"""Keyword-only queries for the core tables (workspaces, members, dedupe keys, outbox)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import bindparam, delete, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import CompanyValue, DedupeSecret, Member, OutboxMessage, ProcessedEvent, Workspace
from storage.types import floor_day, floor_hour, utcnow

DEFAULT_VALUES: list[dict[str, Any]] = [
    {"tag": "kundenfokus", "label_de": "Kundenfokus", "label_en": "Customer focus", "aliases": ["customerfocus"]},
    {"tag": "teamwork", "label_de": "Teamwork", "label_en": "Teamwork", "aliases": ["zusammenarbeit"]},
    {"tag": "verantwortung", "label_de": "Verantwortung", "label_en": "Ownership", "aliases": ["ownership"]},
    {"tag": "einfachmachen", "label_de": "Einfach machen", "label_en": "Keep it simple", "aliases": ["keepitsimple"]},
    {
        "tag": "internerservice",
        "label_de": "Interner Service",
        "label_en": "Internal service",
        "aliases": ["internalservice"],
    },
]


T = TypeVar("T")

# Workspace configuration that changes rarely (company values, feature switches, privacy settings) is
# cached per process and database, tagged with the workspace's ``config_rev``. Every write to it sets a
# new revision in the same transaction (``config_changed``), so each replica sees a change with the
# workspace row it reads anyway at the start of every event.
_CONFIG_CACHE: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], tuple[str, Any]]] = weakref.WeakKeyDictionary()


def new_config_rev() -> str:
    return uuid.uuid4().hex


async def config_changed(session: AsyncSession, *, workspace_id: str) -> None:
    """Record that the workspace's configuration changed: every process reloads it on its next event."""
    rev = new_config_rev()
    await session.execute(update(Workspace).where(col(Workspace.id) == workspace_id).values(config_rev=rev))
    session.info["config_dirty"] = True


async def cached_config(session: AsyncSession, *, workspace_id: str, name: str, load: Callable[[], Awaitable[T]]) -> T:
    """``load()`` once per configuration revision of the workspace; the result must be treated as read-only.

    Inside a transaction that changed the configuration the cache is bypassed (and not filled), so an
    uncommitted change never reaches other requests.
    """
    ws = await session.get(Workspace, workspace_id)  # in the identity map during an event: no query
    engine = session.bind.sync_engine if session.bind is not None else None  # type: ignore[union-attr]
    if ws is None or engine is None or session.info.get("config_dirty"):
        return await load()
    bucket = _CONFIG_CACHE.setdefault(engine, {})
    hit = bucket.get((workspace_id, name))
    if hit is not None and hit[0] == ws.config_rev:
        return cast(T, hit[1])
    rev = ws.config_rev
    value = await load()
    bucket[(workspace_id, name)] = (rev, value)
    return value


# Statements on every event's path, built once (building an expression costs more than running it).
_LOAD_ACTOR = (
    select(Workspace, Member)
    .outerjoin(Member, (col(Member.workspace_id) == col(Workspace.id)) & (col(Member.user_id) == bindparam("uid")))
    .where(col(Workspace.id) == bindparam("ws"))
)
_LOAD_PEOPLE = (
    select(Workspace, Member)
    .outerjoin(
        Member,
        (col(Member.workspace_id) == col(Workspace.id)) & col(Member.user_id).in_(bindparam("uids", expanding=True)),
    )
    .where(col(Workspace.id) == bindparam("ws"))
)
_GET_MEMBER = select(Member).where(col(Member.workspace_id) == bindparam("ws"), col(Member.user_id) == bindparam("uid"))
_GET_MEMBER_FRESH = _GET_MEMBER.execution_options(populate_existing=True)


def dialect_of(session: AsyncSession) -> str:
    """``postgresql`` or ``sqlite``: the database behind ``session``."""
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def insert_for(dialect: str) -> Any:
    """The dialect's INSERT construct (both have ``on_conflict_do_nothing`` / ``on_conflict_do_update``)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available


UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")  # connection exception, insufficient resources, operator intervention


def is_unavailable(err: BaseException) -> bool:
    """The database could not be reached or dropped the connection (refused, restarting, failing over):
    the same transaction may succeed once it is back."""
    if isinstance(err, SQLAlchemyTimeoutError):  # no pooled connection came free in time
        return True
    if not isinstance(err, DBAPIError):
        return False
    if err.connection_invalidated or isinstance(err, InterfaceError):
        return True
    if not isinstance(err, OperationalError):
        return False
    sqlstate = getattr(err.orig, "sqlstate", None)
    if sqlstate:
        return str(sqlstate)[:2] in UNAVAILABLE_SQLSTATE_CLASSES
    text = str(err.orig).lower()
    return any(
        sign in text
        for sign in ("connection", "could not connect", "server closed", "unable to open database", "disk i/o error")
    )


def is_transient(err: BaseException) -> bool:
    """A database error a fresh attempt of the same transaction may not meet again."""
    if not isinstance(err, DBAPIError):
        return False
    if getattr(err.orig, "sqlstate", None) in TRANSIENT_SQLSTATES:
        return True
    return isinstance(err, OperationalError) and "database is locked" in str(err.orig)


_INSERT_IGNORE: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def _insert_ignore_statement(session: AsyncSession, model: Any, keys: Sequence[str]) -> Any:
    dialect = dialect_of(session)
    table = model.__table__
    cache_key = (dialect, table.name, tuple(keys))
    stmt = _INSERT_IGNORE.get(cache_key)
    if stmt is None:
        # RETURNING, not rowcount: psycopg reports rowcount -1 for INSERT … ON CONFLICT DO NOTHING.
        stmt = (
            insert_for(dialect)(table)
            .on_conflict_do_nothing(index_elements=list(keys))
            .returning(*(table.c[k] for k in keys))
        )
        _INSERT_IGNORE[cache_key] = stmt
    return stmt


async def insert_ignore(session: AsyncSession, model: Any, values: dict[str, Any], keys: Sequence[str]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True if a row was written.

    The statement is built once per table and conflict target and run with ``values`` as its parameters
    (the columns inserted are the keys of ``values``): scheduled jobs claim and queue thousands of rows.
    """
    stmt = _insert_ignore_statement(session, model, keys)
    result = await session.execute(stmt, values)
    return result.first() is not None


async def ensure_workspace(
    session: AsyncSession, *, workspace_id: str, platform: str, locale: str, timezone: str, name: str = ""
) -> Workspace:
    """The workspace, created with the default company values on first contact.

    Read first: on every later event this is one SELECT (or none, from the session's identity map).
    """
    ws = await session.get(Workspace, workspace_id)
    if ws is not None:
        return ws
    created = await insert_ignore(
        session,
        Workspace,
        {
            "id": workspace_id,
            "platform": platform,
            "name": name,
            "locale": locale,
            "timezone": timezone,
            "config_rev": new_config_rev(),
            "created_at": utcnow(),
        },
        ["id"],
    )
    if created:
        for pos, value in enumerate(DEFAULT_VALUES):
            session.add(CompanyValue(workspace_id=workspace_id, position=pos, **value))
        await session.flush()
    ws = await session.get(Workspace, workspace_id)
    assert ws is not None
    return ws


async def load_actor(
    session: AsyncSession, *, workspace_id: str, user_id: str
) -> tuple[Workspace | None, Member | None]:
    """The workspace and the acting person in one round trip (the start of every event)."""
    row = (await session.execute(_LOAD_ACTOR, {"ws": workspace_id, "uid": user_id})).first()
    if row is None:
        return None, None
    return row[0], row[1]


async def load_people(
    session: AsyncSession, *, workspace_id: str, user_ids: Sequence[str]
) -> tuple[Workspace | None, dict[str, Member | None]]:
    """The workspace and the rows of ``user_ids`` (None for someone without one) in one round trip: the actor
    and everyone an event names, at its start."""
    if len(user_ids) == 1:
        ws, member = await load_actor(session, workspace_id=workspace_id, user_id=user_ids[0])
        return ws, {user_ids[0]: member}
    rows = (await session.execute(_LOAD_PEOPLE, {"ws": workspace_id, "uids": list(user_ids)})).all()
    if not rows:
        return None, dict.fromkeys(user_ids)
    found = {m.user_id: m for _ws, m in rows if m is not None}
    return rows[0][0], {uid: found.get(uid) for uid in user_ids}


async def upsert_member(
    session: AsyncSession,
    *,
    workspace_id: str,
    user_id: str,
    touch: bool = True,
    fill_only: Sequence[str] = (),
    known_member: Member | None = None,
    **info: Any,
) -> Member:
    """Create the member or refresh the facts a platform told us (only the ones given).

    With ``touch=False`` an existing row is written only when a given fact changed. Every event names
    its actor: writing (and so locking) that row on each event would serialize a person's requests
    and, together with another request refreshing that person as a recipient, deadlock.
    Fields named in ``fill_only`` are taken from the platform only while empty (a language the person
    chose in Starling is not overwritten by the platform's).
    """
    known = {k: v for k, v in info.items() if v is not None}
    if not touch:
        member = known_member or await get_member(session, workspace_id=workspace_id, user_id=user_id)
        if member is not None and all(
            getattr(member, k) == v or (k in fill_only and getattr(member, k) is not None) for k, v in known.items()
        ):
            return member
    now = floor_day(utcnow())  # when a person was seen is kept to the day, never finer
    stmt = _upsert_member_statement(dialect_of(session), tuple(sorted(known)), tuple(sorted(fill_only)))
    await session.execute(stmt, {**known, "workspace_id": workspace_id, "user_id": user_id, "now": now})
    member = await get_member(session, workspace_id=workspace_id, user_id=user_id, refresh=True)
    assert member is not None
    return member


@functools.cache
def _upsert_member_statement(dialect: str, keys: tuple[str, ...], fill_only: tuple[str, ...]) -> Any:
    """The member upsert for one set of given facts, built once: building it per event cost more than running it."""
    table = Member.__table__  # type: ignore[attr-defined]
    now = bindparam("now", type_=table.c.updated_at.type)
    insert = insert_for(dialect)(table).values(
        workspace_id=bindparam("workspace_id"),
        user_id=bindparam("user_id"),
        created_at=now,
        updated_at=now,
        **{k: bindparam(k, type_=table.c[k].type) for k in keys},
    )
    updates = {
        k: (func.coalesce(table.c[k], insert.excluded[k]) if k in fill_only else insert.excluded[k]) for k in keys
    }
    return insert.on_conflict_do_update(
        index_elements=["workspace_id", "user_id"], set_={**updates, "updated_at": insert.excluded.updated_at}
    )


async def refresh_known_member(
    session: AsyncSession, *, workspace_id: str, user_id: str, fill_only: Sequence[str] = ("locale",), **info: Any
) -> bool:
    """Update the facts of a person Starling already has a row for (a platform told us they changed); nobody is
    added. Facts given as None are left alone; ``fill_only`` ones only fill an empty column. True if a row was
    there."""
    known = {k: v for k, v in info.items() if v is not None}
    columns = Member.__table__.c  # type: ignore[attr-defined]
    values = {k: (func.coalesce(columns[k], v) if k in fill_only else v) for k, v in known.items()}
    stmt = (
        update(Member)
        .where(col(Member.workspace_id) == workspace_id, col(Member.user_id) == user_id)
        .values(**values, updated_at=floor_day(utcnow()))
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def get_member(session: AsyncSession, *, workspace_id: str, user_id: str, refresh: bool = False) -> Member | None:
    stmt = _GET_MEMBER_FRESH if refresh else _GET_MEMBER
    return (await session.execute(stmt, {"ws": workspace_id, "uid": user_id})).scalars().first()


async def find_member_by_name(session: AsyncSession, *, workspace_id: str, name: str) -> Member | None:
    """Console-only convenience: a handle or display name to a member."""
    low = name.lower().lstrip("@")
    stmt = select(Member).where(
        Member.workspace_id == workspace_id,
        or_(
            func.lower(Member.handle) == low, func.lower(Member.user_id) == low, func.lower(Member.display_name) == low
        ),
    )
    return (await session.execute(stmt)).scalars().first()


async def list_values(session: AsyncSession, *, workspace_id: str) -> list[CompanyValue]:
    """The workspace's company values in their order (detached objects shared per configuration revision:
    read them, never change or add them to a session)."""

    async def load() -> tuple[CompanyValue, ...]:
        stmt = (
            select(CompanyValue).where(CompanyValue.workspace_id == workspace_id).order_by(col(CompanyValue.position))
        )
        # Detached copies, shared by every request of this revision: they are only ever read.
        return tuple(CompanyValue(**v.model_dump()) for v in (await session.execute(stmt)).scalars().all())

    return list(await cached_config(session, workspace_id=workspace_id, name="values", load=load))


async def replace_values(session: AsyncSession, *, workspace_id: str, values: list[dict[str, Any]]) -> None:
    await session.execute(delete(CompanyValue).where(col(CompanyValue.workspace_id) == workspace_id))
    for pos, value in enumerate(values):
        session.add(CompanyValue(workspace_id=workspace_id, position=pos, **value))
    await session.flush()
    await config_changed(session, workspace_id=workspace_id)


#: How long a platform retry or a replayed event is still recognised: today's and yesterday's secret.
DEDUPE_WINDOW_DAYS = 2
# Per process and database: the day's secret once read (every replica reads the same row).
_SECRETS: dict[tuple[str, str], bytes] = {}
# A past day that has no secret (nothing was received that day) gets none later: once the day is over by more
# than any transaction (or replica clock) could lag, that is remembered for a while, so every event does not
# look for it again (monotonic time of the expiry).
_NO_SECRET: dict[tuple[str, str], float] = {}
NO_SECRET_SECONDS = 600.0
SETTLED_AFTER = timedelta(minutes=10)  # after midnight (UTC), yesterday's secret exists or never will


async def _dedupe_secret(session: AsyncSession, day: str, *, create: bool, settled: bool = False) -> bytes | None:
    bind = session.bind
    cache_key = (str(getattr(bind, "url", id(bind))), day)
    known = _SECRETS.get(cache_key)
    if known is not None:
        return known
    if not create and _NO_SECRET.get(cache_key, 0.0) > time.monotonic():
        return None
    created = False
    if create:
        created = await insert_ignore(session, DedupeSecret, {"day": day, "secret": secrets.token_hex(32)}, ["day"])
    row = await session.get(DedupeSecret, day)
    if row is None:
        if settled:
            if len(_NO_SECRET) > 64:
                _NO_SECRET.clear()
            _NO_SECRET[cache_key] = time.monotonic() + NO_SECRET_SECONDS
        return None
    secret = bytes.fromhex(row.secret)
    if created:
        # Written by this transaction, which may still be rolled back (a refusal, a retry, a fetch round):
        # only a committed secret may be remembered, or the next transaction would key with one nobody stored.
        return secret
    if len(_SECRETS) > 64:
        _SECRETS.clear()
    _SECRETS[cache_key] = secret
    return secret


ANON_ID_FLOOR = 100_000_000
ANON_ID_CEILING = 2**31 - 1


async def new_row_id(session: AsyncSession, model: Any, *, anonymous: bool) -> int | None:
    """The id for a new row of ``model`` whose order must not tell anything about an anonymous action.

    An anonymous row gets a random id above ``ANON_ID_FLOOR`` (its place among the other rows says
    nothing). Named rows keep counting below the floor: on PostgreSQL the sequence does that by itself
    (None: the database picks); SQLite would continue after the largest id, i.e. right after the last
    anonymous row, so it is given the next id below the floor explicitly (SQLite transactions begin
    IMMEDIATE, so no two writers compute the same one)."""
    table = model.__table__
    if anonymous:
        while True:
            candidate = ANON_ID_FLOOR + secrets.randbelow(ANON_ID_CEILING - ANON_ID_FLOOR)
            if (await session.execute(select(table.c.id).where(table.c.id == candidate))).first() is None:
                return candidate
    if dialect_of(session) != "sqlite":
        return None
    top = (await session.execute(select(func.max(table.c.id)).where(table.c.id < ANON_ID_FLOOR))).scalar()
    return int(top or 0) + 1


async def scattered_ids(session: AsyncSession, model: Any, n: int) -> list[int]:
    """``n`` random negative ids for rows an anonymous action queues beside named ones (the outbox): their
    place among the other rows says nothing, and below zero they never move where named rows count on
    (SQLite gives a new row the largest id plus one)."""
    table = model.__table__
    while True:
        ids = list({-1 - secrets.randbelow(ANON_ID_CEILING) for _ in range(n)})
        taken = (await session.execute(select(table.c.id).where(table.c.id.in_(ids)))).first()
        if len(ids) == n and taken is None:
            return ids


def event_key(workspace_id: str, event_id: str, secret: bytes) -> str:
    """The de-duplication key of a platform event: the workspace, then a keyed digest of the platform's id.

    Platform ids name people and times (a Slack click's id carries the presser's id, a Teams message id is
    a millisecond timestamp): with a plain digest anyone holding the member list could recompute who
    clicked. The key is an HMAC under a random secret of the day, thrown away after the dedupe window."""
    digest = hmac.new(secret, event_id.encode(), hashlib.sha256).hexdigest()[:40]
    return f"{workspace_id}:{digest}"


async def claim_platform_event(session: AsyncSession, *, workspace_id: str, event_id: str, now: datetime) -> bool:
    """Record a platform event; False if it was already processed today or yesterday (a retry, a replay,
    a double click). The row keeps only the hour."""
    utc = now.astimezone(UTC)
    today = utc.date()
    settled = utc - utc.replace(hour=0, minute=0, second=0, microsecond=0) > SETTLED_AFTER
    current = await _dedupe_secret(session, today.isoformat(), create=True)
    assert current is not None
    earlier = [
        key
        for back in range(1, DEDUPE_WINDOW_DAYS)
        if (
            secret := await _dedupe_secret(
                session, (today - timedelta(days=back)).isoformat(), create=False, settled=settled
            )
        )
        for key in [event_key(workspace_id, event_id, secret)]
    ]
    if (
        earlier
        and (await session.execute(select(ProcessedEvent.key).where(col(ProcessedEvent.key).in_(earlier)))).first()
    ):
        return False
    return await claim_event(session, key=event_key(workspace_id, event_id, current), now=now)


async def claim_event(session: AsyncSession, *, key: str, now: datetime | None = None) -> bool:
    """Record a de-duplication key; False if it was already there (a retry or a double click).

    One INSERT … ON CONFLICT DO NOTHING: no savepoint round trips on every event. Only the hour is kept.
    """
    at = floor_hour(now or utcnow())
    return await insert_ignore(session, ProcessedEvent, {"key": key[:255], "created_at": at}, ["key"])


async def drop_dedupe_secrets(session: AsyncSession, *, now: datetime) -> int:
    """Throw away the secrets (and the keys) older than the dedupe window: no key can be recomputed."""
    first = (now.astimezone(UTC).date() - timedelta(days=DEFAULT_KEEP_DAYS)).isoformat()
    res = await session.execute(delete(DedupeSecret).where(col(DedupeSecret.day) < first))
    cutoff = floor_day(now) - timedelta(days=DEFAULT_KEEP_DAYS)
    res2 = await session.execute(delete(ProcessedEvent).where(col(ProcessedEvent.created_at) < cutoff))
    _SECRETS.clear()
    return int(res.rowcount or 0) + int(res2.rowcount or 0)  # type: ignore[attr-defined]


DEFAULT_KEEP_DAYS = DEDUPE_WINDOW_DAYS


async def enqueue(session: AsyncSession, message: OutboxMessage) -> bool:
    """Add a proactive message in the caller's transaction; a repeated dedupe key is ignored."""
    if message.dedupe_key:
        values = message.model_dump(exclude={"id"})
        return await insert_ignore(session, OutboxMessage, values, ["dedupe_key"])
    session.add(message)
    await session.flush()
    return True


async def queue_messages(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Several outbox rows (plain values from :func:`outbox_row`) in one prepared statement; a repeated
    dedupe key is ignored."""
    if rows:
        await session.execute(_insert_ignore_statement(session, OutboxMessage, ["dedupe_key"]), list(rows))


def outbox_row(
    *,
    workspace_id: str,
    platform: str,
    target_kind: str,
    target_id: str,
    payload: dict[str, Any],
    cause: str,
    now: datetime,
    dedupe_key: str | None = None,
    thread_id: str | None = None,
    send_at: datetime | None = None,
) -> dict[str, Any]:
    """The values of one pending outbox message (sent from ``send_at``, default at once)."""
    return {
        "workspace_id": workspace_id,
        "platform": platform,
        "target_kind": target_kind,
        "target_id": target_id,
        "thread_id": thread_id,
        "payload": payload,
        "cause": cause,
        "dedupe_key": dedupe_key,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": send_at or now,
        "created_at": now,
    }


async def queue_message(
    session: AsyncSession,
    *,
    workspace_id: str,
    platform: str,
    target_kind: str,
    target_id: str,
    payload: dict[str, Any],
    cause: str,
    now: datetime,
    dedupe_key: str | None = None,
    thread_id: str | None = None,
) -> bool:
    """:func:`enqueue` from plain values (no model object): one prepared INSERT; False for a repeated dedupe key."""
    values = outbox_row(
        workspace_id=workspace_id,
        platform=platform,
        target_kind=target_kind,
        target_id=target_id,
        payload=payload,
        cause=cause,
        now=now,
        dedupe_key=dedupe_key,
        thread_id=thread_id,
    )
    return await insert_ignore(session, OutboxMessage, values, ["dedupe_key"])
