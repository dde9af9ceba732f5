"""``starling serve``'s event loop: a request's steps go before the background's, and nothing else changes.

Each scenario runs a real aiohttp server on 127.0.0.1 (with the application's first middleware, as
``starling serve`` mounts it) and real HTTP clients, beside background tasks that are always ready, as the
inbox and outbox workers are under load. What is counted is steps, not time: how many background steps ran
while a request was being answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from bot.eventloop import AnswerFirstLoop, answer_first_middleware, new_event_loop

BACKGROUND_TASKS = 20
REQUEST_STEPS = 5  # awaits in a request's handler


def run_on(loop_factory: Callable[[], asyncio.AbstractEventLoop], scenario: Callable[[], Awaitable[Any]]) -> Any:
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(scenario())


class Background:
    """Tasks that are always ready (each step counts and yields), as busy workers are."""

    def __init__(self, tasks: int = BACKGROUND_TASKS) -> None:
        self.steps = 0
        self.order: list[int] = []
        self._n = tasks
        self._stop = False
        self._tasks: list[asyncio.Task[None]] = []

    async def _work(self, i: int) -> None:
        while not self._stop:
            self.steps += 1
            if len(self.order) < 10_000:
                self.order.append(i)
            await asyncio.sleep(0)

    async def __aenter__(self) -> Background:
        self._tasks = [asyncio.get_running_loop().create_task(self._work(i)) for i in range(self._n)]
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop = True
        await asyncio.gather(*self._tasks)


async def serving(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


async def background_steps_per_request(*, keep_alive: bool, keeping_up: bool = True) -> list[int]:
    """For 30 requests: how many background steps ran between the handler's first and last step."""
    background = Background()

    async def handler(_request: web.Request) -> web.Response:
        before = background.steps
        for _ in range(REQUEST_STEPS):
            await asyncio.sleep(0)
        return web.json_response({"background_steps": background.steps - before})

    app = web.Application(middlewares=[answer_first_middleware(lambda: keeping_up)])
    app.router.add_get("/", handler)
    runner, url = await serving(app)
    seen: list[int] = []
    try:
        connector = aiohttp.TCPConnector(force_close=not keep_alive)
        async with Background() as background, aiohttp.ClientSession(connector=connector) as http:
            for _ in range(30):
                async with http.get(url + "/") as resp:
                    assert resp.status == 200
                    seen.append((await resp.json())["background_steps"])
            assert background.steps > 1000  # the background kept running throughout
    finally:
        await runner.cleanup()
    return seen


def test_a_request_is_answered_before_the_ready_background_steps_run() -> None:
    for keep_alive in (True, False):  # the next request on a kept connection, and a new connection each time
        seen = run_on(AnswerFirstLoop, lambda k=keep_alive: background_steps_per_request(keep_alive=k))
        assert max(seen) <= 1, (keep_alive, seen)


def test_on_asyncios_own_loop_the_same_request_waits_for_every_ready_step() -> None:
    """The scenario above can tell the two apart: first come, first served, each of the request's own steps
    waits for a step of every background task."""
    seen = run_on(asyncio.new_event_loop, lambda: background_steps_per_request(keep_alive=True))
    assert min(seen) >= REQUEST_STEPS * BACKGROUND_TASKS - BACKGROUND_TASKS, seen


def test_while_the_background_falls_behind_requests_wait_their_turn() -> None:
    """Answering first only while the background keeps up: behind (a backlog), a request waits for the ready
    background steps as on asyncio's own loop, so the handling keeps its share under overload."""
    seen = run_on(AnswerFirstLoop, lambda: background_steps_per_request(keep_alive=True, keeping_up=False))
    assert min(seen) >= REQUEST_STEPS * BACKGROUND_TASKS - BACKGROUND_TASKS, seen


def test_serve_uses_the_answer_first_loop_on_posix() -> None:
    loop = new_event_loop()
    try:
        assert isinstance(loop, AnswerFirstLoop)
    finally:
        loop.close()


class CountingLoop(AnswerFirstLoop):
    def __init__(self) -> None:
        super().__init__()
        self.turns = 0

    def _run_once(self) -> None:
        self.turns += 1
        super()._run_once()  # type: ignore[misc]


