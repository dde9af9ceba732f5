"""The test kit's fake Slack Web API or Bot Connector in its own process, so it does not share a core's
event loop with the load generator. ``python -m bench.fakeserver slack --users 600`` prints
``READY <url>`` and serves until its stdin closes."""

from __future__ import annotations

import argparse
import asyncio
import sys

from tests.fakes import FakeBotConnector, FakeSlackAPI

TOKEN = "xoxb-test-token"


def slack_user(i: int) -> str:
    return f"U{i:05d}"


async def serve(kind: str, users: int) -> None:
    server: FakeSlackAPI | FakeBotConnector
    if kind == "slack":
        server = FakeSlackAPI(tokens=(TOKEN,))
        for i in range(users):
            server.add_user(slack_user(i), f"p{i}", real_name=f"Person {i}")
    else:
        server = FakeBotConnector()
        team = "19:8j-Mnacwmq2QFDbzykeQH5v55m6cN1X3QJ5viHvGIIQ1@thread.tacv2"
        for i in range(users):
            server.add_member(team, f"29:bench-user-{i:05d}", f"Person {i}", f"00000000-0000-0000-0000-{i:012d}")
    await server.start()
    print(f"READY {server.url}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fakeserver")
    parser.add_argument("kind", choices=["slack", "teams"])
    parser.add_argument("--users", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.kind, args.users))


if __name__ == "__main__":
    main()
