"""Customer voice: real customer feedback from a CSV file, a help-desk webhook or the chat, scrubbed of
personal data before it is stored, and the workspace's own prompts from a file."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from handlers.prompts.library import PromptRow
from handlers.prompts.scrub import names_pattern, scrub
from storage import prompts as store
from storage.models import Member
from storage.privacy import feature_enabled

TEXT_COLUMNS = ("text", "feedback", "comment", "kommentar", "message", "nachricht", "quote", "zitat", "body")
ID_COLUMNS = ("id", "external_id", "ticket", "ticket_id")
KIND_COLUMNS = ("kind", "type", "art", "typ")
KINDS = {
    "praise": "praise",
    "lob": "praise",
    "compliment": "praise",
    "complaint": "complaint",
    "beschwerde": "complaint",
    "reklamation": "complaint",
    "survey": "survey",
    "umfrage": "survey",
    "cancellation": "cancellation",
    "kündigung": "cancellation",
    "kuendigung": "cancellation",
}
MIN_LENGTH = 10
MAX_LENGTH = 2000


class FeedbackError(ValueError):
    """A file or request that cannot be imported; the message says why."""


class FeedbackSwitchedOff(FeedbackError):
    """The workspace switched customer-feedback import off (``privacy feature feedback_import off``)."""


@dataclass
class FeedbackItem:
    text: str
    external_id: str | None = None
    kind: str | None = None


@dataclass
class ImportResult:
    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    redactions: int = 0
    ids: list[int] = field(default_factory=list)


def normalize_kind(value: Any) -> str | None:
    return KINDS.get(str(value or "").strip().lower()) if value else None


def _pick(row: dict[str, str], names: tuple[str, ...]) -> str:
    for name in names:
        if row.get(name):
            return row[name]
    return ""


def read_feedback_csv(content: str) -> list[FeedbackItem]:
    """Rows of a CSV file (comma or semicolon) with a text column (``text``, ``feedback``, ``comment``, …)."""
    content = content.lstrip("\ufeff")
    try:
        dialect: Any = csv.Sniffer().sniff(content[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(content), dialect=dialect)
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if not any(f in TEXT_COLUMNS for f in fields):
        raise FeedbackError("the CSV file needs a header row with a text column (" + ", ".join(TEXT_COLUMNS) + ")")
    items = []
    for raw in reader:
        row = {str(k).strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        items.append(
            FeedbackItem(
                _pick(row, TEXT_COLUMNS), _pick(row, ID_COLUMNS) or None, normalize_kind(_pick(row, KIND_COLUMNS))
            )
        )
    return items


async def store_feedback(
    session: AsyncSession,
    *,
    workspace_id: str,
    items: list[FeedbackItem],
    source: str,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Scrub and store each quote; a repeated external id from the same source is skipped as a duplicate.

    Quotes lose personal data (see :mod:`handlers.prompts.scrub`), including the names of the workspace's
    own people. ``progress(done, total)`` is called every 1,000 quotes and at the end.

    Every way in (the chat command, the webhook, ``starling import-feedback``) stores through here, so the
    ``feedback_import`` switch is checked here once: switched off, nothing is stored."""
    if not await feature_enabled(session, workspace_id, "feedback_import"):
        raise FeedbackSwitchedOff(f"customer-feedback import is switched off in {workspace_id}")
    result = ImportResult()
    rows = await session.execute(select(col(Member.display_name)).where(col(Member.workspace_id) == workspace_id))
    people = names_pattern(name for name in rows.scalars().all() if name)
    for done, item in enumerate(items, 1):
        if progress is not None and (done % 1000 == 0 or done == len(items)):
            progress(done, len(items))
        text = " ".join(item.text.split())
        if len(text) < MIN_LENGTH:
            result.skipped += 1
            continue
        clean = scrub(text, people)
        stored_text = clean.text if len(clean.text) <= MAX_LENGTH else clean.text[: MAX_LENGTH - 1] + "…"
        row = store.CustomerFeedback(
            workspace_id=workspace_id,
            text=stored_text,
            kind=item.kind,
            source=source,
            external_id=(item.external_id or None) and str(item.external_id)[:255],
            redactions=clean.redactions,
            created_at=now,
        )
        if await store.add_feedback(session, feedback=row):
            result.stored += 1
            result.redactions += clean.redactions
        else:
            result.duplicates += 1
    return result


async def store_prompts(
    session: AsyncSession,
    *,
    workspace_id: str,
    rows: list[PromptRow],
    source: str,
    created_by: str | None,
    now: datetime,
    status: str = "active",
) -> list[store.CustomPrompt]:
    """Store prompts as the workspace's own (``status="draft"`` for ones that need an admin's review first)."""
    saved = []
    for row in rows:
        saved.append(
            await store.add_custom_prompt(
                session,
                prompt=store.CustomPrompt(
                    workspace_id=workspace_id,
                    category=row.category,
                    text_de=row.de,
                    text_en=row.en,
                    tags=row.tags,
                    status=status,
                    source=source,
                    created_by=created_by,
                    created_at=now,
                ),
            )
        )
    return saved
