"""Teams test kit: the real Starling app behind ``/api/messages`` on 127.0.0.1 (port 0), a fake Bot
Connector as every activity's ``serviceUrl``, and builders for Teams-shaped activities."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlmodel import select

from bot.app import Starling
from bot.settings import Settings
from bot.teams.web import TEAMS_ADAPTER_KEY, add_routes
from storage.models import Kudos, OutboxMessage
from storage.teams import TeamsConversation
from tests.fakes import FakeBotConnector

FIXTURES = Path(__file__).parent / "fixtures"
TENANT = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
WORKSPACE = f"teams:{TENANT}"
BOT_ID = "28:11111111-2222-3333-4444-555555555555"
BOT_NAME = "Starling"
TEAM_ID = "19:8j-Mnacwmq2QFDbzykeQH5v55m6cN1X3QJ5viHvGIIQ1@thread.tacv2"
CHANNEL_ID = "19:d441d38c655c47a085215b2726e76927@thread.tacv2"
THREAD_ID = CHANNEL_ID + ";messageid=1771290107407"
MAX = "29:1xXxFakeUserBase64IdStringForTeamsPlatformAbcDeFgHiJkLmNoPqRsTuVwXyZ012345ABCDEF"
MAX_AAD = "00000000-1111-2222-3333-444444444444"
ANNA = "29:1yYyFakeSecondUserBase64IdStringForTeamsPlatformAbcDeFgHiJkLmNoPqRsTuV0123456"
ANNA_AAD = "00000000-aaaa-2222-3333-444444444444"
PERSONAL_ID = "a:17NditBRO5pbPlIimLiU0g7vfMqIYTPwqILZJq-TOhzzKiAmv2i6Oerr-QPUpuznpKMZinowF80qU8SFPCsvZlg3EpJU8FYt3rO-iSCFfYzIIk2STWat73naOa8x5LdSv"

_ids = itertools.count(1_771_290_200_000)


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def next_id() -> str:
    return str(next(_ids))


class TeamsClient:
    """Posts activities to a running Starling and builds them from the published fixtures."""

    def __init__(self, url: str, connector: FakeBotConnector, app: Starling, http: aiohttp.ClientSession) -> None:
        self.url = url
        self.connector = connector
        self.app = app
        self.http = http

    async def post(self, activity: dict[str, Any], *, token: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.post(self.url, json=activity, headers=headers) as resp:
            text = await resp.text()
            return resp.status, (json.loads(text) if text.strip() else None)

    def _base(self, name: str) -> dict[str, Any]:
        activity = copy.deepcopy(load(name))
        activity["serviceUrl"] = self.connector.service_url
        activity["recipient"] = {"id": BOT_ID, "name": BOT_NAME}
        return activity

    def channel_message(
        self, text: str, mentions: dict[str, str] | None = None, *, locale: str = "en-US", sender: str = MAX
    ) -> dict[str, Any]:
        """A channel thread message that @mentions Starling; ``mentions`` maps display name → user id."""
        activity = self._base("message_channel_mention_bot_and_user.derived.json")
        activity["id"] = next_id()
        activity["text"] = f"<at>{BOT_NAME}</at> {text}"
        activity["locale"] = locale
        activity["from"] = {"id": sender, "name": "Max Mustermann", "aadObjectId": MAX_AAD}
        entities = [{"type": "mention", "text": f"<at>{BOT_NAME}</at>", "mentioned": {"id": BOT_ID, "name": BOT_NAME}}]
        for name, uid in (mentions or {}).items():
            entities.append({"type": "mention", "text": f"<at>{name}</at>", "mentioned": {"id": uid, "name": name}})
        entities.append({"type": "clientInfo", "locale": locale, "country": "DE", "platform": "Web"})
        activity["entities"] = entities
        activity.pop("attachments", None)
        return activity

    def personal_message(self, text: str, *, locale: str = "en-US") -> dict[str, Any]:
        activity = self._base("message_personal.recorded.json")
        activity["id"] = next_id()
        activity["text"] = text
        activity["locale"] = locale
        activity["from"] = {"id": MAX, "name": "Max Mustermann", "aadObjectId": MAX_AAD}
        return activity

    def card_submit(self, value: Any, *, reply_to: str = "1771290108656") -> dict[str, Any]:
        activity = self._base("message_adaptive_card_action_submit.json")
        activity["id"] = f"f:{next_id()}"
        activity["value"] = value
        activity["replyToId"] = reply_to
        activity["from"] = {"id": MAX, "name": "Max Mustermann", "aadObjectId": MAX_AAD}
        return activity

    def invoke(self, data: dict[str, Any], verb: str | None = None) -> dict[str, Any]:
        activity = self._base("invoke_adaptive_card_action.json")
        activity["id"] = f"f:{next_id()}"
        action: dict[str, Any] = {"type": "Action.Execute", "title": "Go", "data": data}
        if verb is not None:
            action["verb"] = verb
        activity["value"] = {"action": action, "trigger": "manual"}
        activity["from"] = {"id": MAX, "name": "Max Mustermann", "aadObjectId": MAX_AAD}
        return activity

    def file_consent(
        self, action: str, context: dict[str, Any], upload_info: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The person's answer to a FileConsentCard: ``accept`` (with Teams' upload info) or ``decline``."""
        activity = self._base("invoke_file_consent.json")
        activity["id"] = f"f:{next_id()}"
        activity["from"] = {"id": MAX, "name": "Max Mustermann", "aadObjectId": MAX_AAD}
        value: dict[str, Any] = {"type": "fileUpload", "action": action, "context": context}
        if upload_info is not None:
            value["uploadInfo"] = upload_info
        activity["value"] = value
        return activity

    # -- database views -------------------------------------------------------------------------------
    async def kudos(self) -> list[Kudos]:
        async with self.app.sessions() as session:
            return list((await session.execute(select(Kudos))).scalars().all())

    async def references(self) -> list[TeamsConversation]:
        async with self.app.sessions() as session:
            return list((await session.execute(select(TeamsConversation))).scalars().all())

    async def outbox(self) -> list[OutboxMessage]:
        async with self.app.sessions() as session:
            return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars().all())


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}/api/messages"


