"""The terminal adapter: the real router, handlers and database, driven by lines of text.

Lines are said to the bot as in a direct chat (``kudos @anna danke … #kundenfokus``). Console
commands: ``/as @anna`` switches the acting person, ``/channel name`` the channel, ``/click N``
presses a button, ``/who`` lists people, ``/help`` and ``exit``.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from bot.app import Starling
from bot.console.demo import member_count, seed_demo
from bot.console.render import render
from bot.core.events import ActionEvent, Actor, Conversation, Event, MessageEvent, Platform
from bot.core.messages import Form, Message
from storage import core
from storage.db import transaction
from storage.models import Member, OutboxMessage

WORKSPACE = "console:local"
# ``@anna``, ``@anna.schmidt``, ``@ben-2``; a trailing ``.`` or ``-`` ends the sentence, not the handle.
HANDLE_RE = re.compile(r"(?<![\w<@])@(\w(?:[\w.\-]*\w)?)")


def handles_in(text: str) -> list[str]:
    """The ``@handles`` a person typed, in order, without duplicates."""
    return list(dict.fromkeys(HANDLE_RE.findall(text)))


def replace_handles(text: str, ids: dict[str, str]) -> str:
    """``@handle`` → ``<@id>`` for every handle in ``ids``; everything else stays as typed."""
    return HANDLE_RE.sub(lambda m: f"<@{ids[m.group(1)]}>" if m.group(1) in ids else m.group(0), text)


CONSOLE_HELP = """Console commands:
  /as @name        act as another person        /who         list people
  /channel name    switch channel               /click N     press button N
  /help            this help                     exit         leave
Everything else is said to Starling, e.g.  kudos @anna danke für die Hilfe #kundenfokus"""


