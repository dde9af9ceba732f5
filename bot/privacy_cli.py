"""``starling my-data`` and ``starling privacy-sheet``: a person's data and the privacy fact sheet."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from bot.settings import Settings


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("my-data", help="export everything stored about one person as JSON")
    p.add_argument("--workspace", default=None, help="workspace id (default: the first one)")
    p.add_argument("--user", required=True, help="the person's platform user id")
    p.add_argument("--out", default=None, help="write to this file instead of stdout")
    p = sub.add_parser("privacy-sheet", help="the privacy fact sheet (Markdown) from the live configuration")
    p.add_argument("--workspace", default=None, help="workspace id (default: the first one)")
    p.add_argument("--lang", choices=("de", "en", "both"), default="both")
    p.add_argument("--out", default=None, help="write to this file instead of stdout")


async def _with_session(settings: Settings, work: Callable[..., Awaitable[str]]) -> str:
    from storage.db import migrate, one_transaction

    migrate(settings.database_url)
    async with one_transaction(settings.database_url) as session:
        return await work(session)


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


def my_data(args: argparse.Namespace, settings: Settings) -> int:
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


def privacy_sheet(args: argparse.Namespace, settings: Settings) -> int:
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

        target = Path(out)
        if target.is_dir():
            target = target / "privacy-sheet.md"
        target.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
