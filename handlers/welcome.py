"""Welcome: when Starling joins a conversation (installed in a team, a chat or personal scope), it says
hello once there, with the company values and how to give kudos. Other people joining are left alone."""

from __future__ import annotations

from bot.events import MemberJoinedEvent
from bot.messages import Context, Header, Message, Section
from bot.router import Context as Ctx
from bot.router import Router
from storage import core


async def welcome_message(ctx: Ctx) -> Message:
    values = await core.list_values(ctx.session, workspace_id=ctx.workspace.id)
    tags = ", ".join(f"#{v.tag} ({v.label_de if ctx.t.lang == 'de' else v.label_en})" for v in values)
    return Message(
        blocks=[
            Header(text=ctx.t("welcome.title")),
            Section(text=ctx.t("welcome.intro")),
            Section(text=ctx.t("welcome.values", values=tags or "—")),
            Section(text=ctx.t("welcome.kudos_howto", budget=ctx.workspace.daily_budget)),
            Context(text=ctx.t("core.help_hint")),
        ],
        text=ctx.t("welcome.title"),
    )


def register(router: Router) -> None:
    @router.on(MemberJoinedEvent)
    async def on_joined(ctx: Ctx) -> None:
        if not ctx.actor.is_bot:
            return
        ctx.reply(await welcome_message(ctx))
