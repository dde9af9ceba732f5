"""``starling``: the command line. With no arguments it runs the main job: ``serve`` when Slack or
Teams credentials are set, otherwise the terminal console on the embedded SQLite database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bot import privacy_cli
from bot.logging import configure
from bot.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


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


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.web import ConfigurationError, serve

    try:
        asyncio.run(serve(settings, port=args.port, scheduler=not args.no_scheduler))
    except ConfigurationError as err:
        print(f"starling serve: {err}", file=sys.stderr)  # noqa: T201 - CLI output
        return 2
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
        build_package(options, Path(args.out))
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
    from storage.db import create_engine_for, migrate, session_factory, transaction
    from storage.types import utcnow

    try:
        items = read_feedback_csv(_read(args.file))
    except FeedbackError as err:
        raise SystemExit(f"{args.file}: {err}") from None

    async def main() -> None:
        engine = create_engine_for(settings.database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                workspace = await _resolve_workspace(session, args.workspace)
                result = await store_feedback(session, workspace_id=workspace, items=items, source="csv", now=utcnow())
        finally:
            await engine.dispose()
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
    from storage.db import create_engine_for, migrate, session_factory, transaction
    from storage.types import utcnow

    try:
        rows = parse_prompt_file(args.file, _read(args.file))
    except LibraryError as err:
        raise SystemExit(f"{args.file}: {err}") from None

    async def main() -> None:
        engine = create_engine_for(settings.database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                workspace = await _resolve_workspace(session, args.workspace)
                saved = await store_prompts(
                    session, workspace_id=workspace, rows=rows, source="file", created_by=None, now=utcnow()
                )
        finally:
            await engine.dispose()
        print(f"{len(saved)} prompts added to {workspace}")  # noqa: T201 - CLI output

    migrate(settings.database_url)
    asyncio.run(main())
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "console": _console,
    "migrate": _migrate,
    "my-data": privacy_cli.my_data,
    "privacy-sheet": privacy_cli.privacy_sheet,
    "serve": _serve,
    "teams-package": _teams_package,
    "import-feedback": _import_feedback,
    "import-prompts": _import_prompts,
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
    privacy_cli.add_parsers(sub)
    p = sub.add_parser("serve", help="run the web server for Slack and Teams, the outbox and the scheduler")
    p.add_argument("--port", type=int, default=None, help="TCP port (default: PORT or 3000)")
    p.add_argument("--no-scheduler", action="store_true", help="do not run scheduled posts in this process")
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
    return parser


def default_command(settings: Settings) -> str:
    """``serve`` when Slack or Teams credentials are set, otherwise the terminal console."""
    return "serve" if settings.slack_enabled or settings.teams_enabled else "console"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings()
    command = args.command
    if command is None:
        command = default_command(settings)
        args = parser.parse_args([command])
    configure(settings.log_level if command not in ("console", "demo") else "WARNING", settings.log_json)
    if command == "demo":
        args.demo = True
        command = "console"
    return COMMANDS[command](args, settings)


if __name__ == "__main__":
    sys.exit(main())
