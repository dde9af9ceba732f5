"""The real ``starling serve`` process under faults: nothing it acknowledged to Slack is lost.

The load generator behaves like Slack: every kudos message is one signed ``event_callback``; an answer
other than 200 (a 503 while shutting down, full or unable to store it, a refused connection) is not an
acknowledgement and the event is sent again, to this process or a later one. Every event answered 200 must end
up stored, exactly once: handled before the process stops, or kept in the inbox and handled after the next
start (a SIGTERM hands back what it could not handle in ``STARLING_INBOX_DRAIN_SECONDS``; a ``kill -9`` leaves
rows whose lease runs out).
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

from bot.inbox import spool_url
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
        if self.log_file.closed:  # started again after a stop or a kill: same database, a new port (the old one
            # may still be held by the dead process's connections); the givers send to the new one
            self.log_file = tempfile.TemporaryFile()  # noqa: SIM115
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
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
            if self.proc.returncode is not None:
                self.log_file.seek(0)
                tail = self.log_file.read().decode(errors="replace")[-3000:]
                raise AssertionError(f"starling serve exited during start:\n{tail}")
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

    async def kill_9(self) -> None:
        """SIGKILL: nothing runs after it (no drain, no hand-back)."""
        assert self.proc is not None
        self.proc.kill()
        await self.proc.wait()
        self.log_file.close()


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
    return set(stored_list(database_url))


def stored_list(database_url: str) -> list[str]:
    """The message of every kudos row (a kudos stored twice appears twice)."""
    engine = create_engine(to_sync_url(database_url))
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT message_id FROM kudos"))]
    finally:
        engine.dispose()


def waiting_in_inbox(database_url: str) -> int:
    """Rows in the inbox (on SQLite its own file next to the database)."""
    engine = create_engine(spool_url(database_url) or to_sync_url(database_url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM inbox")).scalar_one())
    finally:
        engine.dispose()


async def all_stored(database_url: str, acked: set[str], *, timeout: float = 180) -> None:
    """Poll (with a deadline) until every acknowledged kudos is stored."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while missing := acked - stored(database_url):
        assert loop.time() < deadline, f"{len(missing)} of {len(acked)} acknowledged kudos not stored"
        await asyncio.sleep(0.2)


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
    # A short drain, so that the stop hands events back for sure: they are handled after the next start.
    server = await Serve(any_db_url, slack, STARLING_INBOX_DRAIN_SECONDS="2").start(http)
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
        left = waiting_in_inbox(any_db_url)
        handled_before_stop = len(giver.acked & stored(any_db_url))
        await server.start(http)  # the next start replays what the stop handed back
        await all_stored(any_db_url, giver.acked)
        assert await server.stop() == 0
    finally:
        server.kill()
    assert giver.acked, "nothing was acknowledged"
    kept = stored_list(any_db_url)
    assert len(kept) == len(set(kept)) == len(giver.acked), "a kudos was stored twice"
    assert waiting_in_inbox(any_db_url) == 0
    print(
        f"burst {burst}: acknowledged {len(giver.acked)}, refused {giver.refused}, handled before the stop "
        f"{handled_before_stop}, left in the inbox {left}, all stored once after the restart"
    )


async def test_kill_9_during_a_burst_loses_no_acknowledged_kudos(
    any_db_url: str, slack: SlackWire, http: aiohttp.ClientSession
) -> None:
    slack.delay_next(0.1, times=1_000_000)  # Slack answers every call in 100 ms: a backlog builds up
    # A short lease, so that the restarted process takes the dead one's rows over within seconds.
    server = await Serve(any_db_url, slack, STARLING_INBOX_LEASE_SECONDS="3").start(http)
    giver = Giver(http, slack)
    burst, kill_after = 300, 150
    killed = asyncio.Event()
    try:
        lanes = asyncio.Semaphore(16)
        loop = asyncio.get_running_loop()

        async def one(n: int) -> None:
            async with lanes:
                # Refused while the process is dead: sent again (as Slack would) until the restart acknowledges it.
                await giver.give(server, n, give_up_at=loop.time() + 120)
                if len(giver.acked) >= kill_after and not killed.is_set():
                    killed.set()

        async def killer() -> tuple[int, int, int]:
            await killed.wait()
            await server.kill_9()  # mid-burst: events acknowledged and stored, some being handled, most waiting
            at_kill = (len(giver.acked), len(giver.acked & stored(any_db_url)), waiting_in_inbox(any_db_url))
            await server.start(http)
            return at_kill

        results = await asyncio.gather(killer(), *(one(n) for n in range(burst)))
        acked_at_kill, handled_at_kill, waiting_at_kill = results[0]
        await all_stored(any_db_url, giver.acked)
        assert await server.stop() == 0
    finally:
        server.kill()
    assert len(giver.acked) == burst
    kept = stored_list(any_db_url)
    assert len(kept) == len(set(kept)) == burst, "a kudos was stored twice"
    assert waiting_in_inbox(any_db_url) == 0
    print(
        f"kill -9 after {acked_at_kill} acknowledged: {handled_at_kill} handled, {waiting_at_kill} in the inbox; "
        f"after the restart all {burst} stored once"
    )


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
        kept = stored_list(direct)
        assert len(kept) == len(set(kept)), "a kudos was stored twice"
    finally:
        server.kill()
        if proxy.server is not None:
            await proxy.down()
    assert len(giver.acked) >= 100
    errors = [e for e in slack.texts("chat.postEphemeral") if "nichts gespeichert" in e.lower()]
    assert not errors, errors[:3]
    print(f"outage: acknowledged {len(giver.acked)}, refused {giver.refused}")
