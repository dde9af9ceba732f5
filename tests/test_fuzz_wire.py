"""Fuzzing both endpoints over a real socket with mutated copies of the published payload shapes.

The server (``/slack/events`` of ``starling serve`` with the fake Slack API; ``/api/messages`` in the local
mode for accepted activities and with JWT checks for refused ones) runs in-process on its own event loop
in a thread; hypothesis draws mutations of Slack's and Teams' published payloads (the copies in
``tests/slack/payloads`` and ``tests/teams/fixtures``, plus ``../shared/acceptance/fixtures`` when present):
values replaced by hostile ones of any JSON type, keys dropped or added, values nested deeply, bytes
truncated or flipped. Every answer must be below 500, the server log must hold no traceback and no long line,
and nothing sent without a valid signature or token may take effect. The counts are printed (``-s``).
"""

from __future__ import annotations

import asyncio
import copy
import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import jwt
import pytest
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.app import Starling
from bot.settings import Settings
from bot.teams.web import add_routes
from storage.models import Kudos, OutboxMessage
from storage.teams import TeamsConversation
from tests.fakes import FakeBotConnector, sign_slack_request
from tests.kit import Clock
from tests.serverlog import ServerLog, server_log
from tests.slack.wire import SECRET, SlackWire, Testbed
from tests.teams.conftest import BOT_ID, BOT_NAME, MAX, TENANT, serve
from tests.teams.test_auth import APP_ID, ISSUER, KEY, OTHER_KEY, KeyServer

# Requests per database; with PostgreSQL on, the totals are 5,000 signed and 1,000 unsigned.
SLACK_SIGNED, SLACK_UNSIGNED = 1500, 300
TEAMS_SIGNED, TEAMS_UNSIGNED = 1000, 200

ROOT = Path(__file__).parent
SHARED = ROOT.parent.parent / "shared" / "acceptance" / "fixtures"
T = TypeVar("T")


