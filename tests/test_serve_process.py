"""The real ``starling serve`` process, started as a newcomer would, reached over HTTP.

Teams: with no credentials at all outside production, ``/api/messages`` runs the unauthenticated local
mode (as docs/teams.md tells for the Bot Framework Emulator), loudly logged; replies arrive at the fake
Bot Connector named in each activity's ``serviceUrl``. Slack: really signed requests into the process,
its Web API calls answered by the fake Slack API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes import FakeBotConnector
from tests.kit import sqlite_url
from tests.slack.wire import SECRET, TOKEN, SlackWire
from tests.teams.conftest import ANNA, ANNA_AAD, BOT_ID, BOT_NAME, MAX, MAX_AAD, TEAM_ID, TENANT, TeamsClient

ROOT = Path(__file__).resolve().parents[1]
SERVING = re.compile(r"serving\b.*\bport=(\d+)")
PLATFORM_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "MicrosoftAppId",
    "MicrosoftAppPassword",
    "STARLING_TEAMS_APP_ID",
    "STARLING_SLACK_BOT_TOKEN",
    "STARLING_ENVIRONMENT",
    "STARLING_DATABASE_URL",
)


class ServeProcess:
    """``python -m bot.cli serve --port 0`` in a subprocess; its port is read from the ``serving`` log line."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self.port = 0
        self._reader: asyncio.Task[None] | None = None
        self._serving = asyncio.Event()

    async def start(self, timeout: float = 60.0) -> ServeProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            "--port",
            "0",
            "--no-scheduler",
            cwd=self.cwd,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())
        waiter = asyncio.create_task(self._serving.wait())
        done, _ = await asyncio.wait({waiter, self._reader}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            raise AssertionError("starling serve did not start:\n" + "\n".join(self.lines[-40:]))
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            self.lines.append(line)
            found = SERVING.search(line)
            if found and not self._serving.is_set():
                self.port = int(found.group(1))
                self._serving.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return "\n".join(self.lines)

    async def stop(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.terminate()
        code = await asyncio.wait_for(self.proc.wait(), 60)
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        return code


def sent(rec: Any) -> bool:
    return rec.op in ("send_activity", "send_to_conversation", "reply_to_activity")


def said(rec: Any, text: str) -> bool:
    return text in json.dumps(rec.params, ensure_ascii=False)


def command_body(response_url: str, command: str, text: str, trigger: str = "1.2.3") -> bytes:
    """A slash command from Max (an admin) in #general, as Slack posts it."""
    from tests.fakes import slack_form_body

    return slack_form_body(
        {
            "team_id": "T1",
            "channel_id": "C0GENERAL",
            "channel_name": "general",
            "user_id": "UMAX",
            "user_name": "max",
            "command": command,
            "text": text,
            "api_app_id": "AAPP1",
            "response_url": response_url,
            "trigger_id": trigger,
        }
    )


def base_env(db: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PLATFORM_VARIABLES}
    env.update({"STARLING_DATABASE_URL": db, "STARLING_HOST": "127.0.0.1", "STARLING_ENVIRONMENT": "dev"})
    env.update(extra)
    return env


def slack_env(fake: SlackWire, db: str) -> dict[str, str]:
    """Slack set, its Web API at the fake."""
    return base_env(db, SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, STARLING_SLACK_API_URL=fake.url + "/api/")


@contextlib.asynccontextmanager
async def serving(env: dict[str, str], cwd: Path) -> AsyncIterator[ServeProcess]:
    process = ServeProcess(env, cwd)
    try:
        yield await process.start()
    finally:
        if process.proc is not None:
            await process.stop()


@pytest.fixture
async def connector() -> AsyncIterator[FakeBotConnector]:
    async with FakeBotConnector(tenant_id=TENANT, bot_id=BOT_ID, bot_name=BOT_NAME) as fake:
        fake.add_member(TEAM_ID, MAX, "Max Mustermann", MAX_AAD)
        fake.add_member(TEAM_ID, ANNA, "Anna Schmidt", ANNA_AAD)
        yield fake


async def test_teams_local_mode_through_starling_serve(connector: FakeBotConnector, tmp_path: Path) -> None:
    async with serving(base_env(sqlite_url(tmp_path)), tmp_path) as server, aiohttp.ClientSession() as http:
        assert "teams_unauthenticated_local_mode" in server.log() and "WITHOUT AUTHENTICATION" in server.log()
        teams = TeamsClient(server.url + "/api/messages", connector, app=None, http=http)  # type: ignore[arg-type]

        status, _ = await teams.post(teams.personal_message("hilfe", locale="de-DE"))
        assert status == 201, server.log()
        await connector.wait_for(sent, timeout=30)

        kudos = teams.channel_message(
            "kudos <at>Anna Schmidt</at> danke für die schnelle Hilfe #kundenfokus",
            {"Anna Schmidt": ANNA},
            locale="de-DE",
        )
        status, _ = await teams.post(kudos)
        assert status == 201, server.log()

        def anna_thanked(rec: Any) -> bool:
            return sent(rec) and said(rec, "danke für die schnelle Hilfe")

        await connector.wait_for(anna_thanked, count=2, timeout=30)  # the channel's celebration and Anna's DM
        assert ANNA in {c["members"][0]["id"] for c in connector.created_conversations()}


async def test_production_without_app_id_serves_no_teams(connector: FakeBotConnector, tmp_path: Path) -> None:
    env = base_env(sqlite_url(tmp_path), STARLING_ENVIRONMENT="production")
    async with serving(env, tmp_path) as server, aiohttp.ClientSession() as http:
        teams = TeamsClient(server.url + "/api/messages", connector, app=None, http=http)  # type: ignore[arg-type]
        async with http.post(server.url + "/api/messages", json=teams.personal_message("help")) as resp:
            assert resp.status == 404
        assert "teams_unauthenticated_local_mode" not in server.log()
    assert connector.calls() == []


async def test_slack_signed_requests_into_starling_serve(tmp_path: Path) -> None:
    async with SlackWire() as fake:
        fake.seed()
        env = base_env(
            sqlite_url(tmp_path),
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            STARLING_SLACK_API_URL=fake.url + "/api/",
        )
        async with serving(env, tmp_path) as server, aiohttp.ClientSession() as http:
            assert "teams_unauthenticated_local_mode" not in server.log()
            from tests.fakes import slack_signed_headers

            body = command_body(fake.hook_url(), "/kudos", "<@UANNA|anna> danke für die schnelle Hilfe #kundenfokus")
            headers = slack_signed_headers(SECRET, body, content_type="application/x-www-form-urlencoded")
            async with http.post(server.url + "/slack/events", data=body, headers=headers) as resp:
                assert resp.status == 200, server.log()

            def anna_thanked(rec: Any) -> bool:
                return rec.op == "chat.postMessage" and said(rec, "danke für die schnelle Hilfe")

            await fake.wait_for(anna_thanked, timeout=30)

            forged = slack_signed_headers("not-the-secret", body, content_type="application/x-www-form-urlencoded")
            async with http.post(server.url + "/slack/events", data=body, headers=forged) as resp:
                assert resp.status == 401
            async with http.post(server.url + "/api/messages", json={"type": "message"}) as resp:
                assert resp.status == 404  # Slack is set: no unauthenticated Teams next to it
            async with http.get(server.url + "/metrics") as resp:
                exposed = await resp.text()
            # the full collection at the end of the start is timed, as is every collection after it
            full = re.search(r'^starling_gc_pause_seconds_count\{generation="2"\} (\S+)$', exposed, re.M)
            assert full is not None and float(full.group(1)) >= 1, exposed[:2000]


async def test_serve_answers_requests_first_and_refuses_a_hostile_emoji_setting_inert(tmp_path: Path) -> None:
    """The real process runs on the event loop whose request steps go first (``bot.eventloop``; what that loop
    does is shown in ``tests/bot/test_eventloop.py``), and an admin's ``/starling set emoji`` with a mention and
    ``<!channel>`` in it is refused, shown back inert, and changes nothing."""
    from tests.fakes import slack_signed_headers
    from tests.slack.test_escaping_wire import LIVE
    from tests.slack.wire import visible_text

    async with SlackWire() as fake:
        fake.seed()
        db = sqlite_url(tmp_path)
        async with serving(slack_env(fake, db), tmp_path) as server, aiohttp.ClientSession() as http:
            assert "event_loop=AnswerFirstLoop" in server.log(), server.log()

            async def starling(text: str, trigger: str) -> None:
                body = command_body(fake.hook_url(), "/starling", text, trigger)
                headers = slack_signed_headers(SECRET, body, content_type="application/x-www-form-urlencoded")
                async with http.post(server.url + "/slack/events", data=body, headers=headers) as resp:
                    assert resp.status == 200, server.log()

            def shown(rec: Any) -> str:
                if rec.op not in ("response_url", "chat.postEphemeral", "chat.postMessage"):
                    return ""
                return visible_text(fake.payload(rec))

            await starling("set emoji <@U0BEN> <!channel>", "1.2.3")
            refusals = await fake.wait_for(lambda rec: "kein Emoji-Name" in shown(rec), timeout=30)
            for rec in refusals:
                text = shown(rec)
                assert "<@U0BEN>" not in text and "<!channel>" not in text and not LIVE.search(text), text

            await starling("settings", "1.2.4")
            await fake.wait_for(lambda rec: ":star:" in shown(rec), timeout=30)  # the emoji is still the default
            assert not any(LIVE.search(shown(rec)) for rec in fake.requests)


async def test_serve_keeps_answering_while_another_process_holds_the_sqlite_write_lock(tmp_path: Path) -> None:
    """SQLite's statements run on the event loop of ``starling serve`` (``storage.db``). While another process holds
    the database's write lock, a kudos is acknowledged, the process keeps answering, and the kudos is stored and
    celebrated once the lock is released. A handling that waited for the lock inside SQLite would hold the whole
    process: ``/healthz`` would not answer until the lock was released."""
    import sqlite3

    from tests.fakes import slack_signed_headers

    async with SlackWire() as fake:
        fake.seed()
        db = sqlite_url(tmp_path)
        async with serving(slack_env(fake, db), tmp_path) as server, aiohttp.ClientSession() as http:
            holder = sqlite3.connect(db.removeprefix("sqlite:///"), isolation_level=None)
            try:
                holder.execute("BEGIN IMMEDIATE")  # another process's transaction, held open
                body = command_body(fake.hook_url(), "/kudos", "<@UANNA|anna> danke für den Rückruf #kundenfokus")
                headers = slack_signed_headers(SECRET, body, content_type="application/x-www-form-urlencoded")
                async with http.post(server.url + "/slack/events", data=body, headers=headers) as resp:
                    assert resp.status == 200, server.log()
                await asyncio.sleep(0.5)  # the handling is waiting for the lock by now
                timeout = aiohttp.ClientTimeout(total=10)
                for _ in range(3):
                    async with http.get(server.url + "/healthz", timeout=timeout) as resp:
                        assert resp.status == 200
                assert holder.execute("SELECT count(*) FROM kudos").fetchone() == (0,)  # nothing stored yet
            finally:
                holder.execute("ROLLBACK")
                holder.close()

            def anna_thanked(rec: Any) -> bool:
                return rec.op == "chat.postMessage" and said(rec, "danke für den Rückruf")

            await fake.wait_for(anna_thanked, timeout=30)
            assert "database is locked" not in server.log(), server.log()


async def test_a_burst_the_handling_cannot_keep_up_with_is_acknowledged_within_slacks_deadline(tmp_path: Path) -> None:
    """While acknowledged events wait, the acknowledgements leave the handling most of the event loop: after each one
    the next request waits several times as long (``STARLING_SLACK_ACK_SHARE``). A burst that this share cannot
    answer in time must still be acknowledged well within Slack's 3 seconds, after which a slash command fails for
    the person: beyond ``HOLD_BACK_BUDGET_SECONDS`` of waiting, requests are answered as fast as they come and the
    events wait in the inbox. None of them is lost."""
    import time

    from tests.fakes import slack_signed_headers

    async with SlackWire() as fake:
        fake.seed()
        fake.delay_next(1.0, "chat.postEphemeral", times=4)  # the handling is stuck for a while: a backlog forms
        db = sqlite_url(tmp_path)
        env = slack_env(fake, db) | {
            "STARLING_SLACK_ACK_SHARE": "0.01",  # after an acknowledgement that took t, the next waits 99 t
            "STARLING_INBOX_BATCH": "1",
            "STARLING_SLACK_EVENT_CONCURRENCY": "1",
        }
        async with serving(env, tmp_path) as server, aiohttp.ClientSession() as http:

            async def kudos(n: int) -> tuple[int, float]:
                text = f"<@UANNA|anna> danke für Termin {n} #kundenfokus"
                body = command_body(fake.hook_url(), "/kudos", text, trigger=f"{n}.2.3")
                headers = slack_signed_headers(SECRET, body, content_type="application/x-www-form-urlencoded")
                started = time.perf_counter()
                async with http.post(server.url + "/slack/events", data=body, headers=headers) as resp:
                    return resp.status, time.perf_counter() - started

            for n in range(3):
                assert (await kudos(n))[0] == 200, server.log()
            burst = await asyncio.gather(*(kudos(n) for n in range(3, 43)))
            assert [status for status, _ in burst] == [200] * 40, server.log()
            slowest = max(took for _, took in burst)
            assert slowest < 2.5, f"the slowest acknowledgement of the burst took {slowest:.2f} s"

            def answered() -> int:  # one private answer for each command (a confirmation or "budget spent")
                return len(fake.ok_calls("chat.postEphemeral"))

            deadline = time.perf_counter() + 60
            while answered() < 43 and time.perf_counter() < deadline:
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.5)
            assert answered() == 43, server.log()


async def test_kudos_into_a_channel_being_delivered_are_all_posted_through_starling_serve(tmp_path: Path) -> None:
    """Kudos that arrive while the outbox holds their channel (and the receiver's direct messages) for Slack's pace
    are not looked up by a wake of their own: the held conversations must still send every one of them, in the
    channel and in the receiver's direct messages, each kudos named exactly once."""
    import sqlite3

    from tests.fakes import slack_signed_headers

    ref = re.compile(r"\bref(\d+)\b")

    def named(payloads: list[dict[str, Any]]) -> list[int]:
        return sorted(int(m.group(1)) for p in payloads for m in ref.finditer(json.dumps(p, ensure_ascii=False)))

    async with SlackWire() as fake:
        fake.seed()
        fake.enforce_channel_rate(1.0)  # as Slack: a second post to a channel within a second is refused
        db = sqlite_url(tmp_path)
        env = base_env(
            db, SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, STARLING_SLACK_API_URL=fake.url + "/api/"
        )
        async with serving(env, tmp_path) as server, aiohttp.ClientSession() as http:

            async def give(n: int) -> None:
                text = f"<@UANNA|anna> danke für die schnelle Hilfe ref{n} #kundenfokus"
                body = command_body(fake.hook_url(), "/kudos", text, trigger=f"{n}.2.3")
                headers = slack_signed_headers(SECRET, body, content_type="application/x-www-form-urlencoded")
                async with http.post(server.url + "/slack/events", data=body, headers=headers) as resp:
                    assert resp.status == 200, server.log()

            await give(0)
            await fake.wait_for(lambda rec: rec.op == "chat.postMessage" and said(rec, "ref0"), timeout=30)
            with contextlib.closing(sqlite3.connect(db.split("///", 1)[1])) as conn, conn:
                conn.execute("UPDATE workspace SET daily_budget = 1000, pair_daily_cap = 1000")  # an admin's change
            for n in range(1, 7):  # while #general and Anna's direct messages wait out their pace
                await give(n)

            want = list(range(7))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while named(fake.posts("C0GENERAL")) != want or named(fake.dms("UANNA")) != want:
                assert loop.time() < deadline, (named(fake.posts("C0GENERAL")), named(fake.dms("UANNA")), server.log())
                await asyncio.sleep(0.1)