class ConsoleAdapter:
    platform = Platform.CONSOLE

    def __init__(self, starling: Starling, *, write: Callable[[str], None] | None = None, user: str = "max") -> None:
        self.starling = starling
        self.user = user
        self.channel = "general"
        self.write = write or (lambda s: print(s, flush=True))  # noqa: T201 - the terminal is our output
        self.buttons: list[tuple[str, str, str]] = []
        self._form: Form | None = None
        self._form_values: dict[str, str] = {}
        self._form_index = 0
        self._names_now: dict[str, str] | None = None  # display names while one event is shown

    # setup -------------------------------------------------------------------------------------------
    async def start(self, *, demo: bool = False) -> None:
        async with transaction(self.starling.sessions) as session:
            await core.ensure_workspace(
                session,
                workspace_id=WORKSPACE,
                platform="console",
                locale=self.starling.settings.default_locale,
                timezone=self.starling.settings.default_timezone,
                name="Console",
            )
            if demo or await member_count(session, workspace_id=WORKSPACE) == 0:
                seeded = await seed_demo(session, workspace_id=WORKSPACE, now=self.starling.services.clock())
                if seeded:
                    self.write("(demo colleagues loaded: max, anna, ben, clara, deniz, emma, felix, greta)")
        self.write(f"Starling console — you are @{self.user} in #{self.channel}. Type /help for console commands.")

    # identity ----------------------------------------------------------------------------------------
    async def _actor(self) -> Actor:
        async with self.starling.sessions() as session:
            return await self._actor_in(session)

    async def _actor_in(self, session: AsyncSession) -> Actor:
        m = await core.get_member(session, workspace_id=WORKSPACE, user_id=self.user)
        return Actor(
            platform=Platform.CONSOLE,
            workspace_id=WORKSPACE,
            user_id=self.user,
            display_name=(m.display_name if m else self.user),
            is_admin=bool(m and m.is_admin) or self.user == "max",
        )

    async def _names(self) -> dict[str, str]:
        async with self.starling.sessions() as session:
            rows = (await session.execute(select(Member).where(Member.workspace_id == WORKSPACE))).scalars().all()
        return {m.user_id: (m.display_name or m.user_id) for m in rows}

    async def to_neutral(self, text: str) -> str:
        """``@anna`` → ``<@anna>`` by handle, id or display name; unknown names become ids as typed."""
        async with self.starling.sessions() as session:
            return await self._to_neutral_in(session, text)

    async def _to_neutral_in(self, session: AsyncSession, text: str) -> str:
        ids: dict[str, str] = {}
        for handle in handles_in(text):
            m = await core.find_member_by_name(session, workspace_id=WORKSPACE, name=handle)
            ids[handle] = m.user_id if m else handle.lower()
        return replace_handles(text, ids)

    # lines -------------------------------------------------------------------------------------------
    async def handle_line(self, line: str) -> bool:
        """Process one line; False when the user asked to leave."""
        line = line.rstrip("\n")
        if self._form is not None:
            await self._form_answer(line)
            return True
        stripped = line.strip()
        if not stripped:
            return True
        if stripped in ("exit", "quit", "/exit", "/quit"):
            return False
        if stripped.startswith("/as "):
            who = stripped[4:].strip().lstrip("@")
            async with self.starling.sessions() as session:
                m = await core.find_member_by_name(session, workspace_id=WORKSPACE, name=who)
            self.user = m.user_id if m else who.lower()
            self.write(f"(you are now @{self.user})")
            return True
        if stripped.startswith("/channel "):
            self.channel = stripped.split(None, 1)[1].lstrip("#")
            self.write(f"(now in #{self.channel})")
            return True
        if stripped == "/who":
            names = await self._names()
            self.write("\n".join(f"@{uid}  {name}" for uid, name in sorted(names.items())))
            return True
        if stripped == "/help":
            self.write(CONSOLE_HELP)
            return True
        if stripped.startswith("/click"):
            await self._click(stripped)
            return True
        async with self.starling.sessions() as session:
            actor = await self._actor_in(session)
            text = await self._to_neutral_in(session, stripped)
        event = MessageEvent(
            actor=actor,
            conversation=Conversation(id=self.channel, kind="channel", name=self.channel),
            text=text,
            addressed=True,
        )
        await self.send_event(event)
        return True

    async def send_event(self, event: Event) -> None:
        messages = await self.starling.dispatch(event)
        self._names_now = await self._names()
        try:
            await self.show(messages)
            await self.starling.outbox.drain()
        finally:
            self._names_now = None

    async def _current_names(self) -> dict[str, str]:
        return self._names_now if self._names_now is not None else await self._names()

    async def show(self, messages: list[Message]) -> None:
        names = await self._current_names()
        for msg in messages:
            if msg.target.kind == "modal":
                form = next((b for b in msg.blocks if isinstance(b, Form)), None)
                if form is not None:
                    self._open_form(form)
                continue
            prefix = "(only you) " if msg.target.kind == "ephemeral" else ""
            self.write(
                prefix + render(msg, lambda uid: names.get(uid, uid), buttons=self._fresh_buttons()) + self._files(msg)
            )

    def _files(self, message: Message) -> str:
        """Attachments are written to a private temporary folder; the terminal shows their paths."""
        lines = []
        for att in message.attachments:
            folder = Path(tempfile.mkdtemp(prefix="starling-"))
            path = folder / Path(att.filename).name
            path.write_bytes(att.content())
            lines.append(f"\n  📎 {att.filename}: {path}")
        return "".join(lines)

    def _fresh_buttons(self) -> list[tuple[str, str, str]]:
        self.buttons = []
        return self.buttons

    async def _click(self, stripped: str) -> None:
        parts = stripped.split()
        if len(parts) != 2 or not parts[1].isdigit() or not 1 <= int(parts[1]) <= len(self.buttons):
            self.write("(no such button: /click N, N as shown in [brackets])")
            return
        _label, action_id, value = self.buttons[int(parts[1]) - 1]
        await self.send_event(
            ActionEvent(
                actor=await self._actor(),
                conversation=Conversation(id=self.channel, kind="channel"),
                action_id=action_id,
                value=value,
            )
        )

    # forms ---------------------------------------------------------------------------------------------
    def _open_form(self, form: Form) -> None:
        self._form, self._form_values, self._form_index = form, {}, 0
        self.write(f"== {form.title} ==  (empty line skips an optional field)")
        self._ask()

    def _ask(self) -> None:
        assert self._form is not None
        field = self._form.inputs[self._form_index]
        extra = ""
        if field.options:
            extra = " [" + ", ".join(f"{o.value}={o.label}" for o in field.options) + "]"
        if field.type == "checkbox":
            extra = " [y/n]"
        self.write(f"{field.label}{'' if field.required else ' (optional)'}{extra}:")

    async def _form_answer(self, line: str) -> None:
        assert self._form is not None
        field = self._form.inputs[self._form_index]
        value = line.strip()
        if field.type == "checkbox":
            value = "true" if value.lower() in ("y", "yes", "j", "ja", "true", "1") else ""
        self._form_values[field.id] = value
        self._form_index += 1
        if self._form_index < len(self._form.inputs):
            self._ask()
            return
        form, values = self._form, self._form_values
        self._form = None
        await self.send_event(
            ActionEvent(
                actor=await self._actor(),
                conversation=Conversation(id=self.channel, kind="channel"),
                action_id=form.action_id,
                value=form.private_metadata,
                form=values,
                is_form=True,
            )
        )

    # outbox sender -----------------------------------------------------------------------------------
    async def send(self, row: OutboxMessage, message: Message) -> str | None:
        names = await self._current_names()
        where = f"DM to @{row.target_id}" if row.target_kind == "dm" else f"#{row.target_id}"
        self.write(f"→ {where}:\n" + render(message, lambda uid: names.get(uid, uid)) + self._files(message))
        return f"console-{row.id}"

    # loop --------------------------------------------------------------------------------------------
    async def run(self, lines: AsyncIterator[str]) -> None:
        async for line in lines:
            if not await self.handle_line(line):
                break


async def stdin_lines(stream: TextIO = sys.stdin) -> AsyncIterator[str]:
    """Lines from the terminal, read by a daemon thread: Ctrl-C ends the console at once instead of waiting for
    a line that may never come."""
    import asyncio
    import threading

    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        while True:
            line = stream.readline()
            try:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            except RuntimeError:  # the console has ended and its loop is closed
                return
            if not line:
                return

    interactive = stream.isatty()
    threading.Thread(target=read, name="console-stdin", daemon=True).start()
    while True:
        if interactive:
            sys.stderr.write("> ")
            sys.stderr.flush()
        line = await lines.get()
        if not line:
            return
        yield line
