"""``starling serve`` with the web pages, the fake Slack API and a fake OpenID Connect provider.

The Slack workspace ``slack:T1`` holds the demo colleagues (``max`` is an admin, ``anna`` a member),
their kudos, suggestions and prompts. ``WebBed.sign_in`` goes through the real code flow: start →
the provider's authorize → our callback, cookies handled by hand (they are ``Secure``, and the test
client talks plain HTTP to 127.0.0.1).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
import pytest

from bot.webapp.demo import seed_web_demo
from storage.db import transaction
from tests.fakes.oidc_provider import FakeOIDCProvider
from tests.kit import Clock
from tests.slack.conftest import fake  # noqa: F401  (the fake Slack API fixture)
from tests.slack.wire import SlackWire, Testbed

WORKSPACE = "slack:T1"
TEAM = "T1"
ENTRA_TENANT = "tenant-1"


def set_cookies(response: aiohttp.ClientResponse) -> dict[str, Any]:
    """The Set-Cookie headers of one answer, by name (with their attributes)."""
    found: dict[str, Any] = {}
    for header in response.headers.getall("Set-Cookie", []):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            found[name] = (morsel, header)
    return found


class WebBed:
    __test__ = False

    def __init__(self, bed: Testbed, oidc: FakeOIDCProvider) -> None:
        self.bed = bed
        self.oidc = oidc
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())

    @property
    def url(self) -> str:
        return self.bed.url

    async def close(self) -> None:
        await self.http.close()

    async def sign_in(
        self,
        user: str = "max",
        *,
        tamper: str | None = None,
        provider: str = "slack",
        claims: dict[str, Any] | None = None,
    ) -> str | None:
        """The session token after signing in as ``user`` through the provider, or None if refused."""
        self.oidc.next_claims = claims or {
            "https://slack.com/team_id": TEAM,
            "https://slack.com/user_id": user,
            "name": user.title(),
        }
        self.oidc.tamper = tamper
        async with self.http.get(self.url + f"/app/auth/{provider}/start", allow_redirects=False) as r1:
            assert r1.status == 303, await r1.text()
            state_cookie = set_cookies(r1)["starling_signin"][0].value
            location = r1.headers["Location"]
        async with self.http.get(location, allow_redirects=False) as r2:
            assert r2.status == 302, await r2.text()
            callback = r2.headers["Location"]
        async with self.http.get(
            callback, allow_redirects=False, headers={"Cookie": f"starling_signin={state_cookie}"}
        ) as r3:
            cookies = set_cookies(r3)
            if r3.status != 303 or "starling_session" not in cookies:
                return None
            return str(cookies["starling_session"][0].value)

    async def get(self, path: str, token: str | None = None, **kw: Any) -> tuple[int, str, aiohttp.ClientResponse]:
        headers = {"Cookie": f"starling_session={token}"} if token else {}
        async with self.http.get(self.url + path, allow_redirects=False, headers=headers, **kw) as r:
            return r.status, await r.text(), r

    async def post(
        self, path: str, token: str | None = None, data: dict[str, Any] | None = None, **headers: str
    ) -> tuple[int, str, aiohttp.ClientResponse]:
        h = {"Cookie": f"starling_session={token}"} if token else {}
        h.update(headers)
        async with self.http.post(self.url + path, data=data or {}, allow_redirects=False, headers=h) as r:
            return r.status, await r.text(), r

    async def csrf(self, token: str, path: str = "/app/overview") -> str:
        import re

        _, body, _ = await self.get(path, token)
        found = re.search(r'name="csrf" value="([^"]+)"', body)
        assert found, body[:500]
        return found.group(1)


@pytest.fixture
async def oidc() -> AsyncIterator[FakeOIDCProvider]:
    provider = FakeOIDCProvider()
    await provider.start()
    yield provider
    await provider.stop()


@pytest.fixture
async def web(fake: SlackWire, oidc: FakeOIDCProvider, db_url: str, clock: Clock) -> AsyncIterator[WebBed]:  # noqa: F811
    wb = await start_web_bed(fake, oidc, db_url, clock)
    yield wb
    await wb.close()
    await wb.bed.close()


async def start_web_bed(fake: SlackWire, oidc: FakeOIDCProvider, db_url: str, clock: Clock) -> WebBed:  # noqa: F811
    """``starling serve`` with the web pages, signed in through ``oidc``, over the demo data (minimum group 2)."""
    bed = Testbed(
        fake,
        db_url,
        clock,
        web_slack_client_id=oidc.client_id,
        web_slack_client_secret=oidc.client_secret,
        web_slack_issuer=oidc.url,
        web_entra_client_id=oidc.client_id,
        web_entra_client_secret=oidc.client_secret,
        web_entra_authority=oidc.url,
        web_entra_tenant=ENTRA_TENANT,
    )
    async with transaction(bed.starling.sessions) as session:
        await seed_web_demo(session, now=clock(), workspace_id=WORKSPACE, platform="slack")
    await bed.start()
    return WebBed(bed, oidc)
