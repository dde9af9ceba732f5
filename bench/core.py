"""What every benchmark shares: result rows, statistics, the registry, the table and the JSON file."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


class NotAvailable(Exception):
    """The subject of a benchmark does not exist in this checkout (yet), or a service it needs is missing."""


@dataclass
class Config:
    smoke: bool = False
    databases: tuple[str, ...] = ("sqlite", "postgres")
    postgres_admin_url: str = "postgresql://postgres@127.0.0.1:5432/test"
    reps: int = 3
    verbose: bool = False
    tiny: bool = False  # a tenth of the smoke sizes (the suite's own test)
    http: bool = True  # False leaves out the parts that start servers
    only: frozenset[str] = frozenset()  # the benchmarks named with --only

    def size(self, full: int, smoke: int) -> int:
        if self.tiny:
            return max(1, smoke // 10)
        return smoke if self.smoke else full


@dataclass
class Row:
    """One figure: Starling against its floor, measured in the same run."""

    bench: str
    figure: str
    starling: float
    floor: float
    unit: str
    target: float | None = None
    higher_is_better: bool = False  # throughput: ratio = starling/floor must be >= target
    note: str = ""
    samples: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        if self.floor == 0:
            return math.inf if self.starling else 1.0
        return self.starling / self.floor

    @property
    def target_text(self) -> str:
        if self.target is None:
            return "-"
        return f"{'≥' if self.higher_is_better else '≤'} {self.target:g}"

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(ratio=_finite(self.ratio), met=self.met, target_text=self.target_text)
        return data


@dataclass
class Outcome:
    name: str
    rows: list[Row] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None
    seconds: float = 0.0


BenchFn = Callable[[Config], Awaitable[list[Row]]]


@dataclass
class Bench:
    name: str
    title: str
    run: BenchFn


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


# --- statistics ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


# --- output ----------------------------------------------------------------------------------------


def _fmt(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "inf"
    if unit == "ms":
        return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    if unit.endswith("/s"):
        return f"{value:.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"
    return f"{value:.3g} {unit}"


def render_table(outcomes: Sequence[Outcome]) -> str:
    header = ("figure", "Starling", "floor", "ratio", "target", "met?")
    lines: list[tuple[str, ...]] = []
    notes: list[str] = []
    for out in outcomes:
        if out.skipped:
            notes.append(f"skipped {out.name}: {out.skipped}")
            continue
        if out.error:
            notes.append(f"ERROR {out.name}: {out.error}")
            continue
        for row in out.rows:
            met = {True: "yes", False: "NO", None: "-"}[row.met]
            lines.append(
                (
                    row.figure,
                    _fmt(row.starling, row.unit),
                    _fmt(row.floor, row.unit),
                    "inf" if not math.isfinite(row.ratio) else f"{row.ratio:.2f}",
                    row.target_text,
                    met,
                )
            )
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]

    def fmt(cols: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)) + " |"

    table = [fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(fmt(line) for line in lines)]
    return "\n".join(table + ([""] + notes if notes else []))


def machine() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False, timeout=5
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "commit": commit,
    }


def write_json(outcomes: Sequence[Outcome], cfg: Config, seconds: float, directory: Path = RESULTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{stamp}{'-smoke' if cfg.smoke else ''}.json"
    data = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "smoke" if cfg.smoke else "full",
        "seconds": round(seconds, 1),
        "machine": machine(),
        "databases": list(cfg.databases),
        "benchmarks": [
            {
                "name": o.name,
                "seconds": round(o.seconds, 2),
                "skipped": o.skipped,
                "error": o.error,
                "rows": [r.as_json() for r in o.rows],
            }
            for o in outcomes
        ],
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
