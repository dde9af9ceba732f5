"""The boundary at ``/api/messages``: unreadable bodies get 400 (415/413), unverified ones 401, each one short
log line; nothing refused is stored or answered; never a 500 and never a traceback, on both databases."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.fakes import FakeBotConnector
from tests.serverlog import ServerLog, server_log
from tests.teams.conftest import ANNA, TeamsClient, _running
from tests.teams.test_auth import keys, member_joined, secured, token  # noqa: F401 - fixtures

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def log() -> Iterator[ServerLog]:
    with server_log() as captured:
        yield captured


@pytest.fixture
async def local(log: ServerLog, any_db_url: str, connector: FakeBotConnector) -> AsyncIterator[TeamsClient]:
    async for client in _running(any_db_url, connector):
        yield client


async def post_raw(client: TeamsClient, body: bytes, headers: dict[str, str] | None = None) -> int:
    async with client.http.post(client.url, data=body, headers=headers or JSON) as resp:
        return resp.status


async def nothing_done(client: TeamsClient) -> None:
    assert await client.references() == []
    assert await client.kudos() == []
    assert client.connector.requests == []


UNREADABLE = {
    "truncated": b'{"type": "message", "conversation": {',
    "utf8": b'{"type": "message", "text": "\xff\xfe"}',
    "deep": b"[" * 10_000 + b"]" * 10_000,
    "deep_object": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "list": b"[1, 2]",
    "number": b"42",
    "nan": b'{"type": "message", "x": NaN}',
}


@pytest.mark.parametrize("name", list(UNREADABLE))
async def test_unreadable_bodies_get_400_and_one_short_line(local: TeamsClient, log: ServerLog, name: str) -> None:
    assert await post_raw(local, UNREADABLE[name]) == 400
    await nothing_done(local)
    assert len([x for x in log.lines if "request_refused" in x]) == 1
    log.assert_clean(max_line=600)


def mutated(client: TeamsClient, change: Any) -> dict[str, Any]:
    activity = copy.deepcopy(client.personal_message("kudos <at>Anna</at> danke"))
    change(activity)
    return activity


WRONG_SHAPES = {
    "conversation_list": lambda a: a.update(conversation=[1, 2]),
    "from_string": lambda a: a.update({"from": "someone"}),
    "entities_object": lambda a: a.update(entities={"type": "mention"}),
    "long_user_id": lambda a: a["from"].update(id="29:" + "x" * 130),
    "nul_text": lambda a: a.update(text="kudos\x00"),
    "nul_conversation": lambda a: a["conversation"].update(id="a:\x00"),
    "tenant_too_long": lambda a: a["conversation"].update(tenantId="t" * 200),
    "timestamp_number": lambda a: a.update(timestamp=5),
    "timestamp_garbage": lambda a: a.update(timestamp="not a time"),
    "members_strings": lambda a: a.update(membersAdded=["x"]),
}


@pytest.mark.parametrize("name", list(WRONG_SHAPES))
async def test_activities_of_the_wrong_shape_get_400_on_both_databases(
    local: TeamsClient, log: ServerLog, name: str
) -> None:
    status, _ = await local.post(mutated(local, WRONG_SHAPES[name]))
    assert status == 400
    await nothing_done(local)
    log.assert_clean()


async def test_a_personal_chat_kudos_is_stored_on_both_databases(local: TeamsClient, log: ServerLog) -> None:
    assert (await local.post(local.channel_message("stats", sender=ANNA)))[0] == 201  # Anna is known
    activity = local.personal_message("kudos <at>Anna Schmidt</at> danke für die schnelle Hilfe beim Kunden")
    activity["entities"] = [{"type": "mention", "text": "<at>Anna Schmidt</at>", "mentioned": {"id": ANNA}}]
    status, _ = await local.post(activity)
    assert status == 201
    assert [k.receiver_id for k in await local.kudos()] == [ANNA]
    log.assert_clean()


async def test_unverified_requests_get_401_and_a_short_line(
    secured: TeamsClient,  # noqa: F811
    log: ServerLog,
) -> None:
    garbage = (
        b'{"type": "message", "text": "line one\nlevel=error forged", "conversation": {"id": "x"}' + b" " * 500_000
    )
    assert await post_raw(secured, garbage) == 401
    # Not JSON (a raw newline inside a string): refused before the token is even looked at.
    assert await post_raw(secured, garbage + b"}", {**JSON, "Authorization": "Bearer abc.def"}) == 400
    forged = token("https://attacker.example/")
    status, _ = await secured.post(member_joined(secured), token=forged)
    assert status == 401
    assert await secured.references() == []
    refused = [x for x in log.lines if "request_refused" in x]
    assert len(refused) == 3
    assert not any(line.startswith("level=error") for line in log.lines)
    assert len(log.text) < 4000
    log.assert_clean(max_line=900)


async def test_wrong_content_type_and_oversized_bodies(local: TeamsClient, log: ServerLog) -> None:
    assert await post_raw(local, b"hello", {"Content-Type": "text/plain"}) == 415
    assert await post_raw(local, b"[" + b" " * (2 * 1024 * 1024) + b"]") == 413
    await nothing_done(local)
    log.assert_clean()


async def test_a_card_value_of_any_json_type_is_answered_not_crashed(local: TeamsClient, log: ServerLog) -> None:
    for value in ([1, 2], "text", 5, {"action_id": ["x"]}, {"action_id": "kudos.unknown", "input_x": {"a": 1}}):
        status, _ = await local.post(local.card_submit(value))
        assert status in (200, 201), value
    for data in ({"action_id": 5}, {"verb": None}):
        invoke = local.invoke(data)
        status, body = await local.post(invoke)
        assert status == 200, (data, body)
    log.assert_clean()
