"""INSERT … ON CONFLICT DO NOTHING must tell a new row from an existing one on every database."""

from __future__ import annotations

from storage import core
from storage.db import create_engine_for, session_factory, transaction
from storage.models import ScheduledClaim
from storage.types import utcnow


async def test_second_insert_is_reported_as_ignored(any_db_url: str) -> None:
    engine = create_engine_for(any_db_url)
    sessions = session_factory(engine)
    key = {
        "workspace_id": "slack:T1",
        "channel_id": "C1",
        "kind": "digest",
        "period": "2026-W47",
        "claimed_at": utcnow(),
    }
    try:
        written = []
        for _ in range(2):
            async with transaction(sessions) as session:
                written.append(
                    await core.insert_ignore(
                        session, ScheduledClaim, key, ["workspace_id", "channel_id", "kind", "period"]
                    )
                )
        assert written == [True, False]
    finally:
        await engine.dispose()


async def test_workspace_is_created_once_on_every_database(any_db_url: str) -> None:
    engine = create_engine_for(any_db_url)
    sessions = session_factory(engine)
    try:
        for _ in range(2):
            async with transaction(sessions) as session:
                ws = await core.ensure_workspace(
                    session, workspace_id="slack:T1", platform="slack", locale="de", timezone="Europe/Berlin"
                )
                assert ws.id == "slack:T1"
        async with sessions() as session:
            assert len(await core.list_values(session, workspace_id="slack:T1")) == len(core.DEFAULT_VALUES)
    finally:
        await engine.dispose()


async def test_a_retried_platform_event_is_claimed_once(any_db_url: str) -> None:
    engine = create_engine_for(any_db_url)
    sessions = session_factory(engine)
    try:
        claimed = []
        for _ in range(2):
            async with transaction(sessions) as session:
                claimed.append(await core.claim_event(session, key="slack:T1:Ev0123"))
        assert claimed == [True, False]
    finally:
        await engine.dispose()
