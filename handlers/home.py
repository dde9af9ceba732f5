"""The person's own start page (Slack App Home, a Teams personal tab): stats, budget, how to give kudos,
and for admins the current settings."""

from __future__ import annotations

from bot.core.events import AppOpenedEvent
from bot.core.messages import Block, Divider, Header, Message, Note, Section
from bot.core.router import Context, Router
from handlers.admin import settings_blocks
from handlers.kudos import stats_blocks, value_label
from handlers.privacy_rules import feature_enabled
from handlers.pulse import goal_blocks
from storage import core


async def howto_blocks(ctx: Context) -> list[Block]:
    ws = ctx.workspace
    values = await core.list_values(ctx.session, workspace_id=ws.id)
    tags = ", ".join(f"#{v.tag} ({value_label(ctx, v)})" for v in values)
    return [
        Header(text=ctx.t("home.howto_title")),
        Section(text=ctx.t("kudos.help.text", emoji=ws.kudos_emoji, budget=ws.daily_budget)),
        Section(text=ctx.t("kudos.help.values", values=tags)),
    ]


async def home_blocks(ctx: Context) -> list[Block]:
    """Personal stats and budget, how to give kudos, and for admins the current settings."""
    blocks: list[Block] = [
        Header(text=ctx.t("home.title")),
        Section(text=ctx.t("home.intro")),
        Divider(),
        *(await stats_blocks(ctx) if await feature_enabled(ctx.session, ctx.workspace.id, "personal_stats") else []),
        Divider(),
        *await howto_blocks(ctx),
    ]
    if await feature_enabled(ctx.session, ctx.workspace.id, "pulse"):
        goals = await goal_blocks(ctx.session, ctx.workspace.id, ctx.t)
        if goals:  # the teams' fixed stars
            blocks += [Divider(), *goals]
    if ctx.member.is_admin or ctx.actor.is_admin:
        blocks += [Divider(), *await settings_blocks(ctx)]
    blocks.append(Note(text=ctx.t("home.footer")))
    return blocks


def register(router: Router) -> None:
    @router.on(AppOpenedEvent, feature="home")
    async def app_opened(ctx: Context) -> None:
        ctx.home(Message(blocks=await home_blocks(ctx), text=ctx.t("home.title")))
