"""``starling serve``: the web server's probes and metrics, its wiring, and the command line."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import structlog
from structlog.testing import capture_logs

from bot.app import Starling
from bot.cli import build_parser, default_command, main
from bot.scheduler import SchedulerService
from bot.settings import Settings
from bot.web import ConfigurationError, WebServer, serve
from tests.kit import Clock
from tests.slack.wire import SECRET, TOKEN, SlackWire, Testbed


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_health_readiness_and_metrics(testbed: Testbed) -> None:
    assert testbed.http is not None
    async with testbed.http.get(testbed.url + "/healthz") as resp:
        assert resp.status == 200 and (await resp.json()) == {"status": "ok"}
    async with testbed.http.get(testbed.url + "/readyz") as resp:
        assert resp.status == 200 and (await resp.json())["database"] == "ok"
    async with testbed.http.get(testbed.url + "/metrics") as resp:
        before = _sample(await resp.text(), "starling_events_total", platform="slack", kind="command")
    await testbed.command("help")
    await testbed.settle()
    async with testbed.http.get(testbed.url + "/metrics") as resp:
        assert resp.headers["Content-Type"].startswith("text/plain")
        after = _sample(await resp.text(), "starling_events_total", platform="slack", kind="command")
    assert after == before + 1


async def test_readiness_fails_when_the_database_is_gone(fake: SlackWire, clock: Clock, tmp_path: Path) -> None:
    from tests.kit import sqlite_url

    url = sqlite_url(tmp_path)
    bed = await Testbed(fake, url, clock).start()
    try:
        Path(url.removeprefix("sqlite:///")).unlink()
        (tmp_path / "starling.db").mkdir()  # the path is now unusable as a database
        assert bed.http is not None
        async with bed.http.get(bed.url + "/readyz") as resp:
            assert resp.status == 503
        async with bed.http.get(bed.url + "/healthz") as resp:
            assert resp.status == 200
    finally:
        await bed.close()


def test_slack_token_without_a_way_to_verify_requests_is_refused(db_url: str) -> None:
    settings = Settings(database_url=db_url, slack_bot_token=TOKEN, slack_signing_secret=None, _env_file=None)  # type: ignore[call-arg]
    starling = Starling(settings, run_migrations=False)
    with pytest.raises(ConfigurationError, match="SLACK_SIGNING_SECRET"):
        WebServer(starling, port=0)


async def test_serve_starts_and_stops_the_scheduler(fake: SlackWire, db_url: str, clock: Clock) -> None:
    bed = Testbed(fake, db_url, clock)
    bed.server.run_scheduler = True
    await bed.start()
    service = bed.server.scheduler
    assert isinstance(service, SchedulerService)
    assert service.scheduler.running  # APScheduler ticks every minute
    deadline = asyncio.get_running_loop().time() + 30
    while service.ticks < 1:  # the catch-up tick at start
        assert asyncio.get_running_loop().time() < deadline, "no catch-up tick"
        await asyncio.sleep(0.02)
    await bed.close()
    assert not service.scheduler.running
    assert bed.server.scheduler is None

    quiet = Testbed(fake, db_url, clock)  # scheduler=False, as `--no-scheduler`
    await quiet.start()
    assert quiet.server.scheduler is None
    await quiet.close()


def test_serve_command_line() -> None:
    args = build_parser().parse_args(["serve", "--port", "8081", "--no-scheduler"])
    assert (args.command, args.port, args.no_scheduler) == ("serve", 8081, True)
    args = build_parser().parse_args(["serve"])
    assert (args.port, args.no_scheduler) == (None, False)


def test_no_arguments_serve_when_credentials_are_set(db_url: str) -> None:
    parser = build_parser()
    with_slack = Settings(database_url=db_url, slack_bot_token=TOKEN, _env_file=None)  # type: ignore[call-arg]
    without = Settings(database_url=db_url, slack_bot_token=None, teams_app_id=None, _env_file=None)  # type: ignore[call-arg]
    assert default_command(with_slack) == "serve"
    assert default_command(without) == "console"
    assert parser.parse_args([default_command(with_slack)]).no_scheduler is False


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """``main()`` configures logging for the process; put the test session's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.usefixtures("restore_logging")
def test_serve_refuses_a_token_it_cannot_verify_requests_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in (
        "SLACK_SIGNING_SECRET",
        "STARLING_SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "STARLING_SLACK_APP_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("STARLING_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.chdir(tmp_path)
    assert main(["serve", "--port", "0"]) == 2
    assert "SLACK_SIGNING_SECRET" in capsys.readouterr().err


async def test_serve_runs_until_sigterm(fake: SlackWire, tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'serve.db'}",
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=fake.api_url,
        host="127.0.0.1",
        _env_file=None,
    )
    with capture_logs() as logs:
        task = asyncio.create_task(serve(settings, port=0, scheduler=False))
        async with asyncio.timeout(30):
            while not any(entry["event"] == "serving" for entry in logs):
                assert not task.done(), task.exception()
                await asyncio.sleep(0.02)
    port = next(entry["port"] for entry in logs if entry["event"] == "serving")
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/readyz") as resp:
        assert resp.status == 200
    os.kill(os.getpid(), signal.SIGTERM)
    async with asyncio.timeout(10):
        await task
    with pytest.raises(aiohttp.ClientConnectorError):
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz"):
            pass


def test_one_server_hosts_slack_and_teams(db_url: str) -> None:
    settings = Settings(  # type: ignore[call-arg]
        database_url=db_url,
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        teams_app_id="11111111-2222-3333-4444-555555555555",
        teams_app_password="a-client-secret",
        _env_file=None,
    )
    server = WebServer(Starling(settings, run_migrations=False), port=0)
    paths = {(r.method, r.resource.canonical) for r in server.app.router.routes() if r.resource is not None}
    assert {("POST", "/slack/events"), ("POST", "/api/messages"), ("GET", "/healthz"), ("GET", "/metrics")} <= paths
