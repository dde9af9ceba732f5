"""The inbox's claims: SQLite's inbox file takes them through the driver's own statements, PostgreSQL's worker in one
statement of its own (``_PgClaims``), anything else through SQLAlchemy's; all lease the same rows, hand them out again
when a lease runs out, and delete only what their holder finished."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.inbox import _Local, _PgClaims, spool_url
from storage import inbox as store
from storage.db import sync_engine_for
from storage.inbox import HeldEvent

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LEASE = timedelta(seconds=30)

Claim = Callable[..., list[HeldEvent]]


def driver_claim(local: _Local) -> Claim:
    def claim(finished: list[int], **kw: Any) -> list[HeldEvent]:
        return local.claim(finished, **kw)

    return claim


def sqlalchemy_claim(local: _Local) -> Claim:
    def claim(finished: list[int], **kw: Any) -> list[HeldEvent]:
        holder = kw["holder"]

        def op(conn: Any) -> list[HeldEvent]:
            store.finish(conn, finished, holder=holder)
            return store.claim(conn, **kw)

        return local.run(op)  # type: ignore[no-any-return]

    return claim


Put = Callable[[dict[str, Any]], None]
Count = Callable[[], int]


@pytest.mark.parametrize("way", [driver_claim, sqlalchemy_claim], ids=["driver", "sqlalchemy"])
def test_claims_lease_replay_and_finish(tmp_path: Path, way: Callable[[_Local], Claim]) -> None:
    url = spool_url(f"sqlite:///{tmp_path}/starling.db")
    assert url
    local = _Local(url)
    try:
        check_claims(local.put, way(local), lambda: int(local.run(store.pending_count)))
    finally:
        local.close()


@pytest.mark.parametrize("way", ["one statement", "sqlalchemy"])
def test_postgresql_claims_lease_replay_and_finish(pg_url: str, way: str) -> None:
    """PostgreSQL's worker claims in one statement on a connection of its own (``_PgClaims``); it must lease, hand
    out again and delete exactly what the SQLAlchemy statements do."""
    engine = sync_engine_for(pg_url)
    claims = _PgClaims(pg_url)
    loop = asyncio.new_event_loop()

    def put(row: dict[str, Any]) -> None:
        with engine.begin() as conn:
            store.put(conn, [row])

    def one_statement(finished: list[int], **kw: Any) -> list[HeldEvent]:
        return loop.run_until_complete(claims.claim(finished, **kw))

    def sqlalchemy(finished: list[int], **kw: Any) -> list[HeldEvent]:
        with engine.begin() as conn:
            store.finish(conn, finished, holder=kw["holder"])
            return store.claim(conn, **kw)

    def count() -> int:
        with engine.begin() as conn:
            return store.pending_count(conn)

    try:
        check_claims(put, one_statement if way == "one statement" else sqlalchemy, count)
    finally:
        loop.run_until_complete(claims.close())
        loop.close()
        engine.dispose()


def check_claims(put: Put, claim: Claim, count: Count) -> None:
    for n in range(4):
        platform = "teams" if n == 3 else "slack"
        body = {"n": n, "text": "danke für <@U1> 🎉"}
        row = {"platform": platform, "workspace_id": "T1", "kind": "events", "body": body, "context": {"c": n}}
        put(row | {"received_at": NOW})
    mine = {"holder": "a", "lease": LEASE, "platforms": ["slack"]}

    first = claim([], now=NOW, limit=2, exclude=[], **mine)
    assert [(r.id, r.body["n"], r.attempts, r.holder) for r in first] == [(1, 0, 1, "a"), (2, 1, 1, "a")]
    assert first[0].body["text"] == "danke für <@U1> 🎉" and first[0].context == {"c": 0}
    assert first[0].lease_until == NOW + LEASE and first[0].received_at == NOW

    # Held rows are not claimed again, by this holder or another, while their lease lasts; Teams' row is
    # not this worker's.
    assert [r.id for r in claim([], now=NOW, limit=5, exclude=[1, 2], **mine)] == [3]
    assert claim([], now=NOW + LEASE / 2, limit=5, exclude=[], holder="b", lease=LEASE, platforms=["slack"]) == []

    # Another holder's finish deletes nothing of mine; once the lease ran out the rows are claimable again,
    # but not by the holder still handling them (``exclude``).
    later = NOW + LEASE * 2
    again = claim([1, 2], now=later, limit=5, exclude=[], holder="b", lease=LEASE, platforms=["slack"])
    assert [(r.id, r.attempts, r.holder) for r in again] == [(1, 2, "b"), (2, 2, "b"), (3, 2, "b")]
    # b's lease runs out too: a claims again what it is not still handling itself.
    latest = later + LEASE * 2
    assert [(r.id, r.attempts, r.holder) for r in claim([], now=latest, limit=5, exclude=[1, 3], **mine)] == [
        (2, 3, "a")
    ]
    # Finished by b: rows 1 and 3 are gone; row 2, now a's, stays until a finishes it.
    assert claim([1, 2, 3], now=latest, limit=5, exclude=[], holder="b", lease=LEASE, platforms=["slack"]) == []
    assert count() == 2
    assert claim([2], now=latest, limit=5, exclude=[], **mine) == []
    assert count() == 1  # Teams' row waits for its own worker
    # A finish alone (nothing to claim for) deletes, and a finished row whose lease ran out is not leased again.
    put({"platform": "slack", "workspace_id": "T1", "kind": "events", "body": {}, "context": {}, "received_at": NOW})
    (fifth,) = claim([], now=latest, limit=1, exclude=[], **mine)
    assert claim([fifth.id], now=latest + LEASE * 2, limit=5, exclude=[], **mine) == []
    assert count() == 1
