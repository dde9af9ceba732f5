"""``starling``: the command line. With no arguments it runs the main job: ``serve`` when Slack or
Teams credentials are set, otherwise the terminal console on the embedded SQLite database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence

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


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "console": _console,
    "migrate": _migrate,
    "teams-package": _teams_package,
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
    p = sub.add_parser("teams-package", help="build the Microsoft Teams app package (manifest + icons, zipped)")
    p.add_argument("--out", default="teams-app.zip", help="where to write the zip (default: teams-app.zip)")
    p.add_argument("--domain", help="public host name Starling is served on, e.g. starling.contoso.com")
    p.add_argument("--bot-id", help="Microsoft App ID of the Azure Bot (default: MicrosoftAppId)")
    p.add_argument("--version", default="1.0.0", help="app version shown in Teams (default: 1.0.0)")
    p.add_argument("--developer", default="Starling", help="developer name shown in Teams")
    p.add_argument("--website-url", help="default: https://<domain>/")
    p.add_argument("--privacy-url", help="default: https://<domain>/privacy")
    p.add_argument("--terms-url", help="default: https://<domain>/terms")
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
