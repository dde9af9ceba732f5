"""Request verification over the wire: only correctly signed, fresh requests do anything."""

from __future__ import annotations

import json
import time

import pytest

from tests.fakes import slack_form_body
from tests.slack.wire import SECRET, SlackWire, Testbed, payload

KUDOS = "<@UANNA|anna> danke für die schnelle Hilfe beim Kundenticket"


async def assert_nothing_done(bed: Testbed, fake: SlackWire) -> None:
    await bed.settle()
    assert await bed.kudos_rows() == []
    assert await bed.outbox_count() == 0
    assert [r.op for r in fake.requests if r.op.startswith(("chat.", "views.", "conversations."))] == []


async def test_bad_signature_is_rejected_with_401(testbed: Testbed, fake: SlackWire) -> None:
    status, body = await testbed.command(KUDOS, secret="not-the-signing-secret")
    assert status == 401
    assert json.loads(body) == {"error": "invalid request"}
    await assert_nothing_done(testbed, fake)


@pytest.mark.parametrize("age", [301, -301, 3600])
async def test_timestamp_outside_five_minutes_is_rejected(testbed: Testbed, fake: SlackWire, age: int) -> None:
    status, _ = await testbed.command(KUDOS, timestamp=int(time.time()) - age)
    assert status == 401
    await assert_nothing_done(testbed, fake)


async def test_timestamp_inside_the_window_is_accepted(testbed: Testbed, fake: SlackWire) -> None:
    status, _ = await testbed.command(KUDOS, timestamp=int(time.time()) - 240)
    assert status == 200
    await testbed.settle()
    assert len(await testbed.kudos_rows()) == 1


async def test_missing_signature_headers_are_rejected(testbed: Testbed, fake: SlackWire) -> None:
    assert testbed.http is not None
    body = slack_form_body({"command": "/kudos", "text": KUDOS, "user_id": "UMAX", "team_id": "T1"})
    async with testbed.http.post(
        testbed.url + "/slack/events", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    ) as resp:
        assert resp.status == 401
    await assert_nothing_done(testbed, fake)


async def test_body_changed_after_signing_is_rejected(testbed: Testbed, fake: SlackWire) -> None:
    assert testbed.http is not None
    from tests.fakes import slack_signed_headers

    fields = {"command": "/kudos", "text": KUDOS, "user_id": "UMAX", "team_id": "T1", "channel_id": "C1"}
    headers = slack_signed_headers(SECRET, slack_form_body(fields))
    tampered = slack_form_body({**fields, "user_id": "UBEN"})
    async with testbed.http.post(testbed.url + "/slack/events", data=tampered, headers=headers) as resp:
        assert resp.status == 401
    await assert_nothing_done(testbed, fake)


async def test_unsigned_event_is_rejected(testbed: Testbed, fake: SlackWire) -> None:
    ev = payload("app_mention.json")
    status, _ = await testbed.raw_event(ev, secret="wrong")
    assert status == 401
    await assert_nothing_done(testbed, fake)


async def test_url_verification_answers_the_challenge(testbed: Testbed) -> None:
    challenge = payload("url_verification.json")
    status, body = await testbed.raw_event(challenge)
    assert status == 200
    assert json.loads(body) == {"challenge": challenge["challenge"]}


async def test_url_verification_with_a_bad_signature_is_rejected(testbed: Testbed) -> None:
    status, body = await testbed.raw_event(payload("url_verification.json"), secret="wrong")
    assert status == 401
    assert "challenge" not in body


async def test_socket_mode_only_has_no_http_endpoint(fake: SlackWire, db_url: str, clock) -> None:  # type: ignore[no-untyped-def]
    bed = Testbed(fake, db_url, clock, slack_signing_secret=None, slack_app_token="xapp-unused")
    assert bed.server.slack is not None
    assert not bed.server.slack.http_enabled
    assert all(r.resource.canonical != "/slack/events" for r in bed.server.app.router.routes() if r.resource)
    await bed.starling.close()
