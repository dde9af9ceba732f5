"""The pages: overview (with CSV per chart), suggestion board, privacy and settings."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from markupsafe import Markup, escape

from bot.core.i18n import Translator
from bot.webapp import charts
from bot.webapp.app import VIEWER, Viewer, WebApp, csv_href, viewer_of
from handlers import dashboard
from handlers.goodwill import money
from handlers.goodwill.common import team_label as chat_team_label
from handlers.privacy import build_sheet, personal_data
from handlers.pulse.result import SPARROWS, STARLINGS
from handlers.suggestions.common import hours_text, status_label
from handlers.suggestions.decide import VERBS
from storage import core, privacy
from storage import dashboard as dq
from storage import goodwill as goodwill_store
from storage import prompts as prompt_store
from storage import suggestions as sq
from storage.scheduling import list_schedules

BOARD_LIMIT = 100
SCHEDULE_KINDS = ("digest", "leaderboard")  # the schedule table's kinds an admin edits here (and prompts)
BOARD_PERIODS = ("week", "month", "quarter")
GOODWILL_PERIODS = ("year", "quarter", "month")
CHANNEL_ID = re.compile(r"[A-Za-z0-9_.:@;\-]{1,255}")  # a Slack channel id or a Teams conversation id
DAY_WORDS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def days_text(days: list[int]) -> str:
    """A prompt's days as ``prompt subscribe`` reads them: ``mon-fri``, ``daily`` or ``mon,wed,fri``."""
    if sorted(days) == [0, 1, 2, 3, 4]:
        return "mon-fri"
    if sorted(days) == list(range(7)):
        return "daily"
    return ",".join(DAY_WORDS[d] for d in sorted(days))


STATUSES = ("submitted", "in_review", "approved", "in_progress", "done", "declined", "duplicate")
SETTING_NUMBERS = (
    ("budget", "budget", "daily_budget"),
    ("min-reason", "min_reason", "min_reason_length"),
    ("max-recipients", "max_recipients", "max_recipients"),
    ("pair-cap", "pair_cap", "pair_daily_cap"),
)


def add_routes(app: WebApp, r: web.UrlDispatcher) -> None:
    p = Pages(app)
    r.add_get("/app/overview", p.overview)
    r.add_get("/app/overview.csv", p.overview_csv)
    r.add_get("/app/suggestions", p.board)
    r.add_get("/app/suggestions/{id:\\d{1,9}}", p.suggestion)
    r.add_post("/app/suggestions/{id:\\d{1,9}}/vote", p.vote)
    r.add_post("/app/suggestions/{id:\\d{1,9}}/decide", p.decide)
    r.add_get("/app/privacy", p.privacy)
    r.add_post("/app/privacy/export", p.export)
    r.add_post("/app/privacy/lookup", p.lookup)
    r.add_get("/app/privacy/forget", p.forget_page)
    r.add_post("/app/privacy/forget", p.forget)
    r.add_get("/app/settings", p.settings)
    r.add_post("/app/settings", p.save_settings)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def day_text(v: Viewer, d: date) -> str:
    return d.strftime("%d.%m.%Y") if v.lang == "de" else d.isoformat()


def when_text(v: Viewer, at: datetime) -> str:
    local = at.astimezone(zone(v.member.timezone or v.workspace.timezone))
    return local.strftime("%d.%m.%Y %H:%M") if v.lang == "de" else local.strftime("%Y-%m-%d %H:%M")


def percent(v: Viewer, share: float | None) -> str:
    if share is None:
        return "—"
    text = f"{share * 100:.0f} %"
    return text if v.lang == "de" else text.replace(" ", "")


def signed(change: int | None) -> str:
    """A change of a score as "+12", "−5", "±0", or "—" for the first of its team."""
    if change is None:
        return "—"
    return f"+{change}" if change > 0 else (f"−{-change}" if change < 0 else "±0")


def flock_word(t: Translator, score: int) -> str:
    """Sparrows, forming, starlings: the pulse's own thresholds."""
    if score < SPARROWS:
        return t("web.flock.sparrows")
    return t("web.flock.forming") if score < STARLINGS else t("web.flock.starlings")


