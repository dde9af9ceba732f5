"""The benchmark suite runs and reports figures (sizes are tiny; nothing here is timed or compared)."""

from __future__ import annotations

import math

import pytest

from bench.__main__ import run_suite
from bench.core import Config, render_table
from tests.kit import postgres_admin_url


@pytest.fixture
def cfg() -> Config:
    admin = postgres_admin_url()
    dbs = ("sqlite", "postgres") if admin else ("sqlite",)
    return Config(
        smoke=True, tiny=True, http=False, reps=1, databases=dbs, postgres_admin_url=admin or "postgresql://x/none"
    )


def test_leaderboard_and_throughput_report_numeric_figures(cfg: Config, capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = run_suite(cfg, ["leaderboard,throughput"])

    assert [o.name for o in outcomes] == ["throughput", "leaderboard"]
    for outcome in outcomes:
        assert outcome.error is None and outcome.skipped is None
        assert len(outcome.rows) >= len(cfg.databases)
        for row in outcome.rows:
            assert math.isfinite(row.starling) and row.starling > 0
            assert math.isfinite(row.floor) and row.floor > 0
            assert math.isfinite(row.ratio)
    table = render_table(outcomes)
    assert "leaderboard month top10" in table and "kudos/s via Router.dispatch" in table


def test_unknown_benchmark_name_is_refused(cfg: Config) -> None:
    with pytest.raises(SystemExit, match="unknown benchmark"):
        run_suite(cfg, ["nonsense"])
