"""``starling``: workspace settings (admins) and personal preferences (everyone)."""

from __future__ import annotations

import re
from typing import Any

from bot.core.commands import Arg
from bot.core.i18n import normalize_locale
from bot.core.jobs import is_zone
from bot.core.messages import Block, Fields, Header, Message, Note, Section, channel_link, mention, user_text
from bot.core.router import Context, Router, UserError, require_admin
from storage import core
from storage.privacy import record_audit

INT_SETTINGS = {
    "budget": ("daily_budget", 1, 100),
    "min-reason": ("min_reason_length", 0, 200),
    "max-recipients": ("max_recipients", 1, 50),
    "pair-cap": ("pair_daily_cap", 1, 100),
    "max-length": ("max_text_length", 50, 4000),
    "undo-minutes": ("undo_minutes", 0, 120),
}
TAG_RE = re.compile(r"^#?([^\W_][\w\-]{0,39})$")
# An emoji's short name as Slack and Teams write it between colons (star, taco, +1, thumbsup_all).
EMOJI_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_+\-']{0,63}")
CHANNEL_RE = re.compile(r"^<#([A-Za-z0-9_.:@;\-]+)(?:\|[^>]*)?>$")


SETTING_LABELS = {
    "budget": "budget",
    "min-reason": "min_reason",
    "max-recipients": "max_recipients",
    "pair-cap": "pair_cap",
    "language": "language",
    "sprache": "language",
    "tone": "tone",
    "anrede": "tone",
    "timezone": "timezone",
    "zeitzone": "timezone",
    "emoji": "emoji",
    "kudos-channel": "kudos_channel",
    "channel": "kudos_channel",
}


def language_name(ctx: Context, code: str, *, spoken: bool = False) -> str:
    """``de`` → "Deutsch" / "German" (``spoken``: as in "I speak German with you")."""
    key = f"admin.languages.{code[:2]}{'_spoken' if spoken else ''}"
    return ctx.t(key) if ctx.t.has(key) else code


def tone_name(ctx: Context, tone: str) -> str:
    names = {"du": "admin.tone_names.informal", "sie": "admin.tone_names.formal"}
    return ctx.t(names[tone]) if tone in names else tone


def setting_name(ctx: Context, key: str) -> str:
    label = SETTING_LABELS.get(key)
    return ctx.t(f"admin.settings.{label}") if label else key


def shown_value(ctx: Context, key: str, ws: Any) -> str:
    """A setting's new value as people read it (names, not codes)."""
    label = SETTING_LABELS.get(key)
    if label == "language":
        return language_name(ctx, ws.locale)
    if label == "tone":
        return tone_name(ctx, ws.tone)
    if label == "emoji":
        return user_text(f":{ws.kudos_emoji}:")
    if label == "kudos_channel":
        return channel_link(ws.kudos_channel_id) if ws.kudos_channel_id else ctx.t("admin.channel_off")
    if label == "timezone":
        return str(ws.timezone)
    field = INT_SETTINGS.get(key)
    return str(getattr(ws, field[0])) if field else ""


async def settings_blocks(ctx: Context) -> list[Block]:
    """The workspace's current settings (shown to admins in ``starling settings`` and the app home)."""
    ws = ctx.workspace
    values = await core.list_values(ctx.session, workspace_id=ws.id)
    return [
        Header(text=ctx.t("admin.settings.title")),
        Fields(
            items=[
                (ctx.t("admin.settings.language"), language_name(ctx, ws.locale)),
                (ctx.t("admin.settings.tone"), tone_name(ctx, ws.tone)),
                (ctx.t("admin.settings.timezone"), ws.timezone),
                (ctx.t("admin.settings.budget"), str(ws.daily_budget)),
                (ctx.t("admin.settings.min_reason"), str(ws.min_reason_length)),
                (ctx.t("admin.settings.max_recipients"), str(ws.max_recipients)),
                (ctx.t("admin.settings.pair_cap"), str(ws.pair_daily_cap)),
                (ctx.t("admin.settings.emoji"), user_text(f":{ws.kudos_emoji}:")),
                (
                    ctx.t("admin.settings.kudos_channel"),
                    channel_link(ws.kudos_channel_id) if ws.kudos_channel_id else "—",
                ),
                (ctx.t("admin.settings.privacy"), ctx.t(f"admin.profiles.{ws.privacy_profile}")),
            ]
        ),
        Section(text=ctx.t("admin.settings.values", values=", ".join(f"#{v.tag}" for v in values))),
        Note(text=ctx.t("admin.settings.howto")),
    ]


