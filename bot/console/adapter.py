"""The terminal adapter: the real router, handlers and database, driven by lines of text.

Lines are said to the bot as in a direct chat (``kudos @anna danke … #kundenfokus``); a line that starts
with an ``@name`` (``@anna :star: danke …``) or ``/say …`` is said in the channel, to people. Console
commands: ``/as @anna`` switches the acting person (only people of the workspace), ``/channel name`` the
channel, ``/click N`` presses button N of any message shown so far, ``/react N :star:`` reacts to message
(N), ``/delete N`` deletes it, ``/who`` lists people, ``/help``, ``/cancel`` leaves a form, ``exit``.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from bot.app import Starling
from bot.console.demo import member_count, seed_demo
from bot.console.render import render, terminal_safe
from bot.core.events import (
    ActionEvent,
    Actor,
    Conversation,
    Event,
    MessageDeletedEvent,
    MessageEvent,
    Platform,
    ReactionEvent,
)
from bot.core.messages import Form, Message, plain
from storage import core
from storage.db import transaction
from storage.models import Member, Workspace
from storage.outbox import Sendable

WORKSPACE = "console:local"
# ``@anna``, ``@anna.schmidt``, ``@ben-2``; a trailing ``.`` or ``-`` ends the sentence, not the handle.
HANDLE_RE = re.compile(r"(?<![\w<@])@(\w(?:[\w.\-]*\w)?)")


def handles_in(text: str) -> list[str]:
    """The ``@handles`` a person typed, in order, without duplicates."""
    return list(dict.fromkeys(HANDLE_RE.findall(text)))


def replace_handles(text: str, ids: dict[str, str]) -> str:
    """``@handle`` → ``<@id>`` for every handle in ``ids``; everything else stays as typed."""
    return HANDLE_RE.sub(lambda m: f"<@{ids[m.group(1)]}>" if m.group(1) in ids else m.group(0), text)


CHROME: dict[str, dict[str, str]] = {
    "de": {
        "help": """Konsolenbefehle:
  /as @name        als andere Person handeln    /who            alle Personen
  /channel name    in einen Kanal wechseln      /click N        Knopf [N] drücken
  /say text        etwas im Kanal sagen         /react N :star: auf Nachricht (N) reagieren
  /delete N        Nachricht (N) löschen        /cancel         Formular abbrechen
  /help            diese Hilfe                  exit            beenden (auch Strg-D)
Alles andere geht an Starling, z. B.  kudos @anna danke für die Hilfe #kundenfokus
Im Kanal loben:  @anna :star: danke für die Hilfe""",
        "welcome": """Starling-Konsole: du bist @{user} (Admin) im Kanal #{channel}.
Probier:  kudos @anna danke für die Hilfe beim Kundentermin #kundenfokus
Dann:     leaderboard   ·   suggest   ·   hilfe   ·   /as @anna   ·   /help (Konsolenbefehle)
Beenden mit exit oder Strg-D.""",
        "demo": "(Demo-Kolleginnen und -Kollegen geladen: {names})",
        "database": "(Daten: {path}; einen anderen Ort wählt starling --db PFAD)",
        "private": "(privat) ",
        "dm": "→ DM an @{user}:",
        "post": "→ #{channel}:",
        "now_as": "(du bist jetzt @{user})",
        "as_usage": "(so geht's: /as @name, mit einer dieser Personen: {names})",
        "as_unknown": "(@{who} gibt es hier nicht; bekannt sind: {names})",
        "channel_usage": "(so geht's: /channel name, z. B. /channel team; du bist in #{channel})",
        "now_in": "(jetzt in #{channel})",
        "no_button": "(diesen Knopf gibt es nicht: /click N, N wie in [Klammern] gezeigt)",
        "no_message": "(diese Nachricht gibt es nicht: N wie in (Klammern) gezeigt)",
        "react_usage": "(so geht's: /react N :star:  bzw. /unreact N :star:)",
        "deleted": "(Nachricht ({n}) gelöscht)",
        "not_yours": "(nur eigene Nachrichten lassen sich löschen)",
        "said": "({n}) @{user} in #{channel}: {text}",
        "form": "== {title} ==  (leere Zeile überspringt ein optionales Feld; /cancel bricht ab)",
        "optional": " (optional)",
        "yes_no": " [j/n]",
        "yes": "j",
        "pick": "(bitte eine dieser Möglichkeiten: {options})",
        "cancelled": "(Formular abgebrochen, nichts gespeichert)",
        "in_form": "(erst das Formular ausfüllen oder mit /cancel abbrechen)",
        "form_help": "(Formular: Antwort eingeben, leere Zeile überspringt Optionales, /cancel bricht ab)",
    },
    "en": {
        "help": """Console commands:
  /as @name        act as another person        /who            list people
  /channel name    switch channel               /click N        press button [N]
  /say text        say something in the channel /react N :star: react to message (N)
  /delete N        delete message (N)           /cancel         leave a form
  /help            this help                    exit            leave (or Ctrl-D)
