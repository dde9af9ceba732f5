"""The service-goal pulse: does the team share one aim (a murmuration of starlings) or not (a swarm of sparrows)?

``pulse start #channel`` asks everyone privately for the goal of the customer service in one sentence;
``pulse answer <text>`` (or the form, or a reply to the private message) answers, anonymously by default;
``pulse close`` (or the deadline) publishes the alignment score, the clusters and the starter's own
comparison. ``goal set #channel <sentence>`` adopts the team's fixed star, shown in the App Home, the
digest footer and, when chosen, above the daily prompt. See ``docs/pulse.md`` for the method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.core.commands import Arg
from bot.core.events import ActionEvent, MessageEvent
from bot.core.i18n import Translator
from bot.core.jobs import Days, ScheduleError, parse_time
from bot.core.messages import Bar, BarList, Block, Header, Note, Section, channel_link, user_text
from bot.core.router import Context, Priority, Router, UserError, require_admin
from handlers.digests.sections import DigestScope, register_section
from handlers.privacy_rules import require_feature
from handlers.pulse import flow, jobs
from handlers.pulse import result as res
from storage import pulse as q
from storage import scheduling as sq

__all__ = ["goal_blocks", "prompt_goal", "register"]

MAX_GOAL = 300


async def pulse_action(ctx: Context) -> None:
    await require_feature(ctx, "pulse")
    ev = ctx.event
    assert isinstance(ev, ActionEvent)
    parts = ev.action_id.split(":")
    verb = parts[1] if len(parts) > 1 else ""
    target = parts[2] if len(parts) > 2 else ev.value
    if verb == "form":
        pulse = await flow.target_pulse(ctx, target)
        ctx.modal(flow.answer_form(ctx.t, pulse))
    elif verb == "answer" and ev.is_form:
        pulse = await flow.target_pulse(ctx, ev.value or target)
        named = (ev.form.get("named") or "").strip().lower() in ("true", "1", "yes", "ja", "on", "y", "j")
        await flow.answer(ctx, ev.form.get("answer") or "", named=named, pulse=pulse)
    elif verb == "extend":
        await flow.extend(ctx, [], pulse_id=int(target) if target.isdigit() else None)
    elif verb == "adopt":
        await adopt(ctx, target, ev.value)
    else:
        raise UserError("pulse.err.unknown_action")


async def repeat(ctx: Context, words: list[str]) -> None:
    """``pulse repeat #channel quarter:15 10:00`` (or ``off``): a recurring pulse through the scheduler."""
    require_admin(ctx)
    channel = next((c for c in (flow.channel_of(w) for w in words) if c), None) or flow.current_channel(ctx)
    if channel is None:
        raise UserError("pulse.err.need_channel")
    others = [w for w in words if flow.channel_of(w) is None]
    if others and others[0].lower() in ("off", "aus", "stop"):
        n = await sq.disable_schedules(
            ctx.session, workspace_id=ctx.workspace.id, channel_id=channel, kind="pulse", now=ctx.now
        )
        if not n:
            raise UserError("pulse.err.no_repeat", channel=channel_link(channel))
        ctx.ephemeral(ctx.t("pulse.repeat.stopped", channel=channel_link(channel)))
        return
    days, at = "quarter:1", "10:00"
    for w in others:
        try:
            at = parse_time(w).strftime("%H:%M")
            continue
        except ScheduleError:
            pass
        try:
            days = Days.parse(w).spec
        except ScheduleError:
            raise UserError("pulse.err.repeat_arg", arg=w) from None
    await sq.upsert_schedule(
        ctx.session,
        workspace_id=ctx.workspace.id,
        channel_id=channel,
        kind="pulse",
        at=at,
        days=days,
        now=ctx.now,
        created_by=ctx.actor.user_id,
    )
    ctx.ephemeral(ctx.t("pulse.repeat.started", channel=channel_link(channel), days=days, at=at))


# --- goals --------------------------------------------------------------------------------------------


async def goal_set(ctx: Context, words: list[str]) -> None:
    require_admin(ctx)
    channel = flow.channel_of(words[0]) if words else None
    rest = words[1:] if channel else words
    channel = channel or flow.current_channel(ctx)
    if channel is None:
        raise UserError("pulse.err.need_channel")
    await set_goal(ctx, channel, " ".join(rest).strip().strip('"„“').strip())


async def goal_clear(ctx: Context, words: list[str]) -> None:
    require_admin(ctx)
    channel = (flow.channel_of(words[0]) if words else None) or flow.current_channel(ctx) or ""
    if not await q.clear_goal(ctx.session, workspace_id=ctx.workspace.id, channel_id=channel):
        raise UserError("pulse.err.no_goal", channel=channel_link(channel))
    ctx.ephemeral(ctx.t("pulse.goal.cleared", channel=channel_link(channel)))


