"""The Slack app manifests a newcomer installs from (HTTP and Socket Mode)."""

from __future__ import annotations

import json
from pathlib import Path

from bot.core.router import Router
from handlers import register_all

SLACK = Path(__file__).resolve().parents[2] / "slack"
HTTP = json.loads((SLACK / "manifest.json").read_text(encoding="utf-8"))
SOCKET = json.loads((SLACK / "manifest.socket-mode.json").read_text(encoding="utf-8"))

# Scope each subscribed event needs (https://api.slack.com/events).
EVENT_SCOPES = {
    "app_home_opened": None,
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
    "reaction_added": "reactions:read",
    "reaction_removed": "reactions:read",
    "team_join": "users:read",
    "user_change": "users:read",
}


def commands(manifest: dict) -> list[str]:
    return [c["command"] for c in manifest["features"]["slash_commands"]]


def test_all_starling_commands_are_declared_and_escape_mentions() -> None:
    assert commands(HTTP) == [
        "/kudos",
        "/starling",
        "/suggest",
        "/prompt",
        "/digest",
        "/pulse",
        "/goal",
        "/privacy",
        "/goodwill",
    ]
    # With escaping, Slack sends <@U…> tokens instead of display names: recipients come from ids.
    assert all(c["should_escape"] for c in HTTP["features"]["slash_commands"])
    router = register_all(Router())
    assert router.resolve_command("/kudos") is not None and router.resolve_command("/starling") is not None


def test_http_manifest_points_everything_at_the_events_endpoint() -> None:
    urls = {c["url"] for c in HTTP["features"]["slash_commands"]}
    urls |= {HTTP["settings"]["event_subscriptions"]["request_url"], HTTP["settings"]["interactivity"]["request_url"]}
    assert len(urls) == 1 and urls.pop().endswith("/slack/events")
    assert HTTP["settings"]["socket_mode_enabled"] is False


def test_events_and_scopes_match() -> None:
    settings = HTTP["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == set(EVENT_SCOPES)
    scopes = set(HTTP["oauth_config"]["scopes"]["bot"])
    assert {s for s in EVENT_SCOPES.values() if s} <= scopes
    # Posting, ephemeral answers, public channels without joining, DMs, commands and users.info.
    assert {"chat:write", "chat:write.public", "im:write", "commands", "users:read"} <= scopes
    assert HTTP["features"]["app_home"]["home_tab_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True


def test_socket_mode_manifest_is_the_same_app_without_urls() -> None:
    assert SOCKET["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in SOCKET["settings"]["event_subscriptions"]
    assert "request_url" not in SOCKET["settings"]["interactivity"]
    assert all("url" not in c for c in SOCKET["features"]["slash_commands"])
    assert commands(SOCKET) == commands(HTTP)
    assert SOCKET["oauth_config"] == HTTP["oauth_config"]
    assert (
        SOCKET["settings"]["event_subscriptions"]["bot_events"] == HTTP["settings"]["event_subscriptions"]["bot_events"]
    )


# Bot-token scope each Slack Web API method needs (https://api.slack.com/methods); views.* need none.
METHOD_SCOPES = {
    "chat_postMessage": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_update": "chat:write",
    "chat_delete": "chat:write",
    "conversations_open": "im:write",
    "conversations_history": "channels:history",
    "conversations_replies": "channels:history",
    "users_info": "users:read",
    "users_list": "users:read",
    "reactions_get": "reactions:read",
    "files_upload_v2": "files:write",  # files.getUploadURLExternal + files.completeUploadExternal
    "views_open": None,
    "views_publish": None,
    "views_update": None,
}


def test_every_web_api_call_in_the_code_has_its_scope_in_the_manifest() -> None:
    import re

    root = Path(__file__).resolve().parents[2]
    called: set[str] = set()
    for path in (root / "bot").rglob("*.py"):
        called |= set(
            re.findall(r"\bclient\.((?:chat|conversations|users|reactions|files|views|team)_\w+)\(", path.read_text())
        )
    assert {"chat_postMessage", "files_upload_v2", "users_info"} <= called
    unknown = called - set(METHOD_SCOPES)
    assert not unknown, f"add the scope of {sorted(unknown)} to METHOD_SCOPES and the manifests"
    needed = {METHOD_SCOPES[m] for m in called} - {None}
    for manifest in (HTTP, SOCKET):
        assert needed <= set(manifest["oauth_config"]["scopes"]["bot"])


def test_every_slash_command_in_the_manifest_is_a_registered_command() -> None:
    router = register_all(Router())
    for manifest in (HTTP, SOCKET):
        for command in commands(manifest):
            assert router.resolve_command(command) is not None, command
