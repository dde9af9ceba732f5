"""What may come in at ``/slack/events``: the signature check and the shapes of Slack's payloads.

:func:`verify` runs on the raw bytes before anything is parsed (401 otherwise); :func:`parse` reads the body
the way Slack sends it (Events API JSON, slash-command forms, ``payload=<json>`` interactivity) and checks it
against the published shapes below (400 otherwise). Ids are limited to what the database stores.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl

from bot.edge import ANY, BOOL, NUMBER, Rejected, array, check, decode, ident, obj, parse_object, text

WINDOW_SECONDS = 300

ID = ident(120)
WS = ident(100)  # team and enterprise ids: the workspace id is "slack:<id>", at most 120 characters
SHORT = text(255)
NAME = text(200)
URL = text(2000)

TEAM = WS | obj(id=WS, domain=NAME, enterprise_id=WS, enterprise_name=NAME)
ENTERPRISE = WS | obj(id=WS, name=NAME)
CHANNEL = ID | obj(id=ID, name=NAME)
AUTHORIZATION = obj(enterprise_id=WS, team_id=WS, user_id=ID, is_bot=BOOL, is_enterprise_install=BOOL)
BLOCKS = array(obj(type=SHORT, block_id=SHORT))
MESSAGE = obj(
    type=SHORT, subtype=SHORT, user=ID, bot_id=ID, text=text(), ts=ID, thread_ts=ID, channel=ID, blocks=BLOCKS
)
USER = obj(
    id=ID,
    team_id=WS,
    name=ID,
    username=ID,
    real_name=NAME,
    tz=text(64),
    deleted=BOOL,
    is_bot=BOOL,
    is_app_user=BOOL,
    is_admin=BOOL,
    is_owner=BOOL,
    profile=obj(display_name=NAME, real_name=NAME),
)
EVENT = obj(
    type=SHORT,
    subtype=SHORT,
    user=ID | USER,
    channel=CHANNEL,
    channel_type=SHORT,
    text=text(),
    ts=ID,
    thread_ts=ID,
    event_ts=ID,
    deleted_ts=ID,
    bot_id=ID,
    blocks=BLOCKS,
    item=obj(type=SHORT, channel=ID, ts=ID),
    item_user=ID,
    reaction=text(100),
    tab=SHORT,
    previous_message=MESSAGE,
    message=MESSAGE,
    team=WS,
    user_team=WS,
    view=obj(),
)
EVENTS = obj(
    type=SHORT,
    token=SHORT,
    challenge=SHORT,
    ssl_check=SHORT,
    team_id=WS,
    api_app_id=ID,
    enterprise_id=WS,
    context_team_id=WS,
    context_enterprise_id=WS,
    event_id=ID,
    event_time=NUMBER,
    authorizations=array(AUTHORIZATION),
    authed_users=array(ID),
    is_ext_shared_channel=BOOL,
    event=EVENT,
)
COMMAND = obj(
    token=SHORT,
    team_id=WS,
    team_domain=NAME,
    enterprise_id=WS,
    enterprise_name=NAME,
    channel_id=ID,
    channel_name=NAME,
    user_id=ID,
    user_name=NAME,
    command=text(64),
    text=text(),
    api_app_id=ID,
    is_enterprise_install=SHORT,
    response_url=URL,
    trigger_id=ident(255),
    ssl_check=SHORT,
)
OPTION = obj(value=SHORT, text=ANY)
INPUT_STATE = obj(
    type=SHORT,
    value=text(),
    selected_option=OPTION,
    selected_options=array(OPTION),
    selected_date=SHORT,
    selected_time=SHORT,
    selected_user=ID,
    selected_users=array(ID),
    selected_channel=ID,
    selected_conversation=ID,
)
VIEW = obj(
    id=ID,
    type=SHORT,
    team_id=WS,
    app_id=ID,
    app_installed_team_id=WS,
    bot_id=ID,
    callback_id=SHORT,
    external_id=SHORT,
    private_metadata=text(3000),
    hash=SHORT,
    root_view_id=ID,
    previous_view_id=ID,
    blocks=BLOCKS,
    state=obj(values=obj(obj(INPUT_STATE))),
)
ACTION = obj(
    type=SHORT,
    action_id=SHORT,
    block_id=SHORT,
    value=text(2000),
    action_ts=ID,
    selected_option=OPTION,
    selected_options=array(OPTION),
)
INTERACTIVE = obj(
    type=SHORT,
    token=SHORT,
    team=TEAM,
    enterprise=ENTERPRISE,
    user=obj(id=ID, username=ID, name=ID, team_id=WS),
    api_app_id=ID,
    trigger_id=ident(255),
    response_url=URL,
    response_urls=array(obj(response_url=URL, block_id=SHORT, action_id=SHORT, channel_id=ID)),
    is_enterprise_install=BOOL,
    channel=CHANNEL,
    container=obj(type=SHORT, message_ts=ID, channel_id=ID, view_id=ID, is_ephemeral=BOOL),
    message=MESSAGE,
    actions=array(ACTION),
    view=VIEW,
    callback_id=SHORT,
)

Kind = Literal["events", "command", "interactive"]


def verify(headers: Mapping[str, str], raw: bytes, secret: str, *, now: float | None = None) -> None:
    """Slack's v0 signature over the exact bytes, and a timestamp within five minutes; 401 otherwise."""
    stamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not stamp or not signature:
        raise Rejected(401, "no Slack signature")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise Rejected(401, "unreadable X-Slack-Request-Timestamp")
    if abs((time.time() if now is None else now) - int(stamp)) > WINDOW_SECONDS:
        raise Rejected(401, "X-Slack-Request-Timestamp outside five minutes")
    base = b"v0:" + stamp.encode("ascii") + b":" + raw
    expected = "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise Rejected(401, "bad Slack signature")


def parse(raw: bytes, content_type: str) -> tuple[Kind, str, dict[str, Any]]:
    """The body as (kind, text, object), checked against its shape; :class:`Rejected` (400) otherwise."""
    body_text = decode(raw)
    main_type = content_type.split(";", 1)[0].strip().lower()
    if main_type == "application/json" or body_text.lstrip().startswith("{"):
        body = parse_object(body_text)
        check(body, EVENTS)
        return "events", body_text, body
    if main_type not in ("application/x-www-form-urlencoded", ""):
        raise Rejected(400, f"content type {main_type[:60]}")
    try:
        fields = dict(parse_qsl(body_text, keep_blank_values=True, strict_parsing=bool(body_text), errors="strict"))
    except (ValueError, UnicodeDecodeError) as err:
        raise Rejected(400, f"unreadable form: {str(err)[:80]}") from None
    if "payload" in fields:
        payload = parse_object(fields["payload"])
        check(payload, INTERACTIVE, "payload")
        return "interactive", body_text, payload
    check(fields, COMMAND, "form")
    return "command", body_text, fields
