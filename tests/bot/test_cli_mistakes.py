"""Every configuration or usage mistake of ``starling`` is one line naming the problem and the fix, exit code
2, no traceback (unless ``--debug``); Ctrl-C ends the console at once with a goodbye. Through the real CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kit import postgres_admin_url

STARLING = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[2]
SECRET_TAIL = "7hP-u6_BCQK9c09ctPPflA"


def run(tmp_path: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    base.setdefault("STARLING_DATABASE_URL", f"sqlite:///{tmp_path}/starling.db")
    return subprocess.run(
        [*STARLING, *args], cwd=tmp_path, env={**base, **env}, input=stdin, capture_output=True, text=True, timeout=240
    )


def one_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [x for x in result.stderr.splitlines() if x.startswith("starling: ")]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://root@localhost/starling", ["mysql", "STARLING_DATABASE_URL"]),
        ("not a url", ["not a database URL", "STARLING_DATABASE_URL"]),
        (
            "sqlite:////nonexistent/folder/starling.db",
            ["/nonexistent/folder", "does not exist", "STARLING_DATABASE_URL"],
        ),
        ("sqlite:////proc/starling.db", ["/proc/starling.db", "not writable", "STARLING_DATABASE_URL"]),
        ("postgresql://postgres@127.0.0.1:9/starling", ["127.0.0.1:9", "STARLING_DATABASE_URL"]),
    ],
    ids=["mysql", "malformed", "missing_folder", "unwritable", "unreachable"],
)
def test_database_url_mistakes(tmp_path: Path, url: str, words: list[str]) -> None:
    one_line(run(tmp_path, "migrate", STARLING_DATABASE_URL=url), *words)


def test_a_missing_postgresql_database(tmp_path: Path) -> None:
    admin = postgres_admin_url()
    if not admin:
        pytest.skip("PostgreSQL tests need STARLING_TEST_POSTGRES_URL")
    url = admin.rsplit("/", 1)[0] + "/starling_does_not_exist_here"
    one_line(run(tmp_path, "migrate", STARLING_DATABASE_URL=url), "starling_does_not_exist_here", "createdb")


def test_a_default_data_folder_that_cannot_be_created(tmp_path: Path) -> None:
    """No database chosen, and the per-user data folder cannot be made (a read-only home, a container's /)."""
    result = run(tmp_path, "migrate", STARLING_DATABASE_URL="", STARLING_DATA_DIR="/proc/starling-data")
    one_line(result, "/proc/starling-data", "STARLING_DATA_DIR", "STARLING_DATABASE_URL")
    result = run(tmp_path, "migrate", STARLING_DATABASE_URL="", HOME="/proc", XDG_DATA_HOME="")
    one_line(result, "/proc/", "STARLING_DATA_DIR")


def test_outbox_on_a_fresh_database_leaves_no_file(tmp_path: Path) -> None:
    one_line(run(tmp_path, "outbox"), "no Starling database", "starling migrate")
    assert not (tmp_path / "starling.db").exists()


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"PORT": "abc"}, ["PORT:", "integer"]),
        ({"STARLING_PORT": "abc"}, ["STARLING_PORT:"]),
        ({"STARLING_DEFAULT_LOCALE": "fr"}, ["STARLING_DEFAULT_LOCALE"]),
        ({"STARLING_DEFAULT_TIMEZONE": "Mars/Olympus"}, ["STARLING_DEFAULT_TIMEZONE", "Europe/Berlin"]),
        ({"STARLING_ENVIRONMENT": "prod"}, ["STARLING_ENVIRONMENT", "production"]),
    ],
    ids=["PORT", "STARLING_PORT", "locale", "timezone", "environment"],
)
def test_configuration_mistakes_name_the_variable_that_was_set(
    tmp_path: Path, env: dict[str, str], words: list[str]
) -> None:
    line = one_line(run(tmp_path, "serve", **env), *words)
    if "PORT" in env:
        assert "STARLING_PORT" not in line


@pytest.mark.parametrize("placeholder", ["change_me", "dummy", "test", "x", "xoxb-your-token", "changeme"])
def test_placeholder_secrets_are_refused_in_production_without_printing_any_secret(
    tmp_path: Path, placeholder: str
) -> None:
    result = run(
        tmp_path,
        "serve",
        STARLING_ENVIRONMENT="production",
        SLACK_BOT_TOKEN="xoxb-2143658709-1029384756123-QwErTyUiOpAsDfGhJkLzXcVb",
        SLACK_SIGNING_SECRET=placeholder,
        OPENAI_API_KEY="sk-proj-Zq81nW4kLm0vXy2" + SECRET_TAIL,
    )
    one_line(result, "SLACK_SIGNING_SECRET", "placeholder")
    assert SECRET_TAIL not in result.stderr + result.stdout
    assert "QwErTyUiOp" not in result.stderr + result.stdout and "input_value" not in result.stderr


