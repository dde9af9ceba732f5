"""The core tables: workspaces, people, values, kudos, budgets, de-duplication keys and the outbox.

Feature modules add their own tables in their own modules (``storage/<feature>.py``) with their own
migration; every timestamp is timezone-aware (:class:`storage.types.UTCDateTime`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


def ts_column(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def opt_ts_column(*, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True, index=index))


class Workspace(SQLModel, table=True):
    """One Slack team, Teams tenant or console workspace, with its admin-chosen settings."""

    id: str = Field(primary_key=True, max_length=120)  # "<platform>:<team or tenant id>"
    platform: str = Field(max_length=20)
    name: str = Field(default="", max_length=200)
    locale: str = Field(default="de", max_length=10)
    tone: str = Field(default="du", max_length=5)  # German address: "du" or "sie"
    timezone: str = Field(default="Europe/Berlin", max_length=64)
    holiday_region: str | None = Field(default=None, max_length=10)
    daily_budget: int = 5
    min_reason_length: int = 10
    max_recipients: int = 5
    pair_daily_cap: int = 3
    max_text_length: int = 500
    undo_minutes: int = 5
    kudos_emoji: str = Field(default="star", max_length=64)
    kudos_channel_id: str | None = Field(default=None, max_length=120)
    privacy_profile: str = Field(default="standard", max_length=20)
    # A new value with every change to values, feature switches or privacy settings (cache tag).
    config_rev: str = Field(default="", max_length=32)
    created_at: datetime = ts_column()


class CompanyValue(SQLModel, table=True):
    __tablename__ = "company_value"
    __table_args__ = (UniqueConstraint("workspace_id", "tag"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=120, index=True)
    tag: str = Field(max_length=40)
    label_de: str = Field(max_length=80)
    label_en: str = Field(max_length=80)
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    position: int = 0


class Member(SQLModel, table=True):
    """A person as Starling knows them: only what the features need."""

    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=120, index=True)
    user_id: str = Field(max_length=120)
    display_name: str = Field(default="", max_length=200)
    handle: str | None = Field(default=None, max_length=120)
    department: str | None = Field(default=None, max_length=120)
    locale: str | None = Field(default=None, max_length=10)
    timezone: str | None = Field(default=None, max_length=64)
    is_admin: bool = False
    is_bot: bool = False
    is_guest: bool = False  # a guest account (Slack restricted users, Teams guests): no kudos either way
    leaderboard_opt_out: bool = False
    leaderboard_opt_in: bool = False
    created_at: datetime = ts_column()
    updated_at: datetime = ts_column()


class Kudos(SQLModel, table=True):
    """One recognition from a giver to one receiver. A kudos to three people is three rows in one batch."""

    __table_args__ = (
        Index("ix_kudos_ws_created_receiver", "workspace_id", "created_at", "receiver_id", "points"),
        Index("ix_kudos_ws_created_giver", "workspace_id", "created_at", "giver_id", "points"),
        Index("ix_kudos_ws_message", "workspace_id", "message_id"),
        Index("ix_kudos_ws_giver_day", "workspace_id", "giver_id", "giver_day"),
        # and, for the kudos roll-up's triggers, a receiver's other kudos: ix_kudos_ws_receiver_day (PostgreSQL)
        # or ix_kudos_ws_rdept_receiver_day (SQLite), made by migration 0012 (see there why they differ)
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=120)
    batch_id: str = Field(max_length=40, index=True)
    giver_id: str = Field(max_length=120)
    receiver_id: str = Field(max_length=120)
    points: int = 1
    value_tag: str | None = Field(default=None, max_length=40)
    reason: str = Field(default="", max_length=4000)
    cross_team: bool = False
    source: str = Field(default="command", max_length=20)  # command | message | reaction
    conversation_id: str | None = Field(default=None, max_length=400)  # a Teams personal chat's id is ~130
    message_id: str | None = Field(default=None, max_length=255)
    # the customer moment it is for: goodwill (a case), answer (a prompt answer), quote (imported
    # customer feedback) or suggestion (a done one), with that row's id
    moment_kind: str | None = Field(default=None, max_length=20)
    moment_id: int | None = None
    # The giver's and the receiver's department when the kudos was given: every department aggregate counts
    # by these, so moving a person changes no past total (a total's difference would be her own figure).
    giver_department: str | None = Field(default=None, max_length=120)
    receiver_department: str | None = Field(default=None, max_length=120)
    giver_day: date
    created_at: datetime = ts_column()


class BudgetDay(SQLModel, table=True):
    """Points a giver has spent on one local calendar day; the conditional update is the budget check."""

    __tablename__ = "budget_day"

    workspace_id: str = Field(primary_key=True, max_length=120)
    user_id: str = Field(primary_key=True, max_length=120)
    day: date = Field(primary_key=True)
    spent: int = 0


class ProcessedEvent(SQLModel, table=True):
    """Platform event ids already handled; written in the same transaction as the effect.

    ``key`` is a keyed digest (HMAC-SHA256 under the day's :class:`DedupeSecret`) and ``created_at`` the
    full hour: once the secret is thrown away nobody can recompute which click or message a key was."""

    __tablename__ = "processed_event"

    key: str = Field(primary_key=True, max_length=255)
    created_at: datetime = ts_column(index=True)


class DedupeSecret(SQLModel, table=True):
    """The random key of one UTC day's de-duplication digests; deleted (with the digests) after the window."""

    __tablename__ = "dedupe_secret"

    day: str = Field(primary_key=True, max_length=10)  # "2026-11-18"
    secret: str = Field(max_length=64)


class OutboxMessage(SQLModel, table=True):
    """A proactive message, written with its cause and delivered by the outbox worker."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_lane", "platform", "workspace_id", "target_kind", "target_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(max_length=120, index=True)
    platform: str = Field(max_length=20)
    target_kind: str = Field(max_length=20)  # channel | dm | thread
    target_id: str = Field(max_length=255)
    thread_id: str | None = Field(default=None, max_length=255)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    cause: str = Field(default="", max_length=120)
    dedupe_key: str | None = Field(default=None, max_length=255, unique=True)
    status: str = Field(default="pending", max_length=20)  # pending | sending | sent | dead
    attempts: int = 0
    next_attempt_at: datetime = ts_column()
    lease_until: datetime | None = opt_ts_column()
    last_error: str | None = Field(default=None, max_length=2000)
    platform_message_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = ts_column()
    sent_at: datetime | None = opt_ts_column()


class ScheduledClaim(SQLModel, table=True):
    """A scheduled post claimed before it is sent: one row per (workspace, channel, kind, period)."""

    __tablename__ = "scheduled_claim"

    workspace_id: str = Field(primary_key=True, max_length=120)
    channel_id: str = Field(primary_key=True, max_length=255)
    kind: str = Field(primary_key=True, max_length=40)
    period: str = Field(primary_key=True, max_length=40)
    claimed_at: datetime = ts_column()
    claimed_by: str = Field(default="", max_length=120)
