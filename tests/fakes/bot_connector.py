"""Fake Bot Framework Connector (the Teams ``serviceUrl``) speaking the v3 conversations REST API."""

from __future__ import annotations

import copy
import re
from typing import Any

from aiohttp import web

from .slack_api import FakeHTTPServer, Recorded

DEFAULT_TENANT_ID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
DEFAULT_BOT_ID = "28:11111111-2222-3333-4444-555555555555"
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
FILE_CONSENT_CARD = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO_CARD = "application/vnd.microsoft.teams.card.file.info"
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")

# Conversation ids contain ':', ';', '@' and '=' (raw or percent-encoded); a '/' never occurs unencoded.
# An optional path prefix is allowed, as real serviceUrls look like https://smba.../amer/<tenant>/.
_PREFIX = r"^(?:/[^/]+)*?/v3/conversations"
_CONV = r"/(?P<conversation_id>[^/]+)"
_ACT = r"/(?P<activity_id>[^/]+)"


class FakeBotConnector(FakeHTTPServer):
    """Fake Teams connector: receives the bot's outgoing activities and answers member look-ups.

    It also plays the person's OneDrive for files a bot sends in a 1:1 chat: :meth:`upload_session`
    opens an upload session (what Teams puts in ``uploadInfo`` when the person accepts a
    FileConsentCard), and ``PUT /upload/<session>`` takes the bytes as OneDrive does (one request with
    ``Content-Range: bytes 0-(n-1)/n``); :meth:`uploads` lists what arrived.

    Use :attr:`service_url` (``<url>/``) as the activity's ``serviceUrl``. By default any (or no)
    ``Authorization`` header is accepted and recorded; pass ``require_token`` to get HTTP 401 for
    requests without ``Bearer <require_token>``.
    """

    name = "FakeBotConnector"

    def __init__(
        self,
        *,
        require_token: str | None = None,
        tenant_id: str = DEFAULT_TENANT_ID,
        bot_id: str = DEFAULT_BOT_ID,
        bot_name: str = "Starling",
        email_domain: str = "contoso.example",
    ) -> None:
        super().__init__()
        self.require_token = require_token
        self.tenant_id = tenant_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.email_domain = email_domain
        self.members: dict[str, list[dict[str, Any]]] = {}
        self._activity_counter = 0
        self._conversations: dict[str, str] = {}
        self._activities: dict[tuple[str, str], dict[str, Any]] = {}
        self._sessions: dict[str, dict[str, Any]] = {}
        self._add_route("POST", _PREFIX + r"/?$", "create_conversation", self._create_conversation)
        self._add_route("GET", _PREFIX + r"/?$", "get_conversations", self._get_conversations)
        self._add_route("POST", _PREFIX + _CONV + r"/activities/?$", "send_to_conversation", self._send)
        self._add_route("POST", _PREFIX + _CONV + r"/activities" + _ACT + "$", "reply_to_activity", self._send)
        self._add_route("PUT", _PREFIX + _CONV + r"/activities" + _ACT + "$", "update_activity", self._update)
        self._add_route("DELETE", _PREFIX + _CONV + r"/activities" + _ACT + "$", "delete_activity", self._delete)
        self._add_route(
            "GET", _PREFIX + _CONV + r"/activities" + _ACT + "/members$", "get_activity_members", self._list_members
        )
        self._add_route("GET", _PREFIX + _CONV + r"/members/?$", "get_conversation_members", self._list_members)
        self._add_route("GET", _PREFIX + _CONV + r"/pagedmembers/?$", "get_paged_members", self._paged_members)
        self._add_route(
            "GET", _PREFIX + _CONV + r"/members/(?P<member_id>[^/]+)$", "get_conversation_member", self._get_member
        )
        self._add_route("PUT", r"^/upload/(?P<session>[^/]+)$", "upload", self._upload)

    @property
    def service_url(self) -> str:
        """The ``serviceUrl`` to put in inbound activities (with the trailing slash Teams uses)."""
        return self.url + "/"

    # -- seeding --------------------------------------------------------------------------------------

    def add_member(
        self,
        conversation_id: str,
        id: str,
        name: str,
        aad_object_id: str,
        user_principal_name: str | None = None,
        email: str | None = None,
        *,
        given_name: str | None = None,
        surname: str | None = None,
        user_role: str = "user",
        tenant_id: str | None = None,
    ) -> dict[str, Any]:
        """Seed a member of ``conversation_id``; returns its TeamsChannelAccount JSON (mutable)."""
        first, _, last = name.partition(" ")
        default_upn = f"{name.lower().replace(' ', '.')}@{self.email_domain}"
        account: dict[str, Any] = {
            "id": id,
            "name": name,
            "aadObjectId": aad_object_id,
            "givenName": given_name if given_name is not None else first,
            "surname": surname if surname is not None else (last or None),
            "email": email if email is not None else (user_principal_name or default_upn),
            "userPrincipalName": user_principal_name if user_principal_name is not None else default_upn,
            "tenantId": tenant_id or self.tenant_id,
            "userRole": user_role,
        }
        members = self.members.setdefault(conversation_id, [])
        members[:] = [m for m in members if m["id"] != id]
        members.append(account)
        return account

    def upload_session(self, name: str) -> dict[str, Any]:
        """Open an upload session for ``name``: the ``uploadInfo`` of a ``fileConsent/invoke`` accept."""
        number = len(self._sessions) + 1
        session = f"session-{number}"
        info = {
            "name": name,
            "uploadUrl": f"{self.url}/upload/{session}",
            "contentUrl": f"{self.url}/personal/files/{name}",
            "uniqueId": f"1150D938-8870-4044-9F2C-{number:012d}",
            "fileType": name.rpartition(".")[2] if "." in name else "",
            "etag": str(number),
        }
        self._sessions[session] = info
        return copy.deepcopy(info)

    def reset(self) -> None:
        """Forget requests, faults and stored activities; seeded members stay."""
        super().reset()
        self._activities.clear()

    # -- inspection helpers ---------------------------------------------------------------------------

    @staticmethod
    def _in_conversation(rec_conversation: str, conversation_id: str | None) -> bool:
        if conversation_id is None or rec_conversation == conversation_id:
            return True
        # A channel id also selects its threads ("19:x@thread.tacv2;messageid=123").
        return rec_conversation.startswith(conversation_id + ";")

    def activities(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """Activities the bot posted (sent or replied), optionally for one conversation (and its threads)."""
        return [
            rec.json
            for rec in self.requests
            if rec.op in ("send_to_conversation", "reply_to_activity")
            and rec.accepted
            and isinstance(rec.json, dict)
            and self._in_conversation(rec.path_params.get("conversation_id", ""), conversation_id)
        ]

    def messages(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """Posted activities of type ``message`` (typing indicators etc. left out)."""
        return [a for a in self.activities(conversation_id) if a.get("type", "message") == "message"]

    def texts(self, conversation_id: str | None = None) -> list[str]:
        """The ``text`` of posted message activities that have one."""
        return [a["text"] for a in self.messages(conversation_id) if a.get("text")]

    def cards(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """Adaptive Card contents attached to posted activities."""
        return [
            attachment.get("content") or {}
            for activity in self.activities(conversation_id)
            for attachment in activity.get("attachments") or []
            if attachment.get("contentType") == ADAPTIVE_CARD
        ]

    def updates(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """Activities sent with PUT (update_activity)."""
        return [
            rec.json
            for rec in self.calls("update_activity")
            if rec.accepted
            and isinstance(rec.json, dict)
            and self._in_conversation(rec.path_params.get("conversation_id", ""), conversation_id)
        ]

    def deletes(self, conversation_id: str | None = None) -> list[tuple[str, str]]:
        """(conversation id, activity id) pairs the bot deleted."""
        return [
            (rec.path_params["conversation_id"], rec.path_params["activity_id"])
            for rec in self.calls("delete_activity")
            if rec.accepted and self._in_conversation(rec.path_params["conversation_id"], conversation_id)
        ]

    def attachments(self, content_type: str, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """Attachments of one content type (e.g. file consent or file info cards) on posted activities."""
        return [
            attachment
            for activity in self.activities(conversation_id)
            for attachment in activity.get("attachments") or []
            if attachment.get("contentType") == content_type
        ]

    def uploads(self) -> list[Recorded]:
        """Accepted file uploads (``PUT /upload/<session>``), in order; ``rec.body`` holds the bytes."""
        return [rec for rec in self.calls("upload") if rec.accepted]

    def created_conversations(self) -> list[dict[str, Any]]:
        """ConversationParameters bodies of accepted ``POST /v3/conversations`` calls."""
        return [rec.json for rec in self.calls("create_conversation") if rec.accepted and isinstance(rec.json, dict)]

    def conversation_for(self, member_id: str) -> str | None:
        """The 1:1 conversation id handed out for ``member_id`` by create_conversation, if any."""
        return self._conversations.get(member_id)

    def activity(self, conversation_id: str, activity_id: str) -> dict[str, Any] | None:
        """Current state of an activity posted/updated through this fake (None if deleted/unknown)."""
        return self._activities.get((conversation_id, activity_id))

    # -- HTTP handlers --------------------------------------------------------------------------------

    def _next_activity_id(self) -> str:
        self._activity_counter += 1
        return str(1_700_000_000_000 + self._activity_counter)

    def _fault_body(self, status: int) -> Any:
        if status == 429:
            return {"error": {"code": "Throttled", "message": "Too many requests"}}
        return {"error": {"code": "ServiceError", "message": f"Injected failure {status}"}}

    async def _not_found(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        return self._respond(rec, {"error": {"code": "NotFound", "message": "Not found"}}, status=404)

    def _denied(self, rec: Recorded) -> web.Response | None:
        if self.require_token is not None and rec.bearer != self.require_token:
            return self._respond(rec, {"message": "Authorization has been denied for this request."}, status=401)
        return None

    def _bad_request(self, rec: Recorded, message: str) -> web.Response:
        return self._respond(rec, {"error": {"code": "BadArgument", "message": message}}, status=400)

    async def _send(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        if denied := self._denied(rec):
            return denied
        if not isinstance(rec.json, dict):
            return self._bad_request(rec, "Activity body missing or not JSON")
        if not rec.json.get("type"):
            return self._bad_request(rec, "Activity type is required")
        activity_id = self._next_activity_id()
        conversation_id = rec.path_params["conversation_id"]
        self._activities[(conversation_id, activity_id)] = {**copy.deepcopy(rec.json), "id": activity_id}
        return self._respond(rec, {"id": activity_id}, status=201)

    async def _update(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        if denied := self._denied(rec):
            return denied
        if not isinstance(rec.json, dict):
            return self._bad_request(rec, "Activity body missing or not JSON")
        key = (rec.path_params["conversation_id"], rec.path_params["activity_id"])
        self._activities[key] = {**copy.deepcopy(rec.json), "id": key[1]}
        return self._respond(rec, {"id": key[1]})

    async def _delete(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        if denied := self._denied(rec):
            return denied
        self._activities.pop((rec.path_params["conversation_id"], rec.path_params["activity_id"]), None)
        return self._respond(rec, None)

    async def _upload(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        """OneDrive's upload session: the whole file in one PUT; a finished session takes nothing more."""
        info = self._sessions.get(rec.path_params["session"])
        if info is None or info.get("done"):
            return self._respond(rec, {"error": {"code": "itemNotFound", "message": "Upload session not found"}}, 404)
        size = len(rec.body)
        match = _RANGE.match(rec.header("Content-Range") or "")
        if rec.header("Content-Length") != str(size) or not match:
            return self._bad_request(rec, "Content-Length and Content-Range are required")
        first, last, total = (int(g) for g in match.groups())
        if (first, last, total) != (0, size - 1, size):
            return self._bad_request(rec, f"Content-Range {match.group(0)} does not cover the {size} bytes sent")
        info["done"] = True
        item = {"id": info["uniqueId"], "name": info["name"], "size": size, "webUrl": info["contentUrl"]}
        return self._respond(rec, item, status=201)

    async def _create_conversation(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        if denied := self._denied(rec):
            return denied
        params = rec.json
        if not isinstance(params, dict):
            return self._bad_request(rec, "ConversationParameters body missing or not JSON")
        members = params.get("members") or []
        member_ids = [str(m.get("id")) for m in members if isinstance(m, dict) and m.get("id")]
        if not member_ids:
            return self._bad_request(rec, "At least one member is required")
        is_group = bool(params.get("isGroup")) or len(member_ids) > 1
        if not is_group and member_ids[0] in self._conversations:
            conversation_id = self._conversations[member_ids[0]]
        else:
            conversation_id = f"a:new-conv-{len(set(self._conversations.values())) + 1}"
            if not is_group:
                self._conversations[member_ids[0]] = conversation_id
            else:
                self._conversations[f"group:{conversation_id}"] = conversation_id
        activity_id = self._next_activity_id()
        if isinstance(params.get("activity"), dict):
            self._activities[(conversation_id, activity_id)] = {**copy.deepcopy(params["activity"]), "id": activity_id}
        response = {"id": conversation_id, "activityId": activity_id, "serviceUrl": self.service_url}
        return self._respond(rec, response, status=201)

    async def _get_conversations(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        if denied := self._denied(rec):
            return denied
        ids = sorted(set(self._conversations.values()) | set(self.members))
        conversations = [{"id": cid, "members": self.members.get(cid, [])} for cid in ids]
        return self._respond(rec, {"conversations": conversations, "continuationToken": None})

    async def _list_members(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        if denied := self._denied(rec):
            return denied
        return self._respond(rec, self.members.get(rec.path_params["conversation_id"], []))

    async def _paged_members(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        if denied := self._denied(rec):
            return denied
        members = self.members.get(rec.path_params["conversation_id"], [])
        return self._respond(rec, {"members": members, "continuationToken": None})

    async def _get_member(self, rec: Recorded, request: web.Request) -> web.StreamResponse:
        if denied := self._denied(rec):
            return denied
        member_id = rec.path_params["member_id"]
        for member in self.members.get(rec.path_params["conversation_id"], []):
            if member_id in (member["id"], member.get("aadObjectId")):
                return self._respond(rec, member)
        error = {"code": "MemberNotFoundInConversation", "message": "The member is not found in the conversation"}
        return self._respond(rec, {"error": error}, status=404)
