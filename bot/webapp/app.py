"""The web side under ``/app``: sign-in, sessions, CSRF, and the pages.

Every page needs a session except the sign-in page, the sign-in callbacks and the stylesheet. A
session is a random token in a ``Secure; HttpOnly; SameSite=Lax`` cookie; the database keeps its
digest, the person, and the CSRF token every form must send back. Changes go through the router as
neutral events (the same code path, rules, notifications and audit entries as chat); figures come from
``handlers.dashboard``, which applies the same aggregate rules as chat.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import structlog
from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.events import ActionEvent, Actor, CommandEvent, Conversation, Event, Platform
from bot.core.i18n import Translator, normalize_locale, translator_for
from bot.core.messages import Header, Note, Section, plain
from bot.webapp.cache import SingleFlight
from bot.webapp.oidc import Identity, Provider, SignInError, new_secrets, providers_from
from storage import core, privacy
from storage import suggestions as sq
from storage import web as store
from storage.db import create_reader_engine_for, session_factory, transaction
from storage.models import Member, Workspace
from storage.teams import TeamsUser

log = structlog.get_logger("starling.webapp")

HERE = Path(__file__).resolve().parent
COOKIE = "starling_session"
LOGIN_COOKIE = "starling_signin"
LOGIN_MINUTES = 10
LINK_MINUTES = 15
PUBLIC_PREFIXES = ("/app/signin", "/app/auth/", "/app/static/")
MENTION = re.compile(r"<@([A-Za-z0-9_.:\-]+)>")
CHANNEL_MENTION = re.compile(r"<#([^>|]+)(?:\|([^>]*))?>")


@dataclass
class Viewer:
    """The signed-in person, for one request."""

    token: str
    workspace: Workspace
    member: Member
    roles: set[str]
    csrf: str
    lang: str
    t: Translator
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        return self.member.user_id

    @property
    def name(self) -> str:
        return self.member.display_name or self.member.handle or self.member.user_id

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def role_labels(self) -> str:
        order = ("admin", "approver", "works-council", "member")
        return ", ".join(self.t(f"web.roles.{r}") for r in order if r in self.roles)


VIEWER: web.RequestKey[Viewer | None] = web.RequestKey("viewer", Viewer)  # type: ignore[arg-type]


async def roles_of(session: AsyncSession, workspace: Workspace, member: Member) -> set[str]:
    """Roles come from Starling: admin, approver, works-council reader, member."""
    roles = {"member"}
    if member.is_admin:
        roles.add("admin")
    approvers = await sq.list_approvers(session, workspace_id=workspace.id)
    if any(member.user_id in ids for ids in approvers.values()):
        roles.add("approver")
    if await privacy.has_role(
        session, workspace_id=workspace.id, user_id=member.user_id, role=privacy.WORKS_COUNCIL_ROLE
    ):
        roles.add("works-council")
    return roles


def platform_of(workspace: Workspace) -> Platform:
    try:
        return Platform(workspace.platform)
    except ValueError:
        return Platform.CONSOLE


class WebApp:
    """Mounts ``/app`` on the one aiohttp application of ``starling serve``."""

    def __init__(self, starling: Any, *, providers: dict[str, Provider] | None = None) -> None:
        self.starling = starling
        self.settings = starling.settings
        self.providers = providers if providers is not None else providers_from(self.settings)
        # Long read-only page queries (the overview) on SQLite go through a reader that takes no write lock.
        self.reader_engine = create_reader_engine_for(self.settings.database_url)
        self.reader = session_factory(self.reader_engine) if self.reader_engine is not None else starling.sessions
        self.overview_cache = SingleFlight(float(self.settings.web_overview_cache_seconds))
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html", "svg"], default_for_string=True, default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    # --- wiring ------------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        """Sign-in and out, the language switch and the stylesheet (the pages are added by ``bot.webapp.mount``)."""
        app.middlewares.append(self.middleware)
        app.on_cleanup.append(self._close)
        r = app.router
        r.add_get("/app", self.root)
        r.add_get("/app/", self.root)
        r.add_static("/app/static/", HERE / "static", append_version=False)
        r.add_get("/app/signin", self.signin)
        r.add_get("/app/auth/link", self.link)
        r.add_get("/app/auth/{provider}/start", self.start)
        r.add_get("/app/auth/{provider}/callback", self.callback)
        r.add_post("/app/signout", self.signout)
        r.add_post("/app/language", self.language)

    async def _close(self, _app: web.Application) -> None:
        if self.reader_engine is not None:
            await self.reader_engine.dispose()

    @property
    def now(self) -> datetime:
        return self.starling.services.clock()

    def transaction(self) -> Any:
        return transaction(self.starling.sessions)

    # --- middleware: headers, session, CSRF, errors ---------------------------------------------------
    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        if not (path == "/app" or path.startswith("/app/")):
            return await handler(request)
        try:
            if not path.startswith(PUBLIC_PREFIXES):
                viewer = await self.load_viewer(request)
                if viewer is None:
                    if request.method == "GET":
                        target = "/app/signin?" + urlencode({"next": request.path_qs})
                    else:
                        target = "/app/signin"
                    raise web.HTTPSeeOther(target)
                request[VIEWER] = viewer
                if request.method not in ("GET", "HEAD"):
                    await self.check_csrf(request, viewer)
            response = await handler(request)
        except web.HTTPException as exc:
            response = exc if exc.status < 400 else await self.error_page(request, exc.status)
        self.secure_headers(response)
        return response

    def secure_headers(self, response: web.StreamResponse) -> None:
        h = response.headers
        h.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' https:; "
            "frame-ancestors 'none'; base-uri 'none'",
        )
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Cache-Control", "no-store")

    async def check_csrf(self, request: web.Request, viewer: Viewer) -> None:
        form = await request.post()
        sent = str(form.get("csrf", ""))
        origin = request.headers.get("Origin")
        same_origin = origin is None or origin == "null" or origin == self.origin(request)
        if not sent or not hmac.compare_digest(sent, viewer.csrf) or not same_origin:
            log.warning("web_csrf_refused", path=request.path)
            raise web.HTTPForbidden()

    def origin(self, request: web.Request) -> str:
        if self.settings.web_public_url:
            return self.settings.web_public_url.rstrip("/")
        return f"{request.scheme}://{request.host}"

    async def error_page(self, request: web.Request, status: int) -> web.Response:
        viewer = request.get(VIEWER)
        t = viewer.t if viewer else self.guest_translator(request)
        key = {403: "web.forbidden", 404: "web.not_found"}.get(status, "web.bad_request")
        return self.render(request, "message.html", t=t, heading=t(key), lines=[], status=status)

    # --- rendering ------------------------------------------------------------------------------------
    def guest_translator(self, request: web.Request) -> Translator:
        wanted = request.headers.get("Accept-Language", "").split(",")[0]
        return translator_for(wanted, self.settings.default_locale, tone="du", marked=False)

    def render(self, request: web.Request, name: str, *, status: int = 200, **context: Any) -> web.Response:
        viewer: Viewer | None = request.get(VIEWER)
        t: Translator = context.pop("t", None) or (viewer.t if viewer else self.guest_translator(request))
        template = self.env.get_template(name)
        html = template.render(
            t=t,
            lang=t.lang,
            viewer=viewer,
            here=request.path_qs,
            nonce=lambda: secrets.token_urlsafe(12),
            **context,
        )
        return web.Response(text=html, content_type="text/html", charset="utf-8", status=status)

    # --- sessions -------------------------------------------------------------------------------------
    async def load_viewer(self, request: web.Request) -> Viewer | None:
        token = request.cookies.get(COOKIE, "")
        if not token:
            return None
        async with self.reader() as session:  # a read: no write lock for every page view (SQLite)
            row = await store.find(session, token=token, kind="session", now=self.now)
            if row is None or row.workspace_id is None or row.user_id is None:
                return None
            workspace = await session.get(Workspace, row.workspace_id)
            member = await core.get_member(session, workspace_id=row.workspace_id, user_id=row.user_id)
            if workspace is None or member is None:
                return None
            if not await privacy.feature_enabled(session, workspace.id, "web"):
                return None
            roles = await roles_of(session, workspace, member)
            lang = normalize_locale(row.data.get("lang")) or normalize_locale(member.locale) or workspace.locale
            t = translator_for(lang, workspace.locale, tone=workspace.tone, marked=False)
            session.expunge(workspace)
            session.expunge(member)
            return Viewer(token, workspace, member, roles, row.csrf, t.lang, t, dict(row.data))

    async def open_session(self, request: web.Request, workspace_id: str, user_id: str, target: str) -> web.Response:
        hours = float(self.settings.web_session_hours)
        async with self.transaction() as session:
            token, _ = await store.create(
                session,
                kind="session",
                now=self.now,
                lifetime=timedelta(hours=hours),
                workspace_id=workspace_id,
                user_id=user_id,
            )
        response = web.HTTPSeeOther(safe_next(target))
        self.set_cookie(response, COOKIE, token, max_age=int(hours * 3600))
        response.del_cookie(LOGIN_COOKIE, path="/app/auth/")
        return response  # type: ignore[return-value]

    def set_cookie(self, response: web.StreamResponse, name: str, value: str, *, max_age: int, path: str = "/") -> None:
        response.set_cookie(name, value, max_age=max_age, path=path, secure=True, httponly=True, samesite="Lax")

    # --- routes: sign-in and out ------------------------------------------------------------------------
    async def root(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther("/app/overview")

    async def signin(self, request: web.Request, *, error: str | None = None) -> web.Response:
        t = self.guest_translator(request)
        return self.render(
            request,
            "signin.html",
            t=t,
            heading=t("web.signin.title"),
            providers=sorted(self.providers),
            next=safe_next(request.query.get("next", "")),
            error=error,
            status=400 if error else 200,
        )

    async def start(self, request: web.Request) -> web.StreamResponse:
        provider = self.providers.get(request.match_info["provider"])
        if provider is None:
            raise web.HTTPNotFound()
        state, nonce, verifier = new_secrets()
        async with self.transaction() as session:
            await store.create(
                session,
                kind="login",
                now=self.now,
                lifetime=timedelta(minutes=LOGIN_MINUTES),
                data={
                    "provider": provider.name,
                    "nonce": nonce,
                    "verifier": verifier,
                    "next": safe_next(request.query.get("next", "")),
                },
                token=state,
            )
        try:
            url = await provider.authorization_url(
                redirect_uri=self.redirect_uri(request, provider.name), state=state, nonce=nonce, verifier=verifier
            )
        except Exception as err:
            log.warning("web_signin_discovery_failed", provider=provider.name, error=type(err).__name__)
            return await self.signin(request, error=self.guest_translator(request)("web.signin.failed"))
        response = web.HTTPSeeOther(url)
        # The attempt is bound to this browser: the callback must come back with the same state cookie.
        self.set_cookie(response, LOGIN_COOKIE, state, max_age=LOGIN_MINUTES * 60, path="/app/auth/")
        return response

    def redirect_uri(self, request: web.Request, provider: str) -> str:
        return f"{self.origin(request)}/app/auth/{provider}/callback"

    async def callback(self, request: web.Request) -> web.StreamResponse:
        t = self.guest_translator(request)
        name = request.match_info["provider"]
        provider = self.providers.get(name)
        state = request.query.get("state", "")
        code = request.query.get("code", "")
        if provider is None:
            raise web.HTTPNotFound()
        bound = request.cookies.get(LOGIN_COOKIE, "")
        if not state or not bound or not hmac.compare_digest(state, bound):
            log.warning("web_signin_refused", provider=name, reason="state")
            return await self.signin(request, error=t("web.signin.failed"))
        async with self.transaction() as session:
            attempt = await store.take(session, token=state, kind="login", now=self.now)
        if attempt is None or attempt.data.get("provider") != name or not code:
            log.warning("web_signin_refused", provider=name, reason="attempt")
            return await self.signin(request, error=t("web.signin.failed"))
        try:  # network: outside any transaction
            identity = await provider.finish(
                redirect_uri=self.redirect_uri(request, name),
                code=code,
                verifier=str(attempt.data["verifier"]),
                nonce=str(attempt.data["nonce"]),
            )
        except SignInError as err:
            log.warning("web_signin_refused", provider=name, reason=str(err)[:120])
            return await self.signin(request, error=t("web.signin.failed"))
        except Exception as err:
            log.warning("web_signin_failed", provider=name, error=type(err).__name__)
            return await self.signin(request, error=t("web.signin.failed"))
        found = await self.person_for(identity)
        if isinstance(found, str):
            return await self.signin(request, error=t(found))
        workspace_id, user_id = found
        log.info("web_signed_in", provider=name, workspace=workspace_id)
        return await self.open_session(request, workspace_id, user_id, str(attempt.data.get("next") or ""))

    async def person_for(self, identity: Identity) -> tuple[str, str] | str:
        """The Starling member behind a verified identity, or the key of a refusal."""
        async with self.transaction() as session:
            workspace = await session.get(Workspace, identity.workspace_id)
            if workspace is None:
                return "web.signin.unknown_workspace"
            if not await privacy.feature_enabled(session, workspace.id, "web"):
                return "web.signin.off"
            if identity.provider == "entra":
                from sqlmodel import select

                rows = await session.execute(
                    select(TeamsUser.user_id).where(
                        TeamsUser.workspace_id == workspace.id, TeamsUser.aad_object_id == identity.subject
                    )
                )
                user_id = rows.scalars().first()
                if user_id is None:
                    return "web.signin.unknown_person"
                return workspace.id, str(user_id)
            member = await core.get_member(session, workspace_id=workspace.id, user_id=identity.subject)
            if member is None:  # a person of the Slack workspace who has not talked to Starling yet
                await core.upsert_member(
                    session,
                    workspace_id=workspace.id,
                    user_id=identity.subject,
                    display_name=identity.name or None,
                    locale=identity.locale,
                )
            return workspace.id, identity.subject

    async def link(self, request: web.Request) -> web.StreamResponse:
        """A one-time local sign-in link (``starling web --demo``)."""
        async with self.transaction() as session:
            row = await store.take(session, token=request.query.get("token", ""), kind="link", now=self.now)
        if row is None or row.workspace_id is None or row.user_id is None:
            t = self.guest_translator(request)
            return await self.signin(request, error=t("web.signin.expired"))
        return await self.open_session(request, row.workspace_id, row.user_id, "/app/overview")

    async def signout(self, request: web.Request) -> web.StreamResponse:
        viewer = viewer_of(request)
        async with self.transaction() as session:
            await store.end(session, token=viewer.token)
        response = web.HTTPSeeOther("/app/signin?signed_out=1")
        response.del_cookie(COOKIE, path="/")
        return response

    async def language(self, request: web.Request) -> web.StreamResponse:
        viewer = viewer_of(request)
        form = await request.post()
        lang = normalize_locale(str(form.get("lang", "")))
        if lang:
            async with self.transaction() as session:
                row = await store.find(session, token=viewer.token, kind="session", now=self.now)
                if row is not None:
                    row.data = {**row.data, "lang": lang}
                    session.add(row)
        raise web.HTTPSeeOther(safe_next(str(form.get("next", ""))))

    # --- the one code path: neutral events through the router ----------------------------------------------
    def actor(self, viewer: Viewer) -> Actor:
        return Actor(
            platform=platform_of(viewer.workspace),
            workspace_id=viewer.workspace.id,
            user_id=viewer.user_id,
            display_name=viewer.member.display_name,
        )

    async def command(
        self, viewer: Viewer, name: str, text: str, *, nonce: str | None = None, channel: str | None = None
    ) -> list[str]:
        """The chat command ``name text`` as the viewer would type it (in ``channel``, for the commands that act
        on the channel they are typed in)."""
        event = CommandEvent(
            actor=self.actor(viewer),
            name=name,
            text=text,
            event_id=_event_id(nonce),
            conversation=Conversation(id=channel, kind="channel") if channel else None,
        )
        return await self.dispatch(viewer, event)

    async def action(
        self,
        viewer: Viewer,
        action_id: str,
        *,
        value: str = "",
        form: dict[str, str] | None = None,
        nonce: str | None = None,
    ) -> list[str]:
        event = ActionEvent(
            actor=self.actor(viewer),
            action_id=action_id,
            value=value,
            form=form or {},
            is_form=form is not None,
            event_id=_event_id(nonce),
        )
        return await self.dispatch(viewer, event)

    async def dispatch(self, viewer: Viewer, event: Event) -> list[str]:
        """What the router answered the person directly, as plain lines (proactive messages go out as usual)."""
        answered = await self.starling.dispatch(event)
        lines: list[str] = []
        for msg in answered:
            if msg.target.kind not in ("ephemeral", "reply", "update"):
                continue
            for block in msg.blocks:
                if isinstance(block, Header | Section | Note):
                    lines.append(block.text)
            if not msg.blocks and msg.text:
                lines.append(msg.text)
        return await self.readable(viewer, lines)

    async def readable(self, viewer: Viewer, lines: list[str]) -> list[str]:
        """Chat text for a web page: mentions become names, chat markup is dropped (the page escapes it)."""
        ids = {uid for line in lines for uid in MENTION.findall(line)}
        names = await self.names(viewer.workspace.id, ids)
        out = []
        for line in lines:
            text = MENTION.sub(lambda m: names.get(m.group(1), m.group(1)), plain(line))
            text = CHANNEL_MENTION.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
            out.append(text.replace("*", "").replace("`", ""))
        return out

    async def names(self, workspace_id: str, ids: set[str]) -> dict[str, str]:
        if not ids:
            return {}
        found: dict[str, str] = {}
        async with self.reader() as session:
            for uid in ids:
                m = await core.get_member(session, workspace_id=workspace_id, user_id=uid)
                found[uid] = (m.display_name or m.handle or uid) if m else uid
        return found


def viewer_of(request: web.Request) -> Viewer:
    """The signed-in person (the middleware has checked there is one)."""
    viewer = request[VIEWER]
    assert viewer is not None
    return viewer


def _event_id(nonce: str | None) -> str | None:
    """A form's one-time nonce as the event id: a double submit is handled once (router dedupe)."""
    if not nonce:
        return None
    cleaned = re.sub(r"[^A-Za-z0-9_\-]", "", nonce)[:40]
    return f"web:{cleaned}" if cleaned else None


def safe_next(target: str) -> str:
    """Only local paths under /app (no open redirect)."""
    if target.startswith("/app") and not target.startswith("//") and "\\" not in target and "\n" not in target:
        return target
    return "/app/overview"


def csv_href(path: str, **query: str) -> str:
    return path + "?" + urlencode({k: v for k, v in query.items() if v})


__all__ = ["COOKIE", "VIEWER", "Viewer", "WebApp", "csv_href", "safe_next", "viewer_of"]
