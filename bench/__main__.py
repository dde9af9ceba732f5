"""``python -m bench``: the whole suite; ``--smoke`` for the short version CI runs; ``--only NAME``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import traceback

from bench.core import Config, NotAvailable, Outcome, render_table, write_json
from bench.dbs import postgres_check
from bench.registry import MODULES, benches


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="small sizes, one repetition (CI, under a minute)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these ({', '.join(n for n, _ in MODULES)})",
    )
    parser.add_argument("--db", default=None, help="databases to use (default: sqlite,postgres; smoke: sqlite)")
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="server where throwaway databases are created",
    )
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default: 3, smoke: 1)")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/<timestamp>.json")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def run_suite(cfg: Config, only: list[str]) -> list[Outcome]:
    names = {n for item in only for n in item.split(",") if n}
    unknown = names - {n for n, _ in MODULES}
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    outcomes: list[Outcome] = []
    for bench in benches():
        if names and bench.name not in names:
            continue
        print(f"== {bench.name}: {bench.title}", flush=True)
        out = Outcome(bench.name)
        t0 = time.perf_counter()
        try:
            out.rows = asyncio.run(bench.run(cfg))
        except NotAvailable as why:
            out.skipped = str(why)
            print(f"   skipped: {why}", flush=True)
        except Exception as err:
            out.error = f"{type(err).__name__}: {err}"
            traceback.print_exc()
        out.seconds = time.perf_counter() - t0
        if out.rows:
            print(f"   {len(out.rows)} figures in {out.seconds:.1f} s", flush=True)
        outcomes.append(out)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from bot.logging import configure

    configure("INFO" if args.verbose else "ERROR")  # the outbox logs every 429 it is answered with
    chosen = args.db or ("sqlite" if args.smoke else "sqlite,postgres")
    dbs = tuple(d.strip() for d in chosen.split(",") if d.strip())
    cfg = Config(
        smoke=args.smoke,
        databases=dbs,
        postgres_admin_url=args.postgres_url,
        reps=args.reps or (1 if args.smoke else 3),
        verbose=args.verbose,
        only=frozenset(n for item in args.only or [] for n in item.split(",") if n),
    )
    if "postgres" in dbs:
        try:
            postgres_check(cfg)
        except NotAvailable as why:
            print(f"PostgreSQL left out: {why}", flush=True)
            cfg.databases = tuple(d for d in dbs if d != "postgres")
    t0 = time.perf_counter()
    outcomes = run_suite(cfg, args.only)
    seconds = time.perf_counter() - t0
    print()
    print(f"Starling benchmarks ({'smoke' if cfg.smoke else 'full'}, {seconds:.0f} s); ratio = Starling / floor")
    print(render_table(outcomes))
    if not args.no_json:
        path = write_json(outcomes, cfg, seconds)
        print(f"\nresults: {path}")
    return 1 if any(o.error for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
