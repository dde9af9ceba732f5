"""The web side's security: sign-in refusals, sessions, CSRF, roles, escaping, cookie flags."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from storage.privacy import AuditEntry
from storage.suggestions import Suggestion, SuggestionVote
from storage.web import WebSession
from tests.fakes.oidc_provider import FakeOIDCProvider
from tests.kit import Clock
from tests.slack.conftest import fake  # noqa: F401
from tests.slack.wire import SlackWire, Testbed
from tests.webapp.conftest import ENTRA_TENANT, WORKSPACE, WebBed, set_cookies

GET_PAGES = [
    "/app",
    "/app/",
    "/app/overview",
    "/app/overview?period=4w&team=IT",
    "/app/overview.csv?chart=weeks",
    "/app/suggestions",
    "/app/suggestions/1",
    "/app/privacy",
    "/app/privacy/forget",
    "/app/settings",
]
POST_ACTIONS = [
    "/app/suggestions/1/vote",
    "/app/suggestions/1/decide",
    "/app/privacy/export",
    "/app/privacy/lookup",
    "/app/privacy/forget",
    "/app/settings",
    "/app/signout",
    "/app/language",
]


def test_every_protected_route_is_listed(web: WebBed) -> None:
    """A new page or action must join the lists above (and so the redirect test)."""
    app = web.bed.server.app
    routes = {
        (r.method, re.sub(r"\{[^}]*\}", "1", r.resource.canonical))
        for r in app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/app")
    }
    public = ("/app/signin", "/app/auth/", "/app/static")
    listed_get = {p.split("?")[0] for p in GET_PAGES}
    for method, path in routes:
        if path.startswith(public) or method == "HEAD":
            continue
        assert path in (listed_get if method == "GET" else set(POST_ACTIONS)), (method, path)


async def test_pages_and_actions_without_a_session_redirect_to_sign_in(web: WebBed) -> None:
    for path in GET_PAGES:
        status, _, response = await web.get(path)
        assert status == 303, path
        assert response.headers["Location"].startswith("/app/signin"), path
    for path in POST_ACTIONS:
        status, _, response = await web.post(path, data={"csrf": "x", "verb": "approve"})
        assert status == 303 and response.headers["Location"] == "/app/signin", path
    # the sign-in page, the stylesheet and health need no session
    for path in ("/app/signin", "/app/static/app.css", "/healthz"):
        status, _, _ = await web.get(path)
        assert status == 200, path


async def test_a_forged_or_stale_session_cookie_is_no_session(web: WebBed) -> None:
    for token in ("forged", "a" * 43, ""):
        status, _, response = await web.get("/app/overview", token)
        assert status == 303 and response.headers["Location"].startswith("/app/signin")


async def test_sign_in_sets_a_secure_http_only_same_site_cookie(web: WebBed) -> None:
    token = await web.sign_in("max")
    assert token
    async with web.http.get(web.url + "/app/auth/slack/start", allow_redirects=False) as r1:
        state = set_cookies(r1)["starling_signin"]
        assert "Secure" in state[1] and "HttpOnly" in state[1] and "SameSite=Lax" in state[1]
        location = r1.headers["Location"]
        assert "code_challenge=" in location and "code_challenge_method=S256" in location and "nonce=" in location
    async with web.http.get(location, allow_redirects=False) as r2:
        callback = r2.headers["Location"]
    async with web.http.get(
        callback, allow_redirects=False, headers={"Cookie": f"starling_signin={state[0].value}"}
    ) as r3:
        morsel, header = set_cookies(r3)["starling_session"]
        assert morsel["secure"] and morsel["httponly"] and morsel["samesite"] == "Lax" and morsel["path"] == "/"
        assert r3.headers["Location"] == "/app/overview"
    # the database keeps only a digest of the token
    async with web.bed.starling.sessions() as session:
        rows = (await session.execute(select(WebSession).where(WebSession.kind == "session"))).scalars().all()
    assert rows and all(token not in (r.token_hash, r.csrf) for r in rows)
    status, body, response = await web.get("/app/overview", token)
    assert status == 200 and "Überblick" in body
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("tamper", ["nonce", "expired", "audience", "issuer", "signature"])
async def test_a_bad_id_token_is_refused(web: WebBed, tamper: str) -> None:
    assert await web.sign_in("max", tamper=tamper) is None
    async with web.bed.starling.sessions() as session:
        rows = (await session.execute(select(WebSession).where(WebSession.kind == "session"))).scalars().all()
    assert rows == []


async def test_a_wrong_or_replayed_state_is_refused(web: WebBed) -> None:
    web.oidc.next_claims = {"https://slack.com/team_id": "T1", "https://slack.com/user_id": "max"}
    async with web.http.get(web.url + "/app/auth/slack/start", allow_redirects=False) as r1:
        state = set_cookies(r1)["starling_signin"][0].value
        location = r1.headers["Location"]
    async with web.http.get(location, allow_redirects=False) as r2:
        callback = r2.headers["Location"]
    wrong = re.sub(r"state=[^&]+", "state=forged", callback)
    for url, cookie in ((wrong, state), (wrong, "forged"), (callback, "another")):
        async with web.http.get(url, allow_redirects=False, headers={"Cookie": f"starling_signin={cookie}"}) as r:
            assert r.status == 400 and "starling_session" not in set_cookies(r)
            assert "Anmeldung hat nicht geklappt" in await r.text() or "did not work" in await r.text()
    # the real state still works once, and only once (the code and the attempt are used up)
    async with web.http.get(callback, allow_redirects=False, headers={"Cookie": f"starling_signin={state}"}) as r:
        assert r.status == 303 and "starling_session" in set_cookies(r)
    async with web.http.get(callback, allow_redirects=False, headers={"Cookie": f"starling_signin={state}"}) as r:
        assert r.status == 400 and "starling_session" not in set_cookies(r)


async def test_an_unknown_workspace_is_refused(web: WebBed) -> None:
    web.oidc.next_claims = {"https://slack.com/team_id": "TOTHER", "https://slack.com/user_id": "max"}
    async with web.http.get(web.url + "/app/auth/slack/start", allow_redirects=False) as r1:
        state = set_cookies(r1)["starling_signin"][0].value
        location = r1.headers["Location"]
    async with web.http.get(location, allow_redirects=False) as r2:
        callback = r2.headers["Location"]
    async with web.http.get(callback, allow_redirects=False, headers={"Cookie": f"starling_signin={state}"}) as r:
        assert r.status == 400 and "starling_session" not in set_cookies(r)


async def test_a_member_cannot_reach_admin_pages_or_actions(web: WebBed) -> None:
    token = await web.sign_in("anna")
    assert token
    csrf = await web.csrf(token)
    status, body, _ = await web.get("/app/settings", token)
    assert status == 403 and "Diese Seite darfst du nicht öffnen" in body
    for path, data in (
        ("/app/settings", {"section": "kudos", "budget": "99"}),
        ("/app/privacy/lookup", {"person": "ben"}),
    ):
        status, _, _ = await web.post(path, token, {"csrf": csrf, **data})
        assert status == 403, path
    _, overview, _ = await web.get("/app/overview", token)
    assert 'href="/app/settings"' not in overview
    # the audit log is for admins and the works council
    _, privacy_page, _ = await web.get("/app/privacy", token)
    assert 'id="h-audit"' not in privacy_page and 'id="h-lookup"' not in privacy_page
    # approving is refused by the suggestion box's own rule (the router path), not only by the page
    status, body, _ = await web.post("/app/suggestions/2/decide", token, {"csrf": csrf, "verb": "approve"})
    async with web.bed.starling.sessions() as session:
        s = await session.get(Suggestion, 2)
    assert s is not None and s.status == "submitted"


async def test_a_forged_csrf_token_is_refused(web: WebBed) -> None:
    token = await web.sign_in("max")
    assert token
    csrf = await web.csrf(token)
    for data, headers in (
        ({"csrf": "forged"}, {}),
        ({}, {}),
        ({"csrf": csrf}, {"Origin": "https://evil.example"}),
    ):
        status, _, _ = await web.post("/app/suggestions/2/vote", token, {**data, "nonce": "n1"}, **headers)
        assert status == 403
    async with web.bed.starling.sessions() as session:
        votes = (await session.execute(select(SuggestionVote).where(SuggestionVote.suggestion_id == 2))).scalars().all()
    assert all(v.user_id != "max" for v in votes)
    # another person's CSRF token does not fit this session either
    other = await web.sign_in("anna")
    assert other
    status, _, _ = await web.post("/app/suggestions/2/vote", token, {"csrf": await web.csrf(other)})
    assert status == 403
    status, body, _ = await web.post("/app/suggestions/2/vote", token, {"csrf": csrf, "nonce": "n2"})
    assert status == 200 and "#2" in body


async def test_no_page_echoes_unescaped_input(web: WebBed) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    async with web.bed.starling.sessions() as session:
        s = await session.get(Suggestion, 1)
        assert s is not None
        s.title = evil
        s.problem = evil
        session.add(s)
        await session.commit()
    token = await web.sign_in("max")
    assert token
    from urllib.parse import quote

    for path in (
        "/app/suggestions?q=" + quote(evil),
        "/app/suggestions?status=" + quote(evil),
        "/app/suggestions",
        "/app/suggestions/1",
        "/app/overview?team=" + quote(evil) + "&period=" + quote(evil),
        "/app/signin?next=" + quote('/app"><script>alert(1)</script>'),
        "/app/overview.csv?chart=weeks&team=" + quote(evil),
    ):
        status, body, _ = await web.get(path, token)
        assert status in (200, 303), path
        assert "<script>alert" not in body and "<img src=x" not in body, path
    _, body, _ = await web.get("/app/suggestions/1", token)
    assert "&lt;script&gt;" in body


async def test_sign_out_ends_the_session_everywhere(web: WebBed) -> None:
    token = await web.sign_in("max")
    assert token
    csrf = await web.csrf(token)
    status, _, response = await web.post("/app/signout", token, {"csrf": csrf})
    assert status == 303 and response.headers["Location"].startswith("/app/signin")
    status, _, _ = await web.get("/app/overview", token)
    assert status == 303


async def test_admin_look_up_of_a_person_is_audited(web: WebBed) -> None:
    token = await web.sign_in("max")
    assert token
    csrf = await web.csrf(token, "/app/privacy")
    status, body, _ = await web.post("/app/privacy/lookup", token, {"csrf": csrf, "person": "ben", "nonce": "l1"})
    assert status == 200
    async with web.bed.starling.sessions() as session:
        entries = (
            (await session.execute(select(AuditEntry).where(AuditEntry.workspace_id == WORKSPACE))).scalars().all()
        )
    assert any(e.action == "privacy.export_lookup" and e.subject_id == "ben" and e.actor_id == "max" for e in entries)


async def test_the_one_time_link_works_once(web: WebBed) -> None:
    from bot.webapp.demo import sign_in_link
    from storage.db import transaction

    async with transaction(web.bed.starling.sessions) as session:
        link = await sign_in_link(session, base=web.url, user="max", now=web.bed.clock())
    async with web.http.get(link, allow_redirects=False) as r:
        assert r.status == 303 and "starling_session" in set_cookies(r)
    async with web.http.get(link, allow_redirects=False) as r:
        assert r.status == 400 and "starling_session" not in set_cookies(r)


async def test_the_web_switch_turns_the_pages_off(web: WebBed) -> None:
    token = await web.sign_in("max")
    assert token
    status, _, _ = await web.get("/app/overview", token)
    assert status == 200
    await web.bed.starling.dispatch(_command("privacy", "feature web off"))
    status, _, _ = await web.get("/app/overview", token)
    assert status == 303
    assert await web.sign_in("max") is None


def _command(name: str, text: str) -> object:
    from bot.core.events import Actor, CommandEvent, Platform

    return CommandEvent(
        actor=Actor(platform=Platform.SLACK, workspace_id=WORKSPACE, user_id="max", is_admin=True), name=name, text=text
    )


async def _teams_workspace(web: WebBed, tenant: str) -> None:
    from storage import core
    from storage.db import transaction
    from storage.teams import TeamsUser

    async with transaction(web.bed.starling.sessions) as session:
        await core.ensure_workspace(
            session, workspace_id=f"teams:{tenant}", platform="teams", locale="en", timezone="Europe/Vienna"
        )
        await core.upsert_member(session, workspace_id=f"teams:{tenant}", user_id="29:lena", display_name="Lena Graf")
        session.add(TeamsUser(workspace_id=f"teams:{tenant}", user_id="29:lena", aad_object_id="oid-lena"))


async def test_sign_in_with_entra_id_maps_the_object_id_to_the_teams_person(web: WebBed) -> None:
    await _teams_workspace(web, ENTRA_TENANT)
    claims = {"tid": ENTRA_TENANT, "oid": "oid-lena", "name": "Lena Graf"}
    token = await web.sign_in(provider="entra", claims=claims)
    assert token
    status, body, _ = await web.get("/app/overview", token)
    assert status == 200 and "Lena Graf" in body and 'lang="en"' in body
    # someone of the tenant whom the Teams directory does not know yet is told so, and gets no session
    assert await web.sign_in(provider="entra", claims={**claims, "oid": "oid-unknown"}) is None
    # a token for another tenant is refused by a single-tenant set-up
    await _teams_workspace(web, "tenant-2")
    assert await web.sign_in(provider="entra", claims={**claims, "tid": "tenant-2"}) is None


async def test_multi_tenant_entra_checks_the_issuer_of_each_tenant(
    fake: SlackWire,  # noqa: F811
    oidc: FakeOIDCProvider,
    db_url: str,
    clock: Clock,
) -> None:
    bed = Testbed(
        fake,
        db_url,
        clock,
        web_entra_client_id=oidc.client_id,
        web_entra_client_secret=oidc.client_secret,
        web_entra_authority=oidc.url,
        web_entra_tenant="organizations",
    )
    await bed.start()
    wb = WebBed(bed, oidc)
    try:
        await _teams_workspace(wb, "tenant-9")
        token = await wb.sign_in(provider="entra", claims={"tid": "tenant-9", "oid": "oid-lena", "name": "Lena"})
        assert token
        assert (
            await wb.sign_in(provider="entra", claims={"tid": "tenant-9", "oid": "oid-lena"}, tamper="issuer") is None
        )
    finally:
        await wb.close()
        await bed.close()
