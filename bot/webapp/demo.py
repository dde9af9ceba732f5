"""``starling web --demo``: the console's demo workspace on the web pages, with a one-time local link.

The demo colleagues and their kudos come from ``bot.console.demo``; this adds a few suggestions and
daily prompts with answers, so every chart has something to show. The demo workspace has eight people,
so its minimum group for figures is set to 2 when the demo is first loaded (the real default is 5).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.console.demo import COLLEAGUES, seed_demo
from storage import core, goodwill, privacy, scheduling
from storage import web as store
from storage.db import transaction
from storage.goodwill import GoodwillCase
from storage.prompts import PromptAnswer, PromptPost, PromptSubscription
from storage.pulse import Pulse
from storage.suggestions import Suggestion, SuggestionEvent, SuggestionVote

WORKSPACE = "console:local"
DEMO_MIN_GROUP = 2
SUGGESTIONS = [
    # title, problem, department, status, days ago, author, decided by
    (
        "Reisekosten ohne Papierbeleg",
        "Jeder Beleg wird ausgedruckt und unterschrieben.",
        "Buchhaltung",
        "submitted",
        3,
        "emma",
        None,
    ),
    (
        "Passwort-Reset per Self-Service",
        "Für jeden Reset braucht es ein Ticket an die IT.",
        "IT",
        "submitted",
        6,
        "anna",
        None,
    ),
    (
        "Rückruf-Formular auf eine Seite",
        "Das Formular hat drei Seiten und fragt doppelt.",
        "Kundenservice",
        "approved",
        20,
        "ben",
        "max",
    ),
    (
        "Freigabe unter 200 € ohne Chef",
        "Kleine Bestellungen warten tagelang auf eine Unterschrift.",
        "Buchhaltung",
        "done",
        30,
        "felix",
        "max",
    ),
    (
        "Wöchentliches Statusmeeting streichen",
        "Das Meeting wiederholt nur, was im Board steht.",
        "IT",
        "declined",
        15,
        "clara",
        "max",
    ),
]
PROMPTS = [
    "Was hat ein Kunde diese Woche gebraucht, das wir nicht hatten?",
    "Welche interne Regel würde ein Kunde nicht verstehen?",
    "Wo hat ein Kunde heute zu lange gewartet?",
]


async def seed_web_demo(
    session: AsyncSession, *, now: datetime, workspace_id: str = WORKSPACE, platform: str = "console"
) -> bool:
    """The demo workspace with kudos, suggestions and prompts; False if it was already there."""
    await core.ensure_workspace(
        session, workspace_id=workspace_id, platform=platform, locale="de", timezone="Europe/Berlin", name="Demo"
    )
    await seed_demo(session, workspace_id=workspace_id, now=now)
    has = (
        await session.execute(
            select(func.count()).select_from(Suggestion).where(col(Suggestion.workspace_id) == workspace_id)
        )
    ).scalar_one()
    if has:
        return False
    cfg = await privacy.get_settings(session, workspace_id=workspace_id)
    cfg.min_group_size = DEMO_MIN_GROUP
    await privacy.save_settings(session, cfg)
    people = [c[0] for c in COLLEAGUES]
    for i, (title, problem, dept, status, days, author, decider) in enumerate(SUGGESTIONS):
        created = now - timedelta(days=days)
        s = Suggestion(
            workspace_id=workspace_id,
            title=title,
            problem=problem,
            proposal="",
            category="process",
            department=dept,
            author_id=author,
            status=status,
            created_at=created,
            announced_at=created,
        )
        if decider:
            s.decided_at = created + timedelta(days=2, hours=i)
            s.decided_by = decider
        if status == "done":
            s.done_at = created + timedelta(days=9)
        session.add(s)
        await session.flush()
        assert s.id is not None
        if decider and s.decided_at is not None:
            to = "declined" if status == "declined" else "approved"
            if status == "done" and s.done_at is not None:
                session.add(
                    SuggestionEvent(
                        suggestion_id=s.id,
                        kind="status",
                        actor_id=decider,
                        from_status="approved",
                        to_status="done",
                        at=s.done_at,
                    )
                )
            session.add(
                SuggestionEvent(
                    suggestion_id=s.id,
                    kind="status",
                    actor_id=decider,
                    from_status="submitted",
                    to_status=to,
                    at=s.decided_at,
                )
            )
        for voter in people[i : i + 3]:
            if voter != author:
                session.add(SuggestionVote(suggestion_id=s.id, user_id=voter, created_at=created + timedelta(hours=3)))
    for days in range(28, 0, -1):
        day = (now - timedelta(days=days)).date()
        if day.weekday() >= 5:
            continue
        post = PromptPost(
            workspace_id=workspace_id,
            channel_id="general",
            day=day,
            prompt_key=f"demo-{days}",
            category="perspective",
            text=PROMPTS[days % len(PROMPTS)],
            dedupe_key=f"demo-prompt:{day.isoformat()}",
            posted_at=now - timedelta(days=days),
        )
        session.add(post)
        await session.flush()
        assert post.id is not None
        for j, who in enumerate(people[: 2 + days % 4]):
            session.add(
                PromptAnswer(
                    workspace_id=workspace_id,
                    post_id=post.id,
                    channel_id="general",
                    author_id=who,
                    text="Eine Antwort aus der Demo.",
                    message_id=f"demo-{days}-{j}",
                    created_at=now - timedelta(days=days) + timedelta(hours=1 + j),
                )
            )
    await _goodwill(session, workspace_id, now)
    await _pulses(session, workspace_id, now)
    await _schedules(session, workspace_id, now)
    await session.flush()
    return True


async def _schedules(session: AsyncSession, workspace_id: str, now: datetime) -> None:
    """A weekly digest and the daily prompt for the service desk's channel (editable on the settings page)."""
    await scheduling.upsert_schedule(
        session, workspace_id=workspace_id, channel_id="kundenservice", kind="digest", at="09:00", days="mon", now=now
    )
    session.add(
        PromptSubscription(
            workspace_id=workspace_id,
            channel_id="kundenservice",
            hour=9,
            minute=30,
            timezone="Europe/Berlin",
            created_by="max",
            created_at=now,
            active_since=now,
        )
    )


