"""Files in Teams: a data export is offered in the 1:1 chat with a FileConsentCard and uploaded to the
person's OneDrive when they accept, over the Bot Framework wire (fake connector, fake upload session)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import select

from bot.scheduler import run_tick
from storage.teams import TeamsPendingFile
from storage.types import utcnow
from tests.fakes.bot_connector import FILE_CONSENT_CARD, FILE_INFO_CARD
from tests.teams.conftest import MAX, PERSONAL_ID, TeamsClient
from tests.teams.test_wire import texts_of


async def export_offer(teams: TeamsClient, *, locale: str = "en-US") -> dict[str, Any]:
    """Max asks for his data in his 1:1 chat; the offer of the file arrives there."""
    status, _ = await teams.post(teams.personal_message("privacy export", locale=locale))
    assert status == 201
    await teams.app.outbox.drain()
    (offer,) = teams.connector.attachments(FILE_CONSENT_CARD, PERSONAL_ID)
    return offer


async def pending(teams: TeamsClient) -> list[TeamsPendingFile]:
    async with teams.app.sessions() as session:
        return list((await session.execute(select(TeamsPendingFile))).scalars().all())


def notes(teams: TeamsClient) -> list[str]:
    return teams.connector.texts(PERSONAL_ID)


async def test_export_is_offered_uploaded_on_consent_and_only_once(teams_any_db: TeamsClient) -> None:
    teams = teams_any_db
    offer = await export_offer(teams)

    # One post: the message card and the offer of the file, which carries a name, a size and a token only.
    (post,) = [a for a in teams.connector.messages(PERSONAL_ID) if len(a.get("attachments") or []) == 2]
    assert "Here is everything Starling stores about" in texts_of(post["attachments"][0]["content"])
    name = offer["name"]
    assert name.startswith("starling-data-29-1xXx") and name.endswith(".json") and ":" not in name
    content = offer["content"]
    assert content["acceptContext"] == content["declineContext"] and set(content["acceptContext"]) == {"token"}
    assert "Max" not in json.dumps(content["acceptContext"])
    assert "Here is everything Starling stores about Max Mustermann" in content["description"]

    upload = teams.connector.upload_session(name)
    status, body = await teams.post(teams.file_consent("accept", content["acceptContext"], upload))
    assert status == 200 and not body

    (put,) = teams.connector.uploads()
    size = content["sizeInBytes"]
    assert len(put.body) == size and put.header("Content-Range") == f"bytes 0-{size - 1}/{size}"
    data = json.loads(put.body)
    assert data["user_id"] == MAX
    members = data["tables"]["member"]
    assert [(m["user_id"], m["display_name"]) for m in members] == [(MAX, "Max Mustermann")]
    assert [u["aad_object_id"] for u in data["tables"]["teams_user"]] == ["00000000-1111-2222-3333-444444444444"]

    (info,) = teams.connector.attachments(FILE_INFO_CARD, PERSONAL_ID)
    assert info["name"] == name and info["contentUrl"] == upload["contentUrl"]
    assert info["content"] == {"uniqueId": upload["uniqueId"], "fileType": "json"}
    assert await pending(teams) == []  # the bytes are gone from Starling once delivered

    # A double click, or Teams sending the accept again: no second upload, a short note instead.
    status, _ = await teams.post(teams.file_consent("accept", content["acceptContext"], upload))
    assert status == 200
    assert len(teams.connector.calls("upload")) == 1
    assert len(teams.connector.attachments(FILE_INFO_CARD, PERSONAL_ID)) == 1
    assert "This file is no longer available" in notes(teams)[-1]


async def test_declined_offer_is_forgotten_with_a_note(teams_any_db: TeamsClient) -> None:
    teams = teams_any_db
    offer = await export_offer(teams, locale="de-DE")
    assert len(await pending(teams)) == 1

    status, _ = await teams.post(teams.file_consent("decline", offer["content"]["declineContext"]))
    assert status == 200
    assert await pending(teams) == []
    assert notes(teams)[-1] == (
        f"In Ordnung, ich habe {offer['name']} nicht geschickt. Wenn du die Datei doch möchtest, "
        "frag einfach noch einmal (zum Beispiel mit `privacy export`)."
    )

    # Accepting the declined card later uploads nothing.
    upload = teams.connector.upload_session(offer["name"])
    status, _ = await teams.post(teams.file_consent("accept", offer["content"]["acceptContext"], upload))
    assert status == 200
    assert teams.connector.calls("upload") == []
    assert notes(teams)[-1].startswith("Diese Datei ist nicht mehr verfügbar")


async def test_unknown_and_expired_offers_get_a_note_and_expired_files_are_deleted_daily(
    teams: TeamsClient,
) -> None:
    offer = await export_offer(teams)
    made_up = teams.file_consent("accept", {"token": "made-up"}, teams.connector.upload_session("x.json"))
    status, _ = await teams.post(made_up)
    assert status == 200
    assert "This file is no longer available" in notes(teams)[-1]

    (row,) = await pending(teams)
    assert row.expires_at - row.created_at == timedelta(hours=24)
    async with teams.app.sessions() as session:  # a day later
        await session.execute(update(TeamsPendingFile).values(expires_at=utcnow() - timedelta(minutes=1)))
        await session.commit()
    upload = teams.connector.upload_session(offer["name"])
    status, _ = await teams.post(teams.file_consent("accept", offer["content"]["acceptContext"], upload))
    assert status == 200
    assert teams.connector.calls("upload") == []
    assert "This file is no longer available" in notes(teams)[-1]

    assert len(await pending(teams)) == 1
    await run_tick(teams.app.router, teams.app.services, utcnow())  # the daily retention job
    assert await pending(teams) == []


async def test_a_failed_upload_can_be_accepted_again(teams: TeamsClient) -> None:
    offer = await export_offer(teams)
    context = offer["content"]["acceptContext"]
    upload = teams.connector.upload_session(offer["name"])
    teams.connector.fail_next("upload", status=503)
    status, _ = await teams.post(teams.file_consent("accept", context, upload))
    assert status == 200
    assert teams.connector.uploads() == []
    assert notes(teams)[-1].startswith(f"I could not put {offer['name']} into your OneDrive")
    assert len(await pending(teams)) == 1

    status, _ = await teams.post(teams.file_consent("accept", context, upload))
    assert status == 200
    assert len(teams.connector.uploads()) == 1
    assert len(teams.connector.attachments(FILE_INFO_CARD, PERSONAL_ID)) == 1
    assert await pending(teams) == []


async def test_a_retried_send_offers_the_same_file_once(teams: TeamsClient) -> None:
    status, _ = await teams.post(teams.personal_message("privacy export"))
    assert status == 201
    teams.connector.fail_next("send_to_conversation", status=503)
    await teams.app.outbox.drain()
    (refused,) = [r for r in teams.connector.calls("send_to_conversation") if r.rejected]
    assert len(await pending(teams)) == 1

    later = utcnow() + timedelta(hours=1)
    teams.app.outbox.clock = lambda: later
    await teams.app.outbox.drain()
    (offer,) = teams.connector.attachments(FILE_CONSENT_CARD, PERSONAL_ID)
    first = [a for a in refused.json["attachments"] if a["contentType"] == FILE_CONSENT_CARD]
    assert [a["content"]["acceptContext"] for a in first] == [offer["content"]["acceptContext"]]
    assert len(await pending(teams)) == 1


async def test_files_of_an_undeliverable_message_are_not_kept(teams: TeamsClient) -> None:
    status, _ = await teams.post(teams.personal_message("privacy export"))
    assert status == 201
    teams.connector.fail_next("send_to_conversation", status=403)  # e.g. Starling was removed from the chat
    await teams.app.outbox.drain()
    assert [r.status for r in await teams.outbox() if r.target_kind == "dm"] == ["dead"]
    assert await pending(teams) == []
