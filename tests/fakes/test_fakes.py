"""Tests of the fake servers themselves, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import aiohttp
import openai
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes import (
    ADAPTIVE_CARD,
    FakeBotConnector,
    FakeOpenAI,
    FakeSlackAPI,
    embed_text,
    sign_slack_request,
    slack_form_body,
    slack_interactive_body,
)

TOKEN = "xoxb-test-token"
FIXTURES = Path(
    os.environ.get(
        "STARLING_ACCEPTANCE_FIXTURES", Path(__file__).resolve().parents[3] / "shared" / "acceptance" / "fixtures"
    )
)
SLACK_FIXTURES = FIXTURES / "slack"
needs_fixtures = pytest.mark.skipif(not SLACK_FIXTURES.is_dir(), reason=f"fixtures not found at {FIXTURES}")

# A Teams channel-thread conversation id, with the ':', '@', ';' and '=' the connector must cope with.
THREAD_ID = "19:d441d38c655c47a085215b2726e76927@thread.tacv2;messageid=1771290107407"
CHANNEL_ID = "19:d441d38c655c47a085215b2726e76927@thread.tacv2"
USER_29 = "29:1xXxFakeUserBase64Id"
AAD_ID = "00000000-1111-2222-3333-444444444444"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackAPI]:
    async with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture
async def connector() -> AsyncIterator[FakeBotConnector]:
    async with FakeBotConnector() as fake:
        yield fake


@pytest.fixture
async def oai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def slack_client(fake: FakeSlackAPI, token: str = TOKEN, **kwargs: Any) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=fake.url + "/api/", **kwargs)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


# ------------------------------------------------------------------------------------------------
# common behaviour
# ------------------------------------------------------------------------------------------------


async def test_binds_loopback_on_a_random_port() -> None:
    async with FakeSlackAPI() as one, FakeSlackAPI() as two:
        assert one.url.startswith("http://127.0.0.1:")
        assert one.port != two.port
        assert one.port > 0
    with pytest.raises(RuntimeError):
        _ = one.url


async def test_wait_for_sees_request_made_concurrently(slack: FakeSlackAPI) -> None:
    client = slack_client(slack)
    task = asyncio.create_task(client.chat_postMessage(channel="C1", text="later"))
    recs = await slack.wait_for("chat.postMessage")
    assert recs[0].status == 200
    assert slack.posts("C1")[0]["text"] == "later"
    await task


async def test_wait_for_times_out_with_log_summary(slack: FakeSlackAPI) -> None:
    await slack_client(slack).auth_test()
    with pytest.raises(AssertionError) as info:
        await slack.wait_for("chat.postMessage", timeout=0.2)
    message = str(info.value)
    assert "chat.postMessage" in message
    assert "/api/auth.test" in message


async def test_reset_clears_log_and_faults(slack: FakeSlackAPI) -> None:
    client = slack_client(slack)
    await client.chat_postMessage(channel="C1", text="x")
    slack.fail_next("chat.postMessage", status=500)
    slack.reset()
    assert slack.requests == [] and slack.posts() == []
    await client.chat_postMessage(channel="C1", text="y")
    assert [p["text"] for p in slack.posts()] == ["y"]


# ------------------------------------------------------------------------------------------------
# Slack
# ------------------------------------------------------------------------------------------------


async def test_slack_sdk_post_message_is_recorded(slack: FakeSlackAPI) -> None:
    client = slack_client(slack)
    auth = await client.auth_test()
    assert auth["user_id"] == slack.bot_user_id and auth["team_id"] == "T1" and auth["bot_id"] == slack.bot_id

    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Kudos* to <@U1>"}}]
    first = await client.chat_postMessage(channel="C1", text="Kudos!", blocks=blocks)
    second = await client.chat_postMessage(channel="C1", text="again", thread_ts=first["ts"])
    assert first["ok"] and first["channel"] == "C1"
    assert first["ts"] == "1700000000.000100" and second["ts"] != first["ts"]
    assert first["message"]["text"] == "Kudos!" and first["message"]["blocks"] == blocks

    posts = slack.posts("C1")
    assert [p["text"] for p in posts] == ["Kudos!", "again"]
    assert posts[0]["blocks"] == blocks
    assert posts[1]["thread_ts"] == first["ts"]
    rec = slack.calls("chat.postMessage")[0]
    assert rec.method == "POST" and rec.path == "/api/chat.postMessage"
    assert rec.bearer == TOKEN
    assert slack.message("C1", first["ts"])["text"] == "Kudos!"  # type: ignore[index]


async def test_slack_form_encoded_body_with_json_string_blocks(
    slack: FakeSlackAPI, http: aiohttp.ClientSession
) -> None:
    blocks = [{"type": "divider"}]
    form = {"channel": "C9", "text": "form", "blocks": json.dumps(blocks)}
    async with http.post(
        slack.url + "/api/chat.postMessage", data=form, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as r:
        assert r.status == 200
        assert (await r.json())["ok"] is True
    assert slack.calls("chat.postMessage")[0].json["blocks"] == json.dumps(blocks)
    assert slack.posts("C9")[0]["blocks"] == blocks
    # the legacy token form field is accepted too
    async with http.post(slack.url + "/api/auth.test", data={"token": TOKEN}) as r:
        assert (await r.json())["ok"] is True


async def test_slack_rejects_wrong_or_missing_token(slack: FakeSlackAPI, http: aiohttp.ClientSession) -> None:
    with pytest.raises(SlackApiError) as info:
        await slack_client(slack, token="xoxb-wrong").chat_postMessage(channel="C1", text="x")
    assert info.value.response.status_code == 200
    assert info.value.response["error"] == "invalid_auth"
    async with http.post(slack.url + "/api/auth.test") as r:
        assert r.status == 200
        assert await r.json() == {"ok": False, "error": "invalid_auth"}
    assert slack.posts() == []
    async with http.post(slack.url + "/api/api.test", data={"foo": "bar"}) as r:
        assert await r.json() == {"ok": True, "args": {"foo": "bar"}}


async def test_slack_unknown_method(slack: FakeSlackAPI) -> None:
    with pytest.raises(SlackApiError) as info:
        await slack_client(slack).api_call("nope.nothing")
    assert info.value.response["error"] == "unknown_method"


async def test_slack_users_info(slack: FakeSlackAPI) -> None:
    slack.add_user("U1", "ada", real_name="Ada Lovelace", is_admin=True)
    client = slack_client(slack)
    resp = await client.users_info(user="U1", include_locale=True)
    user = resp["user"]
    assert user["id"] == "U1" and user["name"] == "ada" and user["real_name"] == "Ada Lovelace"
    assert user["tz"] == "Europe/Berlin" and user["tz_offset"] in (3600, 7200)
    assert user["locale"] == "de-DE" and user["is_admin"] is True and user["is_bot"] is False
    assert user["profile"]["real_name"] == "Ada Lovelace" and user["team_id"] == "T1"
    assert "locale" not in (await client.users_info(user="U1"))["user"]
    with pytest.raises(SlackApiError) as info:
        await client.users_info(user="U404")
    assert info.value.response["error"] == "user_not_found"


async def test_slack_dms_and_conversations(slack: FakeSlackAPI) -> None:
    client = slack_client(slack)
    opened = await client.conversations_open(users="U1")
    assert opened["channel"]["id"] == "DU1"
    await client.chat_postMessage(channel=opened["channel"]["id"], text="hello via D")
    direct = await client.chat_postMessage(channel="U2", text="hello via user id")
    assert direct["channel"] == "DU2"
    await client.chat_postMessage(channel="C1", text="public")
    assert [p["text"] for p in slack.dms("U1")] == ["hello via D"]
    assert [p["text"] for p in slack.dms("U2")] == ["hello via user id"]
    info = await client.conversations_info(channel="DU1")
    assert info["channel"]["is_im"] is True and info["channel"]["user"] == "U1"
    slack.add_channel("C7", "kudos")
    assert (await client.conversations_info(channel="C7"))["channel"]["name"] == "kudos"


async def test_slack_ephemeral_update_delete(slack: FakeSlackAPI) -> None:
    client = slack_client(slack)
    eph = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert "." in eph["message_ts"]
    assert slack.ephemerals(user="U1")[0]["text"] == "only you"
    posted = await client.chat_postMessage(channel="C1", text="v1")
    updated = await client.chat_update(channel="C1", ts=posted["ts"], text="v2")
    assert updated["ts"] == posted["ts"] and updated["text"] == "v2"
    assert slack.message("C1", posted["ts"])["text"] == "v2"  # type: ignore[index]
    assert slack.updates("C1")[0]["text"] == "v2"
    await client.chat_delete(channel="C1", ts=posted["ts"])
    assert slack.message("C1", posted["ts"]) is None
    assert slack.deletes()[0]["ts"] == posted["ts"]


async def test_slack_views(slack: FakeSlackAPI) -> None:
    client = slack_client(slack)
    modal = {"type": "modal", "callback_id": "kudos", "title": {"type": "plain_text", "text": "Kudos"}, "blocks": []}
    opened = await client.views_open(trigger_id="123.456", view=modal)
    assert opened["view"]["id"].startswith("V") and opened["view"]["callback_id"] == "kudos"
    updated = await client.views_update(view_id=opened["view"]["id"], view={**modal, "blocks": [{"type": "divider"}]})
    assert updated["view"]["id"] == opened["view"]["id"]
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]}
    await client.views_publish(user_id="U1", view=home)
    assert slack.home_view("U1")["blocks"] == home["blocks"]  # type: ignore[index]
    assert [v["type"] for v in slack.views()] == ["modal", "modal", "home"]
    with pytest.raises(SlackApiError):
        await client.views_open(trigger_id="", view=modal)


async def test_slack_files_upload_v2(slack: FakeSlackAPI) -> None:
    client = slack_client(slack)
    resp = await client.files_upload_v2(
        channel="C1", content="week,kudos\n1,3\n", filename="digest.csv", title="Digest", initial_comment="Here"
    )
    assert resp["file"]["name"] == "digest.csv" and resp["file"]["title"] == "Digest"
    (upload,) = slack.uploads("C1")
    assert upload["content"] == b"week,kudos\n1,3\n" and upload["completed"] and upload["initial_comment"] == "Here"
    assert [r.op for r in slack.requests] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]


async def test_slack_reactions(slack: FakeSlackAPI) -> None:
    client = slack_client(slack)
    posted = await client.chat_postMessage(channel="C1", text="great idea")
    slack.add_reaction("C1", posted["ts"], "thumbsup", "U1")
    await client.reactions_add(channel="C1", timestamp=posted["ts"], name="thumbsup")
    got = await client.reactions_get(channel="C1", timestamp=posted["ts"])
    assert got["message"]["reactions"] == [{"name": "thumbsup", "users": ["U1", slack.bot_user_id], "count": 2}]


async def test_slack_channel_rate_limit_and_retry_after_honoured(slack: FakeSlackAPI) -> None:
    slack.enforce_channel_rate(per_seconds=1.0)
    client = slack_client(slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)])
    await client.chat_postMessage(channel="C1", text="one")
    await client.chat_postMessage(channel="C2", text="other channel is not limited")
    await client.chat_postMessage(channel="C1", text="two")  # 429, waits Retry-After, retried

    recs = slack.calls("chat.postMessage")
    assert [(r.params["text"], r.status) for r in recs] == [
        ("one", 200),
        ("other channel is not limited", 200),
        ("two", 429),
        ("two", 200),
    ]
    limited = recs[2]
    assert limited.rejected and limited.response == {"ok": False, "error": "ratelimited"}
    assert recs[3].time - limited.time >= 1.0  # the client waited Retry-After: 1
    assert [p["text"] for p in slack.posts("C1")] == ["one", "two"]


async def test_slack_rate_limit_header_seen_by_raw_client(slack: FakeSlackAPI, http: aiohttp.ClientSession) -> None:
    slack.enforce_channel_rate()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = {"channel": "C1", "text": "x"}
    async with http.post(slack.url + "/api/chat.postMessage", json=body, headers=headers) as r:
        assert r.status == 200
    async with http.post(slack.url + "/api/chat.postMessage", json=body, headers=headers) as r:
        assert r.status == 429 and r.headers["Retry-After"] == "1"


async def test_slack_fail_next(slack: FakeSlackAPI, http: aiohttp.ClientSession) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=3)
    slack.fail_next("/api/users.info", status=503, times=2, body="upstream down")
    client = slack_client(slack)
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C1", text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "3"
    assert (await client.chat_postMessage(channel="C1", text="x"))["ok"]
    for _ in range(2):
        async with http.get(slack.url + "/api/users.info?user=U1") as r:
            assert r.status == 503 and await r.text() == "upstream down"
    async with http.get(slack.url + "/api/users.info?user=U1", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
        assert r.status == 200 and (await r.json())["error"] == "user_not_found"
    assert [r.rejected for r in slack.calls("GET")] == [True, True, False]


# ------------------------------------------------------------------------------------------------
# Bot Framework Connector (Teams)
# ------------------------------------------------------------------------------------------------


def activity(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "text": text, "from": {"id": "28:bot", "name": "Starling"}, **extra}


async def test_connector_reply_path(connector: FakeBotConnector, http: aiohttp.ClientSession) -> None:
    url = f"{connector.service_url}v3/conversations/{quote(THREAD_ID, safe='')}/activities/1771290107407"
    headers = {"Authorization": "Bearer fake-jwt"}
    async with http.post(url, json=activity("Thanks!", replyToId="1771290107407"), headers=headers) as r:
        assert r.status == 201
        new_id = (await r.json())["id"]
    (rec,) = await connector.wait_for("reply_to_activity")
    assert rec.path_params == {"conversation_id": THREAD_ID, "activity_id": "1771290107407"}
    assert rec.bearer == "fake-jwt"
    assert connector.activities(THREAD_ID)[0]["text"] == "Thanks!"
    assert connector.texts(CHANNEL_ID) == ["Thanks!"]  # a channel id also selects its threads
    assert connector.activity(THREAD_ID, new_id)["text"] == "Thanks!"  # type: ignore[index]


async def test_connector_unencoded_ids_and_tenant_prefix(
    connector: FakeBotConnector, http: aiohttp.ClientSession
) -> None:
    url = f"{connector.url}/amer/tenant-1/v3/conversations/a:1xyz;x=y@z/activities"
    async with http.post(url, json=activity("hi")) as r:
        assert r.status == 201
    (rec,) = connector.calls("send_to_conversation")
    assert rec.path_params["conversation_id"] == "a:1xyz;x=y@z"
    assert rec.bearer is None


async def test_connector_update_delete_cards(connector: FakeBotConnector, http: aiohttp.ClientSession) -> None:
    card = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Kudos!"}]}
    base = f"{connector.url}/v3/conversations/{quote('a:conv1', safe='')}/activities"
    msg = activity("", attachments=[{"contentType": ADAPTIVE_CARD, "content": card}])
    async with http.post(base, json=msg) as r:
        activity_id = (await r.json())["id"]
    async with http.put(f"{base}/{activity_id}", json=activity("edited", id=activity_id)) as r:
        assert r.status == 200 and (await r.json())["id"] == activity_id
    async with http.delete(f"{base}/{activity_id}") as r:
        assert r.status == 200
    async with http.post(base, json={"text": "no type"}) as r:
        assert r.status == 400
    assert connector.cards("a:conv1") == [card]
    assert connector.updates()[0]["text"] == "edited"
    assert connector.deletes() == [("a:conv1", activity_id)]
    assert connector.activity("a:conv1", activity_id) is None


async def test_connector_create_conversation_and_members(
    connector: FakeBotConnector, http: aiohttp.ClientSession
) -> None:
    connector.add_member(CHANNEL_ID, USER_29, "Ada Lovelace", AAD_ID)
    params = {
        "bot": {"id": connector.bot_id},
        "members": [{"id": USER_29}],
        "isGroup": False,
        "tenantId": connector.tenant_id,
        "channelData": {"tenant": {"id": connector.tenant_id}},
    }
    async with http.post(connector.url + "/v3/conversations", json=params) as r:
        assert r.status == 201
        created = await r.json()
    assert created["id"] == "a:new-conv-1" and created["activityId"]
    async with http.post(connector.url + "/v3/conversations", json=params) as r:
        assert (await r.json())["id"] == "a:new-conv-1"  # the same 1:1 chat for the same user
    assert connector.conversation_for(USER_29) == "a:new-conv-1"
    assert connector.created_conversations()[0]["members"] == [{"id": USER_29}]

    conv = quote(CHANNEL_ID, safe="")
    async with http.get(f"{connector.url}/v3/conversations/{conv}/members") as r:
        (member,) = await r.json()
    assert member == {
        "id": USER_29,
        "name": "Ada Lovelace",
        "aadObjectId": AAD_ID,
        "givenName": "Ada",
        "surname": "Lovelace",
        "email": "ada.lovelace@contoso.example",
        "userPrincipalName": "ada.lovelace@contoso.example",
        "tenantId": connector.tenant_id,
        "userRole": "user",
    }
    async with http.get(f"{connector.url}/v3/conversations/{conv}/members/{quote(USER_29, safe='')}") as r:
        assert (await r.json())["aadObjectId"] == AAD_ID
    async with http.get(f"{connector.url}/v3/conversations/{conv}/members/29%3Anobody") as r:
        assert r.status == 404
        assert (await r.json())["error"]["code"] == "MemberNotFoundInConversation"


async def test_connector_require_token_and_fail_next(http: aiohttp.ClientSession) -> None:
    async with FakeBotConnector(require_token="good") as connector:
        url = connector.url + "/v3/conversations/a%3A1/activities"
        async with http.post(url, json=activity("x")) as r:
            assert r.status == 401
        connector.fail_next("send_to_conversation", status=429, retry_after=2)
        async with http.post(url, json=activity("x"), headers={"Authorization": "Bearer good"}) as r:
            assert r.status == 429 and r.headers["Retry-After"] == "2"
        connector.fail_next("POST", status=500)
        async with http.post(url, json=activity("x"), headers={"Authorization": "Bearer good"}) as r:
            assert r.status == 500 and (await r.json())["error"]["code"] == "ServiceError"
        async with http.post(url, json=activity("x"), headers={"Authorization": "Bearer good"}) as r:
            assert r.status == 201
        assert [r.status for r in connector.calls()] == [401, 429, 500, 201]
        assert len(connector.activities()) == 1


async def test_connector_with_botframework_client(connector: FakeBotConnector) -> None:
    aio = pytest.importorskip("botframework.connector.aio")
    auth = pytest.importorskip("botframework.connector.auth")
    schema = pytest.importorskip("botbuilder.schema")
    msrest_auth = pytest.importorskip("msrest.authentication")

    connector.add_member("a:personal", USER_29, "Ada Lovelace", AAD_ID)
    anonymous = aio.ConnectorClient(auth.MicrosoftAppCredentials.empty(), base_url=connector.service_url)
    reply = schema.Activity(type="message", text="reply via SDK", reply_to_id="1771290107407")
    resp = await anonymous.conversations.reply_to_activity(THREAD_ID, "1771290107407", reply)
    assert resp.id
    member = await anonymous.conversations.get_conversation_member("a:personal", USER_29)
    assert member.name == "Ada Lovelace"
    assert connector.calls("reply_to_activity")[0].bearer is None

    signed = aio.ConnectorClient(
        msrest_auth.BasicTokenAuthentication({"access_token": "bot-token"}), base_url=connector.service_url
    )
    await signed.conversations.send_to_conversation("a:personal", schema.Activity(type="message", text="proactive"))
    (rec,) = connector.calls("send_to_conversation")
    assert rec.bearer == "bot-token"
    assert connector.texts("a:personal") == ["proactive"]
    assert connector.texts(THREAD_ID) == ["reply via SDK"]


# ------------------------------------------------------------------------------------------------
# OpenAI
# ------------------------------------------------------------------------------------------------


OpenAIFactory = Callable[..., openai.AsyncOpenAI]


@pytest.fixture
async def openai_client(oai: FakeOpenAI) -> AsyncIterator[OpenAIFactory]:
    """Factory for ``openai.AsyncOpenAI`` clients pointed at the fake; closes them afterwards."""
    clients: list[openai.AsyncOpenAI] = []

    def make(api_key: str = "sk-test", **kwargs: Any) -> openai.AsyncOpenAI:
        client = openai.AsyncOpenAI(base_url=oai.url + "/v1", api_key=api_key, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_openai_chat_completion(oai: FakeOpenAI, openai_client: OpenAIFactory) -> None:
    oai.queue_reply("Your kudos look great.")
    client = openai_client()
    messages: list[Any] = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Check this"}]
    first = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert first.object == "chat.completion"
    assert first.choices[0].message.content == "Your kudos look great."
    assert first.choices[0].finish_reason == "stop" and first.usage is not None
    second = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert second.choices[0].message.content == "Fake reply to: Check this"
    oai.responder = lambda msgs: f"{len(msgs)} messages"
    third = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert third.choices[0].message.content == "2 messages"
    assert oai.prompts()[0] == messages
    assert oai.replies() == ["Your kudos look great.", "Fake reply to: Check this", "2 messages"]
    assert oai.calls("chat.completions")[0].bearer == "sk-test"


async def test_openai_streaming(oai: FakeOpenAI, openai_client: OpenAIFactory) -> None:
    oai.queue_reply("streamed reply text")
    stream = await openai_client().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
    assert "".join(parts) == "streamed reply text"
    assert oai.replies() == ["streamed reply text"]


async def test_openai_embeddings(oai: FakeOpenAI, openai_client: OpenAIFactory, http: aiohttp.ClientSession) -> None:
    texts = ["Kudos to Ada for the great release", "great release kudos Ada", "database migration failed at night"]
    resp = await openai_client().embeddings.create(model="text-embedding-3-small", input=texts)
    vectors = [d.embedding for d in resp.data]  # the client asked for base64 and decoded it
    assert all(len(v) == 64 for v in vectors)
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-5) for v in vectors)
    assert cosine(vectors[0], vectors[1]) > 0.6 > 0.4 > cosine(vectors[0], vectors[2])
    assert all(
        math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6) for a, b in zip(vectors[0], embed_text(texts[0]), strict=True)
    )
    assert oai.embedding_inputs() == texts

    body = {"model": "text-embedding-3-small", "input": "hello world", "encoding_format": "float", "dimensions": 16}
    async with http.post(oai.url + "/v1/embeddings", json=body, headers={"Authorization": "Bearer sk-test"}) as r:
        data = await r.json()
    assert data["data"][0]["embedding"] == embed_text("hello world", 16)


async def test_openai_models(oai: FakeOpenAI, openai_client: OpenAIFactory) -> None:
    models = await openai_client().models.list()
    assert "gpt-4o-mini" in [m.id for m in models.data]


async def test_openai_wrong_key_refused(
    oai: FakeOpenAI, openai_client: OpenAIFactory, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        await openai_client(api_key="sk-wrong-key").chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"
    async with http.get(oai.url + "/v1/models") as r:
        assert r.status == 401
        error = (await r.json())["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert oai.chat_requests() == []


async def test_openai_fail_next(oai: FakeOpenAI, openai_client: OpenAIFactory) -> None:
    client = openai_client(max_retries=0)
    messages: list[Any] = [{"role": "user", "content": "hi"}]
    oai.fail_next("chat.completions", status=429)
    with pytest.raises(openai.RateLimitError) as info:
        await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert info.value.response.headers["retry-after"] == "1"
    oai.fail_next("/v1/embeddings", status=500)
    with pytest.raises(openai.InternalServerError):
        await client.embeddings.create(model="text-embedding-3-small", input="x")
    ok = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert ok.choices[0].message.content
    # with retries enabled the openai client honours Retry-After and succeeds
    oai.fail_next("chat.completions", status=503, retry_after=None)
    retried = await openai_client(max_retries=1).chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert retried.choices[0].message.content
    assert [r.status for r in oai.calls("chat.completions")] == [429, 200, 503, 200]


async def test_openai_delay_next_times_out_client(oai: FakeOpenAI, openai_client: OpenAIFactory) -> None:
    oai.delay_next(10.0, "chat.completions")
    client = openai_client(max_retries=0, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "slow"}])
    assert time.monotonic() - started < 5
    (pending,) = await oai.wait_for("chat.completions", include_pending=True)
    assert pending.status is None  # still being held by the server; stop() releases it


# ------------------------------------------------------------------------------------------------
# Slack request signing
# ------------------------------------------------------------------------------------------------


@needs_fixtures
def test_signing_known_answer() -> None:
    known = json.loads((SLACK_FIXTURES / "signing_known_answer.json").read_text())
    body = (SLACK_FIXTURES / known["body_file"]).read_bytes()
    headers = sign_slack_request(known["signing_secret"], body, int(known["timestamp"]))
    assert headers == {
        "X-Slack-Request-Timestamp": known["timestamp"],
        "X-Slack-Signature": known["expected_signature"],
    }
    recorded = json.loads((SLACK_FIXTURES / "slash_command.headers.json").read_text())
    assert headers["X-Slack-Signature"] == recorded["X-Slack-Signature"]


@needs_fixtures
def test_form_and_interactive_bodies_match_fixtures() -> None:
    raw = (SLACK_FIXTURES / "slash_command.txt").read_bytes()
    assert slack_form_body(dict(parse_qsl(raw.decode(), keep_blank_values=True))) == raw
    payload = json.loads((SLACK_FIXTURES / "block_actions.json").read_text())
    assert slack_interactive_body(payload) == (SLACK_FIXTURES / "block_actions.txt").read_bytes()


def test_signature_accepted_by_slack_sdk_verifier() -> None:
    body = slack_interactive_body({"type": "block_actions", "actions": [{"action_id": "a", "value": "v"}]})
    headers = sign_slack_request("s3cret", body)
    assert abs(int(headers["X-Slack-Request-Timestamp"]) - time.time()) < 5
    assert SignatureVerifier("s3cret").is_valid_request(body, headers)
    assert not SignatureVerifier("other").is_valid_request(body, headers)
    assert dict(parse_qsl(slack_form_body({"command": "/kudos", "text": "@ada thanks!"}).decode())) == {
        "command": "/kudos",
        "text": "@ada thanks!",
    }


async def test_history_lists_newest_first_with_metadata_only_when_asked_and_pages(slack: FakeSlackAPI) -> None:
    client = slack_client(slack)
    meta = {"event_type": "starling_outbox", "event_payload": {"outbox_ids": [7]}}
    first = await client.chat_postMessage(channel="C1", text="eins", metadata=meta)
    await client.chat_postMessage(channel="C1", text="Antwort", thread_ts=first["ts"])
    second = await client.chat_postMessage(channel="C1", text="zwei")
    await client.chat_postMessage(channel="C2", text="anderswo")

    plain = await client.conversations_history(channel="C1")
    assert [m["text"] for m in plain["messages"]] == ["zwei", "eins"]  # a thread reply stays in its thread
    assert all("metadata" not in m for m in plain["messages"])
    full = await client.conversations_history(channel="C1", include_all_metadata=True)
    assert full["messages"][1]["metadata"] == meta

    page = await client.conversations_history(channel="C1", limit=1)
    assert [m["ts"] for m in page["messages"]] == [second["ts"]] and page["has_more"]
    rest = await client.conversations_history(channel="C1", limit=1, cursor=page["response_metadata"]["next_cursor"])
    assert [m["ts"] for m in rest["messages"]] == [first["ts"]] and not rest["has_more"]
    older = await client.conversations_history(channel="C1", latest=second["ts"])
    assert [m["text"] for m in older["messages"]] == ["eins"]

    thread = await client.conversations_replies(channel="C1", ts=first["ts"], include_all_metadata=True)
    assert [m["text"] for m in thread["messages"]] == ["eins", "Antwort"]
    assert thread["messages"][0]["metadata"] == meta
    with pytest.raises(SlackApiError) as missing:
        await client.conversations_replies(channel="C1", ts="1.000001")
    assert missing.value.response["error"] == "thread_not_found"
