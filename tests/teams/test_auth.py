"""Inbound authentication of /api/messages: JWT when an app id is set, the local mode only in dev.

The authenticated path is exercised for real: tokens are RS256-signed with a key served by a local
OpenID metadata / JWKS server, which the Bot Framework configuration points at instead of
login.botframework.com (the SDK fetches keys with a blocking client, so that server runs in a thread).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bot.app import Starling
from bot.settings import Settings
from bot.teams import teams_auth_warning
from bot.teams.auth import build_authentication
from bot.teams.web import add_routes
from tests.fakes import FakeBotConnector
from tests.teams.conftest import TeamsClient, serve

APP_ID = "0b5a6f6e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
ISSUER = "https://api.botframework.com"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class KeyServer:
    """OpenID metadata and JWKS on 127.0.0.1 (port 0), in a thread."""

    def __init__(self) -> None:
        jwk = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
        jwk.update({"kid": "starling-test", "endorsements": ["msteams"]})
        keys = {"keys": [jwk]}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                base = f"http://127.0.0.1:{self.server.server_address[1]}"
                doc: Any = {"issuer": ISSUER, "jwks_uri": base + "/keys"} if self.path == "/openid" else keys
                data = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def metadata_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/openid"


@pytest.fixture
def keys() -> Iterator[KeyServer]:
    server = KeyServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
async def secured(db_url: str, connector: FakeBotConnector, keys: KeyServer) -> AsyncIterator[TeamsClient]:
    app = Starling(
        Settings(database_url=db_url, teams_app_id=APP_ID, teams_app_password="s3cr3t-value", _env_file=None),  # type: ignore[call-arg]
        run_migrations=False,
    )
    web_app = web.Application()
    add_routes(
        web_app,
        app,
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=keys.metadata_url,
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=ISSUER,
    )
    runner, url = await serve(web_app)
    async with aiohttp.ClientSession() as http:
        yield TeamsClient(url, connector, app, http)
    await runner.cleanup()
    await app.close()


def token(service_url: str, *, key: Any = KEY, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": APP_ID, "serviceurl": service_url, "nbf": now - 60, "exp": now + 3600, **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "starling-test"})


def member_joined(client: TeamsClient) -> dict[str, Any]:
    """A person joined a team: an activity Starling handles without sending anything back."""
    activity = client._base("conversation_update_bot_added_to_team.recorded.json")
    activity["membersAdded"] = [{"id": "29:1newColleague"}]
    return activity


async def test_without_a_token_the_request_is_refused(secured: TeamsClient) -> None:
    activity = secured.channel_message("stats")
    status, _ = await secured.post(activity)
    assert status == 401
    assert await secured.references() == []
    assert secured.connector.requests == []


@pytest.mark.parametrize(
    "bad",
    [
        "not-a-jwt",
        "aud",
        "expired",
        "serviceurl",
        "signature",
        "issuer",
    ],
)
async def test_invalid_tokens_are_refused(secured: TeamsClient, bad: str) -> None:
    url = secured.connector.service_url
    forged = {
        "not-a-jwt": "abc.def",
        "aud": token(url, aud="someone-else"),
        "expired": token(url, nbf=int(time.time()) - 7200, exp=int(time.time()) - 3600),
        "serviceurl": token("https://attacker.example/"),
        "signature": token(url, key=OTHER_KEY),
        "issuer": token(url, iss="https://evil.example"),
    }[bad]
    status, _ = await secured.post(member_joined(secured), token=forged)
    assert status == 401
    assert await secured.references() == []


async def test_a_valid_token_is_accepted(secured: TeamsClient) -> None:
    activity = member_joined(secured)
    status, _ = await secured.post(activity, token=token(secured.connector.service_url))
    assert status == 201
    refs = await secured.references()
    assert [r.conversation_id for r in refs] == [activity["conversation"]["id"]]


async def test_local_mode_is_dev_only(db_url: str, connector: FakeBotConnector) -> None:
    dev = Settings(database_url=db_url, _env_file=None)  # type: ignore[call-arg]
    assert teams_auth_warning(dev) and "WITHOUT AUTHENTICATION" in (teams_auth_warning(dev) or "")
    assert teams_auth_warning(dev.model_copy(update={"teams_app_id": APP_ID})) is None

    prod = Settings(database_url=db_url, environment="production", _env_file=None)  # type: ignore[call-arg]
    assert teams_auth_warning(prod) is None
    with pytest.raises(ValueError, match="production"):
        build_authentication(prod)

    app = Starling(prod, run_migrations=False)
    web_app = web.Application()
    add_routes(web_app, app)
    runner, url = await serve(web_app)
    client = TeamsClient(url, connector, app, aiohttp.ClientSession())
    try:
        status, _ = await client.post(client.personal_message("stats"))
        assert status == 401
        assert connector.requests == []
        assert "teams" not in app.outbox.senders
    finally:
        await client.http.close()
        await runner.cleanup()
        await app.close()


async def test_bad_bodies_are_refused_cleanly(db_url: str, teams: TeamsClient) -> None:
    async with teams.http.post(teams.url, data=b"hello", headers={"Content-Type": "text/plain"}) as resp:
        assert resp.status == 415
    async with teams.http.post(teams.url, data=b"{", headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 400
    async with teams.http.post(teams.url, json={"text": "no type"}) as resp:
        assert resp.status == 400
