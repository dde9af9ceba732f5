"""Bot Framework authentication from Starling's settings.

With an app id (``MicrosoftAppId``) every request to ``/api/messages`` must carry a valid Bot Framework
JWT (issuer, audience = app id, signature from the OpenID keys, expiry, ``serviceurl`` claim); anything
else gets 401. Without an app id there is a local mode for the Bot Framework Emulator and tests: no
inbound check, no outbound token. That mode is refused when ``STARLING_ENVIRONMENT=production``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
)

from bot.settings import Settings


@dataclass
class _AuthConfig:
    """The attribute names ``ConfigurationBotFrameworkAuthentication`` reads."""

    APP_ID: str | None
    APP_PASSWORD: str | None
    APP_TENANTID: str | None
    APP_TYPE: str


def build_authentication(settings: Settings, **overrides: Any) -> BotFrameworkAuthentication:
    """Cloud-adapter authentication from settings; ``overrides`` are extra configuration attributes
    (e.g. ``TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL`` for a private cloud or a test key server)."""
    if settings.environment == "production" and not settings.teams_app_id:
        raise ValueError("Teams needs MicrosoftAppId in production; the unauthenticated local mode is for dev only")
    config: Any = _AuthConfig(
        APP_ID=settings.teams_app_id or None,
        APP_PASSWORD=settings.teams_app_password or None,
        APP_TENANTID=settings.teams_app_tenant_id or None,
        APP_TYPE=settings.teams_app_type,
    )
    for key, value in overrides.items():
        setattr(config, key, value)
    return ConfigurationBotFrameworkAuthentication(config)


def without_retries(client: ConnectorClient) -> ConnectorClient:
    """One HTTP attempt per call: 429/5xx surface at once and the outbox decides when to retry."""
    policy = client.config.retry_policy
    policy.retries = 0
    policy.policy.status_forcelist = frozenset()
    policy.policy.raise_on_status = False
    return client


class NoRetryConnectorFactory(ConnectorFactory):
    """Wraps the SDK's connector factory so its clients do not retry (and block) on their own."""

    def __init__(self, inner: ConnectorFactory) -> None:
        self.inner = inner

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        return without_retries(await self.inner.create(service_url, audience))


def bot_identity(app_id: str | None) -> ClaimsIdentity:
    """The claims a proactive (outbound-only) connector is created with."""
    return ClaimsIdentity(
        {AuthenticationConstants.AUDIENCE_CLAIM: app_id, AuthenticationConstants.APP_ID_CLAIM: app_id}, True
    )


class Connectors:
    """Connector clients for a ``serviceUrl``: tokens per the settings, no built-in retries."""

    def __init__(self, auth: BotFrameworkAuthentication, app_id: str | None) -> None:
        self.auth = auth
        self.app_id = app_id

    async def client(self, service_url: str) -> ConnectorClient:
        factory = self.auth.create_connector_factory(bot_identity(self.app_id))
        return without_retries(await factory.create(service_url, None))


def wrap_result(result: AuthenticateRequestResult) -> AuthenticateRequestResult:
    if result.connector_factory is not None:
        result.connector_factory = NoRetryConnectorFactory(result.connector_factory)
    return result
