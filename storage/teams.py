"""Microsoft Teams coordinates: conversation references (for proactive posts and DMs), the
Azure AD object ids of the people Starling has seen, and files offered in a 1:1 chat that wait for the
person's consent. Everything a replica needs to reach a Teams conversation lives here, never in process
memory."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint, delete, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from storage.core import dialect_of, insert_for
from storage.models import Member, opt_ts_column, ts_column
from storage.types import floor_day, utcnow

THREAD_MARK = ";messageid="
FILE_OFFER_HOURS = 24  # a file offered in Teams waits this long for the person's consent


class TeamsConversation(SQLModel, table=True):
    """A conversation reference: where and how to reach one Teams conversation.

    ``kind`` is Teams' ``conversationType``: ``personal`` (1:1 with ``user_id``), ``groupChat`` or
    ``channel``. A channel thread has its own row (``19:…@thread.tacv2;messageid=…``).
    """

    __tablename__ = "teams_conversation"
    __table_args__ = (
        Index("ix_teams_conversation_user", "workspace_id", "user_id", "kind"),
        Index("ix_teams_conversation_recent", "workspace_id", "updated_at"),
    )

    workspace_id: str = Field(primary_key=True, max_length=120)
    conversation_id: str = Field(primary_key=True, max_length=400)
    kind: str = Field(default="channel", max_length=20)
    service_url: str = Field(max_length=500)
    tenant_id: str = Field(default="", max_length=64)
    bot_id: str = Field(max_length=160)
    bot_name: str = Field(default="", max_length=200)
    channel_id: str = Field(default="msteams", max_length=40)  # the Bot Framework channel
    team_id: str | None = Field(default=None, max_length=255)
    team_name: str | None = Field(default=None, max_length=200)
    teams_channel_id: str | None = Field(default=None, max_length=255)  # the Teams channel of a thread
    user_id: str | None = Field(default=None, max_length=255)  # the person of a personal chat
    installed: bool = True
    created_at: datetime = ts_column()
    updated_at: datetime = ts_column()


class TeamsUser(SQLModel, table=True):
    """A Teams user id (``29:…``) and its Azure AD object id, for directory look-ups."""

    __tablename__ = "teams_user"

    workspace_id: str = Field(primary_key=True, max_length=120)
    user_id: str = Field(primary_key=True, max_length=255)
    aad_object_id: str | None = Field(default=None, max_length=64, index=True)
    updated_at: datetime = ts_column()


class TeamsPendingFile(SQLModel, table=True):
    """A file offered to a person in their 1:1 chat with a FileConsentCard, waiting for their answer.

    Teams takes a file from a bot only after the person accepts the offer, so the bytes wait here under
    a random ``token`` (the card's context carries only the token). The row goes when the file is
    uploaded, when the person declines, when the offer expires (``expires_at``, checked by the daily
    retention job) and when the person is erased. ``(outbox_id, position)`` is the offer's identity: a
    retried send of the same outbox message offers the same file under the same token.
    """

    __tablename__ = "teams_pending_file"
    __table_args__ = (
        UniqueConstraint("outbox_id", "position", name="uq_teams_pending_file_offer"),
        Index("ix_teams_pending_file_user", "workspace_id", "user_id"),
        # The file is already the person's data (an earlier export, the fact sheet): an export lists the
        # offer without its bytes (see storage.privacy.export_person).
        {"info": {"export_omit": ("content",)}},
    )

    token: str = Field(primary_key=True, max_length=64)
    workspace_id: str = Field(max_length=120)
    user_id: str = Field(max_length=255)
    outbox_id: int | None = Field(default=None)
    position: int = 0
    filename: str = Field(max_length=255)
    mime: str = Field(default="application/octet-stream", max_length=120)
    size: int = 0
    content: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))
    created_at: datetime = ts_column()
    expires_at: datetime = ts_column(index=True)
    uploading_until: datetime | None = opt_ts_column()  # an accepted offer being uploaded right now


def _insert(session: AsyncSession, model: Any) -> Any:
    return insert_for(dialect_of(session))(model)


def _changed(model: Any, insert: Any, known: dict[str, Any]) -> Any:
    """The row is written again only when a fact changed or on a new day: last-seen times are kept to the
    day, and a row rewritten on every activity would date the person's last request (its time, and on
    PostgreSQL the transaction id that wrote it) right next to an anonymous one."""
    table = model.__table__
    return or_(
        table.c.updated_at < insert.excluded.updated_at,
        *[table.c[k].is_distinct_from(insert.excluded[k]) for k in known],
    )


def thread_root(conversation_id: str) -> str:
    """``19:x@thread.tacv2;messageid=1`` → ``19:x@thread.tacv2``; other ids unchanged."""
    return conversation_id.split(THREAD_MARK, 1)[0]


async def save_conversation(
    session: AsyncSession, *, workspace_id: str, conversation_id: str, **fields: Any
) -> TeamsConversation:
    """Create or refresh a conversation reference (only the fields given, None left alone)."""
    known = {k: v for k, v in fields.items() if v is not None}
    now = floor_day(utcnow())
    insert = _insert(session, TeamsConversation).values(
        workspace_id=workspace_id, conversation_id=conversation_id, created_at=now, updated_at=now, **known
    )
    stmt = insert.on_conflict_do_update(
        index_elements=["workspace_id", "conversation_id"],
        set_={**known, "updated_at": now},
        where=_changed(TeamsConversation, insert, known),
    )
    await session.execute(stmt)
    ref = await get_conversation(session, workspace_id=workspace_id, conversation_id=conversation_id)
    assert ref is not None
    return ref


async def get_conversation(
    session: AsyncSession, *, workspace_id: str, conversation_id: str
) -> TeamsConversation | None:
    """The exact reference, or for a thread of a known channel the channel's reference."""
    for cid in dict.fromkeys((conversation_id, thread_root(conversation_id))):
        stmt = (
            select(TeamsConversation)
            .where(TeamsConversation.workspace_id == workspace_id, TeamsConversation.conversation_id == cid)
            .execution_options(populate_existing=True)
        )
        found = (await session.execute(stmt)).scalars().first()
        if found is not None:
            return found
    stmt = (
        select(TeamsConversation)
        .where(
            TeamsConversation.workspace_id == workspace_id,
            TeamsConversation.teams_channel_id == thread_root(conversation_id),
        )
        .order_by(col(TeamsConversation.updated_at).desc())
    )
    return (await session.execute(stmt)).scalars().first()


