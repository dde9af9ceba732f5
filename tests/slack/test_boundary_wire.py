"""The boundary at ``/slack/events``: what cannot be read or verified gets 400/401 and one short log line;
signed but malformed payloads get what Slack expects (200, a friendly word where a person waits); never a
500, never a traceback, and nothing refused takes effect."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import pytest

from tests.fakes import slack_form_body, slack_signed_headers
from tests.serverlog import ServerLog, server_log
from tests.slack.wire import SECRET, TEAM, SlackWire, Testbed, payload

KUDOS = "<@UANNA|anna> danke für die schnelle Hilfe beim Kundenticket"


@pytest.fixture
def log() -> Iterator[ServerLog]:
    with server_log() as captured:
        yield captured


@pytest.fixture
async def bed(log: ServerLog, fake: SlackWire, any_db_url: str, clock: object) -> AsyncIterator[Testbed]:
    testbed = await Testbed(fake, any_db_url, clock).start()  # type: ignore[arg-type]
    yield testbed
    await testbed.close()


async def post_raw(bed: Testbed, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    assert bed.http is not None
    async with bed.http.post(bed.url + "/slack/events", data=body, headers=headers) as resp:
        return resp.status, await resp.text()


async def nothing_done(bed: Testbed, fake: SlackWire) -> None:
    await bed.settle()
    assert await bed.kudos_rows() == []
    assert await bed.outbox_count() == 0
    assert [r.op for r in fake.requests if r.op.startswith(("chat.", "views."))] == []


UNSIGNED = [
    b'{"type": "event_callback", "event": {',
    b"\xff\xfe not utf-8",
    b"[" * 10_000 + b"]" * 10_000,
    b"payload=%7Bnot json",
    json.dumps({"type": "event_callback", "event": {"type": "app_mention", "text": "x\nforged=1"}}).encode(),
]


@pytest.mark.parametrize("body", UNSIGNED, ids=["truncated", "utf8", "deep", "payload", "newline"])
async def test_unsigned_unparseable_bodies_are_refused_with_401_and_a_short_line(
    bed: Testbed, fake: SlackWire, log: ServerLog, body: bytes
) -> None:
    status, text = await post_raw(bed, body, {"Content-Type": "application/json"})
    assert status == 401 and json.loads(text) == {"error": "invalid request"}
    await nothing_done(bed, fake)
    (line,) = [x for x in log.lines if "request_refused" in x]
    assert "no Slack signature" in line
    log.assert_clean(max_line=400)


@pytest.mark.parametrize("stamp", ["abc", "", "１２３", "1e9", "-5", "9" * 40])
async def test_unreadable_timestamps_get_401(bed: Testbed, fake: SlackWire, log: ServerLog, stamp: str) -> None:
    body = slack_form_body({"command": "/kudos", "text": KUDOS, "user_id": "UMAX", "team_id": TEAM})
    headers = slack_signed_headers(SECRET, body)
    headers["X-Slack-Request-Timestamp"] = stamp
    status, _ = await post_raw(bed, body, headers)
    assert status == 401
    await nothing_done(bed, fake)
    log.assert_clean()


async def test_a_900_kb_unsigned_body_adds_one_short_line_and_a_newline_cannot_forge_one(
    bed: Testbed, fake: SlackWire, log: ServerLog
) -> None:
    body = b'{"x": "' + b"A" * 40 + b"\nlevel=error event=forged" + b"B" * 900_000 + b'"}'
    status, _ = await post_raw(bed, body, {"Content-Type": "application/json", "X-Slack-Signature": "v0=00"})
    assert status == 401
    status, _ = await post_raw(bed, b"A" * (2 * 1024 * 1024), {"Content-Type": "application/json"})
    assert status == 413
    assert len(log.text) < 2000, len(log.text)
    assert not any(line.startswith("level=error") or "event=forged" in line.split(" ")[0] for line in log.lines)
    assert all("\\n" in line for line in log.lines if "forged" in line)
    log.assert_clean(max_line=600)


def signed(body: bytes, content_type: str = "application/json") -> dict[str, str]:
    return slack_signed_headers(SECRET, body, content_type=content_type, timestamp=int(time.time()))


SIGNED_BAD = {
    "list": (b"[1, 2, 3]", "application/json"),
    "string": (b'"event_callback"', "application/json"),
    "utf8": (b'{"type": "event_callback", "x": "\xff"}', "application/json"),
    "deep": (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "application/json"),
    "nan": (b'{"type": "event_callback", "event_time": NaN}', "application/json"),
    "payload_not_json": (b"payload=%7Bnot%20json", "application/x-www-form-urlencoded"),
    "payload_list": (b"payload=" + quote("[1,2]").encode(), "application/x-www-form-urlencoded"),
    "event_not_object": (b'{"type": "event_callback", "event": [1]}', "application/json"),
    "authorizations_not_list": (b'{"type": "event_callback", "authorizations": 5, "event": {}}', "application/json"),
}


@pytest.mark.parametrize("name", list(SIGNED_BAD))
async def test_signed_but_unreadable_bodies_get_400(bed: Testbed, fake: SlackWire, log: ServerLog, name: str) -> None:
    body, content_type = SIGNED_BAD[name]
    status, _ = await post_raw(bed, body, signed(body, content_type))
    assert status == 400
    await nothing_done(bed, fake)
    assert len([x for x in log.lines if "request_refused" in x]) == 1
    log.assert_clean(max_line=600)


async def test_view_submission_with_values_as_a_list_is_refused_and_form_values_reads_nothing() -> None:
    from bot.slack.render import form_values

    assert form_values({"state": {"values": [1, 2]}}) == {}
    assert form_values({"state": {"values": {"b": [1], "c": {"a": 5}, "d": {"x": {"type": "static_select"}}}}}) == {
        "x": ""
    }
    assert form_values({"state": "x"}) == {}


async def test_signed_view_submission_with_state_values_list_gets_400(bed: Testbed, fake: SlackWire) -> None:
    view = copy.deepcopy(payload("view_submission.json"))
    view["view"]["state"] = {"values": [1, 2]}
    body = ("payload=" + quote(json.dumps(view))).encode()
    status, _ = await post_raw(bed, body, signed(body, "application/x-www-form-urlencoded"))
    assert status == 400
    await nothing_done(bed, fake)


async def test_nul_bytes_and_long_ids_are_refused_on_both_databases(
    bed: Testbed, fake: SlackWire, log: ServerLog
) -> None:
    base = {"command": "/kudos", "text": KUDOS, "team_id": TEAM, "user_id": "UMAX", "channel_id": "C1"}
    for fields in (
        {"user_id": "U" + "X" * 130},
        {"team_id": "T" * 121},
        {"channel_id": "C\x00"},
        {"text": "danke\x00"},
    ):
        body = slack_form_body({**base, **fields})
        status, _ = await post_raw(bed, body, signed(body, "application/x-www-form-urlencoded"))
        assert status == 400, fields
    event = payload("app_mention.json")
    event["event"]["text"] = "kudos <@UANNA> danke\u0000"
    status, _ = await bed.raw_event(event)
    assert status == 400
    event = payload("app_mention.json")
    event["event_id"] = "Ev" + "9" * 200
    status, _ = await bed.raw_event(event)
    assert status == 400
    await nothing_done(bed, fake)
    log.assert_clean()


async def test_a_signed_command_that_cannot_become_an_event_gets_a_friendly_reply(
    bed: Testbed, fake: SlackWire, log: ServerLog
) -> None:
    # Fits the published shape, but the user id is empty: no event can be made of it.
    body = slack_form_body({"command": "/kudos", "text": KUDOS, "team_id": TEAM, "user_id": "", "channel_id": "C1"})
    status, text = await post_raw(bed, body, signed(body, "application/x-www-form-urlencoded"))
    assert status == 200
    reply = json.loads(text)
    assert reply["response_type"] == "ephemeral" and "nichts passiert" in reply["text"]
    await nothing_done(bed, fake)
    assert any("slack_payload_unreadable" in line for line in log.lines)
    log.assert_clean()


async def test_a_command_whose_text_says_payload_is_still_a_command(bed: Testbed) -> None:
    status, _ = await bed.command("<@UANNA|anna> danke für das payload-Review #kundenfokus")
    assert status == 200
    await bed.settle()
    assert [k.receiver_id for k in await bed.kudos_rows()] == ["UANNA"]


async def test_wellformed_requests_still_work(bed: Testbed, fake: SlackWire, log: ServerLog) -> None:
    status, _ = await bed.command(KUDOS)
    assert status == 200
    challenge = payload("url_verification.json")
    status, text = await bed.raw_event(challenge)
    assert status == 200 and json.loads(text) == {"challenge": challenge["challenge"]}
    await bed.settle()
    assert len(await bed.kudos_rows()) == 1
    log.assert_clean()


UNROUTED = {
    "event_without_event": {"type": "event_callback", "team_id": TEAM, "api_app_id": "A1", "event_id": "Ev0UNROUTED"},
    "unknown_type": {"type": "app_something_new", "team_id": TEAM},
}
UNROUTED_INTERACTIVE = {
    "shortcut": {
        "type": "shortcut",
        "callback_id": "x",
        "team": {"id": TEAM},
        "user": {"id": "UMAX"},
        "trigger_id": "1",
    },
    "view_closed": {"type": "view_closed", "team": {"id": TEAM}, "user": {"id": "UMAX"}, "view": {"callback_id": "z"}},
}


@pytest.mark.parametrize("name", [*UNROUTED, *UNROUTED_INTERACTIVE])
async def test_signed_requests_nothing_listens_for_are_acknowledged(
    bed: Testbed, fake: SlackWire, log: ServerLog, name: str
) -> None:
    """Bolt answers 404 to a signed request no listener matches; Slack counts that as a failed delivery and
    retries. Starling acknowledges it (200) and does nothing."""
    if name in UNROUTED:
        body = json.dumps(UNROUTED[name]).encode()
        status, _ = await post_raw(bed, body, signed(body))
    else:
        body = ("payload=" + quote(json.dumps(UNROUTED_INTERACTIVE[name]))).encode()
        status, _ = await post_raw(bed, body, signed(body, "application/x-www-form-urlencoded"))
    assert status == 200
    await nothing_done(bed, fake)
    log.assert_clean()
