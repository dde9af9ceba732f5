"""``starling``: the command line. With no arguments it runs the main job: ``serve`` when Slack or
Teams credentials are set, otherwise the terminal console on the embedded SQLite database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence

import structlog

from bot.logging import configure
from bot.settings import Settings

log = structlog.get_logger("starling.cli")


def _console(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import Starling
    from bot.console.adapter import ConsoleAdapter, stdin_lines

    async def main() -> None:
        from bot.scheduler import start_scheduler

        app = Starling(settings)
        console = ConsoleAdapter(app, user=args.user)
        scheduler = None
        try:
            await console.start(demo=args.demo)
            scheduler = await start_scheduler(app)  # scheduled posts appear in the terminal when due
            await app.outbox.start()
            await console.run(stdin_lines())
        finally:
            if scheduler is not None:
                await scheduler.stop()
            await app.outbox.stop()
            await app.close()

    asyncio.run(main())
    return 0


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from storage.db import migrate

    migrate(settings.database_url)
    print("database is up to date")  # noqa: T201 - CLI output
    return 0


def _scheduler(args: argparse.Namespace, settings: Settings) -> int:
    """The scheduler and the outbox worker, no web server; several may run against one PostgreSQL."""
    import signal

    from bot.app import Starling
    from bot.outbox import install_senders
    from bot.scheduler import SchedulerService, run_scheduler

    async def main() -> None:
        app = Starling(settings)
        try:
            platforms = install_senders(app)
            log.info("scheduler_process", senders=platforms, once=args.once)
            if args.once:
                await SchedulerService(app).tick()
                await app.outbox.drain()
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await run_scheduler(app, stop)
        finally:
            await app.close()

    asyncio.run(main())
    return 0


def _outbox(args: argparse.Namespace, settings: Settings) -> int:
    """Inspect the outbox and requeue dead letters."""
    from storage import outbox as oq
    from storage.db import create_engine_for, session_factory, transaction
    from storage.types import utcnow

    def out(line: str = "") -> None:
        print(line)  # noqa: T201 - CLI output

    async def main() -> int:
        engine = create_engine_for(settings.database_url)
        sessions = session_factory(engine)
        try:
            if args.action == "retry":
                targets = [a.lower() for a in args.ids]
                if not targets or (targets != ["all"] and not all(a.isdigit() for a in targets)):
                    out("usage: starling outbox retry ID [ID ...] | starling outbox retry all")
                    return 2
                ids = None if targets == ["all"] else [int(a) for a in targets]
                async with transaction(sessions) as session:
                    done = await oq.retry_dead(session, now=utcnow(), ids=ids)
                out(f"requeued {len(done)} dead letter(s): {', '.join(map(str, done)) or '-'}")
                missing = sorted(set(ids or []) - set(done))
                if missing:
                    out(f"not dead letters (or unknown): {', '.join(map(str, missing))}")
                return 0 if not missing else 1
            async with sessions() as session:
                counts = await oq.status_counts(session)
                statuses = ["dead"] if args.action == "dead" else ["pending", "sending", "dead"]
                rows = await oq.list_messages(session, statuses=statuses, limit=args.limit)
            if args.action == "list":
                summary = ", ".join(f"{p}/{s}: {n}" for (p, s), n in sorted(counts.items())) or "empty"
                out(f"outbox (not yet sent): {summary}")
            if not rows:
                out("no dead letters" if args.action == "dead" else "nothing waiting")
                return 0
            out(f"{'id':>7}  {'status':8} {'platform':8} {'target':24} {'cause':18} {'tries':>5}  {'when':20} error")
            for r in rows:
                when = (r.created_at if r.status == "dead" else r.next_attempt_at).strftime("%Y-%m-%d %H:%M:%S")
                target = f"{r.target_kind}:{r.target_id}"[:24]
                error = (r.last_error or "").replace("\n", " ")[:80]
                out(
                    f"{r.id:>7}  {r.status:8} {r.platform:8} {target:24} {r.cause[:18]:18} {r.attempts:>5}  {when:20} {error}"
                )
            if args.action == "dead":
                out("requeue with: starling outbox retry ID | starling outbox retry all")
            return 0
        finally:
            await engine.dispose()

    return asyncio.run(main())


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "console": _console,
    "migrate": _migrate,
    "scheduler": _scheduler,
    "outbox": _outbox,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="starling", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("console", help="chat with Starling in the terminal (embedded SQLite, no keys)")
    p.add_argument("--demo", action="store_true", help="load the demo colleagues and kudos history")
    p.add_argument("--user", default="max", help="the person you act as (default: max)")
    p = sub.add_parser("demo", help="the console with the demo workspace")
    p.add_argument("--user", default="max")
    sub.add_parser("migrate", help="bring the database schema up to date")
    p = sub.add_parser("scheduler", help="run the scheduler and the outbox worker (no web server)")
    p.add_argument("--once", action="store_true", help="one tick (catching up missed posts), deliver, exit")
    p = sub.add_parser("outbox", help="show queued messages and dead letters; requeue dead letters")
    p.add_argument("action", nargs="?", choices=["list", "dead", "retry"], default="list")
    p.add_argument("ids", nargs="*", help="with retry: outbox ids, or 'all'")
    p.add_argument("--limit", type=int, default=50)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings()
    configure(settings.log_level if args.command not in (None, "console", "demo") else "WARNING", settings.log_json)
    command = args.command
    if command is None:
        command = "serve" if (settings.slack_enabled or settings.teams_enabled) and "serve" in COMMANDS else "console"
        args = parser.parse_args([command])
    if command == "demo":
        args.demo = True
        command = "console"
    return COMMANDS[command](args, settings)


if __name__ == "__main__":
    sys.exit(main())
