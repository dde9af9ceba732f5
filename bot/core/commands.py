"""Commands and their subcommands, declared once: names in English and German, typed arguments, help keys
and the feature each belongs to. The router resolves and parses them; help is generated from them.

A command is registered on the router and returns a :class:`Command`; its subcommands are declared on it::

    kudos = router.command("kudos", aliases=("lob", "danke"), help_key="kudos.help.short", feature="kudos")

    @kudos.sub("leaderboard", de="rangliste", aliases=("top",), feature="leaderboards",
               args=(Arg.period("period", optional=True), Arg.value("value", optional=True)),
               help_key="kudos.help.sub.leaderboard")
    async def leaderboard(ctx: Context) -> None:
        period = ctx.params.get("period", "month")   # already canonical: week, month, quarter, year, all

    @kudos.fallback   # words that are no subcommand: ``kudos <@U1> danke #kunde``
    async def give(ctx: Context) -> None: ...

Arguments are recognised by their shape, so optional ones may come in any order; ``text`` takes the rest of
the line as typed. A word no argument accepts, or a missing required one, is refused with the
subcommand's usage (or with its own ``error_key``), before the handler runs.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from rapidfuzz import fuzz

if TYPE_CHECKING:
    from bot.core.context import Context
    from bot.core.i18n import Translator
    from bot.core.messages import Block

Handler = Callable[["Context"], Awaitable[None]]
F = TypeVar("F", bound=Handler)
Intro = Callable[["Context"], Awaitable[list["Block"]]]
HELP_WORDS = ("help", "hilfe", "?")

USER_RE = re.compile(r"^<@([A-Za-z0-9_.:\-]+)>$")
CHANNEL_RE = re.compile(r"^<#([A-Za-z0-9_.:\-]+)(?:\|[^>]*)?>$")
VALUE_RE = re.compile(r"^#([^\W_][\w\-]{0,39})$", re.UNICODE)
NUMBER_RE = re.compile(r"^#?(\d{1,12})$")

PERIODS: Mapping[str, str] = {
    "week": "week",
    "woche": "week",
    "month": "month",
    "monat": "month",
    "quarter": "quarter",
    "quartal": "quarter",
    "year": "year",
    "jahr": "year",
    "all": "all",
    "alle": "all",
    "alltime": "all",
    "gesamt": "all",
    "immer": "all",
}


class Kind(StrEnum):
    USER = "user"  # a mention token <@U…> → the user id
    CHANNEL = "channel"  # a channel token <#C…> → the channel id
    VALUE = "value"  # a company value #tag → the tag (without #), lower case
    PERIOD = "period"  # week/woche, month/monat, … → week, month, quarter, year, all
    NUMBER = "number"  # 12 or #12 → 12
    CHOICE = "choice"  # one word of a fixed set (aliases in both languages) → its canonical word
    KEYED = "keyed"  # prefix:value (e.g. dept:Support) → the value as typed
    WORD = "word"  # any one word, as typed
    TEXT = "text"  # the rest of the line, as typed


@dataclass(frozen=True)
class Arg:
    """One typed argument of a subcommand. ``help_key`` names it in usage lines (else its name)."""

    name: str
    kind: Kind
    optional: bool = False
    choices: Mapping[str, str] = field(default_factory=dict)
    prefixes: tuple[str, ...] = ()
    many: bool = False  # users: every mention; others: every matching word (a list)
    label_key: str | None = None  # how usage lines name it (else by its kind)

    @classmethod
    def user(cls, name: str = "user", *, optional: bool = False, many: bool = False) -> Arg:
        return cls(name, Kind.USER, optional, many=many)

    @classmethod
    def channel(cls, name: str = "channel", *, optional: bool = False) -> Arg:
        return cls(name, Kind.CHANNEL, optional)

    @classmethod
    def value(cls, name: str = "value", *, optional: bool = False) -> Arg:
        return cls(name, Kind.VALUE, optional)

    @classmethod
    def period(cls, name: str = "period", *, optional: bool = False) -> Arg:
        return cls(name, Kind.PERIOD, optional, choices=PERIODS)

    @classmethod
    def number(cls, name: str = "number", *, optional: bool = False) -> Arg:
        return cls(name, Kind.NUMBER, optional)

    @classmethod
    def choice(
        cls,
        name: str,
        choices: Mapping[str, str],
        *,
        optional: bool = False,
        many: bool = False,
        label_key: str | None = None,
    ) -> Arg:
        """One of ``choices`` (every spelling → its meaning); ``label_key`` shows them in the reader's language."""
        choices = {k.lower(): v for k, v in choices.items()}
        return cls(name, Kind.CHOICE, optional, choices=choices, many=many, label_key=label_key)

    @classmethod
    def keyed(cls, name: str, prefixes: Sequence[str], *, optional: bool = False) -> Arg:
        return cls(name, Kind.KEYED, optional, prefixes=tuple(p.lower() for p in prefixes))

    @classmethod
    def word(cls, name: str, *, optional: bool = False, many: bool = False, label_key: str | None = None) -> Arg:
        return cls(name, Kind.WORD, optional, many=many, label_key=label_key)

    @classmethod
    def text(cls, name: str = "text", *, optional: bool = False, label_key: str | None = None) -> Arg:
        return cls(name, Kind.TEXT, optional, label_key=label_key)

    def accept(self, word: str) -> Any | None:
        """The parsed value of ``word``, or None when it does not have this argument's shape."""
        low = word.lower()
        if self.kind is Kind.USER:
            m = USER_RE.match(word)
            return m.group(1) if m else None
        if self.kind is Kind.CHANNEL:
            m = CHANNEL_RE.match(word)
            return m.group(1) if m else None
        if self.kind is Kind.VALUE:
            m = VALUE_RE.match(word)
            return m.group(1).lower() if m else None
        if self.kind is Kind.NUMBER:
            m = NUMBER_RE.match(word)
            return int(m.group(1)) if m else None
        if self.kind in (Kind.PERIOD, Kind.CHOICE):
            return self.choices.get(low)
        if self.kind is Kind.KEYED:
            head, sep, tail = word.partition(":")
            return tail if sep and head.lower() in self.prefixes and tail else None
        return word  # WORD

    def usage(self, t: Translator) -> str:
        key = f"core.arg.{self.kind.value}"
        if self.label_key:
            shown = t(self.label_key)
        elif self.kind is Kind.CHOICE:
            shown = "|".join(dict.fromkeys(self.choices.values()))
        elif self.kind is Kind.KEYED:
            shown = f"{self.prefixes[0]}:…" if self.prefixes else self.name
        elif self.kind is Kind.WORD:
            shown = self.name
        else:
            shown = t(key)
        if self.many:
            shown += " …"
        # no angle brackets: Slack reads <…> as a link or a mention
        return f"[{shown}]" if self.optional else shown


