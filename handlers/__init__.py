"""Starling's features. ``register_all`` is the one list of them."""

from __future__ import annotations

from bot.core.router import Router


def register_all(router: Router) -> Router:
    from handlers import admin, digests, goodwill, help, home, kudos, privacy, prompts, pulse, suggestions, welcome

    for feature in (kudos, prompts, suggestions, pulse, digests, goodwill, admin, privacy, help, welcome, home):
        feature.register(router)
    return router
