"""Conversation references and Teams users on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import core
from storage import teams as store
from storage.db import create_engine_for, session_factory, transaction

WS = "teams:tenant-1"
CHANNEL = "19:abc@thread.tacv2"
URL = "https://smba.example/amer/tenant-1/"


@pytest.fixture
async def sessions(any_db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine_for(any_db_url)
    factory = session_factory(engine)
    async with transaction(factory) as session:
        await core.ensure_workspace(session, workspace_id=WS, platform="teams", locale="de", timezone="Europe/Berlin")
    yield factory
    await engine.dispose()


async def test_references_are_refreshed_and_threads_fall_back_to_their_channel(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as s:
        await store.save_conversation(
            s,
            workspace_id=WS,
            conversation_id=CHANNEL,
            kind="channel",
            service_url=URL,
            bot_id="28:bot",
            team_id="19:t",
        )
        # A later event without team information keeps what was known, refreshes the service URL.
        ref = await store.save_conversation(
            s, workspace_id=WS, conversation_id=CHANNEL, kind="channel", service_url=URL + "v2/", bot_id="28:bot"
        )
        assert (ref.service_url, ref.team_id) == (URL + "v2/", "19:t")
    async with sessions() as s:
        thread = await store.get_conversation(s, workspace_id=WS, conversation_id=CHANNEL + ";messageid=42")
        assert thread is not None and thread.conversation_id == CHANNEL
        assert await store.get_conversation(s, workspace_id=WS, conversation_id="19:other@thread.tacv2") is None


async def test_personal_chats_users_and_uninstall(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as s:
        for cid, kind, user in (("a:1", "personal", "29:anna"), (CHANNEL, "channel", None)):
            await store.save_conversation(
                s, workspace_id=WS, conversation_id=cid, kind=kind, service_url=URL, bot_id="28:bot", user_id=user
            )
        await store.save_user(s, workspace_id=WS, user_id="29:anna", aad_object_id="aad-1")
        await store.save_user(s, workspace_id=WS, user_id="29:anna", aad_object_id=None)
        await core.upsert_member(s, workspace_id=WS, user_id="29:anna", display_name="Anna")
    async with transaction(sessions) as s:
        chat = await store.personal_conversation(s, workspace_id=WS, user_id="29:anna")
        assert chat is not None and chat.conversation_id == "a:1"
        user = await store.get_user(s, workspace_id=WS, user_id="29:anna")
        assert user is not None and user.aad_object_id == "aad-1"
        assert await store.display_names(s, workspace_id=WS, user_ids=["29:anna", "29:ghost"]) == {"29:anna": "Anna"}
        assert not await store.has_admin(s, workspace_id=WS)
        assert await store.set_installed(s, workspace_id=WS, conversation_ids=[CHANNEL], installed=False) == 1
    async with sessions() as s:
        recent = await store.recent_conversations(s, workspace_id=WS)
        assert [r.conversation_id for r in recent] == ["a:1"]