def test_port_out_of_range_and_port_in_use(tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "local-secret"}
    one_line(run(tmp_path, "serve", "--port", "99999", **env), "--port 99999", "65535")
    busy = socket.socket()
    busy.bind(("0.0.0.0", 0))
    busy.listen()
    try:
        port = str(busy.getsockname()[1])
        one_line(run(tmp_path, "serve", "--port", port, **env), "in use", "--port")
    finally:
        busy.close()


def test_out_may_be_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    result = run(
        tmp_path,
        "teams-package",
        "--out",
        str(folder),
        "--domain",
        "starling.example.com",
        "--bot-id",
        "0b5a6f6e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
    )
    assert result.returncode == 0, result.stderr
    assert (folder / "teams-app.zip").is_file()
    result = run(tmp_path, "console", stdin="help\n")  # the console creates the workspace the sheet is about
    assert result.returncode == 0, result.stderr
    result = run(tmp_path, "privacy-sheet", "--out", str(folder))
    assert result.returncode == 0, result.stderr
    assert (folder / "privacy-sheet.md").read_text(encoding="utf-8").strip()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run(tmp_path, "--debug", "migrate", STARLING_DATABASE_URL="sqlite:////proc/starling.db")
    assert result.returncode != 0 and "Traceback" in result.stderr


def start_console(tmp_path: Path, *, block_ctrl_c: bool = False) -> subprocess.Popen[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "STARLING_DATABASE_URL": f"sqlite:///{tmp_path}/starling.db",
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [*STARLING, "console"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # some supervisors start programs with SIGINT blocked, and a blocked signal stays blocked across exec
        preexec_fn=(lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})) if block_ctrl_c else None,
    )


@pytest.fixture
def consoles() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def read_until(console: subprocess.Popen[str], wanted: str) -> str:
    assert console.stdout is not None
    seen = ""
    deadline = time.monotonic() + 180
    while wanted not in seen:
        assert time.monotonic() < deadline, seen
        line = console.stdout.readline()
        assert line, seen
        seen += line
    return seen


def ctrl_c_and_the_rest(console: subprocess.Popen[str]) -> str:
    """Ctrl-C with nothing more typed: stdin stays open, as at a terminal (``communicate`` would close it,
    and the end of input alone also ends the console)."""
    assert console.stdout is not None
    console.send_signal(signal.SIGINT)
    try:
        console.wait(timeout=60)
    except subprocess.TimeoutExpired:
        console.kill()
        pytest.fail("the console was still running 60 s after Ctrl-C: " + console.communicate()[0][-2000:])
    rest = console.stdout.read()
    assert console.returncode in (0, 130), rest
    return rest


def test_ctrl_c_ends_the_console_at_once_with_a_goodbye(tmp_path: Path, consoles: list[subprocess.Popen[str]]) -> None:
    consoles.append(console := start_console(tmp_path))
    assert console.stdin is not None
    seen = read_until(console, "Beenden mit exit")  # the start is over: it waits for the first line
    console.stdin.write("hilfe\n")
    console.stdin.flush()
    seen += read_until(console, "Was Starling kann")  # it answered: it is waiting for the next line
    rest = ctrl_c_and_the_rest(console)
    assert "Bye" in rest, seen + rest
    assert "Traceback" not in seen + rest and "CancelledError" not in rest and "never retrieved" not in rest, rest


@pytest.mark.parametrize("block_ctrl_c", [False, True], ids=["while-starting", "started-with-sigint-blocked"])
def test_ctrl_c_while_the_console_is_still_starting_ends_it_too(
    tmp_path: Path, consoles: list[subprocess.Popen[str]], block_ctrl_c: bool
) -> None:
    consoles.append(console := start_console(tmp_path, block_ctrl_c=block_ctrl_c))
    seen = read_until(console, "(Daten: ")  # its first line: the database is being opened, the demo loaded
    rest = ctrl_c_and_the_rest(console)
    assert "Bye" in rest, seen + rest
    assert "Traceback" not in seen + rest and "CancelledError" not in rest and "never retrieved" not in rest, rest
