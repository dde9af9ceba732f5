"""Slack payloads (published shapes) → neutral events."""

from __future__ import annotations

from bot.core.events import (
    ActionEvent,
    AppOpenedEvent,
    CommandEvent,
    MemberJoinedEvent,
    MessageDeletedEvent,
    MessageEvent,
    ReactionEvent,
    mention_ids,
)
from bot.slack.convert import (
    Team,
    from_action,
    from_command,
    from_event,
    from_view_submission,
    to_neutral_text,
)
from tests.slack.wire import payload

TEAM = Team(team_id="T111", bot_user_id="W111")


def test_text_keeps_user_mentions_as_tokens_and_decodes_the_rest() -> None:
    text = to_neutral_text(
        "<@U1|anna> &amp; <@U2> danke &lt;3 für <https://ex.com/a|den Link> <https://ex.com> <#C1|general>"
    )
    assert text == "<@U1> & <@U2> danke <3 für den Link (https://ex.com/a) https://ex.com <#C1|general>"
    assert mention_ids(text) == ["U1", "U2"]


def test_typed_lookalike_tokens_are_broken_so_they_never_mention() -> None:
    text = to_neutral_text("&lt;@U999&gt; und &lt;!channel&gt;")
    assert mention_ids(text) == []
    assert "<@U999>" not in text and text.replace("\u200b", "") == "<@U999> und <!channel>"


def test_special_mentions_become_words() -> None:
    assert to_neutral_text(
        "<!here> <!channel> <!everyone> <!subteam^S1|@support> <!date^1392734382^{date}|Feb 18>"
    ) == ("@here @channel @everyone @support Feb 18")


def test_slash_command_enterprise_fixture() -> None:
    body = payload("slash_command_enterprise.json")
    body["text"] = "<@U2|ben> danke &amp; viel Erfolg"
    team = Team(team_id=body["team_id"], enterprise_id=body["enterprise_id"], is_enterprise_install=False)
    inbound = from_command(body, team)
    ev = inbound.event
    assert isinstance(ev, CommandEvent)
    assert ev.name == "hello-bolt-js" and ev.text == "<@U2> danke & viel Erfolg"
    assert [m.user_id for m in ev.mentions] == ["U2"]
    assert ev.actor.workspace_id == "slack:T111" and ev.actor.user_id == "W111"
    assert ev.event_id == "cmd:111.222.xxx"
    assert ev.conversation is not None and ev.conversation.id == "C111" and ev.conversation.kind == "channel"
    assert inbound.origin.response_url == body["response_url"] and inbound.origin.trigger_id == "111.222.xxx"


def test_org_wide_install_is_one_workspace_per_enterprise() -> None:
    body = payload("app_home_opened_home_tab.derived.json")
    team = Team(team_id=None, enterprise_id="E111", is_enterprise_install=True)
    inbound = from_event(body, team)
    assert inbound is not None and isinstance(inbound.event, AppOpenedEvent)
    assert inbound.event.actor.workspace_id == "slack:E111"


def test_app_mention_is_addressed_without_the_bot_mention() -> None:
    inbound = from_event(payload("app_mention.json"), TEAM)
    assert inbound is not None
    ev = inbound.event
    assert isinstance(ev, MessageEvent)
    assert ev.addressed and ev.text == "Hi there!" and ev.mentions == []
    assert ev.event_id == "Ev111" and ev.message_id == "C111:1595926230.009600"


def test_rich_text_user_elements_are_mentions() -> None:
    body = payload("app_mention_with_blocks.json")
    body["event"]["blocks"][0]["elements"][0]["elements"].append({"type": "user", "user_id": "U333"})
    inbound = from_event(body, Team(team_id="T0G9PQBBK", bot_user_id="U111"))
    assert inbound is not None and isinstance(inbound.event, MessageEvent)
    assert [m.user_id for m in inbound.event.mentions] == ["U333"]


def test_channel_message_mentioning_the_bot_is_left_to_app_mention() -> None:
    body = payload("message_with_user_and_channel_mention.json")
    assert from_event(body, Team(team_id="T00FAKE00AA", bot_user_id="U00FAKEBOT01")) is None


