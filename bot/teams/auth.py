"""Bot Framework authentication from Starling's settings.

With an app id (``MicrosoftAppId``) every request to ``/api/messages`` must carry a valid Bot Framework
JWT (issuer, audience = app id, signature from the OpenID keys, expiry, ``serviceurl`` claim); anything
else gets 401. Without an app id there is a local mode for the Bot Framework Emulator and tests: no
inbound check, no outbound token. That mode is refused when ``STARLING_ENVIRONMENT=production``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
)
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor, _OpenIdConfig
from jwt.algorithms import RSAAlgorithm

from bot.settings import Settings

log = structlog.get_logger("starling.teams")

KEY_FETCH_TIMEOUT = 10.0  # seconds for the metadata document and the key set together
KEY_REFRESH_SECONDS = 12 * 3600  # keys are refreshed in the background after this
KEY_RETRY_SECONDS = 300.0  # an unknown key id fetches again at most this often


class KeyStore:
    """The OpenID metadata and signing keys of one issuer, for the Bot Framework's token check.

    The SDK fetches them with a blocking client and no timeout, inside the event loop: one slow key endpoint
    stalls every request of the process. Here they are fetched with aiohttp and a timeout, kept, and refreshed
    in the background; a request waits only when no key is known yet (or its key id is new), and then only
    for the one fetch in flight, without blocking anything else."""

    def __init__(self, url: str, *, timeout: float = KEY_FETCH_TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout
        self.keys: list[dict[str, Any]] = []
        self.fetched_at = 0.0
        self.attempted_at = 0.0
        self._task: asyncio.Task[None] | None = None

    async def get(self, key_id: str | None) -> _OpenIdConfig:
        """The public key (and endorsements) for ``key_id``; PermissionError when there is none."""
        if not self.keys:
            await self._wait_for_fetch()
        elif time.monotonic() - self.fetched_at > KEY_REFRESH_SECONDS:
            self.refresh()  # the known keys serve meanwhile
        found = self._find(key_id)
        if found is None and time.monotonic() - self.attempted_at > KEY_RETRY_SECONDS:
            await self._wait_for_fetch()  # keys are rotated: a new id may be published by now
            found = self._find(key_id)
        if found is None:
            raise PermissionError("the token is signed with a key the issuer does not publish")
        return found

    def refresh(self) -> asyncio.Task[None]:
        """Start a fetch unless one is in flight; the running fetch otherwise."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._fetch())
        return self._task

    async def _wait_for_fetch(self) -> None:
        task = self.refresh()
        with contextlib.suppress(TimeoutError):  # the fetch logs its own failure
            await asyncio.wait_for(asyncio.shield(task), self.timeout + 1)

    async def _fetch(self) -> None:
        self.attempted_at = time.monotonic()
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            async with aiohttp.ClientSession(timeout=timeout) as http:
                async with http.get(self.url) as response:
                    response.raise_for_status()
                    metadata = await response.json(content_type=None)
                async with http.get(str(metadata["jwks_uri"])) as response:
                    response.raise_for_status()
                    keys = (await response.json(content_type=None))["keys"]
        except Exception as err:  # a timeout, a refused connection, an unreadable document: keep the old keys
            log.warning("teams_keys_unavailable", url=self.url, error=f"{type(err).__name__}: {err}"[:200])
            return
        self.keys = [k for k in keys if isinstance(k, dict)]
        self.fetched_at = time.monotonic()
        log.info("teams_keys_refreshed", url=self.url, keys=len(self.keys))

    def _find(self, key_id: str | None) -> _OpenIdConfig | None:
        for key in self.keys:
            if key.get("kid") == key_id:
                public_key = RSAAlgorithm.from_jwk(json.dumps(key))
                return _OpenIdConfig(public_key, key.get("endorsements", []))
        return None


_STORES: dict[str, KeyStore] = {}


def key_store(url: str) -> KeyStore:
    """The one :class:`KeyStore` of the process for ``url`` (what the SDK's token check asks for)."""
    store = _STORES.get(url)
    if store is None:
        store = _STORES[url] = KeyStore(url)
    return store


# The SDK looks keys up through this one static method; Starling's store answers instead of its blocking one.
JwtTokenExtractor.get_open_id_metadata = staticmethod(key_store)  # type: ignore[method-assign]


def metadata_urls(auth: BotFrameworkAuthentication) -> list[str]:
    """The OpenID metadata URLs the configured authentication checks tokens against."""
    inner = getattr(auth, "_inner", None)
    urls = [getattr(inner, "_to_bot_from_channel_open_id_metadata_url", None)]
    return [u for u in urls if isinstance(u, str) and u]


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
