"""Suggestion box settings (admins): approvers, review channel, reporting pointer, deadline, limits."""

from __future__ import annotations

import re

from bot.core.events import Platform, mention_ids
from bot.core.messages import Fields, Header, Message, Note, channel_link, mention, user_text
from bot.core.router import Context, UserError, require_admin
from storage import suggestions as q
from storage.suggestions import WORKSPACE_WIDE

CHANNEL_RE = re.compile(r"^<#([A-Za-z0-9_.:@;\-]+)(?:\|[^>]*)?>$")
PLAIN_CHANNEL_RE = re.compile(r"^#?([\w.\-]{1,80})$")
DEPT_PREFIXES = ("dept:", "team:", "abteilung:")
OFF = ("off", "none", "aus", "keine", "keiner", "-")


async def show_settings(ctx: Context) -> None:
    ws = ctx.workspace
    settings = await q.get_settings(ctx.session, workspace_id=ws.id)
    approvers = await q.list_approvers(ctx.session, workspace_id=ws.id)

    def people(ids: list[str]) -> str:
        return ", ".join(mention(u) for u in ids) or "—"

    items = [
        (
            ctx.t("suggestions.settings.review_channel"),
            channel_link(settings.review_channel_id)
            if settings.review_channel_id
            else ctx.t("suggestions.settings.review_dm"),
        ),
        (
            ctx.t("suggestions.settings.approvers"),
            people(approvers.get(WORKSPACE_WIDE, []))
            if approvers.get(WORKSPACE_WIDE)
            else ctx.t("suggestions.settings.admins_decide"),
        ),
    ]
    for dept, ids in approvers.items():
        if dept:
            items.append((ctx.t("suggestions.settings.dept_approvers", department=user_text(dept)), people(ids)))
    items += [
        (ctx.t("suggestions.settings.deadline"), ctx.t.plural("suggestions.days", settings.deadline_days)),
        (ctx.t("suggestions.settings.anon_limit"), str(settings.anon_hourly_limit)),
        (
            ctx.t("suggestions.settings.reporting"),
            user_text(settings.reporting_text) if settings.reporting_text else "—",
        ),
    ]
    ctx.ephemeral(
        Message(
            blocks=[
                Header(text=ctx.t("suggestions.settings.title")),
                Fields(items=items),
                Note(text=ctx.t("suggestions.settings.howto")),
            ],
            text=ctx.t("suggestions.settings.title"),
        )
    )


async def approvers_command(ctx: Context, args: list[str]) -> None:
    """``suggest approvers @a @b`` · ``suggest approvers dept:IT @c`` · ``… none`` clears."""
    if not args:
        await show_settings(ctx)
        return
    require_admin(ctx)
    department = WORKSPACE_WIDE
    rest = list(args)
    if rest[0].lower().startswith(DEPT_PREFIXES):
        # The department name runs up to the first mention or "none": ``dept:Customer Service @anna``.
        words = [rest.pop(0).split(":", 1)[1]]
        while rest and not rest[0].startswith("<@") and rest[0].lower() not in OFF:
            words.append(rest.pop(0))
        department = " ".join(words).strip()
        if not department:
            raise UserError("suggestions.err.approvers_usage")
    ids = mention_ids(" ".join(rest))
    clear = bool(rest) and rest[0].lower() in OFF
    if not ids and not clear:
        raise UserError("suggestions.err.approvers_usage")
    people = []
    for uid in ids:
        person = await ctx.person(uid)
        if person is None:
            raise UserError("suggestions.err.unknown_user", user=uid)
        if person.is_bot:
            raise UserError("suggestions.err.bot_approver", user=mention(uid))
        people.append(uid)
    await q.set_approvers(ctx.session, workspace_id=ctx.workspace.id, department=department, user_ids=people)
    scope = (
        ctx.t("suggestions.settings.scope_dept", department=user_text(department))
        if department
        else ctx.t("suggestions.settings.scope_all")
    )
    if people:
        ctx.ephemeral(
            ctx.t("suggestions.settings.approvers_set", scope=scope, people=ctx.t.join(mention(u) for u in people))
        )
    else:
        ctx.ephemeral(ctx.t("suggestions.settings.approvers_cleared", scope=scope))


async def review_channel_command(ctx: Context, args: list[str]) -> None:
    require_admin(ctx)
    value = " ".join(args).strip()
    if value.lower() in OFF:
        await q.save_settings(ctx.session, workspace_id=ctx.workspace.id, review_channel_id=None)
        ctx.ephemeral(ctx.t("suggestions.settings.review_channel_off"))
        return
    m = CHANNEL_RE.match(value)
    channel = m.group(1) if m else None
    if channel is None and ctx.actor.platform == Platform.CONSOLE:
        plain = PLAIN_CHANNEL_RE.match(value)
        channel = plain.group(1) if plain else None
    if channel is None:
        raise UserError("suggestions.err.channel")
    await q.save_settings(ctx.session, workspace_id=ctx.workspace.id, review_channel_id=channel)
    ctx.ephemeral(ctx.t("suggestions.settings.review_channel_set", channel=channel_link(channel)))


async def reporting_command(ctx: Context, args: list[str]) -> None:
    require_admin(ctx)
    value = " ".join(args).strip()
    if not value:
        raise UserError("suggestions.err.reporting_usage")
    if len(value) > 500:
        raise UserError("suggestions.err.too_long", field=ctx.t("suggestions.settings.reporting"), max=500)
    text = None if value.lower() in OFF else value
    await q.save_settings(ctx.session, workspace_id=ctx.workspace.id, reporting_text=text)
    ctx.ephemeral(ctx.t("suggestions.settings.reporting_set" if text else "suggestions.settings.reporting_off"))


async def number_command(ctx: Context, key: str, args: list[str]) -> None:
    require_admin(ctx)
    field, lo, hi = {"deadline": ("deadline_days", 1, 90), "anon-limit": ("anon_hourly_limit", 1, 1000)}[key]
    value = args[0] if args else ""
    if not value.isdigit() or not lo <= int(value) <= hi:
        raise UserError("suggestions.err.number", key=key, min=lo, max=hi)
    await q.save_settings(ctx.session, workspace_id=ctx.workspace.id, **{field: int(value)})
    ctx.ephemeral(ctx.t(f"suggestions.settings.{key.replace('-', '_')}_saved", value=int(value)))