def test_channel_message_is_not_addressed() -> None:
    inbound = from_event(payload("message_with_user_mention.json"), Team(team_id="T111", bot_user_id="UBOT"))
    assert inbound is not None and isinstance(inbound.event, MessageEvent)
    assert inbound.event.addressed is False and inbound.event.text == "<@W111>"
    assert [m.user_id for m in inbound.event.mentions] == ["W111", "U111"]


def test_edits_joins_and_bot_messages_are_ignored() -> None:
    body = payload("message_with_user_mention.json")
    for extra in ({"subtype": "message_changed"}, {"subtype": "channel_join"}, {"bot_id": "B1"}):
        body["event"] = {**payload("message_with_user_mention.json")["event"], **extra}
        assert from_event(body, TEAM) is None


def test_reaction_fixture() -> None:
    inbound = from_event(payload("reaction_added.json"), TEAM)
    assert inbound is not None
    ev = inbound.event
    assert isinstance(ev, ReactionEvent)
    assert ev.added and ev.emoji == "heart_eyes" and ev.item_author_id == "W111"
    assert ev.message_id == "C111:1599529504.000400"


def test_skin_tone_reactions_count_as_the_base_emoji() -> None:
    body = payload("reaction_added.json")
    body["event"]["reaction"] = "clap::skin-tone-3"
    body["event"]["type"] = "reaction_removed"
    inbound = from_event(body, TEAM)
    assert inbound is not None and isinstance(inbound.event, ReactionEvent)
    assert inbound.event.emoji == "clap" and not inbound.event.added


def test_message_deleted_names_the_original_message() -> None:
    body = payload("message_with_user_mention.json")
    body["event"] = {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": "C111",
        "channel_type": "channel",
        "ts": "1610197999.000100",
        "deleted_ts": "1610197986.000300",
        "previous_message": {
            "type": "message",
            "user": "U111",
            "text": "<@W111> :star: danke",
            "ts": "1610197986.000300",
        },
    }
    inbound = from_event(body, TEAM)
    assert inbound is not None and isinstance(inbound.event, MessageDeletedEvent)
    assert inbound.event.message_id == "C111:1610197986.000300" and inbound.event.actor.user_id == "U111"


def test_messages_tab_open_is_ignored_and_home_tab_is_app_opened() -> None:
    assert from_event(payload("app_home_opened.json"), TEAM) is None
    inbound = from_event(payload("app_home_opened_home_tab.derived.json"), Team(team_id="T123ABC456"))
    assert inbound is not None and isinstance(inbound.event, AppOpenedEvent)
    assert inbound.event.actor.user_id == "U123ABC456"


def test_team_join_fixture() -> None:
    inbound = from_event(payload("team_join.derived.json"), Team(team_id="T123ABC456"))
    assert inbound is not None and isinstance(inbound.event, MemberJoinedEvent)
    actor = inbound.event.actor
    assert actor.user_id == "U1234567" and actor.display_name == "Some User"
    assert actor.timezone == "America/Los_Angeles" and not actor.is_bot


def test_block_actions_fixture() -> None:
    body = payload("block_actions.json")
    inbound = from_action(body, body["actions"][0], TEAM)
    ev = inbound.event
    assert isinstance(ev, ActionEvent)
    assert ev.action_id == "a" and ev.value == "click_me_123" and not ev.is_form
    assert ev.event_id == "act:1596530385.194939:W111:a"
    assert ev.message_id == "C111:111.222"
    origin = inbound.origin
    assert origin.container == "message" and origin.is_ephemeral and origin.message_ts == "111.222"
    assert origin.trigger_id == "111.222.valid" and origin.response_url == body["response_url"]


def test_view_submission_fixtures() -> None:
    inbound = from_view_submission(payload("view_submission.json"), TEAM)
    ev = inbound.event
    assert isinstance(ev, ActionEvent)
    assert ev.is_form and ev.action_id == "view-id" and ev.value == "This is for you!"
    assert ev.form == {"maBWU": "test"}
    assert ev.event_id == "view:V111:1596530361.3wRYuk3R"
    multi = from_view_submission(payload("view_submission_multi_input.json"), TEAM).event
    assert isinstance(multi, ActionEvent)
    assert multi.form == {"message": "Hello!", "category": "feature", "email": "user@example.com"}