def team_label(team: str) -> str:
    """A goodwill team for a page: the department's name, or ``#channel`` (chat shows a channel link)."""
    shown = chat_team_label(team)
    return "#" + shown[2:-1] if shown.startswith("<#") else shown


def markdown_html(md: str) -> Markup:
    """The fact sheet's small Markdown (headings, tables, lists, paragraphs) as escaped HTML."""
    out: list[str] = []
    table: list[list[str]] = []

    def inline(text: str) -> str:
        html = str(escape(text))
        html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
        return re.sub(r"\*\*([^*]+)\*\*|\*([^*]+)\*", lambda m: f"<strong>{m.group(1) or m.group(2)}</strong>", html)

    def flush() -> None:
        if not table:
            return
        head, *body = [row for row in table if not all(set(c) <= set("-: ") for c in row)]
        out.append('<div class="scroll"><table><thead><tr>')
        out.extend(f'<th scope="col">{inline(c)}</th>' for c in head)
        out.append("</tr></thead><tbody>")
        for row in body:
            out.append("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>")
        out.append("</tbody></table></div>")
        table.clear()

    in_list = False
    for raw in md.splitlines():
        line = raw.rstrip()
        if line.startswith("|"):
            table.append([c.strip() for c in line.strip("|").split("|")])
            continue
        flush()
        if line.startswith("- ") and not in_list:
            out.append("<ul>")
            in_list = True
        elif not line.startswith("- ") and in_list:
            out.append("</ul>")
            in_list = False
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")) + 1, 4)
            level = max(level, 3)
            out.append(f"<h{level}>{inline(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            out.append(f"<li>{inline(line[2:])}</li>")
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
    flush()
    if in_list:
        out.append("</ul>")
    return Markup("\n".join(out))


class Pages:
    def __init__(self, app: WebApp) -> None:
        self.app = app

    # --- overview ---------------------------------------------------------------------------------
    async def _overview(self, request: web.Request) -> tuple[Viewer, dashboard.Overview]:
        v = viewer_of(request)
        period = request.query.get("period", dashboard.DEFAULT_PERIOD)
        team = request.query.get("team") or None
        now = self.app.now

        async def compute() -> dashboard.Overview:
            async with self.app.reader() as session:
                return await dashboard.overview(
                    session, workspace=v.workspace, now=now, period=period, department=team, lang=v.lang
                )

        key = (v.workspace.id, v.workspace.config_rev, period, (team or "").lower(), v.lang, now.date())
        ov = await self.app.overview_cache.get(key, compute)
        return v, ov

    def _rows(self, v: Viewer, ov: dashboard.Overview) -> dict[str, list[list[Any]]]:
        t = v.t
        value_label = [(f.label or t("web.overview.no_value"), f.points) for f in ov.values]
        s = ov.suggestions
        return {
            "weeks": [[day_text(v, w.week), w.kudos, w.points] for w in ov.weeks],
            "values": [[label, pts] for label, pts in value_label],
            "graph": [[e.source, e.target, e.kudos] for e in ov.edges],
            "prompts": [[day_text(v, w.week), w.prompts, w.answers] for w in ov.prompt_weeks],
            "funnel": [
                [t("web.funnel.submitted"), s.submitted if s else 0],
                [t("web.funnel.decided"), s.decided if s else 0],
                [t("web.funnel.done"), len(s.done) if s else 0],
            ],
            "cross": [[t("web.table.kudos"), ov.cross_total], [t("web.overview.cross"), ov.cross_count]],
            "goodwill": [
                [team_label(team), money.fmt(t, spent, ov.goodwill.currency)] for team, spent in ov.goodwill.by_team
            ]
            if ov.goodwill
            else [],
            "pulse": [
                [day_text(v, f.closed_on), f.team, f.score, signed(f.change), f.answers, flock_word(t, f.score)]
                for f in ov.pulses
            ],
        }

    async def overview(self, request: web.Request) -> web.Response:
        v, ov = await self._overview(request)
        t = v.t
        rows = self._rows(v, ov)
        weeks_chart = charts.column_chart([(w.week.strftime("%d.%m."), w.kudos, str(w.kudos)) for w in ov.weeks])
        values_chart = charts.bar_list([(str(r[0]), r[1], str(r[1])) for r in rows["values"]])
        graph = charts.department_graph([(e.source, e.target, e.kudos) for e in ov.edges])
        prompts_chart = charts.column_chart(
            [(w.week.strftime("%d.%m."), w.answers, str(w.answers)) for w in ov.prompt_weeks], height=180
        )
        funnel_chart = charts.bar_list([(str(r[0]), r[1], str(r[1])) for r in rows["funnel"]])
        s = ov.suggestions
        if s is None or s.median_decision_hours is None:
            median_text = t("web.overview.median_none")
        elif not ov.median_shown:
            median_text = t("web.overview.median_hidden", min=ov.min_group)
        else:
            median_text = t("web.overview.median", time=hours_text(t, s.median_decision_hours))
        query = {"period": ov.period, "team": ov.department or ""}
        return self.app.render(
            request,
            "overview.html",
            page="overview",
            heading=t("web.overview.title"),
            ov=ov,
            periods=list(dashboard.PERIODS),
            fmt_day=lambda d: day_text(v, d),
            percent=lambda share: percent(v, share),
            csv=lambda chart: csv_href("/app/overview.csv", chart=chart, **query),
            weeks_chart=weeks_chart,
            weeks_rows=rows["weeks"],
            values_chart=values_chart,
            values_rows=rows["values"],
            graph=graph,
            edges_rows=rows["graph"],
            prompts_chart=prompts_chart,
            prompts_rows=rows["prompts"],
            prompts_any=any(w.prompts for w in ov.prompt_weeks),
            funnel_chart=funnel_chart,
            funnel_rows=rows["funnel"],
            median_text=median_text,
            money=lambda minor: money.fmt(t, minor, ov.goodwill.currency) if ov.goodwill else "",
            goodwill_rows=rows["goodwill"],
            pulse_rows=rows["pulse"],
            pulse_chart=charts.column_chart(
                [
                    (f"{f.closed_on.strftime('%d.%m.')} {f.team}", f.score, f"{f.score}/100 ({flock_word(t, f.score)})")
                    for f in ov.pulses
                ],
                height=200,
                scale=100,
            ),
            pulse_teams=len({f.team for f in ov.pulses}),
            goodwill_chart=charts.bar_list(
                [
                    (team_label(team), spent, money.fmt(t, spent, ov.goodwill.currency))
                    for team, spent in ov.goodwill.by_team
                ]
                if ov.goodwill
                else []
            ),
        )

    async def overview_csv(self, request: web.Request) -> web.Response:
        v, ov = await self._overview(request)
        t = v.t
        chart = request.query.get("chart", "weeks")
        heads = {
            "weeks": [t("web.table.week"), t("web.table.kudos"), t("web.table.points")],
            "values": [t("web.table.value"), t("web.table.points")],
            "graph": [t("web.table.from"), t("web.table.to"), t("web.table.kudos")],
            "prompts": [t("web.table.week"), t("web.table.prompts"), t("web.table.answers")],
            "funnel": [t("web.table.stage"), t("web.table.count")],
            "cross": [t("web.table.stage"), t("web.table.count")],
            "goodwill": [t("web.table.team"), t("web.table.spent")],
            "pulse": [
                t("web.table.closed"),
                t("web.table.team"),
                t("web.table.alignment"),
                t("web.table.change"),
                t("web.table.answers"),
                t("web.table.flock"),
            ],
        }
        if chart not in heads:
            raise web.HTTPNotFound()
        rows = self._rows(v, ov)[chart] if ov.allowed else []
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(heads[chart])
        for row in rows:
            # a cell starting with = + - @ is read as a formula by spreadsheets: quote it as text
            writer.writerow([("'" + c) if isinstance(c, str) and c[:1] in "=+-@" else c for c in row])
        return web.Response(
            text=buf.getvalue(),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="starling-{chart}-{ov.period}.csv"'},
        )

    # --- suggestion board --------------------------------------------------------------------------------
    async def board(self, request: web.Request) -> web.Response:
        v = viewer_of(request)
        t = v.t
        status = request.query.get("status", "open")
        text = request.query.get("q", "").strip()[:100]
        statuses: tuple[str, ...] | None = sq.OPEN if status == "open" else ((status,) if status in STATUSES else None)
        async with self.app.reader() as session:
            rows = await dq.board_rows(
                session, workspace_id=v.workspace.id, statuses=statuses, text=text, limit=BOARD_LIMIT
            )
        options = [("open", t("web.board.open")), ("all", t("web.board.all"))] + [
            (s, status_label(t, s)) for s in STATUSES
        ]
        return self.app.render(
            request,
            "board.html",
            page="board",
            heading=t("web.board.title"),
            rows=rows,
            statuses=options,
            current_status=status,
            query=text,
            status_label=lambda s: status_label(t, s),
            fmt_when=lambda at: day_text(v, at.astimezone(zone(v.workspace.timezone)).date()),
        )

    async def suggestion(self, request: web.Request, *, flashes: list[str] | None = None) -> web.Response:
        v = viewer_of(request)
        t = v.t
        sid = int(request.match_info["id"])
        async with self.app.reader() as session:
            s = await sq.get(session, workspace_id=v.workspace.id, suggestion_id=sid)
            if s is None or s.announced_at is None:
                raise web.HTTPNotFound()
            votes = await sq.vote_count(session, suggestion_id=sid)
            events = await sq.events(session, suggestion_id=sid)
            deciders = await sq.deciders(session, workspace_id=v.workspace.id, department=s.department)
        can_decide = v.user_id in deciders or (not deciders and v.is_admin) or v.is_admin
        ids = {e.actor_id for e in events if e.actor_id}
        names = await self.app.names(v.workspace.id, ids)
        history = []
        for e in events:
            actor = names.get(e.actor_id, e.actor_id) if e.actor_id else t("web.board.anonymous")
            if e.kind == "status":
                line = t(
                    "web.board.event.status",
                    actor=actor,
                    **{"from": status_label(t, e.from_status or ""), "to": status_label(t, e.to_status or "")},
                )
            else:
                line = t(
                    f"web.board.event.{e.kind}" if e.kind in ("question", "answer") else "web.board.event.question",
                    actor=actor,
                )
            history.append((when_text(v, e.at), line, e.note or ""))
        verbs = [verb for verb, spec in VERBS.items() if verb != "review" and s.status in spec.allowed_from]
        return self.app.render(
            request,
            "suggestion.html",
            page="board",
            heading=f"#{s.id} {s.title}",
            s=s,
            votes=votes,
            history=history,
            can_decide=can_decide and bool(verbs),
            verbs=verbs,
            flashes=flashes or [],
            status_label=lambda st: status_label(t, st),
            fmt_when=lambda at: day_text(v, at.astimezone(zone(v.workspace.timezone)).date()),
        )

    async def vote(self, request: web.Request) -> web.Response:
        v = viewer_of(request)
        form = await request.post()
        sid = request.match_info["id"]
        lines = await self.app.action(v, f"suggest:vote:{sid}", value=sid, nonce=str(form.get("nonce", "")))
        return await self.suggestion(request, flashes=lines)

    async def decide(self, request: web.Request) -> web.Response:
        v = viewer_of(request)
        form = await request.post()
        sid = request.match_info["id"]
        verb = str(form.get("verb", ""))
        if verb not in VERBS:
            raise web.HTTPBadRequest()
        note = str(form.get("reason", ""))[:4000]
        fields = {"question" if verb == "ask" else "reason": note, "original": str(form.get("original", ""))[:12]}
        lines = await self.app.action(
            v, f"suggest:{verb}:{sid}", value=sid, form=fields, nonce=str(form.get("nonce", ""))
        )
        return await self.suggestion(request, flashes=lines)

    # --- privacy ------------------------------------------------------------------------------------
    async def privacy(self, request: web.Request, *, flashes: list[str] | None = None) -> web.Response:
        v = viewer_of(request)
        t = v.t
        async with self.app.reader() as session:
            sheet = await build_sheet(
                session, workspace=v.workspace, settings=self.app.settings, lang=v.lang, now=self.app.now
            )
            audit = None
            if v.is_admin or "works-council" in v.roles:
                entries = await privacy.audit_entries(session, workspace_id=v.workspace.id, limit=50)
                audit = entries
            people = []
            if v.is_admin:
                people = await dq.people(session, workspace_id=v.workspace.id)
        audit_rows = None
        if audit is not None:
            ids = {e.actor_id for e in audit} | {e.subject_id for e in audit if e.subject_id}
            names = await self.app.names(v.workspace.id, ids)
            audit_rows = [
                (
                    when_text(v, e.created_at),
                    names.get(e.actor_id, e.actor_id),
                    e.action,
                    names.get(e.subject_id or "", e.subject_id or ""),
                )
                for e in audit
            ]
        return self.app.render(
            request,
            "privacy.html",
            page="privacy",
            heading=t("web.privacy.title"),
            sheet=markdown_html(sheet),
            audit=audit_rows,
            people=people,
            flashes=flashes or [],
        )

    async def export(self, request: web.Request) -> web.Response:
        v = viewer_of(request)
        async with self.app.transaction() as session:
            data = await personal_data(session, workspace_id=v.workspace.id, user_id=v.user_id, now=self.app.now)
        body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", v.user_id)
        return web.Response(
            text=body,
            content_type="application/json",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="starling-data-{name}-{self.app.now.date()}.json"'},
        )

    async def lookup(self, request: web.Request) -> web.Response:
        """An admin's look-up of one person's data: the chat's command, so it is audited the same way."""
        v = viewer_of(request)
        if not v.is_admin:
            raise web.HTTPForbidden()
        form = await request.post()
        person = str(form.get("person", ""))
        if not re.fullmatch(r"[A-Za-z0-9_.:\-]{1,120}", person):
            raise web.HTTPBadRequest()
        lines = await self.app.command(v, "privacy", f"export <@{person}>", nonce=str(form.get("nonce", "")))
        return await self.privacy(request, flashes=lines)

    async def forget_page(self, request: web.Request) -> web.Response:
        v = viewer_of(request)
        lines = await self.app.readable(v, [v.t("privacy.forget.confirm_self", user=f"<@{v.user_id}>")])
        return self.app.render(
            request, "forget.html", page="privacy", heading=v.t("web.privacy.forget_title"), question=lines[0]
        )

    async def forget(self, request: web.Request) -> web.StreamResponse:
        v = viewer_of(request)
        form = await request.post()
        if form.get("confirm") != "yes":
            raise web.HTTPSeeOther("/app/privacy")
        t = v.t
        await self.app.action(v, "privacy.forget", value=v.user_id, nonce=str(form.get("nonce", "")))
        from storage import web as store

        async with self.app.transaction() as session:
            await store.end(session, token=v.token)
        request[VIEWER] = None
        response = self.app.render(
            request,
            "message.html",
            t=t,
            heading=t("web.privacy.forget_title"),
            lines=[t("web.privacy.forget_done")],
            link={"href": "/app/signin", "text": t("web.signin.title")},
        )
        response.del_cookie("starling_session", path="/")
        return response

    # --- settings (admins) ----------------------------------------------------------------------------
    async def settings(self, request: web.Request, *, flashes: list[str] | None = None) -> web.Response:
        v = viewer_of(request)
        if not v.is_admin:
            raise web.HTTPForbidden()
        t = v.t
        async with self.app.transaction() as session:
            ws = await session.get(type(v.workspace), v.workspace.id)
            assert ws is not None
            values = await core.list_values(session, workspace_id=ws.id)
            approvers = await sq.list_approvers(session, workspace_id=ws.id)
            departments = await sq.departments(session, workspace_id=ws.id)
            cfg = await privacy.get_settings(session, workspace_id=ws.id)
            states = await privacy.feature_states(session, workspace_id=ws.id)
            schedules = await list_schedules(session, workspace_id=ws.id, enabled=None)
            prompt_subs = await prompt_store.list_subscriptions(session, workspace_id=ws.id)
            budgets = await goodwill_store.budgets(session, workspace_id=ws.id)
            currency = await goodwill_store.currency(session, workspace_id=ws.id)
            people = await dq.people(session, workspace_id=ws.id)
            numbers = [(key, t(f"web.settings.{label}"), getattr(ws, attr)) for key, label, attr in SETTING_NUMBERS]
            profile = ws.privacy_profile
        names = dict(people)
        approver_rows = [
            (dept or t("web.team.all"), ", ".join(names.get(u, u) for u in ids)) for dept, ids in approvers.items()
        ]
        schedule_rows = [
            {
                "kind": s.kind,
                "channel": s.channel_id,
                "days": s.days,
                "at": s.at,
                "timezone": s.timezone or "",
                "period": str(s.settings.get("period", "month")),
                "on": s.enabled,
            }
            for s in schedules
            if s.kind in SCHEDULE_KINDS
        ] + [
            {
                "kind": "prompt",
                "channel": sub.channel_id,
                "days": days_text(sub.days),
                "at": f"{sub.hour:02d}:{sub.minute:02d}",
                "timezone": sub.timezone,
                "period": "",
                "on": not sub.paused,
            }
            for sub in prompt_subs
        ]
        return self.app.render(
            request,
            "settings.html",
            page="settings",
            heading=t("web.settings.title"),
            numbers=numbers,
            locale=v.workspace.locale,
            tone=v.workspace.tone,
            ws_timezone=v.workspace.timezone or "",
            values=values,
            approvers=approver_rows,
            departments=departments,
            people=people,
            schedules=schedule_rows,
            budgets=[
                {
                    "team": b.team,
                    "label": team_label(b.team),
                    "amount": money.plain(b.amount, currency or "EUR"),
                    "period": b.period,
                    "case_limit": money.plain(b.case_limit, currency or "EUR") if b.case_limit is not None else "",
                    "rule_cases": b.rule_cases or "",
                    "stories": b.stories,
                }
                for b in budgets
            ],
            currency=currency or "EUR",
            budget_periods=GOODWILL_PERIODS,
            schedule_kinds=(*SCHEDULE_KINDS, "prompt"),
            board_periods=BOARD_PERIODS,
            profiles=privacy.PROFILES,
            profile=profile,
            min_group=cfg.min_group_size,
            retention=cfg.retention_months,
            features=list(states.items()),
            flashes=flashes or [],
        )

    async def _schedule(self, v: Viewer, form: Any, word: Any, run: Any, lines: list[str]) -> None:
        """A digest, leaderboard post or daily prompt, changed with the chat's own commands: ``digest subscribe
        #channel mon 09:00``, ``digest leaderboard #channel month 09:00``, and ``prompt subscribe 09:30 mon-fri``
        typed in the channel (the prompt commands act on the channel they are typed in)."""
        kind, action = word("kind"), word("action")
        channel = word("channel").lstrip("#")
        if not CHANNEL_ID.fullmatch(channel):
            lines.append(v.t("web.settings.channel_invalid"))
            return
        when = " ".join(w for w in (word("days"), word("at"), word("timezone")) if w)
        if kind == "digest":
            text = f"off <#{channel}>" if action == "off" else f"subscribe <#{channel}> {when}"
            await run("digest", text.strip(), 0)
        elif kind == "leaderboard":
            period = word("period") if word("period") in BOARD_PERIODS else ""
            at = " ".join(w for w in (period, word("at"), word("timezone")) if w)
            text = f"leaderboard off <#{channel}>" if action == "off" else f"leaderboard <#{channel}> {at}"
            await run("digest", text.strip(), 0)
        elif kind == "prompt":
            at = " ".join(w for w in (word("at"), word("days"), word("timezone")) if w)
            text = {"off": "unsubscribe", "pause": "pause", "resume": "resume"}.get(action, f"subscribe {at}")
            await run("prompt", text.strip(), 0, channel)
        else:
            raise web.HTTPBadRequest()

    async def _goodwill_budget(self, v: Viewer, form: Any, word: Any, run: Any, lines: list[str]) -> None:
        """``goodwill budget <team> <amount> <currency> per <period>[, per case <limit>][, <n> cases][, stories]``."""
        team = str(form.get("team", "")).strip()[:160]
        if team.lower().startswith("dept:"):
            token = "dept:" + "".join(team.split(":", 1)[1].split())
        elif CHANNEL_ID.fullmatch(team.lstrip("#")):
            token = f"<#{team.lstrip('#')}>"
        else:
            lines.append(v.t("web.settings.team_invalid"))
            return
        period = word("period") if word("period") in GOODWILL_PERIODS else "year"
        parts = [f"budget {token} {word('amount') or '?'} {word('currency')} per {period}"]
        if word("case_limit"):
            parts.append(f"per case {word('case_limit')}")
        if word("rule_cases"):
            parts.append(f"{word('rule_cases')} cases")
        parts.append("stories" if form.get("stories") else "no-stories")
        await run("goodwill", ", ".join(parts), 0)

    async def save_settings(self, request: web.Request) -> web.Response:
        """Each change is the chat command an admin would type, so validation and audit are the chat's."""
        v = viewer_of(request)
        if not v.is_admin:
            raise web.HTTPForbidden()
        form = await request.post()
        nonce = str(form.get("nonce", ""))
        section = str(form.get("section", ""))
        lines: list[str] = []

        def word(name: str) -> str:
            return re.sub(r"\s+", "", str(form.get(name, "")))[:80]

        async def run(cmd: str, text: str, n: int, channel: str | None = None) -> None:
            lines.extend(await self.app.command(v, cmd, text, nonce=f"{nonce}-{n}" if nonce else None, channel=channel))

        if section == "kudos":
            current = {key: str(getattr(v.workspace, attr)) for key, _label, attr in SETTING_NUMBERS}
            for i, (key, _label, _attr) in enumerate(SETTING_NUMBERS):
                value = word(key)
                if value != current[key]:
                    await run("starling", f"set {key} {value or '?'}", i)
        elif section == "workspace":  # ``starling set language|tone|timezone …``, each only when it changed
            ws = v.workspace
            current = {"language": ws.locale, "tone": ws.tone, "timezone": ws.timezone or ""}
            for i, key in enumerate(current):
                value = word(key)
                if value != current[key]:
                    await run("starling", f"set {key} {value or '?'}", i)
        elif section == "value_add":
            label_de = " ".join(str(form.get("label_de", "")).split())[:80]
            label_en = " ".join(str(form.get("label_en", "")).split())[:80]
            await run("starling", f"values add {word('tag') or '?'} {label_de} / {label_en}".strip(), 0)
        elif section == "value_remove":
            await run("starling", f"values remove {word('tag')}", 0)
        elif section == "approvers":
            people = [str(p) for p in form.getall("people", []) if re.fullmatch(r"[A-Za-z0-9_.:\-]{1,120}", str(p))]
            dept = " ".join(str(form.get("department", "")).split())[:120]
            mentions = " ".join(f"<@{p}>" for p in people)
            scope = f"dept:{dept} " if dept else ""
            await run("suggest", f"approvers {scope}{mentions or 'none'}", 0)
        elif section == "goodwill":
            await self._goodwill_budget(v, form, word, run, lines)
        elif section == "schedule":
            await self._schedule(v, form, word, run, lines)
        elif section == "privacy":
            async with self.app.reader() as session:
                cfg = await privacy.get_settings(session, workspace_id=v.workspace.id)
                states = await privacy.feature_states(session, workspace_id=v.workspace.id)
            profile = word("profile")
            n = 0
            if profile and profile != v.workspace.privacy_profile:
                await run("privacy", f"profile {profile}", n)
                n += 1
            if word("min_group") != str(cfg.min_group_size):
                await run("privacy", f"min-group {word('min_group') or '?'}", n)
                n += 1
            if word("retention") != str(cfg.retention_months):
                await run("privacy", f"retention {word('retention') or '?'}", n)
                n += 1
            wanted = {str(f) for f in form.getall("feature", [])}
            for feature, on in states.items():
                if (feature in wanted) != on:
                    await run("privacy", f"feature {feature} {'on' if feature in wanted else 'off'}", n)
                    n += 1
        else:
            raise web.HTTPBadRequest()
        request[VIEWER] = await self.app.load_viewer(request) or v
        return await self.settings(request, flashes=lines)
