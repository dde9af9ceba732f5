"""What may come in at ``/api/messages``: the shape of a Bot Framework activity as Teams publishes it.

Checked before the SDK deserializes the activity (400 otherwise): the types of the fields Starling and the
SDK read, and lengths that fit the columns they are stored in.
"""

from __future__ import annotations

from typing import Any

from bot.edge import ANY, BOOL, Rejected, array, check, ident, obj, text

ID = ident(120)  # people: stored as members
NAME = text(200)
SHORT = text(255)

ACCOUNT = obj(id=ID, name=NAME, aadObjectId=text(64), role=SHORT)  # bots are stored as members too
ACTIVITY = obj(
    type=text(64),
    id=ident(255),
    name=SHORT,
    action=SHORT,
    text=text(),
    textFormat=SHORT,
    locale=text(64),
    localTimezone=text(64),
    timestamp=text(64),
    localTimestamp=text(64),
    serviceUrl=ident(500),
    channelId=ident(40),
    replyToId=ident(255),
    **{
        "from": obj(id=ID, name=NAME, aadObjectId=text(64), role=SHORT),
        "recipient": ACCOUNT,
        "conversation": obj(
            id=ident(400),
            name=NAME,
            conversationType=text(40),
            tenantId=ident(64),
            isGroup=BOOL,
        ),
        "entities": array(obj(type=SHORT, text=SHORT, mentioned=ACCOUNT, locale=text(64), timezone=text(64))),
        "channelData": obj(
            tenant=obj(id=ident(64)),
            team=obj(id=ident(255), name=NAME, aadGroupId=text(64)),
            channel=obj(id=ident(255), name=NAME),
            teamsTeamId=ident(255),
            teamsChannelId=ident(255),
            eventType=SHORT,
            settings=obj(selectedChannel=obj(id=ident(255), name=NAME)),
        ),
        "membersAdded": array(ACCOUNT),
        "membersRemoved": array(ACCOUNT),
        "attachments": array(obj(contentType=SHORT, name=NAME, contentUrl=text(2000))),
        "value": ANY,
    },
)


def check_activity(body: dict[str, Any]) -> None:
    """:class:`Rejected` (400) unless ``body`` is an activity Starling can read."""
    check(body, ACTIVITY, "activity")
    if not body.get("type") or not isinstance(body.get("conversation"), dict):
        raise Rejected(400, "not a Bot Framework activity")
