"""``starling``: the command line. With no arguments it runs the main job: ``serve`` when Slack or
Teams credentials are set, otherwise the terminal console on the embedded SQLite database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

import structlog

from bot import privacy_cli
from bot.logging import configure
from bot.mistakes import Mistake, check_database_url, explain, sqlite_path
from bot.settings import Settings, database_url_from, settings_error

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.app import Starling

log = structlog.get_logger("starling.cli")


def _console(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import Starling
    from bot.console.adapter import ConsoleAdapter, stdin_lines

    async def main() -> None:
        from bot.scheduler import SchedulerService, start_scheduler

        starling: Starling | None = None
        scheduler: SchedulerService | None = None

        async def session() -> None:
            nonlocal starling, scheduler
            starling = Starling(settings)
            console = ConsoleAdapter(starling, user=args.user)
            starling.attach("console", sender=console)
            where = settings.database_path or safe_url(settings.database_url)
            console.write(console.say("database", path=where))
            await console.start(demo=args.demo)
            scheduler = await start_scheduler(starling)  # scheduled posts appear in the terminal when due
            await starling.outbox.start()
            await console.run(stdin_lines())

        try:
            await _until_interrupted(session())
        finally:
            if scheduler is not None:
                await scheduler.stop()
            if starling is not None:
                await starling.outbox.stop()
                await starling.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        print(GOODBYE, file=sys.stderr)  # noqa: T201 - CLI output
    return 0


def _progress(settings: Settings, line: str) -> None:
    """Progress of long work, for a person at a terminal (on stderr; never in JSON log mode)."""
    if settings.log_json:
        return
    print(line, file=sys.stderr, flush=True)  # noqa: T201 - progress on the terminal


async def _until_interrupted(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` until it ends or Ctrl-C is pressed; then the caller shuts down in order and says goodbye.

    Ctrl-C is taken over before ``work`` starts, so it ends the console the same way while it is still
    starting; a SIGINT blocked by whatever started the process is unblocked (a terminal's Ctrl-C must work).
    """
    import signal

    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    try:
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        loop.add_signal_handler(signal.SIGINT, interrupted.set)
    except (NotImplementedError, RuntimeError):  # no signal handlers here (Windows, a thread): Ctrl-C as usual
        await work
        return
    task = loop.create_task(work)
    waiter = loop.create_task(interrupted.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not interrupted.is_set():
            loop.remove_signal_handler(signal.SIGINT)
    if interrupted.is_set():
        _exit_soon()
        # (a second Ctrl-C while the console shuts down changes nothing: the exit timer ends it anyway)
        while not task.done():  # asked again after a while: a cancellation swallowed on the way cannot keep it
            task.cancel()
            await asyncio.wait({task}, timeout=3.0)
        if not task.cancelled() and task.exception() is not None:
            log.warning("console_ended_with_error", error=repr(task.exception()))
        print(GOODBYE, file=sys.stderr)  # noqa: T201 - CLI output
    else:
        task.result()


def _exit_soon(seconds: float = 15.0) -> None:
    """After Ctrl-C the process ends within ``seconds`` even if a clean-up step hangs (the line being handled
    has ended whole by then; what the clean-up did not finish is done at the next start)."""
    import os
    import threading

    def leave() -> None:
        print(GOODBYE, file=sys.stderr, flush=True)  # noqa: T201 - CLI output
        os._exit(130)

    timer = threading.Timer(seconds, leave)
    timer.daemon = True
    timer.start()


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from storage.db import migrate, pending_migrations

    todo = pending_migrations(settings.database_url)
    for n, step in enumerate(todo, 1):
        _progress(settings, f"[{n}/{len(todo)}] {step}")
    migrate(settings.database_url)
    print(f"database is up to date ({len(todo)} schema change(s) applied)")  # noqa: T201 - CLI output
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.eventloop import new_event_loop
    from bot.web import ConfigurationError, serve

    port = settings.port if args.port is None else args.port
    if not 0 <= port <= 65535:
        raise Mistake(f"--port {port} is not a TCP port: choose one from 1 to 65535")
    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(serve(settings, port=args.port, scheduler=not args.no_scheduler))
    except ConfigurationError as err:
        print(f"starling serve: {err}", file=sys.stderr)  # noqa: T201 - CLI output
        return 2
    return 0


def _web(args: argparse.Namespace, settings: Settings) -> int:
    """``starling web --demo``: the web pages with the demo workspace and a one-time local sign-in link."""
    if not args.demo:
        print(  # noqa: T201 - CLI output
            "starling web: the web pages are served by `starling serve` under /app; "
            "`starling web --demo` shows them with the demo data",
            file=sys.stderr,
        )
        return 2
    from bot.webapp.demo import run_demo

    def say(line: str) -> None:
        print(line, flush=True)  # noqa: T201 - the link is the demo's output

    asyncio.run(run_demo(settings, port=args.port, user=args.user, write=say))
    return 0


def _teams_package(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from bot.teams.package import PackageError, PackageOptions, build_package

    options = PackageOptions(
        bot_id=args.bot_id or settings.teams_app_id or "",
        domain=args.domain or "",
        version=args.version,
        developer=args.developer,
        website_url=args.website_url,
        privacy_url=args.privacy_url,
        terms_url=args.terms_url,
    )
    try:
        out = Path(args.out)
        if out.is_dir():
            out = out / "teams-app.zip"
            args.out = str(out)
        build_package(options, out)
    except PackageError as err:
        print(f"starling teams-package: {err}", file=sys.stderr)  # noqa: T201 - CLI output
        return 2
    print(f"wrote {args.out}: upload it in Teams (Apps > Manage your apps > Upload an app)")  # noqa: T201
    return 0


async def _resolve_workspace(session: AsyncSession, wanted: str | None) -> str:
    from sqlmodel import col, select

    from storage.models import Workspace

    ids = list((await session.execute(select(Workspace.id).order_by(col(Workspace.id)))).scalars().all())
    if wanted:
        if wanted not in ids:
            raise SystemExit(f"no workspace {wanted!r}; known: {', '.join(ids) or 'none yet'}")
        return wanted
    if len(ids) == 1:
        return str(ids[0])
    if not ids:
        raise SystemExit("no workspace yet: start Starling once (or the console), then import")
    raise SystemExit(f"several workspaces; choose one with --workspace ({', '.join(ids)})")


def _read(path: str) -> str:
    from pathlib import Path

    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise SystemExit(f"cannot read {path}: {err}") from None


def _import_feedback(args: argparse.Namespace, settings: Settings) -> int:
    """Customer quotes from a CSV file, scrubbed of personal data before they are stored."""
    from handlers.prompts.feedback import FeedbackError, read_feedback_csv, store_feedback
    from storage.db import migrate, one_transaction
    from storage.types import utcnow

    try:
        items = read_feedback_csv(_read(args.file))
    except FeedbackError as err:
        raise SystemExit(f"{args.file}: {err}") from None

    def progress(done: int, total: int) -> None:
        _progress(settings, f"scrubbing and storing quotes: {done:,}/{total:,}")

    async def main() -> None:
        async with one_transaction(settings.database_url) as session:
            workspace = await _resolve_workspace(session, args.workspace)
            try:
                result = await store_feedback(
                    session, workspace_id=workspace, items=items, source="csv", now=utcnow(), progress=progress
                )
            except FeedbackError as err:
                raise SystemExit(f"{args.file}: {err}") from None
        print(  # noqa: T201 - CLI output
            f"{result.stored} quotes imported into {workspace} ({result.redactions} personal details removed, "
            f"{result.duplicates} already there, {result.skipped} too short)"
        )

    migrate(settings.database_url)
    asyncio.run(main())
    return 0


def _import_prompts(args: argparse.Namespace, settings: Settings) -> int:
    """The workspace's own prompts from a YAML or CSV file (all rows checked before any is stored)."""
    from handlers.prompts.feedback import store_prompts
    from handlers.prompts.library import LibraryError, parse_prompt_file
    from storage.db import migrate, one_transaction
    from storage.types import utcnow

    try:
        rows = parse_prompt_file(args.file, _read(args.file))
    except LibraryError as err:
        raise SystemExit(f"{args.file}: {err}") from None

    async def main() -> None:
        async with one_transaction(settings.database_url) as session:
            workspace = await _resolve_workspace(session, args.workspace)
            saved = await store_prompts(
                session, workspace_id=workspace, rows=rows, source="file", created_by=None, now=utcnow()
            )
        print(f"{len(saved)} prompts added to {workspace}")  # noqa: T201 - CLI output

    migrate(settings.database_url)
    asyncio.run(main())
    return 0


def connect_senders(starling: Starling) -> list[str]:
    """A sender (and user directory) for every configured platform, for a process without the web server.

    The SDKs are imported only for the platforms that are configured.
    """
    if starling.settings.slack_enabled:
        from bot.slack.adapter import SlackAdapter

        slack = SlackAdapter(starling)
        starling.attach("slack", sender=slack.sender, directory=slack.directory)
    if starling.settings.teams_enabled:
        from bot.teams.adapter import TeamsAdapter

        teams = TeamsAdapter(starling)
        starling.attach("teams", sender=teams.sender, directory=teams.directory)
    return sorted(starling.outbox.senders)


def _scheduler(args: argparse.Namespace, settings: Settings) -> int:
    """The scheduler and the outbox worker, no web server; several may run against one PostgreSQL."""
    import signal

    from bot.app import Starling
    from bot.scheduler import SchedulerService, run_scheduler

    async def main() -> None:
        starling = Starling(settings)
        try:
            platforms = connect_senders(starling)
            log.info("scheduler_process", senders=platforms, once=args.once)
            if args.once:
                await SchedulerService(starling).tick()
                await starling.outbox.drain()
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await run_scheduler(starling, stop)
        finally:
            await starling.close()

    asyncio.run(main())
    return 0


def _outbox(args: argparse.Namespace, settings: Settings) -> int:
    """Inspect the outbox and requeue dead letters."""
    from storage import outbox as oq
    from storage.db import create_engine_for, session_factory, transaction
    from storage.types import utcnow

    def out(line: str = "") -> None:
        print(line)  # noqa: T201 - CLI output

    path = sqlite_path(settings.database_url)
    if path is not None and not path.exists():
        raise Mistake(
            f"there is no Starling database at {path.resolve()} yet: start Starling once or run `starling migrate`"
        )

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
    "scheduler": _scheduler,
    "outbox": _outbox,
    "console": _console,
    "migrate": _migrate,
    "my-data": privacy_cli.my_data,
    "privacy-sheet": privacy_cli.privacy_sheet,
    "serve": _serve,
    "web": _web,
    "teams-package": _teams_package,
    "import-feedback": _import_feedback,
    "import-prompts": _import_prompts,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="starling", description=__doc__)
    parser.add_argument(
        "--db",
        metavar="PATH_OR_URL",
        help="the database: a SQLite file or a URL (default: STARLING_DATABASE_URL, else starling.db in the "
        "per-user data folder, e.g. ~/.local/share/starling)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="also show the libraries' log lines")
    parser.add_argument("--debug", action="store_true", help="show the full traceback when something goes wrong")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("console", help="chat with Starling in the terminal (embedded SQLite, no keys)")
    p.add_argument("--demo", action="store_true", help="load the demo colleagues and kudos history")
    p.add_argument("--user", default="max", help="the person you act as (default: max)")
    p = sub.add_parser("demo", help="the console with the demo workspace")
    p.add_argument("--user", default="max")
    sub.add_parser("migrate", help="bring the database schema up to date")
    privacy_cli.add_parsers(sub)
    p = sub.add_parser("serve", help="run the web server for Slack and Teams, the outbox and the scheduler")
    p.add_argument("--port", type=int, default=None, help="TCP port (default: PORT or 3000)")
    p.add_argument("--no-scheduler", action="store_true", help="do not run scheduled posts in this process")
    p = sub.add_parser("web", help="the web pages with the demo data: `starling web --demo` prints a sign-in link")
    p.add_argument("--demo", action="store_true", help="load the demo workspace and print a one-time local link")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free one)")
    p.add_argument("--user", default="max", help="the demo colleague you sign in as (default: max, an admin)")
    p = sub.add_parser("teams-package", help="build the Microsoft Teams app package (manifest + icons, zipped)")
    p.add_argument("--out", default="teams-app.zip", help="where to write the zip (default: teams-app.zip)")
    p.add_argument("--domain", help="public host name Starling is served on, e.g. starling.contoso.com")
    p.add_argument("--bot-id", help="Microsoft App ID of the Azure Bot (default: MicrosoftAppId)")
    p.add_argument("--version", default="1.0.0", help="app version shown in Teams (default: 1.0.0)")
    p.add_argument("--developer", default="Starling", help="developer name shown in Teams")
    p.add_argument("--website-url", help="default: https://<domain>/")
    p.add_argument("--privacy-url", help="default: https://<domain>/privacy")
    p.add_argument("--terms-url", help="default: https://<domain>/terms")
    p = sub.add_parser("import-feedback", help="import customer quotes from a CSV file (a text column)")
    p.add_argument("file", help="CSV with a header row: text (or feedback/comment), optional id and kind")
    p.add_argument("--workspace", help="workspace id (needed when there are several)")
    p = sub.add_parser("import-prompts", help="add the workspace's own prompts from a YAML or CSV file")
    p.add_argument("file", help="YAML (a prompts: list with category, de, en, tags) or CSV (category,de,en,tags)")
    p.add_argument("--workspace", help="workspace id (needed when there are several)")
    p = sub.add_parser("scheduler", help="run the scheduler and the outbox worker (no web server)")
    p.add_argument("--once", action="store_true", help="one tick (catching up missed posts), deliver, exit")
    p = sub.add_parser("outbox", help="show queued messages and dead letters; requeue dead letters")
    p.add_argument("action", nargs="?", choices=["list", "dead", "retry"], default="list")
    p.add_argument("ids", nargs="*", help="with retry: outbox ids, or 'all'")
    p.add_argument("--limit", type=int, default=50)
    return parser


def safe_url(url: str) -> str:
    """A database URL without its password, fit for a log line."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def default_command(settings: Settings) -> str:
    """``serve`` when Slack or Teams credentials are set, otherwise the terminal console."""
    return "serve" if settings.slack_enabled or settings.teams_enabled else "console"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(args.debug)
    try:
        settings = Settings() if args.db is None else Settings(database_url=database_url_from(args.db))
    except Exception as err:  # pydantic's ValidationError, or a value it could not even read
        if debug:
            raise
        return _mistake(f"configuration: {settings_error(err)}")
    command = args.command
    if command is None:
        command = default_command(settings)
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), command])
        args.debug = debug
    quiet = {"console": "WARNING", "demo": "WARNING", "web": "ERROR"}
    level = settings.log_level if args.verbose else quiet.get(command, settings.log_level)
    configure(level, settings.log_json, verbose=args.verbose)
    if settings.database_path is not None and settings.database_path.parent == settings.data_dir:
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)  # the default place; a chosen one must exist
        except OSError as err:
            if debug:
                raise
            why = err.strerror or type(err).__name__
            return _mistake(
                f"cannot create the data folder {settings.data_dir} ({why}); set STARLING_DATA_DIR to a folder "
                "Starling may write, or STARLING_DATABASE_URL"
            )
    if command in ("serve", "scheduler"):
        log.info("database", url=safe_url(settings.database_url))
    if command == "demo":
        args.demo = True
        command = "console"
    try:
        if command not in OFFLINE_COMMANDS:
            check_database_url(settings.database_url)
        return COMMANDS[command](args, settings)
    except KeyboardInterrupt:
        print(GOODBYE, file=sys.stderr)  # noqa: T201 - CLI output
        return 130
    except Exception as err:
        line = explain(err, settings.database_url)
        if debug:
            raise
        if line is None:
            line = f"unexpected error: {type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''} (run with --debug for the traceback)"
        return _mistake(line)


GOODBYE = "\nTschüss! / Bye!"
OFFLINE_COMMANDS = {"teams-package"}  # commands that never open the database


def _mistake(line: str) -> int:
    print(f"starling: {line}", file=sys.stderr)  # noqa: T201 - CLI output
    return 2


if __name__ == "__main__":
    sys.exit(main())
