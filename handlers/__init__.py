"""Starling's features. ``register_all`` is the one list of them."""

from __future__ import annotations

from bot.router import Router


def register_all(router: Router) -> Router:
    from handlers import admin, help, home, kudos, privacy, prompts, suggestions, welcome

    for feature in (kudos, prompts, suggestions, admin, privacy, help, welcome, home):
        feature.register(router)
    return router
