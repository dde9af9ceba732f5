"""Kudos written before their departments were kept take their people's departments when the schema is
brought up to date (the best that is known of the past); later moves change none of them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from storage.db import migrate


def test_existing_kudos_take_their_peoples_departments(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "0009_member_guest")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO workspace (id, platform, name, locale, tone, timezone, daily_budget, "
                "min_reason_length, max_recipients, pair_daily_cap, max_text_length, undo_minutes, "
                "kudos_emoji, privacy_profile, config_rev, created_at) VALUES ('console:w', 'console', "
                "'W', 'de', 'du', 'UTC', 5, 10, 5, 3, 500, 5, 'star', 'standard', '', '2026-11-01')"
            )
        )
        for uid, dept in (("anna", "Vertrieb"), ("ben", "Support"), ("clara", None)):
            conn.execute(
                text(
                    "INSERT INTO member (workspace_id, user_id, display_name, department, is_admin, is_bot, "
                    "is_guest, leaderboard_opt_out, leaderboard_opt_in, created_at, updated_at) VALUES "
                    "('console:w', :u, :u, :d, 0, 0, 0, 0, 0, '2026-11-01', '2026-11-01')"
                ),
                {"u": uid, "d": dept},
            )
        for giver, receiver in (("anna", "ben"), ("ben", "clara"), ("clara", "anna")):
            conn.execute(
                text(
                    "INSERT INTO kudos (workspace_id, batch_id, giver_id, receiver_id, points, reason, cross_team, "
                    "source, giver_day, created_at) VALUES ('console:w', :b, :g, :r, 1, 'danke', 0, 'command', "
                    "'2026-11-02', '2026-11-02')"
                ),
                {"b": f"{giver}-{receiver}", "g": giver, "r": receiver},
            )
    migrate(url)
    with engine.begin() as conn:
        rows = conn.execute(
            text("SELECT giver_id, receiver_id, giver_department, receiver_department FROM kudos ORDER BY giver_id")
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("anna", "ben", "Vertrieb", "Support"),
        ("ben", "clara", "Support", None),
        ("clara", "anna", None, "Vertrieb"),
    ]
