"""``help``: every command the router knows, in the reader's language."""

from __future__ import annotations

from bot.core.messages import Header, Message, Note, Section
from bot.core.router import Context, Router


def register(router: Router) -> None:
    @router.command("help", aliases=("hilfe", "?"), help_key="help.short", feature="help")
    async def help_command(ctx: Context) -> None:
        lines = []
        for name, spec in sorted(router.commands.items()):
            if spec.hidden or not spec.help_key or (spec.admin and not ctx.member.is_admin):
                continue
            lines.append(f"*{name}* — {ctx.t(spec.help_key)}")
        ctx.ephemeral(
            Message(
                blocks=[
                    Header(text=ctx.t("help.title")),
                    Section(text="\n".join(lines)),
                    Note(text=ctx.t("help.footer")),
                ],
                text=ctx.t("help.title"),
            )
        )