async def personal_conversation(session: AsyncSession, *, workspace_id: str, user_id: str) -> TeamsConversation | None:
    """The person's 1:1 chat with Starling, if one is known."""
    stmt = (
        select(TeamsConversation)
        .where(
            TeamsConversation.workspace_id == workspace_id,
            TeamsConversation.user_id == user_id,
            TeamsConversation.kind == "personal",
        )
        .order_by(col(TeamsConversation.updated_at).desc())
    )
    return (await session.execute(stmt)).scalars().first()


async def recent_conversations(
    session: AsyncSession,
    *,
    workspace_id: str,
    kinds: tuple[str, ...] = ("channel", "groupChat", "personal"),
    limit: int = 5,
) -> list[TeamsConversation]:
    """Installed conversations of the workspace, most recently active first."""
    stmt = (
        select(TeamsConversation)
        .where(
            TeamsConversation.workspace_id == workspace_id,
            col(TeamsConversation.installed).is_(True),
            col(TeamsConversation.kind).in_(kinds),
        )
        .order_by(col(TeamsConversation.updated_at).desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars().all())


async def set_installed(
    session: AsyncSession, *, workspace_id: str, conversation_ids: list[str], installed: bool
) -> int:
    """Mark conversations (and their threads) as installed or removed; returns how many rows changed."""
    changed = 0
    for cid in conversation_ids:
        stmt = (
            update(TeamsConversation)
            .where(
                col(TeamsConversation.workspace_id) == workspace_id,
                (col(TeamsConversation.conversation_id) == cid)
                | col(TeamsConversation.conversation_id).startswith(cid + THREAD_MARK)
                | (col(TeamsConversation.team_id) == cid),
            )
            .values(installed=installed, updated_at=floor_day(utcnow()))  # last seen: the day, as everywhere
        )
        result = await session.execute(stmt)
        changed += int(getattr(result, "rowcount", 0) or 0)
    return changed


async def save_user(session: AsyncSession, *, workspace_id: str, user_id: str, aad_object_id: str | None) -> None:
    """Remember a Teams user's Azure AD object id (kept when a later event does not carry it)."""
    known = {"aad_object_id": aad_object_id} if aad_object_id else {}
    now = floor_day(utcnow())
    insert = _insert(session, TeamsUser).values(workspace_id=workspace_id, user_id=user_id, updated_at=now, **known)
    stmt = insert.on_conflict_do_update(
        index_elements=["workspace_id", "user_id"],
        set_={**known, "updated_at": now},
        where=_changed(TeamsUser, insert, known),
    )
    await session.execute(stmt)


async def get_user(session: AsyncSession, *, workspace_id: str, user_id: str) -> TeamsUser | None:
    stmt = select(TeamsUser).where(TeamsUser.workspace_id == workspace_id, TeamsUser.user_id == user_id)
    return (await session.execute(stmt)).scalars().first()


async def has_admin(session: AsyncSession, *, workspace_id: str) -> bool:
    stmt = select(Member.id).where(Member.workspace_id == workspace_id, col(Member.is_admin).is_(True)).limit(1)
    return (await session.execute(stmt)).first() is not None


async def display_names(session: AsyncSession, *, workspace_id: str, user_ids: list[str]) -> dict[str, str]:
    """Display names of the given people (for rendering mentions)."""
    if not user_ids:
        return {}
    stmt = select(Member.user_id, Member.display_name, Member.handle).where(
        Member.workspace_id == workspace_id, col(Member.user_id).in_(user_ids)
    )
    rows = (await session.execute(stmt)).all()
    return {uid: (name or handle or "") for uid, name, handle in rows if name or handle}


# --- files waiting for consent ---------------------------------------------------------------------------


async def offer_file(
    session: AsyncSession,
    *,
    workspace_id: str,
    user_id: str,
    outbox_id: int | None,
    position: int,
    filename: str,
    mime: str,
    content: bytes,
    now: datetime,
    lifetime: timedelta = timedelta(hours=FILE_OFFER_HOURS),
) -> TeamsPendingFile:
    """Keep a file for a consent card; the same (outbox message, position) gets the same row and token."""
    values = {
        "token": secrets.token_urlsafe(24),
        "workspace_id": workspace_id,
        "user_id": user_id,
        "outbox_id": outbox_id,
        "position": position,
        "filename": filename,
        "mime": mime,
        "size": len(content),
        "content": content,
        "created_at": now,
        "expires_at": now + lifetime,
    }
    if outbox_id is None:
        await session.execute(_insert(session, TeamsPendingFile).values(**values))
        where = [col(TeamsPendingFile.token) == values["token"]]
    else:
        stmt = _insert(session, TeamsPendingFile).values(**values)
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["outbox_id", "position"]))
        where = [col(TeamsPendingFile.outbox_id) == outbox_id, col(TeamsPendingFile.position) == position]
    stmt2 = select(TeamsPendingFile).where(*where).execution_options(populate_existing=True)
    return (await session.execute(stmt2)).scalars().one()