async def goal_prompt(ctx: Context, words: list[str]) -> None:
    require_admin(ctx)
    on = bool(words) and words[0].lower() in ("on", "an", "ein", "yes", "ja")
    channel = (flow.channel_of(words[1]) if len(words) > 1 else None) or flow.current_channel(ctx) or ""
    goal = await q.get_goal(ctx.session, workspace_id=ctx.workspace.id, channel_id=channel)
    if goal is None:
        raise UserError("pulse.err.no_goal", channel=channel_link(channel))
    goal.above_prompt = on
    ctx.session.add(goal)
    ctx.ephemeral(ctx.t("pulse.goal.prompt_on" if on else "pulse.goal.prompt_off", channel=channel_link(channel)))


async def set_goal(ctx: Context, channel: str, text: str) -> None:
    if not text:
        raise UserError("pulse.err.goal_empty")
    if len(text) > MAX_GOAL:
        raise UserError("pulse.err.goal_long", max=MAX_GOAL)
    await q.set_goal(
        ctx.session, workspace_id=ctx.workspace.id, channel_id=channel, text=text, by=ctx.actor.user_id, now=ctx.now
    )
    ctx.ephemeral(ctx.t("pulse.goal.set", channel=channel_link(channel), goal=user_text(text)))


async def adopt(ctx: Context, pulse_id: str, value: str) -> None:
    """The button on a cluster: its label, or its first example, becomes the team's goal."""
    require_admin(ctx)
    pulse = await q.get_pulse(ctx.session, workspace_id=ctx.workspace.id, pulse_id=int(pulse_id or 0))
    groups = (pulse.result or {}).get("groups", []) if pulse else []
    if pulse is None or not value.isdigit() or not 1 <= int(value) <= len(groups):
        raise UserError("pulse.err.unknown_action")
    group = groups[int(value) - 1]
    text = group["examples"][0] if group.get("examples") else group["label"]
    await set_goal(ctx, pulse.channel_id, text[:MAX_GOAL])


async def goal_blocks(session: object, workspace_id: str, t: Translator, channel_id: str | None = None) -> list[Block]:
    """The fixed star(s): one team's, or every team's."""
    goals = await q.goals_of(session, workspace_id=workspace_id)  # type: ignore[arg-type]
    if channel_id is not None:
        own = [g for g in goals if g.channel_id == channel_id]
        goals = own or goals
    if not goals:
        return []
    lines = [t("pulse.goal.line", channel=channel_link(g.channel_id), goal=user_text(g.text)) for g in goals[:5]]
    return [Section(text=t("pulse.goal.title") + "\n" + "\n".join(lines))]


async def prompt_goal(session: object, workspace_id: str, channel_id: str, t: Translator) -> str | None:
    """The line above the daily prompt, when the team chose to show its goal there."""
    goal = await q.get_goal(session, workspace_id=workspace_id, channel_id=channel_id)  # type: ignore[arg-type]
    if goal is None or not goal.above_prompt:
        return None
    return t("pulse.goal.above_prompt", goal=user_text(goal.text))


# --- digest -------------------------------------------------------------------------------------------


async def digest_section(scope: DigestScope) -> list[Block]:
    """The latest alignment score and its trend (results exist only for groups of the minimum size)."""
    from storage.privacy import feature_enabled

    if not await feature_enabled(scope.session, scope.workspace.id, "pulse"):
        return []
    latest = await q.latest_results(scope.session, workspace_id=scope.workspace.id, limit=2, until=scope.end)
    if not latest:
        return []
    t = scope.t
    now, before = latest[0], (latest[1] if len(latest) > 1 else None)
    score = int(now.score or 0)
    previous = (now.result or {}).get("previous")
    if previous is None and before is not None:
        previous = before.score
    return [
        Section(text=t("pulse.digest.title")),
        BarList(
            rows=[Bar(label=channel_link(now.channel_id), value=float(score), display=f"{score}/100")],
        ),
        Note(text=res.flock_text(t, score) + " " + res.trend_text(t, score, previous)),
    ]


async def digest_goal(scope: DigestScope) -> list[Block]:
    from storage.privacy import feature_enabled

    if not await feature_enabled(scope.session, scope.workspace.id, "pulse"):
        return []
    blocks = await goal_blocks(scope.session, scope.workspace.id, scope.t, scope.channel_id)
    return [Note(text=b.text) for b in blocks if isinstance(b, Section)]


def home_header(t: Translator) -> Header:
    return Header(text=t("pulse.goal.home_title"))


