"""The customer-feedback webhook: a help desk posts customer quotes, authenticated with a bearer token.

``POST`` a JSON body ``{"workspace": "slack:T123", "text": "...", "id": "ticket-42", "kind": "complaint"}``
or ``{"workspace": ..., "items": [{"text": ..., "id": ..., "kind": ...}, ...]}``. ``workspace`` may be left
out when Starling serves a single workspace. Quotes are scrubbed of personal data before they are
stored; an ``id`` seen before is skipped, so a help desk may retry safely.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog
from sqlmodel import select

from handlers.prompts.feedback import FeedbackItem, normalize_kind, store_feedback
from storage.db import transaction
from storage.models import Workspace
from storage.privacy import feature_enabled

if TYPE_CHECKING:
    from bot.app import Starling

log = structlog.get_logger("starling.feedback_webhook")

MAX_BODY = 256 * 1024
MAX_ITEMS = 500
TEXT_FIELDS = ("text", "comment", "body", "message", "feedback")


def _header(headers: Mapping[str, str], name: str) -> str:
    low = name.lower()
    for key, value in headers.items():
        if key.lower() == low:
            return value
    return ""


def _authorized(headers: Mapping[str, str], token: str) -> bool:
    auth = _header(headers, "authorization").strip()
    scheme, _, given = auth.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8"))


def _item(raw: Any) -> FeedbackItem | None:
    if not isinstance(raw, dict):
        return None
    text = next((raw[f] for f in TEXT_FIELDS if isinstance(raw.get(f), str) and raw[f].strip()), "")
    external = raw.get("id", raw.get("external_id"))
    return FeedbackItem(text, str(external) if external not in (None, "") else None, normalize_kind(raw.get("kind")))


async def handle_feedback(starling: Starling, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
    """Check the token, parse and store the quotes; returns the HTTP status and a JSON body."""
    token = starling.settings.feedback_webhook_token
    if not token:
        return 404, {"ok": False, "error": "feedback_webhook_disabled"}
    if not _authorized(headers, token):
        log.warning("feedback_webhook_unauthorized")
        return 401, {"ok": False, "error": "unauthorized"}
    if len(body) > MAX_BODY:
        return 413, {"ok": False, "error": "body_too_large", "max_bytes": MAX_BODY}
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return 400, {"ok": False, "error": "invalid_json"}
    if isinstance(data, list):
        data = {"items": data}
    if not isinstance(data, dict):
        return 400, {"ok": False, "error": "expected_object"}
    raw_items = data["items"] if isinstance(data.get("items"), list) else [data]
    if not raw_items or len(raw_items) > MAX_ITEMS:
        return 400, {"ok": False, "error": "items_count", "max_items": MAX_ITEMS}
    items = [_item(raw) for raw in raw_items]
    if any(item is None or not item.text.strip() for item in items):
        return 400, {"ok": False, "error": "missing_text", "text_fields": list(TEXT_FIELDS)}
    wanted = data.get("workspace")
    async with transaction(starling.sessions) as session:
        if wanted is not None:
            if not isinstance(wanted, str) or await session.get(Workspace, wanted) is None:
                return 404, {"ok": False, "error": "unknown_workspace"}
            workspace = wanted
        else:
            ids = list((await session.execute(select(Workspace.id).limit(2))).scalars().all())
            if len(ids) != 1:
                return 400, {"ok": False, "error": "workspace_required"}
            workspace = ids[0]
        if not await feature_enabled(session, workspace, "feedback_import"):
            return 403, {"ok": False, "error": "feature_off"}
        result = await store_feedback(
            session,
            workspace_id=workspace,
            items=[i for i in items if i is not None],
            source="webhook",
            now=starling.services.clock(),
        )
    log.info("feedback_received", workspace=workspace, stored=result.stored, duplicates=result.duplicates)
    return 200, {
        "ok": True,
        "stored": result.stored,
        "duplicates": result.duplicates,
        "skipped": result.skipped,
        "redactions": result.redactions,
    }
