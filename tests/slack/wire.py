"""The Slack wire test bed: the real ``serve`` web app on 127.0.0.1 (port 0), a fake Slack Web API,
really signed requests shaped like Slack's, and a Socket Mode server speaking Slack's envelope protocol."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from bot.app import Starling
from bot.settings import Settings
from bot.web import WebServer
from storage.models import Kudos, OutboxMessage
from tests.fakes import FakeSlackAPI, Recorded, slack_form_body, slack_interactive_body, slack_signed_headers
from tests.kit import Clock

PAYLOADS = Path(__file__).parent / "payloads"
TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-test-app-token"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T1"
CHANNEL = "C0GENERAL"

PEOPLE = {
    "max": ("UMAX", "Max Weber", True),
    "anna": ("UANNA", "Anna Schmidt", False),
    "ben": ("UBEN", "Ben Müller", False),
    "clara": ("UCLARA", "Clara Fischer", False),
}


def payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


class SlackWire(FakeSlackAPI):
    """FakeSlackAPI plus ``apps.connections.open`` (Socket Mode) and response URLs (``/hooks/…``)."""

    def __init__(self) -> None:
        super().__init__(tokens=(TOKEN, APP_TOKEN), team_id=TEAM)
        self.socket_url: str | None = None
        self._methods["apps.connections.open"] = self._connections_open
        self._add_route("POST", r"^/hooks/(?P<hook>.+)$", "response_url", self._hook)

    def _connections_open(self, rec: Recorded, args: dict[str, Any]) -> dict[str, Any]:
        if rec.bearer != APP_TOKEN:
            return {"ok": False, "error": "invalid_auth"}
        if self.socket_url is None:
            return {"ok": False, "error": "internal_error"}
        return {"ok": True, "url": self.socket_url}

    async def _hook(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        return self._respond(rec, "ok")

    def hook_url(self) -> str:
        return f"{self.url}/hooks/commands/{TEAM}/{uuid.uuid4().hex[:8]}"

    def seed(self) -> None:
        for handle, (uid, name, admin) in PEOPLE.items():
            self.add_user(uid, handle, real_name=name, display_name=name, is_admin=admin, team_id=TEAM)
        self.add_user("UENGLISH", "erin", real_name="Erin Walsh", locale="en-GB", tz="Europe/London", team_id=TEAM)
        self.add_user(self.bot_user_id, "starling", is_bot=True, team_id=TEAM)
        self.add_user("UOTHERBOT", "deploybot", is_bot=True, team_id=TEAM)

    def texts(self, method: str, **filters: str) -> list[str]:
        """Everything visible in the accepted calls of ``method``: ``text`` plus all block texts."""
        out = []
        for rec in self.ok_calls(method):
            args = self.payload(rec)
            if any(args.get(k) != v for k, v in filters.items()):
                continue
            out.append(visible_text(args))
        return out


def visible_text(args: dict[str, Any]) -> str:
    parts = [str(args.get("text") or "")]
    view = args.get("view") if isinstance(args.get("view"), dict) else None
    blocks = args.get("blocks") or (view or {}).get("blocks") or []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                parts.append(node["text"])
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(parts)


class SocketModeServer:
    """A local WebSocket server speaking Slack's Socket Mode envelope protocol."""

    def __init__(self) -> None:
        self.acks: list[dict[str, Any]] = []
        self._ws: web.WebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._acked = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/link", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"ws://127.0.0.1:{port}/link?ticket=test"

    async def stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._ws = ws
        await ws.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "AAPP1"}, "debug_info": {}}
        )
        self._connected.set()
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                data = json.loads(msg.data)
                async with self._acked:
                    self.acks.append(data)
                    self._acked.notify_all()
        return ws

    async def connected(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def send(self, envelope_type: str, body: dict[str, Any], **extra: Any) -> str:
        assert self._ws is not None
        envelope_id = str(uuid.uuid4())
        await self._ws.send_json({"envelope_id": envelope_id, "type": envelope_type, "payload": body, **extra})
        return envelope_id

    async def ack_for(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            async with self._acked:
                while True:
                    for ack in self.acks:
                        if ack.get("envelope_id") == envelope_id:
                            return ack
                    await self._acked.wait()

        return await asyncio.wait_for(wait(), timeout)


class Testbed:
    __test__ = False

    """``starling serve`` on a free port against the fake Slack API; helpers to send signed requests."""

    def __init__(
        self,
        fake: SlackWire,
        database_url: str,
        clock: Clock,
        *,
        slack_options: dict[str, Any] | None = None,
        **settings: Any,
    ) -> None:
        self.fake = fake
        self.clock = clock
        options: dict[str, Any] = {
            "database_url": database_url,
            "slack_bot_token": TOKEN,
            "slack_signing_secret": SECRET,
            "slack_api_url": fake.api_url,
            "slack_app_token": None,
            "teams_app_id": None,
            "_env_file": None,
        }
        options.update(settings)
        self.settings = Settings(**options)
        self.starling = Starling(self.settings, clock=clock, run_migrations=False)
        self.server = WebServer(
            self.starling,
            host="127.0.0.1",
            port=0,
            scheduler=False,
            slack_options={"retry_backoff": 0.02, **(slack_options or {})},
        )
        self.http: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def slack(self) -> Any:
        return self.server.slack

    async def start(self) -> Testbed:
        await self.server.start()
        self.http = aiohttp.ClientSession()
        if self.settings.slack_directory_refresh_seconds > 0:
            await self.directory_listed()
        return self

    async def directory_listed(self, timeout: float = 10.0) -> None:
        """Wait until the directory has read ``users.list`` (people added to the fake later are strangers to it)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.slack.directory.listed_at is None:
            assert asyncio.get_running_loop().time() < deadline, "users.list was never read"
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
        await self.server.stop()
        await self.starling.close()

    # --- sending -------------------------------------------------------------------------------------
    async def post(
        self,
        body: bytes,
        *,
        content_type: str,
        timestamp: int | None = None,
        secret: str = SECRET,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        assert self.http is not None
        signed = slack_signed_headers(secret, body, content_type=content_type, timestamp=timestamp)
        async with self.http.post(self.url + "/slack/events", data=body, headers={**signed, **(headers or {})}) as resp:
            return resp.status, await resp.text()

    async def command(
        self,
        text: str,
        *,
        user: str = "UMAX",
        command: str = "/kudos",
        channel: str = CHANNEL,
        channel_name: str = "general",
        trigger_id: str | None = None,
        response_url: str | None = None,
        **kwargs: Any,
    ) -> tuple[int, str]:
        fields = {
            "token": "verification-token",
            "team_id": TEAM,
            "team_domain": "starling-test",
            "channel_id": channel,
            "channel_name": channel_name,
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "AAPP1",
            "is_enterprise_install": "false",
            "response_url": response_url or self.fake.hook_url(),
            "trigger_id": trigger_id or f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}",
        }
        return await self.post(slack_form_body(fields), content_type="application/x-www-form-urlencoded", **kwargs)

    async def event(self, event: dict[str, Any], *, event_id: str | None = None, **kwargs: Any) -> tuple[int, str]:
        body = event_body(event, event_id=event_id)
        return await self.post(json.dumps(body).encode(), content_type="application/json", **kwargs)

    async def raw_event(self, body: dict[str, Any], **kwargs: Any) -> tuple[int, str]:
        return await self.post(json.dumps(body).encode(), content_type="application/json", **kwargs)

    async def interactive(self, body: dict[str, Any], **kwargs: Any) -> tuple[int, str]:
        return await self.post(slack_interactive_body(body), content_type="application/x-www-form-urlencoded", **kwargs)

    # --- observing -------------------------------------------------------------------------------------
    async def settle(self) -> None:
        """Wait until every acknowledged request has been handled (not for outbox deliveries)."""
        await self.slack.idle()

    async def kudos_rows(self) -> list[Kudos]:
        async with self.starling.sessions() as session:
            return list((await session.execute(select(Kudos).order_by(Kudos.id))).scalars().all())

    async def outbox_count(self) -> int:
        async with self.starling.sessions() as session:
            return int((await session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one())

    async def delivered(self, count: int, timeout: float = 5.0) -> list[OutboxMessage]:
        """Poll (with a deadline) until ``count`` outbox rows exist and none is pending or being sent."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            rows = await self.outbox_rows()
            if len(rows) >= count and all(r.status in ("sent", "dead") for r in rows):
                return rows
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"outbox not delivered: {[(r.id, r.status, r.last_error) for r in rows]}")
            self.starling.outbox.wake()
            await asyncio.sleep(0.02)

    async def outbox_rows(self) -> list[OutboxMessage]:
        async with self.starling.sessions() as session:
            return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars().all())


def event_body(event: dict[str, Any], *, event_id: str | None = None, team: str = TEAM) -> dict[str, Any]:
    """An ``event_callback`` envelope in the shape of ``message_with_user_mention.json``."""
    body = copy.deepcopy(payload("message_with_user_mention.json"))
    body["team_id"] = team
    body["api_app_id"] = "AAPP1"
    body["event"] = {"event_ts": event.get("ts", "1700000000.000100"), **event}
    body["event_id"] = event_id or f"Ev{uuid.uuid4().hex[:10].upper()}"
    body["event_time"] = int(time.time())
    body["authorizations"] = [
        {"enterprise_id": None, "team_id": team, "user_id": "UBOT1", "is_bot": True, "is_enterprise_install": False}
    ]
    body["event_context"] = f"4-{body['event']['type']}-{team}"
    return body


def message(text: str, *, user: str = "UMAX", channel: str = CHANNEL, ts: str | None = None, **extra: Any) -> dict:
    return {
        "type": "message",
        "text": text,
        "user": user,
        "ts": ts or f"{int(time.time())}.{uuid.uuid4().int % 10**6:06d}",
        "team": TEAM,
        "channel": channel,
        "channel_type": "channel",
        **extra,
    }
