"""The Bot Framework's signing keys are fetched off the event loop, with a timeout, kept and refreshed in the
background: a slow key endpoint holds up only the token check that needs the keys, never ``/healthz``."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from jwt.algorithms import RSAAlgorithm

from bot.app import Starling
from bot.settings import Settings
from bot.teams.auth import KeyStore, key_store
from bot.web import WebServer
from tests.fakes import FakeBotConnector
from tests.teams.conftest import TeamsClient
from tests.teams.test_auth import APP_ID, ISSUER, KEY, token


class SlowKeyServer:
    """OpenID metadata and JWKS that answer only once ``release`` is set; ``asked`` is set on the first call."""

    def __init__(self) -> None:
        jwk = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
        jwk.update({"kid": "starling-test", "endorsements": ["msteams"]})
        self.release = threading.Event()
        self.asked = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.asked.set()
                outer.release.wait(60)
                base = f"http://127.0.0.1:{self.server.server_address[1]}"
                doc: Any = {"issuer": ISSUER, "jwks_uri": base + "/keys"} if self.path == "/openid" else {"keys": [jwk]}
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
def slow_keys() -> Iterator[SlowKeyServer]:
    server = SlowKeyServer()
    server.thread.start()
    yield server
    server.release.set()
    server.server.shutdown()
    server.server.server_close()


async def until(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.01)


async def test_healthz_answers_while_the_key_fetch_is_still_pending(
    tmp_path: Path, db_url: str, connector: FakeBotConnector, slow_keys: SlowKeyServer
) -> None:
    settings = Settings(
        database_url=db_url, teams_app_id=APP_ID, teams_app_password="a-long-random-teams-password-9f3k", _env_file=None
    )  # type: ignore[call-arg]
    starling = Starling(settings, run_migrations=False)
    server = WebServer(
        starling,
        host="127.0.0.1",
        port=0,
        scheduler=False,
        teams_options={
            "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": slow_keys.metadata_url,
            "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": ISSUER,
        },
    )
    await server.start()  # starts fetching the keys in the background
    base = f"http://127.0.0.1:{server.port}"
    try:
        async with aiohttp.ClientSession() as http:
            client = TeamsClient(base + "/api/messages", connector, starling, http)
            await until(slow_keys.asked.is_set, "the key fetch started at start-up")
            activity = client.channel_message("stats")
            pending = asyncio.ensure_future(client.post(activity, token=token(connector.service_url)))
            await asyncio.sleep(0)  # the request is on its way and waits for the keys
            async with http.get(base + "/healthz", timeout=aiohttp.ClientTimeout(total=30)) as resp:
                assert resp.status == 200
            # /healthz answered while the keys were still on their way and the token check still waiting:
            assert not slow_keys.release.is_set() and not pending.done()
            slow_keys.release.set()
            status, _ = await asyncio.wait_for(pending, 30)
            assert status == 201
            assert key_store(slow_keys.metadata_url).keys  # kept for the next requests
    finally:
        await server.stop()
        await starling.close()


async def test_an_unreachable_key_endpoint_refuses_tokens_with_401_after_its_timeout() -> None:
    store = KeyStore("http://127.0.0.1:9/openid", timeout=0.5)  # the discard port: nothing answers
    with pytest.raises(PermissionError):
        await store.get("starling-test")
    assert store.keys == []
