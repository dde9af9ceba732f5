"""The web pages in a real headless Chromium (Debian's ``chromium``), driven by Playwright.

Sign-in goes through the fake OpenID Connect provider; approving a suggestion on the board must reach
the submitter as a DM at the fake Slack API; every page passes axe-core (bundled with
``axe-playwright-python``, no network) without a serious or critical violation; screenshots of every
page in German and English are written to ``STARLING_SCREENSHOTS`` (default: the test run's temp folder).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.webapp.conftest import WebBed

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="browser tests need Debian's chromium (.ci/run installs it)"
)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        await b.close()


@pytest.fixture
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("STARLING_SCREENSHOTS") or tmp_path_factory.getbasetemp() / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def new_context(browser: Browser, locale: str = "de-DE", **kw: Any) -> BrowserContext:
    ctx = await browser.new_context(locale=locale, accept_downloads=True, **kw)
    ctx.set_default_timeout(15_000)
    return ctx


async def sign_in(page: Page, web: WebBed, user: str = "max", start: str = "/app/overview") -> None:
    web.oidc.next_claims = {"https://slack.com/team_id": "T1", "https://slack.com/user_id": user, "name": user}
    await page.goto(web.url + start)
    assert "/app/signin" in page.url
    await page.get_by_role("link", name=re.compile("^(Mit Slack anmelden|Sign in with Slack)$")).click()
    await page.wait_for_url(web.url + start)


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    return [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]


async def poll(check: Any, timeout: float = 10.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = check()
        if found or loop.time() > deadline:
            return found
        await asyncio.sleep(0.05)


async def test_sign_in_overview_approve_and_export(web: WebBed, browser: Browser, tmp_path: Path) -> None:
    ctx = await new_context(browser)
    page = await ctx.new_page()
    await sign_in(page, web)

    # the overview, in German, with its charts drawn from the data and their numbers as tables
    assert await page.get_by_role("heading", level=1).inner_text() == "Überblick"
    assert await page.locator("html").get_attribute("lang") == "de"
    assert await page.locator("svg.chart").count() >= 5
    weeks = page.locator("#weeks-table tbody tr")
    assert await weeks.count() == 12
    await page.get_by_text("Zahlen als Tabelle").first.click()
    assert await page.locator("#weeks-table").is_visible()
    async with page.expect_download() as dl:
        await page.get_by_role("link", name="Als CSV herunterladen (Kudos pro Woche)").click()
    csv_text = Path(await (await dl.value).path()).read_text(encoding="utf-8")
    assert csv_text.splitlines()[0] == "Woche ab,Kudos,Punkte" and len(csv_text.splitlines()) == 13
    # the goodwill budget's spend, per team, as the digest shows it
    goodwill = page.get_by_role("region", name="Kulanzbudget")
    assert "360 EUR für 6 Fälle" in await goodwill.inner_text()
    assert await page.locator("#goodwill-table tbody tr").count() == 2

    # the board: open anna's suggestion and approve it
    await page.get_by_role("link", name="Vorschläge", exact=True).click()
    await page.get_by_role("link", name="#2 Passwort-Reset per Self-Service").click()
    await page.get_by_role("button", name="Genehmigen").click()
    status = page.get_by_role("status")
    assert "#2" in await status.inner_text()
    assert "genehmigt" in (await page.locator(".meta .status").inner_text()).lower()
    dms = await poll(lambda: [m for m in web.bed.fake.dms("anna") if "Passwort-Reset" in json.dumps(m)])
    assert dms, web.bed.fake.summary()

    # declining needs a reason: the chat's friendly refusal, nothing changed
    await page.goto(web.url + "/app/suggestions/1")
    await page.get_by_role("button", name="Ablehnen").click()
    assert await status.count() == 1
    assert "Begründung" in await status.inner_text()

    # my data: a JSON download of what Starling stores about me
    await page.get_by_role("link", name="Datenschutz", exact=True).click()
    async with page.expect_download() as dl:
        await page.get_by_role("button", name="Meine Daten herunterladen").click()
    data = json.loads(Path(await (await dl.value).path()).read_text(encoding="utf-8"))
    assert data["user_id"] == "max" and data["tables"]["member"]
    await ctx.close()


async def test_keyboard_skip_link_and_sign_out(web: WebBed, browser: Browser) -> None:
    ctx = await new_context(browser)
    page = await ctx.new_page()
    await sign_in(page, web)
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.textContent")
    assert focused == "Zum Inhalt springen"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"
    await page.get_by_role("button", name="Abmelden").click()
    await page.wait_for_url("**/app/signin**")
    await page.goto(web.url + "/app/overview")
    assert "/app/signin" in page.url
    await ctx.close()


async def test_an_admin_plans_a_digest_and_the_daily_prompt_in_the_browser(web: WebBed, browser: Browser) -> None:
    ctx = await new_context(browser)
    page = await ctx.new_page()
    await sign_in(page, web, start="/app/settings")
    new = page.get_by_role("form", name="Neu planen")
    await new.get_by_label("Art").select_option("digest")
    await new.get_by_label("Kanal").fill("C0WEEKLY")
    await new.get_by_label("Tage").fill("fri")
    await new.get_by_label("Uhrzeit (HH:MM)").fill("16:00")
    await new.get_by_role("button", name="Neu planen").click()
    status = page.get_by_role("status")
    assert "#C0WEEKLY" in await status.inner_text()
    # the new digest has its own form now: change its time; a wrong one gets the chat's explanation
    digest = page.get_by_role("form", name="Digest · #C0WEEKLY")
    await digest.get_by_label("Uhrzeit (HH:MM)").fill("16:61")
    await digest.get_by_role("button", name="Speichern (Digest #C0WEEKLY)").click()
    assert "16:61" in await status.inner_text()
    digest = page.get_by_role("form", name="Digest · #C0WEEKLY")
    await digest.get_by_label("Uhrzeit (HH:MM)").fill("15:30")
    await digest.get_by_role("button", name="Speichern (Digest #C0WEEKLY)").click()
    assert "15:30" in await status.inner_text()
    # the daily prompt for a channel, then paused
    new = page.get_by_role("form", name="Neu planen")
    await new.get_by_label("Art").select_option("prompt")
    await new.get_by_label("Kanal").fill("C0DAILY")
    await new.get_by_label("Tage").fill("mon-fri")
    await new.get_by_label("Uhrzeit (HH:MM)").fill("09:10")
    await new.get_by_role("button", name="Neu planen").click()
    prompt = page.get_by_role("form", name="Tägliche Impulsfrage · #C0DAILY")
    assert await prompt.get_by_label("Uhrzeit (HH:MM)").input_value() == "09:10"
    await prompt.get_by_role("button", name="Pausieren (#C0DAILY)").click()
    assert "pausiert" in await page.get_by_role("form", name=re.compile("Tägliche Impulsfrage · #C0DAILY")).inner_text()
    assert not await axe_violations(page)
    await ctx.close()


PAGES = [
    ("overview", "/app/overview"),
    ("overview-team", "/app/overview?team=IT&period=4w"),
    ("board", "/app/suggestions?status=all"),
    ("suggestion", "/app/suggestions/4"),
    ("privacy", "/app/privacy"),
    ("forget", "/app/privacy/forget"),
    ("settings", "/app/settings"),
]


@pytest.mark.parametrize("lang", ["de", "en"])
async def test_every_page_is_accessible_and_photographed(web: WebBed, browser: Browser, shots: Path, lang: str) -> None:
    ctx = await new_context(
        browser, locale="de-DE" if lang == "de" else "en-GB", viewport={"width": 1200, "height": 900}
    )
    page = await ctx.new_page()
    await page.goto(web.url + "/app/signin")
    problems: dict[str, list[Any]] = {}
    if violations := await axe_violations(page):
        problems["signin"] = violations
    await page.screenshot(path=str(shots / f"signin-{lang}.png"), full_page=True)
    await sign_in(page, web)
    if lang == "en":
        await page.get_by_role("button", name="Auf Englisch anzeigen").click()  # the viewer's choice wins
        await page.wait_for_load_state()
        assert await page.locator("html").get_attribute("lang") == "en"
    for name, path in PAGES:
        await page.goto(web.url + path)
        assert await page.locator("html").get_attribute("lang") == lang
        if violations := await axe_violations(page):
            problems[name] = [
                (v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in violations
            ]
        await page.screenshot(path=str(shots / f"{name}-{lang}.png"), full_page=True)
    # readable on a phone: nothing wider than the screen
    await page.set_viewport_size({"width": 375, "height": 800})
    await page.goto(web.url + "/app/overview")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await page.screenshot(path=str(shots / f"overview-phone-{lang}.png"), full_page=True)
    await ctx.close()
    assert not problems, problems