@pytest.fixture
async def connector() -> AsyncIterator[FakeBotConnector]:
    async with FakeBotConnector(tenant_id=TENANT, bot_id=BOT_ID, bot_name=BOT_NAME) as fake:
        fake.add_member(TEAM_ID, MAX, "Max Mustermann", MAX_AAD)
        fake.add_member(TEAM_ID, ANNA, "Anna Schmidt", ANNA_AAD)
        yield fake


@pytest.fixture
async def teams(db_url: str, connector: FakeBotConnector) -> AsyncIterator[TeamsClient]:
    """Starling in the unauthenticated local mode (no app id), as with the Bot Framework Emulator."""
    async for client in _running(db_url, connector):
        yield client


@pytest.fixture
async def teams_any_db(any_db_url: str, connector: FakeBotConnector) -> AsyncIterator[TeamsClient]:
    """The same on SQLite and on PostgreSQL."""
    async for client in _running(any_db_url, connector):
        yield client


async def _running(db_url: str, connector: FakeBotConnector) -> AsyncIterator[TeamsClient]:
    settings = Settings(database_url=db_url, _env_file=None)  # type: ignore[call-arg]
    app = Starling(settings, run_migrations=False)
    web_app = web.Application()
    add_routes(web_app, app)
    assert web_app[TEAMS_ADAPTER_KEY].sender is app.outbox.senders["teams"]
    runner, url = await serve(web_app)
    async with aiohttp.ClientSession() as http:
        yield TeamsClient(url, connector, app, http)
    await runner.cleanup()
    await app.close()