# Closed service-goal pulses: (days ago, channel, department, answers, score). The last one has fewer
# answers than the demo's minimum group would allow at 5 (it is shown at the demo's 2, hidden at 5).
PULSES = (
    (75, "kundenservice", None, 6, 34),
    (45, "kundenservice", None, 7, 58),
    (15, "kundenservice", None, 7, 76),
    (30, "it-helpdesk", "IT", 3, 49),
)


async def _pulses(session: AsyncSession, workspace_id: str, now: datetime) -> None:
    """A few closed pulses (their scores only: the answers are gone at the close, as in chat)."""
    for days, channel, department, answers, score in PULSES:
        opened = now - timedelta(days=days + 3)
        session.add(
            Pulse(
                workspace_id=workspace_id,
                channel_id=channel,
                department=department,
                question="Was ist in einem Satz das Ziel unseres Kundenservice?",
                created_by="max",
                status="closed",
                audience=answers + 2,
                answers=answers,
                score=score,
                result={"score": score, "answers": answers},
                opened_at=opened,
                deadline=now - timedelta(days=days),
                closed_at=now - timedelta(days=days),
            )
        )


async def _goodwill(session: AsyncSession, workspace_id: str, now: datetime) -> None:
    """Two teams' goodwill budgets with a few cases booked (amounts in cents)."""
    await goodwill.set_currency(session, workspace_id=workspace_id, code="EUR")
    teams: tuple[tuple[str, int, tuple[tuple[int, str], ...]], ...] = (
        ("dept:Kundenservice", 300000, ((4500, "anna"), (12000, "ben"), (8000, "max"), (2500, "anna"))),
        ("dept:IT", 100000, ((6000, "clara"), (3000, "deniz"))),
    )
    for team, amount, cases in teams:
        budget = await goodwill.save_budget(session, workspace_id=workspace_id, team=team, amount=amount, period="year")
        assert budget.id is not None
        for i, (cents, author) in enumerate(cases):
            at = now - timedelta(days=5 + 6 * i)
            case = GoodwillCase(
                workspace_id=workspace_id,
                budget_id=budget.id,
                period_key=str(at.year),
                author_id=author,
                amount=cents,
                currency="EUR",
                status="approved",
                by_rule=cents < 5000,
                created_at=at,
            )
            await goodwill.add_case(session, case)
            await goodwill.book(session, case=case, amount=cents, at=at)


async def sign_in_link(
    session: AsyncSession, *, base: str, user: str, now: datetime, minutes: int = 15, workspace_id: str = WORKSPACE
) -> str:
    """A one-time link that signs ``user`` in (bound to this server's address; used once, then gone)."""
    token, _ = await store.create(
        session, kind="link", now=now, lifetime=timedelta(minutes=minutes), workspace_id=workspace_id, user_id=user
    )
    return f"{base}/app/auth/link?token={token}"


async def run_demo(settings: object, *, port: int, user: str, write: object = print) -> None:
    """Serve the web pages on 127.0.0.1 with the demo workspace until Ctrl-C or SIGTERM."""
    from bot.app import Starling
    from bot.web import WebServer

    starling = Starling(settings)  # type: ignore[arg-type]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        now = starling.services.clock()
        async with transaction(starling.sessions) as session:
            seeded = await seed_web_demo(session, now=now)
        server = WebServer(starling, host="127.0.0.1", port=port, scheduler=False, web_providers={})
        await server.start()
        try:
            async with transaction(starling.sessions) as session:
                link = await sign_in_link(session, base=f"http://127.0.0.1:{server.port}", user=user, now=now)
            say = write  # the terminal is the demo's output
            if seeded:
                say(f"Demo-Daten geladen (8 Kolleg:innen, Mindestgruppe {DEMO_MIN_GROUP}).")  # type: ignore[operator]
            say("Starling-Webseiten mit den Demo-Daten laufen auf 127.0.0.1.")  # type: ignore[operator]
            say("Öffne diesen Link im Browser (gilt einmal, 15 Minuten):")  # type: ignore[operator]
            say(f"    {link}")  # type: ignore[operator]
            say("Beenden mit Strg+C.")  # type: ignore[operator]
            await stop.wait()
        finally:
            await server.stop()
    finally:
        await starling.close()
