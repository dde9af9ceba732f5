"""Welcome: when Starling joins a conversation (installed in a team, a chat or personal scope), it says
hello once there, with the company values and how to give kudos. A person who joins the workspace
(Slack ``team_join``) gets a personal welcome by direct message, once; people added to a conversation
are left alone."""

from __future__ import annotations

from bot.core.events import MemberJoinedEvent
from bot.core.messages import Header, Message, Note, Section, mention
from bot.core.router import Context, Router
from storage import core


async def welcome_message(ctx: Context) -> Message:
    values = await core.list_values(ctx.session, workspace_id=ctx.workspace.id)
    tags = ", ".join(f"#{v.tag} ({v.label_de if ctx.t.lang == 'de' else v.label_en})" for v in values)
    return Message(
        blocks=[
            Header(text=ctx.t("welcome.title")),
            Section(text=ctx.t("welcome.intro")),
            Section(text=ctx.t("welcome.values", values=tags or "—")),
            Section(text=ctx.t("welcome.kudos_howto", budget=ctx.workspace.daily_budget)),
            Note(text=ctx.t("core.help_hint")),
        ],
        text=ctx.t("welcome.title"),
    )


async def newcomer_message(ctx: Context) -> Message:
    ws = ctx.workspace
    values = await core.list_values(ctx.session, workspace_id=ws.id)
    tags = ", ".join(f"#{v.tag} ({v.label_de if ctx.t.lang == 'de' else v.label_en})" for v in values)
    return Message(
        blocks=[
            Section(text=ctx.t("welcome.newcomer", user=mention(ctx.actor.user_id))),
            Section(text=ctx.t("welcome.intro")),
            Section(text=ctx.t("welcome.values", values=tags or "—")),
            Section(text=ctx.t("kudos.help.text", emoji=ws.kudos_emoji, budget=ws.daily_budget)),
            Note(text=ctx.t("core.help_hint")),
        ],
        text=ctx.t("welcome.newcomer_notification"),
    )


def register(router: Router) -> None:
    @router.on(MemberJoinedEvent, feature="welcome")
    async def on_joined(ctx: Context) -> None:
        if ctx.actor.is_bot:
            ctx.reply(await welcome_message(ctx))
        elif ctx.event.conversation is None and not ctx.member.is_bot:
            uid = ctx.actor.user_id
            ctx.dm(uid, await newcomer_message(ctx), dedupe_key=f"welcome:{ctx.workspace.id}:{uid}")
