"""The event loop of ``starling serve``: a request's next step runs before the background's.

One event loop serves the HTTP requests (Slack's and Teams' acknowledgements, the web pages, the probes) and runs
the background work (the inbox worker handling acknowledged events, the outbox, the scheduler). asyncio runs its
ready steps first come, first served, so a request that arrives while twenty steps of handling are ready waits
for all of them, once for every step of its own (read, verify, store, answer): at 50 kudos per second its
acknowledgement took twice to three times as long as a bare Bolt app's at the 99th percentile.

:class:`AnswerFirstLoop` keeps a second, short queue for the steps of requests, and whenever the loop takes its
next step, every waiting request step runs first. A request therefore waits for at most the one background step
that is running when it arrives, not for every step that is ready. A request's steps are:

- the reads and writes of a connection that a client opened to this server, and the steps of aiohttp's task that
  reads that connection's requests;
- the steps of the task answering a request (marked by :func:`answer_first` in the application's first
  middleware), and of any task a request's step creates;
- a plain callback a request's step schedules (a future it resolved), and the readiness of a socket a request's
  step began to wait on (the inbox's own PostgreSQL connection, whose commit the acknowledgement waits for).

A background task that a request's step wakes (the inbox worker, told that an event was stored) stays in the
background. And since asyncio counts on the callbacks that one step schedules running in that order (a finished
``sock_connect`` first removes its writer, then wakes the task that connected), a request's step moves the ones
scheduled before it along.

Nothing background is skipped: every step that was ready when an iteration of the loop began still runs in that
iteration (the steps of requests run in addition, between them). And requests go first only while the background
keeps up (``answer_first_middleware``: the inbox holds no more than its worker takes at once). Under overload the
loop serves first come, first served, and the Slack adapter's hold-back (``slack_ack_share``) keeps the handling's
share of the processor: answering first then would only let the backlog grow faster than it is handled.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import threading
import weakref
from asyncio import events
from collections.abc import Callable
from typing import Any

from aiohttp import web

__all__ = ["AnswerFirstLoop", "answer_first", "answer_first_middleware", "new_event_loop"]


def _nothing() -> None:
    return None


class _Ready(collections.deque):  # type: ignore[type-arg]
    """The loop's queue of ready steps, with the requests' steps in a queue of their own (``first``).

    The loop asks for ``len()`` once per iteration and then takes that many steps with ``popleft()``. Each
    ``popleft()`` first runs every waiting request step, then hands over the next background step; so the
    background steps of an iteration all run however many request steps come in between, and a request step
    waits for at most the step that is running. With only request steps waiting, ``popleft()`` runs them and
    hands over a step that is already cancelled (the loop skips it).

    ``siblings``: the background steps the running step has scheduled so far. asyncio counts on the callbacks one
    step schedules running in that order (a finished ``sock_connect`` first removes its writer, then wakes the
    task that connected); when one of them is a request's, the ones before it move along into ``first``."""

    __slots__ = ("first", "siblings", "in_first", "_spent")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.first: collections.deque[events.Handle] = collections.deque()
        self.siblings: list[events.Handle] = []
        self.in_first = False  # the running step is a request's
        self._spent = events.Handle(_nothing, (), loop)
        self._spent.cancel()

    def __len__(self) -> int:
        return super().__len__() + (1 if self.first else 0)

    def __bool__(self) -> bool:
        return bool(self.first) or super().__len__() > 0

    def popleft(self) -> events.Handle:
        first, siblings = self.first, self.siblings
        while first:
            handle = first.popleft()
            if handle._cancelled:
                continue
            siblings.clear()
            self.in_first = True
            try:
                handle._run()
            finally:
                self.in_first = False
        siblings.clear()
        if super().__len__():
            return super().popleft()  # type: ignore[no-any-return]
        return self._spent

    def to_first(self, handle: events.Handle) -> None:
        """``handle`` goes first, after the steps the running step scheduled before it."""
        for sibling in self.siblings:
            with contextlib.suppress(ValueError):
                self.remove(sibling)
                self.first.append(sibling)
        self.siblings.clear()
        self.first.append(handle)

    def clear(self) -> None:
        self.first.clear()
        self.siblings.clear()
        super().clear()


class AnswerFirstLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose request steps go first (see the module's docstring)."""

    def __init__(self, selector: Any = None) -> None:
        super().__init__(selector)
        self._ready: _Ready = _Ready(self)  # type: ignore[assignment]
        self._answering: set[asyncio.Task[Any]] = set()
        # False while the background falls behind (see :func:`answer_first_middleware`): first come, first served
        self.requests_first = True
        self._creating = False
        # what a request's step waits on: a socket it reads or writes (the inbox's own database connection)
        self._first_io: weakref.WeakSet[events.Handle] = weakref.WeakSet()

    def answer_first(self, task: asyncio.Task[Any] | None) -> None:
        """From now until it ends, the steps of ``task`` go before the background's."""
        if task is None or task.done() or task in self._answering:
            return
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    def _call_soon(self, callback: Callable[..., Any], args: Any, context: Any) -> events.Handle:
        if not self.requests_first or threading.get_ident() != self._thread_id:  # type: ignore[attr-defined]
            return super()._call_soon(callback, args, context)  # type: ignore[misc,no-any-return]
        ready = self._ready
        owner = getattr(callback, "__self__", None)
        task = type(owner) is asyncio.Task
        # A request's task, or a plain callback scheduled by a request's step (a future it resolved, a reader its
        # connection adds); another task woken by a request's step is background and waits its turn.
        if (task and (owner in self._answering or self._creating)) or (ready.in_first and not task):
            handle = events.Handle(callback, args, self, context)
            ready.to_first(handle)
            return handle
        handle = super()._call_soon(callback, args, context)  # type: ignore[misc]
        ready.siblings.append(handle)
        return handle  # type: ignore[no-any-return]

    def create_task(self, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        """A task created by a request's step (aiohttp's task that answers a request) is a request's too."""
        if not self._ready.in_first:
            return super().create_task(coro, **kwargs)
        self._creating = True
        try:
            task = super().create_task(coro, **kwargs)
        finally:
            self._creating = False
        self.answer_first(task)
        return task

    def _add_reader(self, fd: Any, callback: Callable[..., Any], *args: Any) -> events.Handle:
        handle = super()._add_reader(fd, callback, *args)  # type: ignore[misc]
        if getattr(self._ready, "in_first", False):  # (the loop's own pipe is added before ``_ready`` is set)
            self._first_io.add(handle)
        return handle  # type: ignore[no-any-return]

    def _add_writer(self, fd: Any, callback: Callable[..., Any], *args: Any) -> events.Handle:
        handle = super()._add_writer(fd, callback, *args)  # type: ignore[misc]
        if getattr(self._ready, "in_first", False):
            self._first_io.add(handle)
        return handle  # type: ignore[no-any-return]

    def _add_callback(self, handle: events.Handle) -> None:
        # A connection a client opened to this server (an accepted socket's transport has ``_server``) has data:
        # the start of a request, or the next part of one; or a socket a request's step waits on is ready.
        if handle._cancelled:
            return
        if not self.requests_first:
            super()._add_callback(handle)  # type: ignore[misc]
            return
        transport = getattr(getattr(handle, "_callback", None), "__self__", None)
        if getattr(transport, "_server", None) is not None:
            # aiohttp: the connection's task, which reads the request and starts the one that answers it
            self.answer_first(getattr(getattr(transport, "_protocol", None), "_task_handler", None))
            self._ready.first.append(handle)
        elif handle in self._first_io:
            self._ready.first.append(handle)
        else:
            super()._add_callback(handle)  # type: ignore[misc]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """``starling serve``'s event loop: :class:`AnswerFirstLoop` where selector loops are the default (Linux,
    macOS), the platform's default elsewhere."""
    if os.name != "posix":
        return asyncio.new_event_loop()
    return AnswerFirstLoop()


def answer_first_middleware(keeping_up: Callable[[], bool]) -> Any:
    """The application's first middleware: every request's steps go before the background's while
    ``keeping_up()`` says the background keeps up with what the requests bring (the inbox holds no more than its
    worker takes at once). While it does not (a burst, an overload), the loop serves first come, first served
    again: answering first would then only let the backlog grow, and the handling keeps its share of the
    processor (with the Slack adapter's own hold-back, ``slack_ack_share``)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        if isinstance(loop, AnswerFirstLoop):
            loop.requests_first = keeping_up()
            if loop.requests_first:
                answer_first(request)
        return await handler(request)  # type: ignore[no-any-return]

    return middleware


def answer_first(request: web.BaseRequest) -> None:
    """Mark the task answering ``request`` (and its connection's task, which reads the next request on a kept-alive
    connection) as a request's, on an :class:`AnswerFirstLoop`; nothing elsewhere."""
    loop = asyncio.get_running_loop()
    if not isinstance(loop, AnswerFirstLoop):
        return
    loop.answer_first(asyncio.current_task())
    protocol = request.protocol
    loop.answer_first(getattr(protocol, "_task_handler", None))