def dm_reply(router: Router) -> Callable[[Context], Awaitable[None]]:
    """A plain reply in the private chat with Starling answers the open pulse (a command word, or a word
    close to one, is left to the commands)."""

    async def on_dm(ctx: Context) -> None:
        ev = ctx.event
        assert isinstance(ev, MessageEvent)
        text = ev.text.strip()
        first = text.split(None, 1)[0].lower().lstrip("/") if text else ""
        if not first or router.resolve_command(first) is not None or len(text.split()) < 2:
            ctx.decline()
        if len(first) <= 12 and router.closest_commands(first):
            ctx.decline()
        mine = await q.pulses_for(ctx.session, workspace_id=ctx.workspace.id, user_id=ctx.actor.user_id)
        if not mine:
            ctx.decline()
        await flow.answer(ctx, text, pulse=mine[0])

    return on_dm


def _is_dm(ev: MessageEvent) -> bool:
    return ev.conversation is not None and ev.conversation.kind == "dm" and ev.thread_id is None


def register(router: Router) -> None:
    pulse = router.command(
        "pulse",
        feature="pulse",
        aliases=("puls", "stimmungsbild"),
        help_key="pulse.help.short",
        title_key="pulse.help.title",
        default="help",
    )
    options = (Arg.text("options", optional=True, label_key="pulse.help.arg.options"),)
    channel = (Arg.text("channel", optional=True, label_key="pulse.help.arg.channel"),)
    days = (Arg.text("days", optional=True, label_key="pulse.help.arg.days"),)
    schedule = (Arg.text("schedule", optional=True, label_key="pulse.help.arg.schedule"),)
    goal_text = (Arg.text("goal", optional=True, label_key="pulse.help.arg.goal"),)
    on_off = (Arg.text("on_off", optional=True, label_key="pulse.help.arg.on_off"),)

    @pulse.sub("start", de="starten", args=options, admin=True, help_key="pulse.help.sub.start")
    async def _start(ctx: Context) -> None:
        await flow.start(ctx, ctx.args)

    @pulse.sub(
        "answer",
        de="antwort",
        aliases=("antworten",),
        args=(Arg.text("answer", optional=True, label_key="pulse.help.arg.answer"),),
        help_key="pulse.help.sub.answer",
    )
    async def _answer(ctx: Context) -> None:
        text, named = ctx.rest, False
        first = text.split(None, 1)
        if first and first[0].lower() in flow.NAMED_WORDS:
            named, text = True, (first[1] if len(first) > 1 else "")
        await flow.answer(ctx, text, named=named)

    @pulse.sub("status", de="stand", help_key="pulse.help.sub.status")
    async def _status(ctx: Context) -> None:
        await flow.status(ctx)

    @pulse.sub(
        "close", de="schließen", aliases=("schliessen", "beenden"), args=channel, help_key="pulse.help.sub.close"
    )
    async def _close(ctx: Context) -> None:
        await flow.close(ctx, ctx.args)

    @pulse.sub("extend", de="verlängern", aliases=("verlaengern",), args=days, help_key="pulse.help.sub.extend")
    async def _extend(ctx: Context) -> None:
        await flow.extend(ctx, ctx.args)

    @pulse.sub("repeat", de="wiederholen", args=schedule, admin=True, help_key="pulse.help.sub.repeat")
    async def _repeat(ctx: Context) -> None:
        await repeat(ctx, ctx.args)

    goal = router.command(
        "goal",
        feature="pulse",
        aliases=("ziel", "fixstern"),
        help_key="pulse.help.goal_short",
        title_key="pulse.help.goal_title",
        default="show",
    )

    @goal.sub(
        "set", de="setzen", aliases=("festlegen",), args=goal_text, admin=True, help_key="pulse.help.sub.goal_set"
    )
    async def _goal_set(ctx: Context) -> None:
        await goal_set(ctx, ctx.args)

    @goal.sub("show", de="zeigen", aliases=("list", "liste"), help_key="pulse.help.sub.goal_show")
    async def _goal_show(ctx: Context) -> None:
        blocks = await goal_blocks(ctx.session, ctx.workspace.id, ctx.t)
        ctx.ephemeral(blocks or ctx.t("pulse.goal.none"))

    @goal.sub("prompt", de="impuls", args=on_off, admin=True, help_key="pulse.help.sub.goal_prompt")
    async def _goal_prompt(ctx: Context) -> None:
        await goal_prompt(ctx, ctx.args)

    @goal.sub(
        "clear", de="löschen", aliases=("loeschen",), args=channel, admin=True, help_key="pulse.help.sub.goal_clear"
    )
    async def _goal_clear(ctx: Context) -> None:
        await goal_clear(ctx, ctx.args)

    router.action("pulse", feature="pulse")(pulse_action)
    router.message(_is_dm, feature="pulse", priority=Priority.COMMAND + 10, addressed=True)(dm_reply(router))
    router.schedule("pulse_close", feature="pulse")(jobs.close_due)
    router.schedule("pulse_recurring", feature="pulse")(jobs.start_recurring)
    register_section("pulse", digest_section, order=60)
    register_section("pulse-goal", digest_goal, order=1000)
