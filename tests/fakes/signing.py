"""Helpers to build signed Slack requests (slash commands, interactivity, events) for tests."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode


def sign_slack_request(signing_secret: str, body: bytes | str, timestamp: int | str | None = None) -> dict[str, str]:
    """Return ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` headers for ``body``.

    The signature is ``v0=`` + hex HMAC-SHA256(key=signing_secret, msg=``v0:{timestamp}:{body}``),
    computed over the exact body bytes; ``timestamp`` defaults to now (Unix seconds).
    """
    raw = body.encode("utf-8") if isinstance(body, str) else body
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    basestring = b"v0:" + ts.encode("ascii") + b":" + raw
    digest = hmac.new(signing_secret.encode("utf-8"), basestring, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def slack_form_body(fields: Mapping[str, Any] | Sequence[tuple[str, Any]]) -> bytes:
    """URL-encode ``fields`` the way Slack sends slash commands (``application/x-www-form-urlencoded``)."""
    return urlencode(fields).encode("ascii")


def slack_interactive_body(payload: Mapping[str, Any]) -> bytes:
    """Encode an interactivity payload (block_actions, view_submission, ...) as ``payload=<json>``."""
    return ("payload=" + quote(json.dumps(payload))).encode("ascii")


def slack_signed_headers(
    signing_secret: str,
    body: bytes,
    *,
    content_type: str = "application/x-www-form-urlencoded",
    timestamp: int | str | None = None,
) -> dict[str, str]:
    """``Content-Type`` plus the two signature headers, ready to POST ``body`` to the bot."""
    return {"Content-Type": content_type, **sign_slack_request(signing_secret, body, timestamp)}
