"""Customer quotes are scrubbed by the core's scrubber (``bot.core.scrub``), the same one that stands in
front of every language-model call."""

from __future__ import annotations

from bot.core.scrub import MASKS, Scrubbed, scrub

__all__ = ["MASKS", "Scrubbed", "scrub"]
