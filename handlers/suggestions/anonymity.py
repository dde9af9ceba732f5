"""What keeps anonymous suggestions anonymous: receipt codes and a rate limit that stores no identity.

Two limits apply to anonymous submissions:

* per workspace and hour, in the database (``suggestion_anon_bucket``): exact across replicas, and it
  holds only a count;
* per person and day, in this process's memory only: the key is HMAC-SHA256 of workspace and user under
  a random salt made for the current day, and the salt and all counts are dropped when the day changes.
  Nothing of it is written to the database or logs, so no stored record says who submitted anonymously.
  With several replicas each keeps its own counts, so a person gets at most ``per_day`` times the
  number of replicas; the workspace limit bounds the total.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def new_receipt_code() -> str:
    """A random code shown once to the submitter, e.g. ``K4QX9-MZT7P``; only its hash is stored."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


class AnonLimiter:
    """Anonymous submissions per person and day, counted in memory under a daily random salt."""

    def __init__(self, per_day: int = 3) -> None:
        self.per_day = per_day
        self._day: date | None = None
        self._salt = b""
        self._counts: dict[bytes, int] = {}

    def _key(self, workspace_id: str, user_id: str, day: date) -> bytes:
        if day != self._day:
            self._day, self._salt, self._counts = day, secrets.token_bytes(32), {}
        return hmac.new(self._salt, f"{workspace_id}\0{user_id}".encode(), hashlib.sha256).digest()

    def allowed(self, workspace_id: str, user_id: str, day: date) -> bool:
        return self._counts.get(self._key(workspace_id, user_id, day), 0) < self.per_day

    def record(self, workspace_id: str, user_id: str, day: date) -> None:
        key = self._key(workspace_id, user_id, day)
        self._counts[key] = self._counts.get(key, 0) + 1


_ATTR = "_suggestion_anon_limiter"


def limiter_for(services: object) -> AnonLimiter:
    """The limiter of one running Starling (kept on its services object, never shared between apps)."""
    limiter = getattr(services, _ATTR, None)
    if limiter is None:
        limiter = AnonLimiter()
        setattr(services, _ATTR, limiter)
    return limiter
