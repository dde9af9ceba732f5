"""The list of benchmarks and the check that their subject exists in this checkout."""

from __future__ import annotations

import importlib
import importlib.util

from bench.core import Bench, NotAvailable

MODULES = [
    ("ack", "bench.b_ack"),
    ("throughput", "bench.b_throughput"),
    ("leaderboard", "bench.b_leaderboard"),
    ("digest", "bench.b_digest"),
    ("memory", "bench.b_memory"),
    ("teams", "bench.b_teams"),
    ("overload", "bench.b_overload"),
    ("pulse", "bench.b_pulse"),
    ("dashboard", "bench.b_dashboard"),
]


def require(module: str) -> None:
    """Raise NotAvailable when ``module`` (e.g. ``bot.web``) does not exist yet."""
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise NotAvailable(f"not available yet: {module} missing")


def require_command(name: str) -> None:
    """Raise NotAvailable when the ``starling`` CLI has no ``name`` subcommand yet."""
    from bot.cli import COMMANDS

    if name not in COMMANDS:
        raise NotAvailable(f"not available yet: `starling {name}` missing")


def benches() -> list[Bench]:
    out = []
    for name, module in MODULES:
        mod = importlib.import_module(module)
        out.append(Bench(name, mod.TITLE, mod.run))
    return out