class ArgError(Exception):
    """The words do not fit the declared arguments (the router answers with the usage)."""

    def __init__(self, word: str | None) -> None:
        super().__init__(word or "")
        self.word = word


def parse_args(args: Sequence[Arg], text: str) -> dict[str, Any]:
    """Assign the words of ``text`` to ``args`` by shape; a ``text`` argument takes the rest as typed."""
    params: dict[str, Any] = {}
    rest = text.strip()
    text_arg = next((a for a in args if a.kind is Kind.TEXT), None)
    shaped = [a for a in args if a.kind is not Kind.TEXT]
    while rest:
        word, _, after = rest.partition(" ")
        target = None
        for arg in shaped:
            if arg.name in params and not arg.many:
                continue
            value = arg.accept(word)
            if value is not None:
                target = (arg, value)
                break
        if target is None:
            if text_arg is None:
                raise ArgError(word)
            params[text_arg.name] = rest
            rest = ""
            break
        arg, value = target
        if arg.many:
            params.setdefault(arg.name, []).append(value)
        else:
            params[arg.name] = value
        rest = after.strip()
    for arg in args:
        if arg.name not in params and not arg.optional:
            raise ArgError(None)
    return params


@dataclass
class Sub:
    """A declared subcommand. ``name`` is the English word, ``de`` the German one; both always work."""

    name: str
    handler: Handler
    feature: str
    de: str | None = None
    aliases: tuple[str, ...] = ()
    args: tuple[Arg, ...] = ()
    help_key: str | None = None
    admin: bool = False
    hidden: bool = False
    error_key: str | None = None  # a refusal of its own for words that do not fit (gets ``usage``)
    loose: bool = False  # words that do not fit go to the command's fallback (missing ones too, without error_key)

    @property
    def words(self) -> tuple[str, ...]:
        return (self.name, *((self.de,) if self.de else ()), *self.aliases)

    def word_for(self, t: Translator) -> str:
        return self.de if t.lang == "de" and self.de else self.name

    def usage(self, command: str, t: Translator) -> str:
        return " ".join([command, self.word_for(t), *(a.usage(t) for a in self.args)])


