"""``help``: every command the router knows, in the reader's language; ``help <command>``: that command's
subcommands, generated from their declarations (so the help never drifts from what works)."""

from __future__ import annotations

from bot.core.messages import Header, Message, Note, Section
from bot.core.router import Context, Router, UserError, command_help, command_usable, require_on


def register(router: Router) -> None:
    @router.command("help", aliases=("hilfe", "?"), help_key="help.short", feature="help")
    async def help_command(ctx: Context) -> None:
        if ctx.args:
            word = ctx.args[0]
            spec = router.resolve_command(word)
            if spec is None or spec.hidden or (spec.admin and not ctx.member.is_admin):
                raise UserError("core.help.unknown", command=word.lower().lstrip("/"))
            if not await command_usable(ctx, spec):
                await require_on(ctx, spec.feature)  # switched off: say so
            ctx.ephemeral(await command_help(ctx, spec))
            return
        lines = []
        for name, spec in sorted(router.commands.items()):
            if not spec.help_key or not await command_usable(ctx, spec):
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
