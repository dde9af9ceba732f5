"""A fake OpenID Connect provider on 127.0.0.1: discovery, JWKS, authorize (code flow with PKCE) and token.

``/authorize`` signs in whoever :attr:`next_claims` names at once (no login form) and redirects back
with a code and the state. ``/token`` checks the client's secret, the redirect URI and the PKCE
verifier (S256) like a real provider, then returns an RS256-signed ID token. ``tamper`` breaks the next
ID token on purpose: ``nonce`` (another nonce), ``expired``, ``audience`` (another client), ``issuer``,
``signature`` (signed with a key that is not in the JWKS).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.fakes.slack_api import FakeHTTPServer, Recorded


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    method: str
    nonce: str
    claims: dict[str, Any]
    prefix: str


class FakeOIDCProvider(FakeHTTPServer):
    name = "FakeOIDCProvider"

    def __init__(self, *, client_id: str = "web-client", client_secret: str = "web-client-secret-0123456789") -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        self.next_claims: dict[str, Any] = {}
        self.tamper: str | None = None
        self._grants: dict[str, _Grant] = {}
        # A path prefix names the issuer: "" (Slack-like) or "/<tenant>/v2.0" (Entra-like; "organizations"
        # and "common" are multi-tenant: the discovery issuer is a template, each token names its tenant).
        self._add_route("GET", r"^(?P<prefix>.*)/\.well-known/openid-configuration$", "discovery", self._discovery)
        self._add_route("GET", r"^/jwks$", "jwks", self._jwks)
        self._add_route("GET", r"^(?P<prefix>.*)/authorize$", "authorize", self._authorize)
        self._add_route("POST", r"^(?P<prefix>.*)/token$", "token", self._token)

    def issuer_for(self, prefix: str, claims: dict[str, Any] | None = None) -> str:
        tenant = prefix.split("/")[1] if prefix.count("/") >= 2 else ""
        if tenant in ("organizations", "common"):
            return self.url + ("/{tenantid}/v2.0" if claims is None else f"/{claims.get('tid', '')}/v2.0")
        return self.url + prefix

    async def _discovery(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        prefix = rec.path_params.get("prefix", "")
        return self._respond(
            rec,
            {
                "issuer": self.issuer_for(prefix),
                "authorization_endpoint": self.url + prefix + "/authorize",
                "token_endpoint": self.url + prefix + "/token",
                "jwks_uri": self.url + "/jwks",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "id_token_signing_alg_values_supported": ["RS256"],
            },
        )

    async def _jwks(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        return self._respond(rec, {"keys": [self.key.as_dict(private=False)]})

    async def _authorize(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        q = request.query
        if q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return self._respond(rec, {"error": "invalid_request"}, status=400)
        if not q.get("code_challenge") or q.get("code_challenge_method") != "S256":
            return self._respond(rec, {"error": "pkce_required"}, status=400)
        code = secrets.token_urlsafe(16)
        self._grants[code] = _Grant(
            q["client_id"],
            q.get("redirect_uri", ""),
            q["code_challenge"],
            q["code_challenge_method"],
            q.get("nonce", ""),
            dict(self.next_claims),
            rec.path_params.get("prefix", ""),
        )
        state = q.get("state", "")
        location = q.get("redirect_uri", "") + "?" + urlencode({"code": code, "state": state})
        return self._respond(rec, "", status=302, headers={"Location": location})

    async def _token(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        form = dict(await request.post())
        grant = self._grants.pop(str(form.get("code", "")), None)
        if grant is None:
            return self._respond(rec, {"error": "invalid_grant"}, status=400)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return self._respond(rec, {"error": "invalid_client"}, status=401)
        if form.get("redirect_uri") != grant.redirect_uri:
            return self._respond(rec, {"error": "invalid_grant", "error_description": "redirect_uri"}, status=400)
        verifier = str(form.get("code_verifier", ""))
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not verifier or digest != grant.challenge:
            return self._respond(rec, {"error": "invalid_grant", "error_description": "pkce"}, status=400)
        now = int(time.time())
        claims = {
            "iss": self.issuer_for(grant.prefix, grant.claims),
            "aud": self.client_id,
            "sub": "subject-1",
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            **grant.claims,
        }
        key = self.key
        tamper, self.tamper = self.tamper, None
        if tamper == "nonce":
            claims["nonce"] = "another-nonce"
        elif tamper == "expired":
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        elif tamper == "audience":
            claims["aud"] = "someone-elses-client"
        elif tamper == "issuer":
            claims["iss"] = "https://issuer.invalid"
        elif tamper == "signature":
            key = self.other_key
        token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
        return self._respond(
            rec,
            {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300, "id_token": token},
        )
