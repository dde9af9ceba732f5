"""The goodwill budget over the real wire: signed slash commands and button clicks in, Web API calls out."""

from __future__ import annotations

import csv
import json
from typing import Any

from sqlalchemy import select

from storage.goodwill import GoodwillCase
from tests.slack.wire import CHANNEL, TEAM, SlackWire, Testbed, payload, visible_text

FORM = "application/x-www-form-urlencoded"


def click_from(fake: SlackWire, message: dict[str, Any], rec_ts: str, label: str, *, user: str) -> dict[str, Any]:
    """A signed-to-be ``block_actions`` payload pressing the button ``label`` on a DM the bot sent."""
    buttons = [e for b in message["blocks"] if b.get("type") == "actions" for e in b["elements"]]
    (button,) = [b for b in buttons if b["text"]["text"] == label]
    body = payload("block_actions.json")
    body["team"]["id"] = TEAM
    body["user"].update(id=user, team_id=TEAM)
    channel = fake.dm_channel_id(user)
    body["container"] = {"type": "message", "message_ts": rec_ts, "channel_id": channel, "is_ephemeral": False}
    body["channel"] = {"id": channel, "name": "directmessage"}
    body["response_url"] = fake.hook_url()
    body["actions"] = [{**body["actions"][0], "action_id": button["action_id"], "value": button["value"]}]
    return body


def ephemeral_texts(fake: SlackWire, user: str) -> list[str]:
    return [visible_text(e) for e in fake.ephemerals(channel=CHANNEL, user=user)] + [
        visible_text(h.json) for h in fake.calls("response_url") if isinstance(h.json, dict)
    ]


async def test_budget_rule_approver_bars_export_and_a_kudos_for_the_case(
    testbed_any_db: Testbed, fake: SlackWire
) -> None:
    bed = testbed_any_db
    budget = f"budget <#{CHANNEL}|general> 1000 EUR per year, per case 100"
    assert (await bed.command(budget, command="/goodwill", user="UMAX"))[0] == 200
    await bed.settle()
    assert any("Kulanzbudget für <#C0GENERAL>" in t for t in ephemeral_texts(fake, "UMAX"))

    line = "80 EUR Ersatzteil kam 3 Wochen zu spät, Versand erstattet #kundenfokus ref:T-4711"
    status, _ = await bed.command(line, command="/goodwill", user="UANNA", trigger_id="1700000001.1.rule")
    assert status == 200
    retried = await bed.command(
        line, command="/goodwill", user="UANNA", trigger_id="1700000001.1.rule", headers={"X-Slack-Retry-Num": "1"}
    )
    assert retried[0] == 200  # the platform's retry counts once
    await bed.settle()
    assert any("nach Regel genehmigt" in t and "920 EUR" in t for t in ephemeral_texts(fake, "UANNA"))

    await bed.command("150 EUR Neues Gerät statt Reparatur #kundenfokus", command="/goodwill", user="UANNA")
    await bed.settle()
    await bed.delivered(1)
    assert any("geht an <@UMAX>" in t for t in ephemeral_texts(fake, "UANNA"))
    (card_rec,) = [r for r in fake.ok_calls("chat.postMessage") if "Kulanzfall #2" in visible_text(fake.payload(r))]
    card = fake.payload(card_rec)
    assert card["channel"] in ("UMAX", fake.dm_channel_id("UMAX"))
    click = click_from(fake, card, card_rec.response["ts"], "Genehmigen", user="UMAX")
    for _ in range(2):  # a double click: the second finds the case decided
        assert (await bed.interactive(click))[0] == 200
        await bed.settle()
    await bed.delivered(2)
    assert any("genehmigt" in visible_text(u) for u in fake.updates())
    assert any("von <@UMAX> genehmigt" in visible_text(d) for d in fake.dms("UANNA"))

    await bed.command("", command="/goodwill", user="UANNA")
    await bed.settle()
    assert any("230 von 1.000 EUR ausgegeben" in t for t in ephemeral_texts(fake, "UANNA"))

    await bed.command("export 2026", command="/goodwill", user="UMAX")
    await bed.settle()
    await bed.delivered(3)
    (upload,) = [u for u in fake.uploads() if u["filename"] == "starling-goodwill-2026.csv"]
    lines = list(csv.DictReader(upload["content"].decode("utf-8").splitlines()))
    assert [(r["amount"], r["approved_by"]) for r in lines] == [("80.00", "rule"), ("150.00", "Max Weber")]

    await bed.command(
        "<@UANNA|anna> danke für die schnelle Kulanz beim Ersatzteil goodwill:1 #kundenfokus", user="UBEN"
    )
    await bed.settle()
    await bed.delivered(5)
    celebration = [p for p in fake.posts(CHANNEL) if "Kulanzfall #1 (80 EUR)" in json.dumps(p, ensure_ascii=False)]
    assert len(celebration) == 1
    assert any("Kulanzfall #1 (80 EUR)" in visible_text(d) for d in fake.dms("UANNA"))

    await bed.command(f"preview <#{CHANNEL}|general>", command="/digest", user="UMAX")
    await bed.settle()
    assert any("Kulanzfall #1" in t and "Kulanzbudget" in t for t in ephemeral_texts(fake, "UMAX"))

    async with bed.starling.sessions() as session:
        cases = list((await session.execute(select(GoodwillCase).order_by(GoodwillCase.id))).scalars())
    assert [(c.amount, c.by_rule, c.status, c.decided_by) for c in cases] == [
        (8000, True, "approved", None),
        (15000, False, "approved", "UMAX"),
    ]
