"""The inbox's claims: SQLite's inbox file takes them through the driver's own statements, the other databases
through SQLAlchemy's; both lease the same rows, hand them out again when a lease runs out, and delete only what
their holder finished."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.inbox import _Local, spool_url
from storage import inbox as store
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


@pytest.mark.parametrize("way", [driver_claim, sqlalchemy_claim], ids=["driver", "sqlalchemy"])
def test_claims_lease_replay_and_finish(tmp_path: Path, way: Callable[[_Local], Claim]) -> None:
    url = spool_url(f"sqlite:///{tmp_path}/starling.db")
    assert url
    local = _Local(url)
    try:
        for n in range(4):
            platform = "teams" if n == 3 else "slack"
            body = {"n": n, "text": "danke für <@U1> 🎉"}
            row = {"platform": platform, "workspace_id": "T1", "kind": "events", "body": body, "context": {"c": n}}
            local.put(row | {"received_at": NOW})
        claim = way(local)
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
        assert local.run(store.pending_count) == 2
        assert claim([2], now=latest, limit=5, exclude=[], **mine) == []
        assert local.run(store.pending_count) == 1  # Teams' row waits for its own worker
    finally:
        local.close()
