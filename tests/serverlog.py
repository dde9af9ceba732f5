"""The server's log as text, the way ``starling serve`` writes it (``bot.logging.configure``), for assertions:
no traceback, no line longer than the cap, nothing of a refused body beyond a short excerpt."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from bot.logging import configure


class ServerLog:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def assert_clean(self, *, max_line: int = 1500) -> None:
        """No traceback and every line short (a refused body never fills the log)."""
        text = self.text
        if "Traceback" in text:
            start = text.rfind("\n", 0, text.index("Traceback") - 1)
            block = text[start:].split("\n20", 2)  # up to the next timestamped line
            raise AssertionError("traceback in the server log:\n" + block[0][:600] + "\n…\n" + block[1][-2500:])
        long = [line[:200] for line in self.lines if len(line) > max_line]
        assert not long, long


@contextmanager
def server_log(level: str = "INFO") -> Iterator[ServerLog]:
    """Route structlog and the standard logging (Bolt, botbuilder, aiohttp) into one captured stream."""
    import sys

    saved_handlers, saved_level, saved_config = logging.root.handlers[:], logging.root.level, structlog.get_config()
    stream = io.StringIO()
    saved_stderr = sys.stderr
    sys.stderr = stream  # configure() binds the stream it finds
    try:
        configure(level)
    finally:
        sys.stderr = saved_stderr
    try:
        yield ServerLog(stream)
    finally:
        logging.root.handlers[:] = saved_handlers
        logging.root.setLevel(saved_level)
        structlog.configure(**saved_config)
