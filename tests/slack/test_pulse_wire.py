"""The service-goal pulse over signed Slack HTTP: the question as a DM, the answer through the Block Kit modal
and `/pulse answer`, the close, and the goal in the digest preview (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from storage.pulse import PulseAnswer
from tests.slack.wire import CHANNEL, TEAM, SlackWire, Testbed, message, payload, visible_text

MORE = {"dora": "UDORA", "emil": "UEMIL", "fritz": "UFRITZ"}
ANSWERS = {
    "UANNA": "Das Problem des Kunden beim ersten Kontakt lösen.",
    "UBEN": "Probleme der Kunden direkt beim Erstkontakt lösen",
    "UCLARA": "Zufriedene Kunden.",
    "UDORA": "Dass unsere Kunden glücklich und zufrieden sind.",
    "UEMIL": "Mehr Umsatz machen.",
}


def submission(user: str, view: dict[str, Any], answer: str) -> dict[str, Any]:
    body = payload("view_submission.json")
    body["team"] = {"id": TEAM, "domain": "starling-test"}
    body["user"].update(id=user, team_id=TEAM)
    body["view"].update(
        id=f"V{user}",  # each person's modal is its own view
        team_id=TEAM,
        app_installed_team_id=TEAM,
        callback_id=view["callback_id"],
        private_metadata=view["private_metadata"],
        blocks=view["blocks"],
    )
    body["view"]["state"]["values"] = {
        "answer": {"answer": {"type": "plain_text_input", "value": answer}},
        "named": {"named": {"type": "checkboxes", "selected_options": []}},
    }
    return body


def click(user: str, action_id: str, value: str, fake: SlackWire) -> dict[str, Any]:
    body = payload("block_actions.json")
    body["team"] = {"id": TEAM, "domain": "starling-test"}
    body["user"].update(id=user, team_id=TEAM)
    body["channel"] = {"id": f"D{user}", "name": "directmessage"}
    body["container"] = {"type": "message", "message_ts": "1.1", "channel_id": f"D{user}", "is_ephemeral": False}
    body["trigger_id"] = f"1.2.{user}"
    body["response_url"] = fake.hook_url()
    body["actions"] = [{**body["actions"][0], "action_id": action_id, "value": value}]
    return body


async def test_pulse_over_slack(testbed_any_db: Testbed, fake: SlackWire) -> None:
    bed = testbed_any_db
    for handle, uid in MORE.items():
        fake.add_user(uid, handle, real_name=handle.title(), team_id=TEAM)
    for uid in ["UANNA", "UBEN", "UCLARA", *MORE.values()]:  # people who have used Starling are known to it
        await bed.command("status", command="/pulse", user=uid)
    await bed.settle()
    await bed.command(f"start <#{CHANNEL}|general>", command="/pulse", user="UMAX")
    await bed.settle()
    await bed.delivered(8)  # seven people asked privately, one post in the channel
    invite = fake.dms("UANNA")[-1]
    assert "Was ist in einem Satz das Ziel unseres Kundenservice?" in visible_text(invite)
    button = next(
        e
        for b in invite["blocks"]
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"].startswith("pulse:form")
    )
    assert "zuerst selbst" in visible_text(fake.dms("UMAX")[-1])
    await bed.command("answer Kundenprobleme beim ersten Kontakt lösen.", command="/pulse", user="UMAX")
    for uid, text in ANSWERS.items():  # the button opens the modal; its submission is the answer
        await bed.interactive(click(uid, button["action_id"], button["value"], fake))
        await bed.settle()
        view = fake.payload(fake.ok_calls("views.open")[-1])["view"]
        assert view["callback_id"] == "pulse:answer"
        assert (await bed.interactive(submission(uid, view, text)))[0] == 200
        await bed.settle()
    empty_view = fake.payload(fake.ok_calls("views.open")[-1])["view"]
    status, body = await bed.interactive(submission("UFRITZ", empty_view, "   "))
    await bed.settle()
    # The refusal is shown only to him: in the form he submitted (kept open), or in his DM.
    private = [body, *(visible_text(fake.payload(r)) for r in fake.ok_calls("views.update"))]
    private += [visible_text(m) for m in fake.dms("UFRITZ")]
    assert status == 200 and any("Die Antwort ist leer" in text for text in private)
    # A plain reply in the DM answers too; a command word there is still a command.
    await bed.event(message("Kunden langfristig binden", user="UFRITZ", channel="DUFRITZ", channel_type="im"))
    await bed.settle()  # events are handled concurrently: one after the other here
    await bed.event(message("pulse status", user="UFRITZ", channel="DUFRITZ", channel_type="im"))
    await bed.settle()
    replies = fake.texts("chat.postEphemeral", user="UFRITZ")
    assert "Danke, deine Antwort ist angekommen" in replies[-2]
    assert "7 von 7 haben geantwortet" in replies[-1]
    async with bed.starling.sessions() as s:
        rows = (await s.execute(select(PulseAnswer))).scalars().all()
    assert len(rows) == 7 and all(r.author_id is None for r in rows)

    before, rows = len(fake.ok_calls("chat.postMessage")), await bed.outbox_count()
    await bed.command("close", command="/pulse", user="UMAX", channel=CHANNEL)
    await bed.settle()
    await bed.delivered(rows + 2)
    posted = [visible_text(fake.payload(r)) for r in fake.ok_calls("chat.postMessage")[before:]]
    channel_post = next(p for p in posted if "Zielbild-Puls: das Ergebnis" in p and "Deine eigene Antwort" not in p)
    assert "Spatzen ▕" in channel_post and "/100" in channel_post and "7 von 7" in channel_post
    assert "Das Problem des Kunden beim ersten Kontakt lösen." in channel_post
    starter = visible_text(fake.dms("UMAX")[-1])
    assert "Deine eigene Antwort" in starter and "Gruppe 1 als unser Ziel übernehmen" in starter

    await bed.command(f"set <#{CHANNEL}|general> Das Problem beim ersten Kontakt lösen.", command="/goal", user="UMAX")
    await bed.command("preview", command="/digest", user="UMAX", channel=CHANNEL)
    await bed.settle()
    shown = fake.texts("chat.postEphemeral", user="UMAX")
    assert any("Fixstern" in h and "Das Problem beim ersten Kontakt lösen." in h for h in shown)