async def show_settings(ctx: Context) -> None:
    ctx.ephemeral(Message(blocks=await settings_blocks(ctx), text=ctx.t("admin.settings.title")))


async def set_setting(ctx: Context, key: str, raw: list[str]) -> None:
    require_admin(ctx)
    ws = ctx.workspace
    if not raw:
        raise UserError("admin.err.missing_value", key=key)
    value = " ".join(raw)
    if key in INT_SETTINGS:
        field, lo, hi = INT_SETTINGS[key]
        if not value.isdigit() or not lo <= int(value) <= hi:
            raise UserError("admin.err.number", key=key, min=lo, max=hi)
        setattr(ws, field, int(value))
    elif key in ("language", "sprache"):
        lang = normalize_locale(value)
        if lang is None:
            raise UserError("admin.err.language")
        ws.locale = lang
    elif key in ("tone", "anrede"):
        if value.lower() not in ("du", "sie"):
            raise UserError("admin.err.tone")
        ws.tone = value.lower()
    elif key in ("timezone", "zeitzone"):
        if not is_zone(value):
            raise UserError("admin.err.timezone", value=value)
        ws.timezone = value
    elif key == "emoji":
        name = value.strip().strip(":").lower()
        if not EMOJI_NAME_RE.fullmatch(name):
            raise UserError("admin.err.emoji", value=value)
        ws.kudos_emoji = name
    elif key in ("kudos-channel", "channel"):
        m = CHANNEL_RE.match(value)
        if value.lower() in ("off", "none", "aus"):
            ws.kudos_channel_id = None
        elif m:
            ws.kudos_channel_id = m.group(1)
        else:
            raise UserError("admin.err.channel")
    else:
        raise UserError(
            "admin.err.unknown_setting",
            key=key,
            keys=", ".join([*INT_SETTINGS, "language", "tone", "timezone", "emoji", "kudos-channel"]),
        )
    ctx.session.add(ws)
    await record_audit(ctx.session, ws.id, ctx.actor.user_id, "admin.set", None, {"key": key, "value": value})
    ctx.ephemeral(ctx.t("admin.saved", key=setting_name(ctx, key), value=shown_value(ctx, key, ws)))


VALUE_ACTIONS = {"list": "list", "liste": "list", "add": "add", "hinzufügen": "add", "remove": "remove"}
VALUE_ACTIONS |= {"entfernen": "remove"}


async def values_command(ctx: Context, action: str | None, args: list[str]) -> None:
    """``starling values [list|add #tag Label DE / Label EN|remove #tag]``; ``args`` follow the action."""
    ws = ctx.workspace
    values = await core.list_values(ctx.session, workspace_id=ws.id)
    sub = action or ("list" if not args else "")
    if sub == "list":
        lines = [user_text(f"#{v.tag} — {v.label_de} / {v.label_en}") for v in values]
        ctx.ephemeral("\n".join(lines) or ctx.t("admin.values.none"))
        return
    require_admin(ctx)
    if sub == "add":
        match = TAG_RE.match(args[0]) if args else None
        if match is None:
            raise UserError("admin.err.value_usage")
        tag = match.group(1).lower()
        if any(v.tag == tag for v in values):
            raise UserError("admin.err.value_exists", tag=tag)
        labels = " ".join(args[1:]).split("/")
        label_de = labels[0].strip() or tag
        label_en = (labels[1].strip() if len(labels) > 1 else label_de) or tag
        rows = [v.model_dump(include={"tag", "label_de", "label_en", "aliases"}) for v in values]
        rows.append({"tag": tag, "label_de": label_de, "label_en": label_en, "aliases": []})
        await core.replace_values(ctx.session, workspace_id=ws.id, values=rows)
        await record_audit(ctx.session, ws.id, ctx.actor.user_id, "admin.value_add", None, {"tag": tag})
        ctx.ephemeral(ctx.t("admin.values.added", tag=tag))
    elif sub == "remove":
        tag = args[0].lstrip("#").lower() if args else ""
        rows = [v.model_dump(include={"tag", "label_de", "label_en", "aliases"}) for v in values if v.tag != tag]
        if len(rows) == len(values):
            raise UserError("admin.err.value_unknown", tag=tag)
        await core.replace_values(ctx.session, workspace_id=ws.id, values=rows)
        await record_audit(ctx.session, ws.id, ctx.actor.user_id, "admin.value_remove", None, {"tag": tag})
        ctx.ephemeral(ctx.t("admin.values.removed", tag=tag))
    else:
        raise UserError("admin.err.value_usage")


