"""The leaderboard and the caller's rank from one aggregate agree with the board and rank asked separately."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from storage import core
from storage import kudos as q
from storage.db import create_engine_for, session_factory, transaction
from storage.models import Kudos

WS = "console:board"
NOW = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
# receiver -> points this month; "old" kudos before the month count only for "all"
POINTS = {"anna": 5, "ben": 3, "clara": 3, "deniz": 1, "emma": 4, "felix": 2}


async def _seed(url: str) -> None:
    engine = create_engine_for(url)
    async with transaction(session_factory(engine)) as session:
        await core.ensure_workspace(session, workspace_id=WS, platform="console", locale="de", timezone="UTC")
        for uid in [*POINTS, "max", "greta"]:
            await core.upsert_member(session, workspace_id=WS, user_id=uid, display_name=uid.title())
        await core.upsert_member(session, workspace_id=WS, user_id="emma", leaderboard_opt_out=True)
        await core.upsert_member(session, workspace_id=WS, user_id="clara", leaderboard_opt_in=True)
        n = 0
        for uid, pts in POINTS.items():
            for _ in range(pts):
                n += 1
                session.add(
                    Kudos(
                        workspace_id=WS,
                        batch_id=f"b{n}",
                        giver_id="max",
                        receiver_id=uid,
                        giver_day=date(2026, 11, 17),
                        created_at=NOW - timedelta(days=1),
                    )
                )
        session.add(
            Kudos(
                workspace_id=WS,
                batch_id="old",
                giver_id="greta",
                receiver_id="deniz",
                points=9,
                giver_day=date(2026, 9, 1),
                created_at=NOW - timedelta(days=80),
            )
        )
    await engine.dispose()


async def test_one_aggregate_gives_the_same_board_and_rank(any_db_url: str) -> None:
    await _seed(any_db_url)
    engine = create_engine_for(any_db_url)
    month = datetime(2026, 11, 1, tzinfo=UTC)
    try:
        async with session_factory(engine)() as session:
            for since in (month, None):
                for caller in ("anna", "deniz", "emma", "greta", "max"):
                    for direction in ("received", "given"):
                        board, mine = await q.board_and_rank(
                            session, workspace_id=WS, user_id=caller, since=since, direction=direction, limit=3
                        )
                        assert board == await q.leaderboard(
                            session, workspace_id=WS, since=since, direction=direction, limit=3
                        )
                        assert mine == await q.rank_of(
                            session, workspace_id=WS, user_id=caller, since=since, direction=direction
                        )
            board, mine = await q.board_and_rank(session, workspace_id=WS, user_id="deniz", since=month)
            # emma opted out: never on the board; ben and clara share a dense rank.
            assert [(r.user_id, r.points, r.rank) for r in board] == [
                ("anna", 5, 1),
                ("ben", 3, 2),
                ("clara", 3, 2),
                ("felix", 2, 3),
                ("deniz", 1, 4),
            ]
            assert mine == q.Ranked("deniz", 1, 4)
            board, mine = await q.board_and_rank(
                session, workspace_id=WS, user_id="anna", since=month, require_opt_in=True
            )
            assert [r.user_id for r in board] == ["clara"]  # works council: only who opted in
            assert mine == q.Ranked("anna", 5, 1)  # the caller still learns their own rank
    finally:
        await engine.dispose()
