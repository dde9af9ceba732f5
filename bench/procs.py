"""Processes under test: spawn, wait until ready, read memory, stop. Everything binds 127.0.0.1."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp

from bench.core import NotAvailable

ROOT = Path(__file__).resolve().parent.parent
SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Resident set size of a process (VmRSS from /proc/<pid>/status) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Proc:
    """A child process with its output kept in a log file (shown when it fails)."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None, stdin: bool = False) -> None:
        self.name = name
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"starling-bench-{name}-{os.getpid()}.log"
        self._log = self.log_path.open("w")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            list(argv),
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdin else self._log,
            stderr=self._log,
            text=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def wait_http(self, url: str, timeout: float = 60.0) -> float:
        """Poll ``url`` until it answers 200; returns seconds since the process was spawned."""
        deadline = time.perf_counter() + timeout
        async with aiohttp.ClientSession() as http:
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                        if resp.status == 200:
                            return time.perf_counter() - self.started
                await asyncio.sleep(0.01)
        raise RuntimeError(f"{self.name} not ready at {url} after {timeout:.0f} s:\n{self.log_tail()}")

    async def read_line(self, prefix: str, timeout: float = 60.0) -> str:
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            line = await asyncio.wait_for(
                asyncio.to_thread(stdout.readline), timeout=max(deadline - time.perf_counter(), 0.1)
            )
            if not line:
                raise RuntimeError(f"{self.name} exited before saying {prefix!r}:\n{self.log_tail()}")
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        raise RuntimeError(f"{self.name} did not say {prefix!r} in {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            if self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


_FAKES: dict[str, tuple[Proc, str]] = {}
FAKE_USERS = 440  # receivers and givers every benchmark draws from


@contextlib.asynccontextmanager
async def fake_server(kind: str, users: int = FAKE_USERS) -> AsyncIterator[str]:
    """The fake Slack Web API (``slack``) or Bot Connector (``teams``) in a child process; yields its URL.

    One process per kind serves the whole run (started on first use, stopped at exit)."""
    if users > FAKE_USERS:
        raise ValueError(f"at most {FAKE_USERS} fake users")
    running = _FAKES.get(kind)
    if running is None or running[0].proc.poll() is not None:
        argv = [sys.executable, "-m", "bench.fakeserver", kind, "--users", str(FAKE_USERS)]
        proc = Proc(f"fake-{kind}", argv, stdin=True)
        try:
            url = await proc.read_line("READY ")
        except BaseException:
            proc.stop()
            raise
        _FAKES[kind] = running = (proc, url)
    yield running[1]


@atexit.register
def stop_fakes() -> None:
    for proc, _url in _FAKES.values():
        proc.stop()
    _FAKES.clear()


def serve_options() -> set[str]:
    """Option strings the ``starling serve`` subcommand accepts (it is growing as features land)."""
    from bot.cli import build_parser

    parser = build_parser()
    for action in parser._actions:
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict) and "serve" in choices:
            return {opt for a in choices["serve"]._actions for opt in a.option_strings}
    raise NotAvailable("not available yet: `starling serve` missing")


def slack_env(database_url: str, slack_url: str, port: int) -> dict[str, str]:
    return {
        "STARLING_DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "STARLING_SLACK_API_URL": slack_url + "/api/",
        "STARLING_HOST": "127.0.0.1",
        "STARLING_PORT": str(port),
        "STARLING_LOG_LEVEL": "WARNING",
        "STARLING_ENVIRONMENT": "dev",
    }


def starling_argv(port: int, extra: Sequence[str] = ()) -> list[str]:
    options = serve_options()
    argv = [sys.executable, "-m", "bot.cli", "serve"]
    if "--port" in options:
        argv += ["--port", str(port)]
    if "--host" in options:
        argv += ["--host", "127.0.0.1"]
    return argv + list(extra)


@contextlib.asynccontextmanager
async def starling_serve(env: dict[str, str], port: int, extra: Sequence[str] = ()) -> AsyncIterator[Proc]:
    """``starling serve`` on 127.0.0.1:``port``, ready when /readyz answers 200."""
    proc = Proc("starling-serve", starling_argv(port, extra), env=env)
    try:
        proc.ready_seconds = await proc.wait_http(f"http://127.0.0.1:{port}/readyz")  # type: ignore[attr-defined]
        yield proc
    finally:
        proc.stop()


@contextlib.asynccontextmanager
async def floor_server(kind: str, env: dict[str, str], port: int) -> AsyncIterator[Proc]:
    proc = Proc(f"floor-{kind}", [sys.executable, "-m", "bench.floors", kind, "--port", str(port)], env=env)
    try:
        proc.ready_seconds = await proc.wait_http(f"http://127.0.0.1:{port}/readyz")  # type: ignore[attr-defined]
        yield proc
    finally:
        proc.stop()