async def member_command(ctx: Context, key: str, user_id: str, department: str = "") -> None:
    """``starling department @anna Support``, ``starling admin @anna``."""
    require_admin(ctx)
    person = await ctx.person(user_id)
    if person is None:
        raise UserError("kudos.err.unknown_user", user=user_id)
    if key == "department":
        dept = department.strip()
        person.department = dept or None
        ctx.ephemeral(ctx.t("admin.department_set", user=mention(person.user_id), department=dept or "—"))
    else:
        person.is_admin = True
        ctx.ephemeral(ctx.t("admin.admin_set", user=mention(person.user_id)))
    ctx.session.add(person)
    await record_audit(ctx.session, ctx.workspace.id, ctx.actor.user_id, f"admin.{key}", person.user_id)


async def my_language(ctx: Context, args: list[str]) -> None:
    lang = normalize_locale(args[0]) if args else None
    if lang is None:
        raise UserError("admin.err.language")
    ctx.member.locale = lang
    ctx.session.add(ctx.member)
    ctx.t = ctx.translator_for_member(ctx.member)
    ctx.ephemeral(ctx.t("admin.my_language", language=language_name(ctx, lang, spoken=True)))


def register(router: Router) -> None:
    starling = router.command(
        "starling",
        aliases=("settings", "einstellungen"),
        help_key="admin.help.short",
        feature="admin",
        default="settings",
    )
    rest = (Arg.text(optional=True),)

    @starling.sub("settings", de="einstellungen", aliases=("config",), help_key="admin.help.sub.settings")
    async def _settings(ctx: Context) -> None:
        await show_settings(ctx)

    @starling.sub("language", de="sprache", args=rest, help_key="admin.help.sub.language")
    async def _language(ctx: Context) -> None:
        await my_language(ctx, ctx.args)

    @starling.sub("set", de="setze", args=rest, admin=True, help_key="admin.help.sub.set")
    async def _set(ctx: Context) -> None:
        if not ctx.args:
            raise UserError("admin.err.missing_value", key="set")
        await set_setting(ctx, ctx.args[0].lower(), ctx.args[1:])

    @starling.sub(
        "values",
        de="werte",
        args=(
            Arg.choice("action", VALUE_ACTIONS, optional=True, label_key="admin.help.arg.value_action"),
            Arg.text(optional=True),
        ),
        help_key="admin.help.sub.values",
    )
    async def _values(ctx: Context) -> None:
        action = ctx.params.get("action")
        await values_command(ctx, action, ctx.args[1:] if action else ctx.args)

    @starling.sub(
        "department",
        de="abteilung",
        args=(Arg.user(), Arg.text("department", optional=True, label_key="admin.help.arg.department")),
        error_key="admin.err.need_mention",
        admin=True,
        help_key="admin.help.sub.department",
    )
    async def _department(ctx: Context) -> None:
        await member_command(ctx, "department", ctx.params["user"], ctx.params.get("department", ""))

    @starling.sub(
        "admin", args=(Arg.user(),), error_key="admin.err.need_mention", admin=True, help_key="admin.help.sub.admin"
    )
    async def _admin(ctx: Context) -> None:
        await member_command(ctx, "admin", ctx.params["user"])
