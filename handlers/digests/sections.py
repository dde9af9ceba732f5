"""The digest is a list of sections; any feature can add one.

A feature registers a section provider once, e.g. in its ``register(router)``::

    from handlers.digests.sections import DigestScope, register_section

    async def my_section(scope: DigestScope) -> list[Block]:
        ...  # query scope.session for [scope.start, scope.end); respect scope.group_ok / scope.names_allowed
        return [Section(text=title), BarList(rows=rows)]  # texts through scope.t, in the reader's language

    register_section("my-feature", my_section, order=60)

Sections are shown in ``order`` (kudos 10–30, prompts 40, suggestions 50, see ``feature_sections``); a
section that returns no blocks is left out, and one that fails is logged and left out without stopping
the digest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.i18n import Translator
from bot.core.messages import Block
from handlers.privacy_rules import min_group_ok, names_allowed
from storage.models import Workspace


@dataclass
class DigestScope:
    """What a section describes: one workspace (and channel) over ``[start, end)``, in the reader's language."""

    session: AsyncSession
    workspace: Workspace
    channel_id: str
    start: datetime
    end: datetime
    t: Translator
    now: datetime
    preview: bool = False
    services: Any = None
    memo: dict[str, Any] = field(default_factory=dict)  # sections share work here (e.g. the week's kudos)
    min_size: int = 5  # the workspace's minimum group size (storage.privacy.min_group_size)

    def group_ok(self, people: int) -> bool:
        """The one minimum-group-size rule: True if a figure about ``people`` persons may be shown."""
        return min_group_ok(people, self.min_size)

    @property
    def names_allowed(self) -> bool:
        """False in the works-council profile: no names, no per-person figures."""
        return names_allowed(self.workspace)


SectionFn = Callable[[DigestScope], Awaitable[list[Block]]]


@dataclass(frozen=True)
class DigestSection:
    name: str
    build: SectionFn
    order: int = 100


_SECTIONS: dict[str, DigestSection] = {}


def register_section(name: str, build: SectionFn, *, order: int = 100) -> None:
    """Add (or replace) the section ``name``; registering the same name again is harmless."""
    _SECTIONS[name] = DigestSection(name, build, order)


def digest_section(name: str, *, order: int = 100) -> Callable[[SectionFn], SectionFn]:
    """Decorator form of :func:`register_section`."""

    def deco(fn: SectionFn) -> SectionFn:
        register_section(name, fn, order=order)
        return fn

    return deco


def sections() -> list[DigestSection]:
    return sorted(_SECTIONS.values(), key=lambda s: (s.order, s.name))