async def outbound_calls_then_idle() -> tuple[int, int]:
    """Requests whose handler opens a new outbound connection each (as the Slack client does), while the
    background runs; then the loop's turns in 0.3 s with nothing to do."""
    upstream = web.Application()

    async def pong(_request: web.Request) -> web.Response:
        return web.Response(text="pong")

    upstream.router.add_get("/", pong)
    up_runner, up_url = await serving(upstream)

    async def handler(_request: web.Request) -> web.Response:
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as out,
            out.get(up_url + "/") as resp,
        ):
            return web.Response(text=await resp.text())

    app = web.Application(middlewares=[answer_first_middleware(lambda: True)])
    app.router.add_get("/", handler)
    runner, url = await serving(app)
    answered = 0
    try:
        async with Background(), aiohttp.ClientSession() as http:
            for _ in range(20):
                async with http.get(url + "/") as resp:
                    answered += (await resp.text()) == "pong"
        loop = asyncio.get_running_loop()
        assert isinstance(loop, CountingLoop)
        await asyncio.sleep(0.05)
        before = loop.turns
        await asyncio.sleep(0.3)
        idle_turns = loop.turns - before
    finally:
        await runner.cleanup()
        await up_runner.cleanup()
    return answered, idle_turns


def test_outbound_connections_from_a_request_leave_the_loop_quiet() -> None:
    """asyncio counts on the callbacks one step schedules running in that order: a finished connect removes its
    socket's writer before the task that connected goes on. Were the task moved ahead of that removal, the
    writer would stay and the loop would turn without pause (a core at 100 %) from then on."""
    answered, idle_turns = run_on(CountingLoop, outbound_calls_then_idle)
    assert answered == 20
    assert idle_turns < 50, idle_turns


async def background_order_while_requests_come() -> tuple[list[int], int]:
    async def handler(_request: web.Request) -> web.Response:
        for _ in range(REQUEST_STEPS):
            await asyncio.sleep(0)
        return web.Response(text="ok")

    app = web.Application(middlewares=[answer_first_middleware(lambda: True)])
    app.router.add_get("/", handler)
    runner, url = await serving(app)
    try:
        async with Background(tasks=3) as background, aiohttp.ClientSession() as http:

            async def client() -> int:
                ok = 0
                for _ in range(40):
                    async with http.get(url + "/") as resp:
                        ok += resp.status == 200
                return ok

            answered = sum(await asyncio.gather(*(client() for _ in range(4))))
            order = list(background.order)
    finally:
        await runner.cleanup()
    return order, answered


def test_background_steps_keep_their_order_between_requests() -> None:
    """Requests go between background steps, never reorder them: three always-ready tasks take turns 0, 1, 2,
    0, 1, 2, ... however many requests are answered meanwhile."""
    order, answered = run_on(AnswerFirstLoop, background_order_while_requests_come)
    assert answered == 160
    assert len(order) > 300
    assert order == [i % 3 for i in range(len(order))]


async def callbacks_seen_by_requests() -> list[list[str]]:
    """Each request waits for a future that a background task resolves; a plain callback was added to that future
    before the request's task began to wait. What had the callback done when the request's task went on?"""
    pending: list[asyncio.Future[None]] = []
    stop = False

    async def resolver() -> None:
        while not stop:
            while pending:
                pending.pop(0).set_result(None)
            await asyncio.sleep(0)

    async def handler(_request: web.Request) -> web.Response:
        effects: list[str] = []
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda _f: effects.append("callback"))
        pending.append(fut)
        await fut
        return web.json_response(list(effects))

    app = web.Application(middlewares=[answer_first_middleware(lambda: True)])
    app.router.add_get("/", handler)
    runner, url = await serving(app)
    seen: list[list[str]] = []
    task = asyncio.get_running_loop().create_task(resolver())
    try:
        async with Background(), aiohttp.ClientSession() as http:
            for _ in range(20):
                async with http.get(url + "/") as resp:
                    seen.append(await resp.json())
    finally:
        stop = True
        await task
        await runner.cleanup()
    return seen


def test_a_futures_callbacks_still_run_in_the_order_they_were_added() -> None:
    """A request's task is woken ahead of the background, but never ahead of a callback that the same moment
    scheduled before it (asyncio's own code depends on that order)."""
    seen = run_on(AnswerFirstLoop, callbacks_seen_by_requests)
    assert seen == [["callback"]] * 20
