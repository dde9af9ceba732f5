"""Socket Mode: the same app over a WebSocket speaking Slack's envelope protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.kit import Clock
from tests.slack.wire import APP_TOKEN, CHANNEL, TEAM, SlackWire, SocketModeServer, Testbed, event_body, message


@pytest.fixture
async def socket_server(fake: SlackWire) -> AsyncIterator[SocketModeServer]:
    server = SocketModeServer()
    await server.start()
    fake.socket_url = server.url
    yield server
    await server.stop()


@pytest.fixture
async def socket_bed(
    fake: SlackWire, socket_server: SocketModeServer, db_url: str, clock: Clock
) -> AsyncIterator[Testbed]:
    # No signing secret: Socket Mode only, no HTTP endpoint.
    bed = await Testbed(fake, db_url, clock, slack_signing_secret=None, slack_app_token=APP_TOKEN).start()
    await socket_server.connected()
    yield bed
    await bed.close()


def command_payload(text: str, *, user: str = "UMAX", trigger_id: str = "99.88.socket") -> dict[str, str]:
    return {
        "token": "verification-token",
        "team_id": TEAM,
        "team_domain": "starling-test",
        "channel_id": CHANNEL,
        "channel_name": "general",
        "user_id": user,
        "user_name": "max",
        "command": "/kudos",
        "text": text,
        "api_app_id": "AAPP1",
        "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/T1/1/x",
        "trigger_id": trigger_id,
    }


async def test_socket_mode_connects_with_the_app_token(socket_bed: Testbed, fake: SlackWire) -> None:
    (opened,) = fake.ok_calls("apps.connections.open")
    assert opened.bearer == APP_TOKEN


async def test_slash_command_over_socket_mode_is_acked_and_handled(
    socket_bed: Testbed, socket_server: SocketModeServer, fake: SlackWire
) -> None:
    body = command_payload("<@UANNA|anna> <@UBEN|ben> danke für die Hilfe beim Kundenticket #kundenfokus")
    envelope = await socket_server.send("slash_commands", body, accepts_response_payload=True)
    ack = await socket_server.ack_for(envelope)
    assert ack == {"envelope_id": envelope}
    await socket_bed.settle()
    rows = await socket_bed.kudos_rows()
    assert sorted(r.receiver_id for r in rows) == ["UANNA", "UBEN"]
    await socket_bed.delivered(3)
    assert len(fake.posts(CHANNEL)) == 1 and len(fake.dms("UANNA")) == 1 and len(fake.dms("UBEN")) == 1


async def test_event_redelivered_over_socket_mode_counts_once(
    socket_bed: Testbed, socket_server: SocketModeServer, fake: SlackWire
) -> None:
    body = event_body(
        message("<@UANNA> :star: danke für die Hilfe bei der Kundenmail", user="UBEN"), event_id="EvSOCK1"
    )
    first = await socket_server.send("events_api", body, accepts_response_payload=False)
    again = await socket_server.send(
        "events_api", body, accepts_response_payload=False, retry_attempt=1, retry_reason="timeout"
    )
    assert (await socket_server.ack_for(first))["envelope_id"] == first
    assert (await socket_server.ack_for(again))["envelope_id"] == again
    await socket_bed.settle()
    assert [r.receiver_id for r in await socket_bed.kudos_rows()] == ["UANNA"]
    assert len(fake.ephemerals(channel=CHANNEL, user="UBEN")) == 1
