"""Teams authentication mode from settings (no SDK needed): JWT when an app id is set, otherwise the
unauthenticated local mode, which production refuses."""

from __future__ import annotations

import structlog

from bot.settings import Settings

log = structlog.get_logger("starling.teams")

LOCAL_MODE_WARNING = (
    "Microsoft Teams runs WITHOUT AUTHENTICATION: MicrosoftAppId is not set, so /api/messages accepts "
    "unsigned requests from anyone who can reach it. Use this only with the Bot Framework Emulator or "
    "tests; set MicrosoftAppId and MicrosoftAppPassword (STARLING_TEAMS_APP_ID / _PASSWORD) for real use."
)


def auth_required(settings: Settings) -> bool:
    """True when every inbound request must carry a valid token (always in production)."""
    return bool(settings.teams_app_id) or settings.environment == "production"


def teams_auth_warning(settings: Settings) -> str | None:
    """Log the loud start-up warning of the unauthenticated local mode; returns it (None when authenticated).

    In production without an app id there is no local mode: ``/api/messages`` refuses every request.
    """
    if settings.teams_app_id:
        return None
    if settings.environment == "production":
        log.warning("teams_disabled", reason="MicrosoftAppId is not set; /api/messages answers 401 to everything")
        return None
    log.warning("teams_unauthenticated_local_mode", warning=LOCAL_MODE_WARNING)
    return LOCAL_MODE_WARNING
