"""Files for a person in Teams: offered with a FileConsentCard, uploaded when the person accepts.

A bot may send a file only in a 1:1 chat, and only with the person's consent (the app manifest declares
``supportsFiles``). The outbox sender offers each attachment of a message as a FileConsentCard next to the
message card; the bytes wait in the database (:class:`storage.teams.TeamsPendingFile`) under a random token,
which is all the card carries. When the person answers, Teams sends an invoke ``fileConsent/invoke``:

- ``accept`` carries an upload URL (a OneDrive upload session in the person's OneDrive). Starling PUTs the
  bytes there, forgets them, and posts a FileInfoCard that opens the file. Only one of two accepts (a
  double click, a Teams retry) uploads: the offer is claimed in the database first.
- ``decline`` forgets the bytes and says how to ask again.
- An unknown or expired offer gets a short note; the invoke is always answered with HTTP 200.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import structlog
from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ActivityTypes, Attachment, ErrorResponseException
from msrest.exceptions import ClientRequestError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.i18n import Translator
from bot.core.messages import Attachment as File
from bot.teams.render import activity_text
from storage import teams as store
from storage.db import transaction
from storage.teams import TeamsConversation

log = structlog.get_logger("starling.teams")

FILE_CONSENT_CARD = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO_CARD = "application/vnd.microsoft.teams.card.file.info"
FILE_CONSENT_INVOKE = "fileConsent/invoke"
UPLOAD_LEASE = timedelta(minutes=2)  # an accepted offer is someone's to upload for this long
UPLOAD_TIMEOUT_SECONDS = 60.0

# OneDrive refuses these in a file name; Teams user ids (29:…) contain ':'.
_NOT_IN_NAMES = re.compile(r'[\\/:*?"<>|#%\x00-\x1f]')


def onedrive_name(filename: str) -> str:
    """A file name OneDrive accepts: forbidden characters become '-', at most 200 characters."""
    clean = _NOT_IN_NAMES.sub("-", filename).strip(" .") or "starling-file"
    if len(clean) <= 200:
        return clean
    stem, dot, ext = clean.rpartition(".")
    return (stem[: 199 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else clean[:200]


def consent_card(name: str, size: int, description: str, token: str) -> Attachment:
    """The FileConsentCard attachment: Teams asks the person before the bot may upload."""
    context = {"token": token}
    return Attachment(
        content_type=FILE_CONSENT_CARD,
        name=name,
        content={
            "description": description,
            "sizeInBytes": size,
            "acceptContext": context,
            "declineContext": context,
        },
    )


def info_card(upload: dict[str, Any]) -> Attachment:
    """The FileInfoCard that opens an uploaded file in Teams."""
    return Attachment(
        content_type=FILE_INFO_CARD,
        name=str(upload.get("name") or ""),
        content_url=str(upload.get("contentUrl") or ""),
        content={"uniqueId": upload.get("uniqueId"), "fileType": upload.get("fileType")},
    )


class FileOffers:
    """Keeps offered files in the database and answers the person's consent."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.clock = clock

    # -- offering (the outbox sender) -----------------------------------------------------------------
    async def cards(
        self, workspace_id: str, user_id: str, files: list[File], *, outbox_id: int | None, description: str
    ) -> list[Attachment]:
        """One consent card per file; the bytes are stored first (the same outbox message: same tokens)."""
        now = self.clock()
        async with transaction(self.sessions) as session:
            offers = [
                await store.offer_file(
                    session,
                    workspace_id=workspace_id,
                    user_id=user_id,
                    outbox_id=outbox_id,
                    position=i,
                    filename=onedrive_name(f.filename),
                    mime=f.mime,
                    content=f.content(),
                    now=now,
                )
                for i, f in enumerate(files)
            ]
        return [consent_card(o.filename, o.size, description or o.filename, o.token) for o in offers]

    async def forget_message(self, outbox_id: int) -> None:
        """The message with these offers can never be delivered: its files go at once."""
        async with transaction(self.sessions) as session:
            await store.drop_files_of_message(session, outbox_id=outbox_id)

    # -- the person's answer (the adapter) -------------------------------------------------------------
    async def answer(self, turn: TurnContext, raw: dict[str, Any], ref: TeamsConversation, t: Translator) -> None:
        """Handle one ``fileConsent/invoke``; the caller answers the invoke with 200."""
        value = raw.get("value") if isinstance(raw.get("value"), dict) else {}
        assert isinstance(value, dict)
        context = value.get("context") if isinstance(value.get("context"), dict) else {}
        token = str((context or {}).get("token") or "")
        user_id = str((raw.get("from") or {}).get("id") or "")
        action = str(value.get("action") or "")
        ws = ref.workspace_id
        if action == "decline":
            async with transaction(self.sessions) as session:
                dropped = await store.drop_file(session, workspace_id=ws, token=token, user_id=user_id)
            if dropped is None:
                await self._say(turn, t("teams.file.gone"))
            else:
                log.info("teams_file_declined", workspace=ws, file=dropped.filename)
                await self._say(turn, t("teams.file.declined", name=dropped.filename))
            return
        if action != "accept":
            await self._say(turn, t("teams.file.gone"))
            return
        upload = value.get("uploadInfo") if isinstance(value.get("uploadInfo"), dict) else {}
        assert isinstance(upload, dict)
        now = self.clock()
        async with transaction(self.sessions) as session:
            offer = await store.claim_file(
                session, workspace_id=ws, user_id=user_id, token=token, now=now, until=now + UPLOAD_LEASE
            )
            busy = offer is None and await store.file_being_uploaded(session, workspace_id=ws, token=token, now=now)
        if offer is None:
            if not busy:  # unknown, expired or already delivered; an upload under way speaks for itself
                await self._say(turn, t("teams.file.gone"))
            return
        url = str(upload.get("uploadUrl") or "")
        if not url or not await self._upload(url, offer.content):
            async with transaction(self.sessions) as session:
                await store.release_file(session, token=token)
            await self._say(turn, t("teams.file.upload_failed", name=offer.filename))
            return
        async with transaction(self.sessions) as session:
            await store.drop_file(session, workspace_id=ws, token=token)
        log.info("teams_file_uploaded", workspace=ws, file=offer.filename, size=offer.size)
        reply = Activity(
            type=ActivityTypes.message, text=activity_text(t("teams.file.uploaded")), attachments=[info_card(upload)]
        )
        try:
            await turn.send_activity(reply)
        except (ErrorResponseException, ClientRequestError) as err:
            # The file is in the person's OneDrive and Teams shows the accepted card; only the link is missing.
            log.warning("teams_file_info_failed", workspace=ws, error=str(err)[:200])

    async def _upload(self, url: str, content: bytes) -> bool:
        """PUT the whole file to the upload session Teams opened in the person's OneDrive."""
        n = len(content)
        headers = {"Content-Length": str(n)}
        if n:
            headers["Content-Range"] = f"bytes 0-{n - 1}/{n}"
        timeout = aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT_SECONDS)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as http,
                http.put(url, data=content, headers=headers) as resp,
            ):
                if resp.status in (200, 201):
                    return True
                log.warning("teams_file_upload_refused", status=resp.status, body=(await resp.text())[:200])
        except (aiohttp.ClientError, TimeoutError) as err:
            log.warning("teams_file_upload_failed", error=f"{type(err).__name__}: {err}"[:200])
        return False

    @staticmethod
    async def _say(turn: TurnContext, text: str) -> None:
        try:
            await turn.send_activity(Activity(type=ActivityTypes.message, text=activity_text(text)))
        except (ErrorResponseException, ClientRequestError) as err:
            log.warning("teams_file_note_failed", error=str(err)[:200])