Everything else is said to Starling, e.g.  kudos @anna thanks for the help #kundenfokus
Praise in the channel:  @anna :star: thanks for the help""",
        "welcome": """Starling console: you are @{user} (admin) in #{channel}.
Try:   kudos @anna thanks for the help with the customer #kundenfokus
Then:  leaderboard   ·   suggest   ·   help   ·   /as @anna   ·   /help (console commands)
Leave with exit or Ctrl-D.""",
        "demo": "(demo colleagues loaded: {names})",
        "database": "(data: {path}; choose another place with starling --db PATH)",
        "private": "(only you) ",
        "dm": "→ DM to @{user}:",
        "post": "→ #{channel}:",
        "now_as": "(you are now @{user})",
        "as_usage": "(usage: /as @name, one of: {names})",
        "as_unknown": "(there is no @{who} here; known: {names})",
        "channel_usage": "(usage: /channel name, e.g. /channel team; you are in #{channel})",
        "now_in": "(now in #{channel})",
        "no_button": "(no such button: /click N, N as shown in [brackets])",
        "no_message": "(no such message: N as shown in (parentheses))",
        "react_usage": "(usage: /react N :star:  or /unreact N :star:)",
        "deleted": "(message ({n}) deleted)",
        "not_yours": "(you can delete only your own messages)",
        "said": "({n}) @{user} in #{channel}: {text}",
        "form": "== {title} ==  (an empty line skips an optional field; /cancel leaves)",
        "optional": " (optional)",
        "yes_no": " [y/n]",
        "yes": "y",
        "pick": "(please one of: {options})",
        "cancelled": "(form cancelled, nothing saved)",
        "in_form": "(fill in the form first, or leave it with /cancel)",
        "form_help": "(form: type the answer, an empty line skips optional fields, /cancel leaves)",
    },
}
CONSOLE_HELP = CHROME["de"]["help"]
CHANNEL_REF_RE = re.compile(r"<#([A-Za-z0-9_.:@;\-]+)(?:\|([^>]*))?>")
YES = ("y", "yes", "j", "ja", "true", "1", "x")


@dataclass
class Shown:
    """A message printed with a number, so that it can be reacted to or deleted."""

    channel: str
    message_id: str
    author: str | None  # the person who wrote it; None for Starling's own posts


class ConsoleAdapter:
    platform = Platform.CONSOLE

    def __init__(self, starling: Starling, *, write: Callable[[str], None] | None = None, user: str = "max") -> None:
        self.starling = starling
        self.user = user
        self.channel = "general"
        self.write = write or (lambda s: print(s, flush=True))  # noqa: T201 - the terminal is our output
        self.chrome = CHROME.get(starling.settings.default_locale, CHROME["en"])
        # Every button shown so far, numbered in the order printed: (label, action_id, value).
        self.buttons: list[tuple[str, str, str]] = []
        self.shown: list[Shown] = []  # numbered messages (people's lines, Starling's channel posts)
        self._form: Form | None = None
        self._form_values: dict[str, str] = {}
        self._form_index = 0
        self._names_now: dict[str, str] | None = None  # display names while one event is shown

    def say(self, key: str, **values: object) -> str:
        return self.chrome[key].format(**values)

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
                    names = "max, anna, ben, clara, deniz, emma, felix, greta"
                    self.write(self.say("demo", names=names))
        self.write(self.say("welcome", user=self.user, channel=self.channel))

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

    async def _members(self) -> list[Member]:
        async with self.starling.sessions() as session:
            stmt = select(Member).where(Member.workspace_id == WORKSPACE, Member.is_bot == False)  # noqa: E712
            return list((await session.execute(stmt)).scalars().all())

    async def _names(self) -> dict[str, str]:
        return {m.user_id: (m.display_name or m.user_id) for m in await self._members()}

    async def to_neutral(self, text: str) -> str:
        """``@anna`` → ``<@anna>`` by handle, id or display name; unknown names become ids as typed."""
        async with self.starling.sessions() as session:
            return await self._to_neutral_in(session, text)

    async def _to_neutral_in(self, session: AsyncSession, text: str) -> str:
        text = await self._full_names(session, text)
        ids: dict[str, str] = {}
        for handle in handles_in(text):
            m = await core.find_member_by_name(session, workspace_id=WORKSPACE, name=handle)
            ids[handle] = m.user_id if m else handle.lower()
        return replace_handles(text, ids)

    async def _full_names(self, session: AsyncSession, text: str) -> str:
        """``@Anna Schmidt`` (a display name with spaces, as Starling prints it) → ``<@anna>``."""
        if "@" not in text:
            return text
        rows = (await session.execute(select(Member).where(Member.workspace_id == WORKSPACE))).scalars().all()
        for m in sorted(rows, key=lambda r: -len(r.display_name or "")):
            name = m.display_name or ""
            if " " in name:
                text = re.sub(rf"(?<![\w<@])@{re.escape(name)}(?!\w)", f"<@{m.user_id}>", text, flags=re.I)
        return text

    # lines -------------------------------------------------------------------------------------------
    async def handle_line(self, line: str) -> bool:
        """Process one line; False when the user asked to leave."""
        line = line.rstrip("\n")
        stripped = line.strip()
        if self._form is not None:
            if stripped.startswith("/") or stripped.lower() in ("exit", "quit", "abbrechen", "cancel"):
                if stripped.lower() in ("/cancel", "/abbrechen", "abbrechen", "cancel", "exit", "quit", "/exit"):
                    self._form = None
                    self.write(self.say("cancelled"))
                elif stripped == "/help":
                    self.write(self.say("form_help"))
                    self._ask()
                else:
                    self.write(self.say("in_form"))
                    self._ask()
                return True
            await self._form_answer(line)
            return True
        if not stripped:
            return True
        if stripped in ("exit", "quit", "/exit", "/quit"):
            return False
        word, _, rest = stripped.partition(" ")
        rest = rest.strip()
        if word == "/as":
            await self._switch_person(rest)
            return True
        if word == "/channel":
            if not rest:
                self.write(self.say("channel_usage", channel=self.channel))
            else:
                self.channel = rest.split()[0].lstrip("#")
                self.write(self.say("now_in", channel=self.channel))
            return True
        if stripped == "/who":
            members = await self._members()
            self.write(
                "\n".join(f"@{m.user_id}  {m.display_name or ''}" for m in sorted(members, key=lambda m: m.user_id))
            )
            return True
        if stripped == "/help":
            self.write(self.say("help"))
            return True
        if word == "/click":
            await self._click(stripped)
            return True
        if word in ("/react", "/unreact"):
            await self._react(rest, added=word == "/react")
            return True
        if word == "/delete":
            await self._delete(rest)
            return True
        if word == "/say" or stripped.startswith("@"):
            await self._say_in_channel(rest if word == "/say" else stripped)
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

    async def _switch_person(self, who: str) -> None:
        members = await self._members()
        known = ", ".join("@" + m.user_id for m in sorted(members, key=lambda m: m.user_id))
        if not who:
            self.write(self.say("as_usage", names=known))
            return
        async with self.starling.sessions() as session:
            m = await core.find_member_by_name(session, workspace_id=WORKSPACE, name=who.lstrip("@"))
        if m is None or m.is_bot:
            self.write(self.say("as_unknown", who=who.lstrip("@"), names=known))
            return
        self.user = m.user_id
        self.write(self.say("now_as", user=self.user))

    async def _say_in_channel(self, text: str) -> None:
        """A line said in the channel, to people (not a command): numbered, so it can get reactions."""
        if not text:
            return
        async with self.starling.sessions() as session:
            actor = await self._actor_in(session)
            neutral = await self._to_neutral_in(session, text)
        self.shown.append(Shown(self.channel, f"console-line-{len(self.shown) + 1}", self.user))
        number = len(self.shown)
        self.write(self.say("said", n=number, user=self.user, channel=self.channel, text=text))
        event = MessageEvent(
            actor=actor,
            conversation=Conversation(id=self.channel, kind="channel", name=self.channel),
            text=neutral,
            message_id=self.shown[-1].message_id,
            addressed=False,
        )
        await self.send_event(event)

    def _numbered(self, arg: str) -> tuple[int, Shown] | None:
        first = arg.split()[0] if arg.split() else ""
        n = int(first.strip("()")) if first.strip("()").isdigit() else 0
        if not 1 <= n <= len(self.shown):
            self.write(self.say("no_message"))
            return None
        return n, self.shown[n - 1]

    async def _react(self, rest: str, *, added: bool) -> None:
        parts = rest.split()
        if len(parts) != 2 or not re.fullmatch(r":[\w+\-]+:", parts[1]):
            self.write(self.say("react_usage"))
            return
        found = self._numbered(parts[0])
        if found is None:
            return
        _n, shown = found
        await self.send_event(
            ReactionEvent(
                actor=await self._actor(),
                conversation=Conversation(id=shown.channel, kind="channel", name=shown.channel),
                emoji=parts[1].strip(":"),
                added=added,
                message_id=shown.message_id,
                item_author_id=shown.author,
            )
        )

    async def _delete(self, rest: str) -> None:
        found = self._numbered(rest)
        if found is None:
            return
        n, shown = found
        if shown.author != self.user:
            self.write(self.say("not_yours"))
            return
        await self.send_event(
            MessageDeletedEvent(
                actor=await self._actor(),
                conversation=Conversation(id=shown.channel, kind="channel", name=shown.channel),
                message_id=shown.message_id,
            )
        )
        self.write(self.say("deleted", n=n))

    async def _chrome_of(self, user_id: str, spoken: str | None = None) -> dict[str, str]:
        """The console's own words in a person's language (as spoken in the event, their own, else the
        workspace's)."""
        if spoken:
            return CHROME.get(spoken[:2], CHROME["en"])
        async with self.starling.sessions() as session:
            member = await core.get_member(session, workspace_id=WORKSPACE, user_id=user_id)
            workspace = await session.get(Workspace, WORKSPACE)
        locale = (member.locale if member and member.locale else None) or (workspace.locale if workspace else "")
        return CHROME.get((locale or self.starling.settings.default_locale)[:2], CHROME["en"])

    async def _pick_chrome(self, event: Event) -> None:
        self.chrome = await self._chrome_of(event.actor.user_id, event.actor.locale)

    async def send_event(self, event: Event) -> None:
        messages = await self.starling.dispatch(event)
        await self._pick_chrome(event)
        self._names_now = await self._names()
        try:
            await self.show(messages)
            await self.starling.outbox.drain()
        finally:
            self._names_now = None

    async def _current_names(self) -> dict[str, str]:
        return self._names_now if self._names_now is not None else await self._names()

    def _render(self, message: Message, names: dict[str, str]) -> str:
        out = render(message, lambda uid: names.get(uid, uid), buttons=self.buttons)
        return CHANNEL_REF_RE.sub(lambda m: "#" + (m.group(2) or m.group(1)), out)

    async def show(self, messages: list[Message]) -> None:
        names = await self._current_names()
        for msg in messages:
            if msg.target.kind == "modal":
                form = next((b for b in msg.blocks if isinstance(b, Form)), None)
                if form is not None:
                    self._open_form(form)
                continue
            prefix = self.say("private") if msg.target.kind == "ephemeral" else ""
            self.write(prefix + self._render(msg, names) + self._files(msg))

    def _files(self, message: Message) -> str:
        """Attachments are written to a private temporary folder; the terminal shows their paths."""
        lines = []
        for att in message.attachments:
            folder = Path(tempfile.mkdtemp(prefix="starling-"))
            path = folder / Path(att.filename).name
            path.write_bytes(att.content())
            lines.append(f"\n  📎 {att.filename}: {path}")
        return "".join(lines)

    async def _click(self, stripped: str) -> None:
        parts = stripped.split()
        number = parts[1].strip("[]") if len(parts) == 2 else ""
        if not number.isdigit() or not 1 <= int(number) <= len(self.buttons):
            self.write(self.say("no_button"))
            return
        _label, action_id, value = self.buttons[int(number) - 1]
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
        self.write(self.say("form", title=_shown(form.title)))
        self._ask()

    def _ask(self) -> None:
        assert self._form is not None
        field = self._form.inputs[self._form_index]
        extra = ""
        if field.options:
            extra = " [" + ", ".join(f"{i}={_shown(o.label)}" for i, o in enumerate(field.options, 1)) + "]"
        if field.type == "checkbox":
            extra = self.say("yes_no")
        self.write(f"{_shown(field.label)}{'' if field.required else self.say('optional')}{extra}:")

    def _option(self, field: object, value: str) -> str | None:
        """A choice typed as its number, its key or its label (any case); None if it is none of them."""
        options = getattr(field, "options", None) or []
        low = value.strip().lower()
        for i, o in enumerate(options, 1):
            if low in (str(i), o.value.lower(), plain(o.label).lower()):
                return str(o.value)
        return None

    async def _form_answer(self, line: str) -> None:
        assert self._form is not None
        field = self._form.inputs[self._form_index]
        value = line.strip()
        if field.type == "checkbox":
            value = "true" if value.lower() in YES else ""
        elif field.options and value:
            chosen = self._option(field, value)
            if chosen is None:
                self.write(self.say("pick", options=", ".join(_shown(o.label) for o in field.options)))
                self._ask()
                return  # the answers so far stay; only this field is asked again
            value = chosen
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
    async def send(self, row: Sendable, message: Message) -> str | None:
        names = await self._current_names()
        if row.target_kind == "dm":
            where = (await self._chrome_of(row.target_id))["dm"].format(user=row.target_id)
        else:
            self.shown.append(Shown(row.target_id, f"console-{row.id}", None))
            where = f"({len(self.shown)}) " + self.say("post", channel=row.target_id)
        self.write(f"{where}\n" + self._render(message, names) + self._files(message))
        return f"console-{row.id}"

    # loop --------------------------------------------------------------------------------------------
    async def run(self, lines: AsyncIterator[str]) -> None:
        async for line in lines:
            handling = asyncio.ensure_future(self.handle_line(line))
            try:
                keep_going = await asyncio.shield(handling)
            except asyncio.CancelledError:
                # Ctrl-C while a line is handled: its transaction ends whole (nothing half-written, no connection
                # cancelled in its rollback), then the console ends
                await asyncio.gather(handling, return_exceptions=True)
                raise
            if not keep_going:
                break


async def stdin_lines(stream: TextIO = sys.stdin) -> AsyncIterator[str]:
    """Lines from the terminal, read by a daemon thread: Ctrl-C ends the console at once instead of waiting for
    a line that may never come. At a terminal the thread reads through ``readline`` (arrow keys edit the line
    and walk the history, Ctrl-L clears the screen) instead of printing their escape codes, and it asks for
    the next line only when the console wants one, so the prompt comes after Starling's answer."""
    import asyncio
    import contextlib
    import threading

    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()
    wanted = threading.Event()
    interactive = stream.isatty() and stream is sys.stdin
    if interactive:
        with contextlib.suppress(ImportError):  # Windows without pyreadline: plain input()
            import readline  # noqa: F401 - importing it gives input() line editing and history

    def read() -> None:
        while True:
            wanted.wait()
            wanted.clear()
            if interactive:
                try:
                    line = input("> ") + "\n"
                except EOFError:
                    line = ""
            else:
                line = stream.readline()
            try:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            except RuntimeError:  # the console has ended and its loop is closed
                return
            if not line:
                return

    threading.Thread(target=read, name="console-stdin", daemon=True).start()
    while True:
        wanted.set()
        line = await lines.get()
        if not line:
            return
        yield line


def _shown(text: str) -> str:
    """A form's title, label or choice in the terminal: as typed, without control characters."""
    return terminal_safe(plain(text))
