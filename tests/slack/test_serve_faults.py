"""The real ``starling serve`` process under faults: nothing it acknowledged to Slack is lost.

The load generator behaves like Slack: every kudos message is one signed ``event_callback``; an answer
other than 200 (a 503 while shutting down or full, a refused connection) is not an acknowledgement and
the event is sent again, to this process or a later one. Every event answered 200 must end up stored.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import create_engine, text

from storage.db import to_sync_url
from tests.fakes import slack_signed_headers
from tests.kit import postgres_url
from tests.slack.wire import CHANNEL, SECRET, TEAM, TOKEN, SlackWire, event_body, message

STARLING = Path(sys.executable).parent / "starling"
RECEIVERS = ("UANNA", "UBEN", "UCLARA")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """``starling serve`` as a child process on a free port."""

    def __init__(self, database_url: str, fake: SlackWire, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("STARLING_", "SLACK_"))},
            "STARLING_DATABASE_URL": database_url,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "STARLING_SLACK_API_URL": fake.api_url,
            **env,
        }
        self.proc: asyncio.subprocess.Process | None = None
        # A file, not a pipe: a pipe nobody reads fills up and stalls the server. Closed by ``stop``.
        self.log_file = tempfile.TemporaryFile()  # noqa: SIM115

    async def start(self, http: aiohttp.ClientSession) -> Serve:
        self.proc = await asyncio.create_subprocess_exec(
            str(STARLING),
            "serve",
            "--port",
            str(self.port),
            "--no-scheduler",
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=self.log_file,
        )
        deadline = asyncio.get_running_loop().time() + 120
        while True:
            assert self.proc.returncode is None, "starling serve exited during start"
            try:
                async with http.get(self.url + "/readyz") as resp:
                    if resp.status == 200:
                        return self
            except aiohttp.ClientError:
                pass
            assert asyncio.get_running_loop().time() < deadline, "starling serve did not get ready"
            await asyncio.sleep(0.1)

    async def stop(self, *, timeout: float = 300) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        self.log_file.seek(0)
        self.log = self.log_file.read().decode(errors="replace")
        self.log_file.close()
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()


class Giver:
    """Sends kudos messages as Slack would, remembering which ones were acknowledged (answered 200)."""

    def __init__(self, http: aiohttp.ClientSession, fake: SlackWire) -> None:
        self.http = http
        self.fake = fake
        self.acked: set[str] = set()
        self.refused = 0
        self.sent = 0

    def person(self, n: int) -> str:
        uid = f"UGIVER{n:04d}"
        if uid not in self.fake.users:
            self.fake.add_user(uid, f"giver{n}", real_name=f"Giver {n}", display_name=f"Giver {n}", team_id=TEAM)
        return uid

    async def give(self, server: Serve, n: int, *, give_up_at: float | None = None) -> bool:
        """One kudos; retried after a 503 or a refused connection until acknowledged or ``give_up_at``."""
        ts = f"1700001{n:03d}.{n:06d}"
        ev = message(f"<@{RECEIVERS[n % 3]}> :star: danke für Fall {n}", user=self.person(n), ts=ts)
        body = json.dumps(event_body(ev, event_id=f"Ev{n:08d}")).encode()
        loop = asyncio.get_running_loop()
        retry = 0
        while True:
            headers = slack_signed_headers(SECRET, body, content_type="application/json")
            if retry:
                headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_error"}
            try:
                self.sent += 1
                async with self.http.post(server.url + "/slack/events", data=body, headers=headers) as resp:
                    if resp.status == 200:
                        self.acked.add(f"{CHANNEL}:{ts}")
                        return True
                    assert resp.status == 503, resp.status
                    self.refused += 1
            except aiohttp.ClientError:
                self.refused += 1
            if give_up_at is not None and loop.time() > give_up_at:
                return False
            retry += 1
            await asyncio.sleep(0.2)


def stored(database_url: str) -> set[str]:
    engine = create_engine(to_sync_url(database_url))
    try:
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(text("SELECT message_id FROM kudos"))}
    finally:
        engine.dispose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
async def slack() -> AsyncIterator[SlackWire]:
    fake = SlackWire()
    fake.seed()
    await fake.start()
    yield fake
    await fake.stop()


async def test_sigterm_right_after_a_burst_loses_no_acknowledged_kudos(
    any_db_url: str, slack: SlackWire, http: aiohttp.ClientSession
) -> None:
    slack.delay_next(0.1, times=1_000_000)  # Slack answers every call in 100 ms
    server = await Serve(any_db_url, slack).start(http)
    giver = Giver(http, slack)
    try:
        burst = 300
        # 16 connections' worth of kudos at once; SIGTERM as soon as the last one is acknowledged
        lanes = asyncio.Semaphore(16)

        async def one(n: int) -> None:
            async with lanes:
                await giver.give(server, n, give_up_at=asyncio.get_running_loop().time())

        await asyncio.gather(*(one(n) for n in range(burst)))
        assert await server.stop() == 0
    finally:
        server.kill()
    assert giver.acked, "nothing was acknowledged"
    missing = giver.acked - stored(any_db_url)
    assert not missing, f"{len(missing)} of {len(giver.acked)} acknowledged kudos lost"
    print(f"burst {burst}: acknowledged {len(giver.acked)}, refused {giver.refused}")


class Proxy:
    """A TCP proxy in front of PostgreSQL that can be cut (listener closed, connections reset) and restored."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)

    async def down(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        self.server = None
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while chunk := await src.read(65536):
                    dst.write(chunk)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.links -= {writer, up_writer}


async def test_a_10_second_postgresql_outage_under_load_loses_no_acknowledged_kudos(
    slack: SlackWire, http: aiohttp.ClientSession
) -> None:
    direct = postgres_url()
    host_port = direct.rsplit("@", 1)[1].split("/", 1)[0]
    proxy = Proxy(int(host_port.rsplit(":", 1)[1]) if ":" in host_port else 5432)
    await proxy.up()
    through_proxy = direct.replace(host_port, f"127.0.0.1:{proxy.port}", 1)
    server = await Serve(through_proxy, slack).start(http)
    giver = Giver(http, slack)
    try:
        loop = asyncio.get_running_loop()
        sending: list[asyncio.Task[bool]] = []

        async def load(first: int, seconds: float) -> None:  # 10 kudos per second
            for i in range(int(seconds * 10)):
                sending.append(asyncio.ensure_future(giver.give(server, first + i, give_up_at=loop.time() + 60)))
                await asyncio.sleep(0.1)

        await load(0, 3)
        await proxy.down()  # PostgreSQL unreachable: connections reset, new ones refused
        await load(30, 10)
        await proxy.up()
        await load(130, 3)
        await asyncio.gather(*sending)
        deadline = loop.time() + 180
        while giver.acked - stored(direct):
            assert loop.time() < deadline, f"{len(giver.acked - stored(direct))} acknowledged kudos not stored"
            await asyncio.sleep(0.5)
        assert await server.stop() == 0
    finally:
        server.kill()
        if proxy.server is not None:
            await proxy.down()
    assert len(giver.acked) >= 100
    errors = [e for e in slack.texts("chat.postEphemeral") if "nichts gespeichert" in e.lower()]
    assert not errors, errors[:3]
    print(f"outage: acknowledged {len(giver.acked)}, refused {giver.refused}")
