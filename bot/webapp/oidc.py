"""OpenID Connect sign-in: "Sign in with Slack" and Microsoft Entra ID (single- or multi-tenant).

Authlib builds the authorization URL (state, nonce, PKCE S256) and exchanges the code; joserfc checks
the ID token's signature against the provider's JWKS and its claims (issuer, audience, expiry, nonce).
The provider's discovery document and keys are fetched outside any database transaction and kept for
a while in memory (they are public and the same for every replica).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

CACHE_SECONDS = 3600.0
LEEWAY_SECONDS = 30


class SignInError(Exception):
    """The provider's answer cannot sign anyone in (the reason is logged, never shown verbatim)."""


@dataclass
class Identity:
    """Who signed in, as Starling names them: ``workspace_id`` and a platform user id (Slack) or the
    Entra object id (``oid``) that the Teams directory maps to a Teams user id."""

    provider: str
    workspace_id: str
    subject: str
    name: str = ""
    locale: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)


@dataclass
class Provider:
    name: str  # "slack" | "entra"
    client_id: str
    client_secret: str
    discovery_url: str
    scope: str = "openid profile email"
    tenant: str | None = None  # Entra: a tenant id, "organizations" or "common"
    _discovery: dict[str, Any] | None = None
    _keys: KeySet | None = None
    _fetched_at: float = 0.0

    async def discovery(self, http: httpx.AsyncClient) -> dict[str, Any]:
        if self._discovery is None or time.monotonic() - self._fetched_at > CACHE_SECONDS:
            answer = await http.get(self.discovery_url)
            answer.raise_for_status()
            doc = answer.json()
            for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(doc.get(key), str):
                    raise SignInError(f"discovery document lacks {key}")
            keys = await http.get(doc["jwks_uri"])
            keys.raise_for_status()
            self._discovery, self._keys = doc, KeySet.import_key_set(keys.json())
            self._fetched_at = time.monotonic()
        return self._discovery

    def client(self, http_timeout: float, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=self.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post",
            timeout=http_timeout,
        )

    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
        async with httpx.AsyncClient(timeout=10.0) as http:
            doc = await self.discovery(http)
        async with self.client(10.0, redirect_uri) as client:
            url, _ = client.create_authorization_url(
                doc["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
            )
        return str(url)

    async def finish(self, *, redirect_uri: str, code: str, verifier: str, nonce: str) -> Identity:
        """Exchange the code (with the PKCE verifier) and check the ID token; the identity it proves."""
        async with httpx.AsyncClient(timeout=10.0) as http:
            doc = await self.discovery(http)
        async with self.client(10.0, redirect_uri) as client:
            try:
                token = await client.fetch_token(doc["token_endpoint"], code=code, code_verifier=verifier)
            except Exception as err:  # the provider refused the code or the verifier
                raise SignInError(f"token exchange failed: {type(err).__name__}") from err
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInError("no id_token in the token answer")
        claims = self.verify(id_token, doc, nonce)
        return self.identity(claims)

    def verify(self, id_token: str, doc: dict[str, Any], nonce: str) -> dict[str, Any]:
        assert self._keys is not None
        try:
            decoded = jwt.decode(id_token, self._keys, algorithms=["RS256", "ES256", "PS256"])
        except (JoseError, ValueError) as err:
            raise SignInError(f"id_token signature: {type(err).__name__}") from err
        claims = dict(decoded.claims)
        issuer = str(doc["issuer"])
        if "{tenantid}" in issuer:  # Entra's multi-tenant discovery names the issuer per tenant
            issuer = issuer.replace("{tenantid}", str(claims.get("tid", "")))
        registry = JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": self.client_id},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError as err:
            raise SignInError(f"id_token claims: {type(err).__name__}") from err
        single_tenant = self.name == "entra" and self.tenant not in (None, "", "common", "organizations")
        if single_tenant and claims.get("tid") != self.tenant:
            raise SignInError("id_token from another tenant")
        return claims

    def identity(self, claims: dict[str, Any]) -> Identity:
        if self.name == "slack":
            team = claims.get("https://slack.com/team_id")
            user = claims.get("https://slack.com/user_id")
            if not team or not user:
                raise SignInError("Slack id_token without team or user")
            return Identity(
                "slack", f"slack:{team}", str(user), str(claims.get("name") or ""), claims.get("locale"), claims
            )
        tid, oid = claims.get("tid"), claims.get("oid")
        if not tid or not oid:
            raise SignInError("Entra id_token without tid or oid")
        return Identity("entra", f"teams:{tid}", str(oid), str(claims.get("name") or ""), None, claims)


def new_secrets() -> tuple[str, str, str]:
    """(state, nonce, PKCE verifier)."""
    return generate_token(32), generate_token(32), generate_token(64)


def providers_from(settings: Any) -> dict[str, Provider]:
    out: dict[str, Provider] = {}
    if settings.web_slack_client_id and settings.web_slack_client_secret:
        issuer = settings.web_slack_issuer.rstrip("/")
        out["slack"] = Provider(
            "slack",
            settings.web_slack_client_id,
            settings.web_slack_client_secret,
            f"{issuer}/.well-known/openid-configuration",
        )
    if settings.web_entra_client_id and settings.web_entra_client_secret:
        authority = settings.web_entra_authority.rstrip("/")
        tenant = settings.web_entra_tenant or "organizations"
        out["entra"] = Provider(
            "entra",
            settings.web_entra_client_id,
            settings.web_entra_client_secret,
            f"{authority}/{tenant}/v2.0/.well-known/openid-configuration",
            tenant=tenant,
        )
    return out
