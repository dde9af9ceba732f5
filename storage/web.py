"""The web side's server-side state: sessions, sign-in attempts and one-time links, shared by every replica.

A browser holds only a random token in its cookie; the table keeps its SHA-256 digest, so a copy of the
database opens no session. ``kind`` is ``session`` (signed in), ``login`` (an OpenID Connect attempt:
state, nonce and PKCE verifier until the provider calls back) or ``link`` (a one-time local sign-in link).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, Index, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from storage.models import ts_column
from storage.privacy import Retention
from storage.types import UTCDateTime

SESSION_HOURS = 8  # a signed-in browser session lives at most this long


class WebSession(SQLModel, table=True):
    __tablename__ = "web_session"
    __table_args__ = (
        Index("ix_web_session_expires", "expires_at"),
        Index("ix_web_session_user", "workspace_id", "user_id"),
        {
            "info": {
                "retention": Retention(
                    "delete", "expires_at", expires=True, within_hours=SESSION_HOURS, reason="web sign-in sessions"
                )
            }
        },
    )

    token_hash: str = Field(primary_key=True, max_length=64)
    kind: str = Field(default="session", max_length=10)  # session | login | link
    workspace_id: str | None = Field(default=None, max_length=120)
    user_id: str | None = Field(default=None, max_length=120)
    csrf: str = Field(default="", max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = ts_column()
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


async def create(
    session: AsyncSession,
    *,
    kind: str,
    now: datetime,
    lifetime: timedelta,
    workspace_id: str | None = None,
    user_id: str | None = None,
    data: dict[str, Any] | None = None,
    token: str | None = None,
) -> tuple[str, WebSession]:
    """A new row; returns the token for the browser (only its digest is stored)."""
    token = token or new_token()
    row = WebSession(
        token_hash=digest(token),
        kind=kind,
        workspace_id=workspace_id,
        user_id=user_id,
        csrf=secrets.token_urlsafe(24),
        data=data or {},
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    await session.flush()
    return token, row


async def find(session: AsyncSession, *, token: str, kind: str, now: datetime) -> WebSession | None:
    """The live row behind ``token`` (expired rows are not found)."""
    if not token or len(token) > 200:
        return None
    row = await session.get(WebSession, digest(token))
    if row is None or row.kind != kind or row.expires_at <= now:
        return None
    return row


async def take(session: AsyncSession, *, token: str, kind: str, now: datetime) -> WebSession | None:
    """Find and delete in one go: a sign-in attempt or a one-time link is used once."""
    row = await find(session, token=token, kind=kind, now=now)
    if row is None:
        return None
    result = await session.execute(delete(WebSession).where(WebSession.token_hash == row.token_hash))  # type: ignore[arg-type]
    return row if getattr(result, "rowcount", 1) else None


async def end(session: AsyncSession, *, token: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.token_hash == digest(token)))  # type: ignore[arg-type]


async def end_for_person(session: AsyncSession, *, workspace_id: str, user_id: str) -> None:
    await session.execute(
        delete(WebSession).where(WebSession.workspace_id == workspace_id, WebSession.user_id == user_id)  # type: ignore[arg-type]
    )


async def purge_expired(session: AsyncSession, *, now: datetime) -> int:
    result = await session.execute(delete(WebSession).where(WebSession.expires_at <= now))  # type: ignore[arg-type]
    return int(getattr(result, "rowcount", 0) or 0)


async def count_sessions(session: AsyncSession, *, now: datetime) -> int:
    rows = await session.execute(select(WebSession.token_hash).where(WebSession.expires_at > now))  # type: ignore[call-overload]
    return len(rows.all())
