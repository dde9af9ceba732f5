"""Starling's features. ``register_all`` is the one list of them."""

from __future__ import annotations

from bot.router import Router


def register_all(router: Router) -> Router:
    from handlers import admin, help, home, kudos, prompts, suggestions, welcome

    for feature in (kudos, prompts, suggestions, admin, help, welcome, home):
        feature.register(router)
    return router
