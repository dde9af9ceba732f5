"""``starling``: the command line. With no arguments it runs the main job: ``serve`` when Slack or
Teams credentials are set, otherwise the terminal console on the embedded SQLite database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.logging import configure
from bot.settings import Settings


def _console(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import Starling
    from bot.console.adapter import ConsoleAdapter, stdin_lines

    async def main() -> None:
        app = Starling(settings)
        console = ConsoleAdapter(app, user=args.user)
        try:
            await console.start(demo=args.demo)
            await console.run(stdin_lines())
        finally:
            await app.close()

    asyncio.run(main())
    return 0


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from storage.db import migrate

    migrate(settings.database_url)
    print("database is up to date")  # noqa: T201 - CLI output
    return 0


async def _with_session(settings: Settings, work: Callable[..., Awaitable[str]]) -> str:
    from storage.db import create_engine_for, migrate, session_factory, transaction

    migrate(settings.database_url)
    engine = create_engine_for(settings.database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            return await work(session)
    finally:
        await engine.dispose()


async def _workspace(session: object, workspace_id: str | None) -> object:
    from sqlmodel import select

    from storage.models import Workspace

    stmt = select(Workspace).order_by(Workspace.created_at)  # type: ignore[arg-type]
    if workspace_id:
        stmt = stmt.where(Workspace.id == workspace_id)
    ws = (await session.execute(stmt)).scalars().first()  # type: ignore[attr-defined]
    if ws is None:
        raise SystemExit(f"no such workspace: {workspace_id or '(none yet)'}")
    return ws


def _my_data(args: argparse.Namespace, settings: Settings) -> int:
    """Everything stored about one person, as JSON (recorded in the audit log)."""
    import json

    from handlers.privacy import personal_data
    from storage.privacy import record_audit
    from storage.types import utcnow

    async def work(session: Any) -> str:
        ws: Any = await _workspace(session, args.workspace)
        data = await personal_data(session, workspace_id=ws.id, user_id=args.user, now=utcnow())
        await record_audit(session, ws.id, "cli", "privacy.export_lookup", args.user, {"via": "starling my-data"})
        return json.dumps(data, ensure_ascii=False, indent=2, default=str)

    _emit(asyncio.run(_with_session(settings, work)), args.out)
    return 0


def _privacy_sheet(args: argparse.Namespace, settings: Settings) -> int:
    """The privacy fact sheet for the works council and the data-protection officer, as Markdown."""
    from handlers.privacy import build_sheet
    from storage.types import utcnow

    async def work(session: Any) -> str:
        ws: Any = await _workspace(session, args.workspace)
        langs = ["de", "en"] if args.lang == "both" else [args.lang]
        parts = [await build_sheet(session, workspace=ws, settings=settings, lang=lang, now=utcnow()) for lang in langs]
        return "\n---\n\n".join(parts)

    _emit(asyncio.run(_with_session(settings, work)), args.out)
    return 0


def _emit(text: str, out: str | None) -> None:
    if out:
        from pathlib import Path

        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "console": _console,
    "migrate": _migrate,
    "my-data": _my_data,
    "privacy-sheet": _privacy_sheet,
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
    p = sub.add_parser("my-data", help="export everything stored about one person as JSON")
    p.add_argument("--workspace", default=None, help="workspace id (default: the first one)")
    p.add_argument("--user", required=True, help="the person's platform user id")
    p.add_argument("--out", default=None, help="write to this file instead of stdout")
    p = sub.add_parser("privacy-sheet", help="the privacy fact sheet (Markdown) from the live configuration")
    p.add_argument("--workspace", default=None, help="workspace id (default: the first one)")
    p.add_argument("--lang", choices=("de", "en", "both"), default="both")
    p.add_argument("--out", default=None, help="write to this file instead of stdout")
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
