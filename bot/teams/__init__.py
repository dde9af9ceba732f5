"""Microsoft Teams through the Bot Framework SDK for Python (botbuilder-core 4.17.1).

Microsoft archived that SDK (support ended 2025-12-31; the successor is the Microsoft 365 Agents SDK).
Every ``botbuilder``/``botframework`` import lives in this folder, so moving to the successor changes
this folder only. Activity parsing (:mod:`bot.teams.activity`), card rendering (:mod:`bot.teams.render`),
the auth mode (:mod:`bot.teams.config`) and the app package (:mod:`bot.teams.package`) are plain Python.
"""

from bot.teams.config import teams_auth_warning

__all__ = ["teams_auth_warning"]