async def claim_file(
    session: AsyncSession, *, workspace_id: str, user_id: str, token: str, now: datetime, until: datetime
) -> TeamsPendingFile | None:
    """Take an offer for uploading (until ``until``), unless it is unknown, expired, not this person's, or
    already being uploaded. Only one of two simultaneous accepts gets it."""
    table = TeamsPendingFile.__table__  # type: ignore[attr-defined]
    c = table.c
    stmt = (
        update(table)
        .where(
            c.token == token,
            c.workspace_id == workspace_id,
            c.user_id == user_id,
            c.expires_at > now,
            (c.uploading_until.is_(None)) | (c.uploading_until <= now),
        )
        .values(uploading_until=until)
        .returning(*c)
    )
    row = (await session.execute(stmt)).first()
    return TeamsPendingFile(**dict(row._mapping)) if row is not None else None


async def file_being_uploaded(session: AsyncSession, *, workspace_id: str, token: str, now: datetime) -> bool:
    """Whether an earlier accept of this offer is uploading it right now."""
    stmt = select(TeamsPendingFile.token).where(
        TeamsPendingFile.workspace_id == workspace_id,
        TeamsPendingFile.token == token,
        col(TeamsPendingFile.expires_at) > now,
        col(TeamsPendingFile.uploading_until) > now,
    )
    return (await session.execute(stmt)).first() is not None


async def release_file(session: AsyncSession, *, token: str) -> None:
    """An upload failed: the offer may be accepted again."""
    await session.execute(
        update(TeamsPendingFile).where(col(TeamsPendingFile.token) == token).values(uploading_until=None)
    )


async def drop_file(
    session: AsyncSession, *, workspace_id: str, token: str, user_id: str | None = None
) -> TeamsPendingFile | None:
    """Delete an offer (uploaded or declined); returns it, or None if it was not there."""
    table = TeamsPendingFile.__table__  # type: ignore[attr-defined]
    where = [table.c.token == token, table.c.workspace_id == workspace_id]
    if user_id is not None:
        where.append(table.c.user_id == user_id)
    row = (await session.execute(delete(table).where(*where).returning(*table.c))).first()
    return TeamsPendingFile(**dict(row._mapping)) if row is not None else None


async def drop_files_of_message(session: AsyncSession, *, outbox_id: int) -> int:
    """Forget the offers of an outbox message that can never be delivered."""
    result = await session.execute(delete(TeamsPendingFile).where(col(TeamsPendingFile.outbox_id) == outbox_id))
    return int(getattr(result, "rowcount", 0) or 0)