def _load_dir(*folders: Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                found.setdefault(path.name, json.loads(path.read_text(encoding="utf-8")))
            except ValueError:
                continue
    return found


def slack_shapes() -> list[tuple[str, dict[str, Any]]]:
    """(kind, body) for every published Slack payload: events, commands, interactivity."""
    out: list[tuple[str, dict[str, Any]]] = []
    for name, body in _load_dir(ROOT / "slack" / "payloads", SHARED / "slack").items():
        if not isinstance(body, dict) or name.endswith(("expected_response.json", "known_answer.json")):
            continue
        if "command" in body:
            out.append(("command", body))
        elif body.get("type") in ("block_actions", "view_submission"):
            out.append(("interactive", body))
        elif body.get("type") in ("event_callback", "url_verification"):
            out.append(("events", body))
    # The shapes the wire tests send, so mutations reach the features behind them.
    command = {
        "token": "verification-token",
        "team_id": "T1",
        "team_domain": "starling-test",
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": "UMAX",
        "user_name": "max",
        "command": "/kudos",
        "api_app_id": "AAPP1",
        "is_enterprise_install": "false",
        "trigger_id": "1.2.abc",
    }
    for text in ("<@UANNA|anna> danke für die Hilfe #kundenfokus", "leaderboard week", "help", "stats", "suggest"):
        out.append(("command", {**command, "text": text}))
    for text in ("suggest Weniger Formulare", "prompt now", "privacy"):
        out.append(("command", {**command, "command": "/starling", "text": text}))
    return out


def teams_shapes() -> list[dict[str, Any]]:
    bodies = _load_dir(ROOT / "teams" / "fixtures", SHARED / "teams").values()
    return [b for b in bodies if isinstance(b, dict) and isinstance(b.get("conversation"), dict) and b.get("type")]


SLACK = slack_shapes()
TEAMS = teams_shapes()

# --- hostile values ------------------------------------------------------------------------------------------

WORDS = st.sampled_from(
    [
        "",
        "\x00",
        "a\x00b",
        "\ud800",
        "<!channel>",
        "<!here|here>",
        "<@U0BEN>",
        "*Eve*",
        "<at>Anna</at>",
        "[x](javascript:alert(1))",
        "<b>bold</b>",
        "kudos <@UANNA> danke #kundenfokus",
        "help",
        "leaderboard",
        "1e309",
        "-1",
        "line\nlevel=error forged",
        "U" * 121,
        "x" * 5000,
        "ä" * 300,
        "19:abc@thread.tacv2",
    ]
)
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    WORDS,
    st.text(max_size=30),
    st.text(min_size=121, max_size=200, alphabet="Uab019"),
)
VALUE = st.recursive(
    LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
PROTECTED = {"serviceUrl", "response_url", "url"}  # keep replies on the fakes (no calls to the internet)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in PROTECTED:
                out += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += paths(value, (*prefix, index))
    return out


def mutate(draw: Callable[[st.SearchStrategy[T]], T], body: dict[str, Any]) -> Any:
    """One to three structural mutations of a deep copy of ``body``."""
    root: Any = copy.deepcopy(body)
    for _ in range(draw(st.integers(1, 3))):
        places = paths(root)
        where = places[draw(st.integers(0, len(places) - 1))]
        op = draw(st.sampled_from(["text"] * 8 + ["replace"] * 4 + ["drop"] * 3 + ["add"] * 2 + ["wrap", "deep"]))
        if not where:
            if op in ("replace", "wrap", "deep"):
                root = draw(VALUE) if op == "replace" else [root]
            continue
        parent = root
        for key in where[:-1]:
            parent = parent[key]
        last = where[-1]
        if op == "text" and isinstance(parent[last], str):
            parent[last] = draw(st.one_of(WORDS, st.text(max_size=40), st.just(parent[last] + draw(WORDS))))
        elif op in ("replace", "text"):
            parent[last] = draw(VALUE)
        elif op == "drop":
            del parent[last]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(VALUE)
        elif op == "wrap":
            parent[last] = [parent[last]]
        elif op == "deep":
            depth = draw(st.integers(10, 200))
            parent[last] = json.loads("[" * depth + "1" + "]" * depth) if depth < 900 else 1
    return root


def byte_mutation(draw: Callable[[st.SearchStrategy[T]], T], raw: bytes) -> bytes:
    if not raw or draw(st.integers(0, 99)) >= 15:
        return raw
    at = draw(st.integers(0, len(raw) - 1))
    kind = draw(st.sampled_from(["truncate", "flip", "insert"]))
    if kind == "truncate":
        return raw[:at]
    if kind == "flip":
        return raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1 :]
    return raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3(", b"\x00", b"%ZZ", b"&&", b"\n"])) + raw[at:]


def slack_body(draw: Callable[[st.SearchStrategy[T]], T], hook: str) -> tuple[bytes, str]:
    kind, shape = draw(st.sampled_from(SLACK))
    shape = {**shape, "response_url": hook} if "response_url" in shape else shape
    body = mutate(draw, shape)
    if kind == "events":
        raw, content_type = json.dumps(body).encode(), "application/json"
    elif kind == "interactive":
        raw, content_type = ("payload=" + quote(json.dumps(body))).encode(), "application/x-www-form-urlencoded"
    else:
        fields = body if isinstance(body, dict) else {"text": json.dumps(body)}
        form = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
        raw, content_type = urlencode(form, errors="surrogatepass").encode(), "application/x-www-form-urlencoded"
    return byte_mutation(draw, raw), content_type


def teams_body(draw: Callable[[st.SearchStrategy[T]], T], service_url: str) -> bytes:
    shape = copy.deepcopy(draw(st.sampled_from(TEAMS)))
    shape["serviceUrl"] = service_url
    shape["recipient"] = {"id": BOT_ID, "name": BOT_NAME}
    if isinstance(shape.get("from"), dict) and not str(shape["from"].get("id", "")).startswith("28:"):
        shape["from"]["id"] = MAX
    body = mutate(draw, shape)
    return byte_mutation(draw, json.dumps(body).encode())


# --- the server in its own thread -------------------------------------------------------------------------------


class Server:
    """Slack and Teams endpoints on 127.0.0.1, served by an event loop in a thread; a blocking client."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.keys = KeyServer()
        self.statuses: Counter[tuple[str, str, int]] = Counter()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> Server:
        self.thread.start()
        self.keys.thread.start()
        self.run(self._start())
        self.slack_http = http.client.HTTPConnection("127.0.0.1", self.bed.server.port, timeout=60)
        self.teams_http = http.client.HTTPConnection("127.0.0.1", self.teams_port, timeout=60)
        self.secured_http = http.client.HTTPConnection("127.0.0.1", self.secured_port, timeout=60)
        return self

    async def _start(self) -> None:
        self.fake = SlackWire()
        self.fake.seed()
        await self.fake.start()
        self.bed = await Testbed(self.fake, self.database_url, Clock()).start()
        self.connector = FakeBotConnector(tenant_id=TENANT, bot_id=BOT_ID, bot_name=BOT_NAME)
        await self.connector.__aenter__()
        local = Settings(database_url=self.database_url, _env_file=None)  # type: ignore[call-arg]
        self.teams = Starling(local, run_migrations=False)
        teams_app = web.Application()
        add_routes(teams_app, self.teams)
        self.teams_runner, url = await serve(teams_app)
        self.teams_port = int(url.split(":")[2].split("/")[0])
        secured = local.model_copy(update={"teams_app_id": APP_ID, "teams_app_password": "s3cr3t-value-long"})
        self.secured = Starling(secured, run_migrations=False)
        secured_app = web.Application()
        add_routes(
            secured_app,
            self.secured,
            TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=self.keys.metadata_url,
            TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=ISSUER,
        )
        self.secured_runner, url = await serve(secured_app)
        self.secured_port = int(url.split(":")[2].split("/")[0])

    def stop(self) -> None:
        for conn in (self.slack_http, self.teams_http, self.secured_http):
            conn.close()
        self.run(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.keys.server.shutdown()
        self.keys.server.server_close()

    async def _stop(self) -> None:
        await self.bed.close()
        await self.teams_runner.cleanup()
        await self.secured_runner.cleanup()
        await self.teams.close()
        await self.secured.close()
        await self.connector.__aexit__(None, None, None)
        await self.fake.stop()

    def post(self, which: str, body: bytes, headers: dict[str, str], *, signed: bool) -> int:
        conn = {"slack": self.slack_http, "teams": self.teams_http, "secured": self.secured_http}[which]
        path = "/slack/events" if which == "slack" else "/api/messages"
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (http.client.HTTPException, ConnectionError):
            conn.close()  # a refused oversized body may close the connection; answer on a fresh one
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        self.statuses[("signed" if signed else "unsigned", which, response.status)] += 1
        if response.will_close:
            conn.close()
        return response.status

    def settle(self) -> None:
        self.run(self.bed.settle())

    def effects(self) -> dict[str, int]:
        async def count() -> dict[str, int]:
            out: dict[str, int] = {}
            for name, app, table in (
                ("kudos", self.bed.starling, Kudos),
                ("outbox", self.bed.starling, OutboxMessage),
                ("teams_references", self.secured, TeamsConversation),
            ):
                async with app.sessions() as session:
                    out[name] = int((await session.execute(select(func.count()).select_from(table))).scalar_one())
            out["slack_posts"] = len([r for r in self.fake.requests if r.op.startswith(("chat.", "views."))])
            out["connector_calls"] = len(self.connector.requests)
            return out

        return self.run(count())


@pytest.fixture
def log() -> Iterator[ServerLog]:
    with server_log() as captured:
        yield captured


@pytest.fixture
def server(log: ServerLog, any_db_url: str) -> Iterator[Server]:
    running = Server(any_db_url).start()
    yield running
    running.stop()


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, **FUZZ)


FUZZ: dict[str, Any] = dict(
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)
UNSIGNED_SLACK = ["none", "wrong_secret", "abc", "old", "other_body", "v1", "empty"]
UNSIGNED_TEAMS = ["none", "garbage", "other_key", "audience", "expired", "issuer"]


def slack_headers(how: str, raw: bytes, content_type: str) -> dict[str, str]:
    headers = {"Content-Type": content_type}
    if how == "signed":
        return {**headers, **sign_slack_request(SECRET, raw)}
    if how == "none":
        return headers
    if how == "wrong_secret":
        return {**headers, **sign_slack_request("not-the-secret", raw)}
    if how == "old":
        return {**headers, **sign_slack_request(SECRET, raw, int(time.time()) - 3600)}
    if how == "other_body":
        return {**headers, **sign_slack_request(SECRET, raw + b" ")}
    signed = sign_slack_request(SECRET, raw)
    if how == "abc":
        signed["X-Slack-Request-Timestamp"] = "abc"
    elif how == "v1":
        signed["X-Slack-Signature"] = signed["X-Slack-Signature"].replace("v0=", "v1=")
    elif how == "empty":
        signed["X-Slack-Signature"] = ""
    return {**headers, **signed}


def teams_token(how: str, service_url: str) -> str | None:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": APP_ID, "serviceurl": service_url, "nbf": now - 60, "exp": now + 3600}
    key = KEY
    if how == "none":
        return None
    if how == "garbage":
        return "abc.def.ghi"
    if how == "other_key":
        key = OTHER_KEY
    elif how == "audience":
        claims["aud"] = "someone-else"
    elif how == "expired":
        claims.update(nbf=now - 7200, exp=now - 3600)
    elif how == "issuer":
        claims["iss"] = "https://evil.example"
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "starling-test"})


def test_fuzzed_requests_never_get_a_5xx_or_a_traceback_and_unsigned_ones_take_no_effect(
    server: Server, log: ServerLog
) -> None:
    hook = server.fake.hook_url()
    service_url = server.connector.service_url

    @fuzz(SLACK_UNSIGNED)
    @given(st.data())
    def slack_unsigned(data: st.DataObject) -> None:
        raw, content_type = slack_body(data.draw, hook)
        how = data.draw(st.sampled_from(UNSIGNED_SLACK))
        assert server.post("slack", raw, slack_headers(how, raw, content_type), signed=False) < 500

    @fuzz(TEAMS_UNSIGNED)
    @given(st.data())
    def teams_unsigned(data: st.DataObject) -> None:
        raw = teams_body(data.draw, service_url)
        how = data.draw(st.sampled_from(UNSIGNED_TEAMS))
        bearer = teams_token(how, service_url)
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {bearer}"} if bearer else {})}
        assert server.post("secured", raw, headers, signed=False) < 500

    @fuzz(SLACK_SIGNED)
    @given(st.data())
    def slack_signed(data: st.DataObject) -> None:
        raw, content_type = slack_body(data.draw, hook)
        assert server.post("slack", raw, slack_headers("signed", raw, content_type), signed=True) < 500

    @fuzz(TEAMS_SIGNED)
    @given(st.data())
    def teams_signed(data: st.DataObject) -> None:
        raw = teams_body(data.draw, service_url)
        assert server.post("teams", raw, {"Content-Type": "application/json"}, signed=True) < 500

    started = time.perf_counter()
    slack_unsigned()
    teams_unsigned()
    server.settle()
    assert server.effects() == {
        "kudos": 0,
        "outbox": 0,
        "teams_references": 0,
        "slack_posts": 0,
        "connector_calls": 0,
    }
    assert {status for (_, _, status) in server.statuses} <= {400, 401, 413, 415}
    slack_signed()
    teams_signed()
    server.settle()
    seconds = time.perf_counter() - started

    counts = server.statuses
    signed = sum(n for (kind, _, _), n in counts.items() if kind == "signed")
    unsigned = sum(n for (kind, _, _), n in counts.items() if kind == "unsigned")
    print(
        f"\nfuzz: {signed} signed + {unsigned} unsigned requests in {seconds:.1f} s; "
        f"answers {dict(sorted(counts.items()))}; log lines {len(log.lines)}"
    )
    assert signed >= SLACK_SIGNED + TEAMS_SIGNED and unsigned >= SLACK_UNSIGNED + TEAMS_UNSIGNED
    assert not any(status >= 500 for (_, _, status) in counts)
    log.assert_clean(max_line=1500)