@dataclass
class Command:
    """A registered command. Without subcommands its handler gets the whole line; with them the first word
    chooses one, no words run ``default``, and other words go to the ``fallback`` (or get a "did you mean")."""

    name: str
    feature: str
    handler: Handler | None = None
    aliases: tuple[str, ...] = ()
    help_key: str | None = None
    intro: Intro | None = None  # the feature's own explanation, shown above the generated subcommand list
    title_key: str | None = None  # the help's title (else "Help: <command>")
    admin: bool = False
    hidden: bool = False
    default: str | None = None  # the subcommand run without words
    fallback_handler: Handler | None = None
    fallback_feature: str | None = None
    fallback_help_key: str | None = None
    fallback_usage_key: str | None = None
    fallback_requires: Arg | None = None  # words without such an argument are a mistyped subcommand, if close
    subs: list[Sub] = field(default_factory=list)
    help_handler: Handler | None = None  # the generated help, declared as ``help`` with the first subcommand
    _words: dict[str, Sub] = field(default_factory=dict)

    def __call__(self, fn: F) -> F:
        """``@router.command(...)`` on a function: the handler for a command without subcommands."""
        self.handler = fn
        return fn

    def sub(
        self,
        name: str,
        *,
        feature: str | None = None,
        de: str | None = None,
        aliases: Sequence[str] = (),
        args: Sequence[Arg] = (),
        help_key: str | None = None,
        admin: bool = False,
        hidden: bool = False,
        error_key: str | None = None,
        loose: bool = False,
    ) -> Callable[[F], F]:
        """Declare a subcommand; ``feature`` defaults to the command's. ``loose``: a line whose words do not
        fit the arguments is no use of this subcommand but text for the command's fallback."""

        def deco(fn: F) -> F:
            spec = Sub(
                name,
                fn,
                feature or self.feature,
                de,
                tuple(aliases),
                tuple(args),
                help_key,
                admin,
                hidden,
                error_key,
                loose,
            )
            if sum(a.kind is Kind.TEXT for a in spec.args) > 1:
                raise ValueError(f"{self.name} {name}: at most one text argument")
            for word in spec.words:
                if word.lower() in self._words:
                    raise ValueError(f"{self.name} {word!r} declared twice")
                self._words[word.lower()] = spec
            self.subs.append(spec)
            if self.help_handler is not None and "help" not in self._words:
                self.sub("help", de="hilfe", aliases=("?",), feature="help", help_key="core.help.sub")(
                    self.help_handler
                )
            return fn

        return deco

    def fallback(
        self,
        fn: F | None = None,
        *,
        feature: str | None = None,
        help_key: str | None = None,
        usage_key: str | None = None,
        requires: Arg | None = None,
    ) -> Any:
        """The handler for words that are no subcommand (e.g. ``kudos <@U1> danke``); it gets the whole line.

        ``requires``: words holding no such argument (``kudos ranglste``) get "did you mean" when they are
        close to a subcommand, instead of the fallback."""

        def deco(f: F) -> F:
            self.fallback_requires = requires
            self.fallback_handler = f
            self.fallback_feature = feature or self.feature
            self.fallback_help_key = help_key
            self.fallback_usage_key = usage_key
            return f

        return deco(fn) if fn is not None else deco

    def resolve(self, word: str) -> Sub | None:
        return self._words.get(word.lower())

    def closest(self, word: str, t: Translator, limit: int = 2) -> list[str]:
        """The subcommands closest to a mistyped ``word`` (by any of their words), named in the reader's language."""
        best: dict[str, tuple[float, Sub]] = {}
        for w, sub in self._words.items():
            if sub.hidden:
                continue
            score = fuzz.ratio(word.lower(), w)
            if score >= 60 and score > best.get(sub.name, (0.0, sub))[0]:
                best[sub.name] = (score, sub)
        ranked = sorted(best.values(), key=lambda pair: -pair[0])[:limit]
        return [sub.word_for(t) for _, sub in ranked]
