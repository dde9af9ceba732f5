"""The privacy rules every feature asks before it shows or stores something.

``require_feature`` refuses a switched-off feature; ``min_group_ok`` is the one minimum-group-size
rule for every aggregate; ``person_figures_visible`` says whether admins and managers may see figures
of individual people; ``team_board`` is the leaderboard as team aggregates (works-council profile).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.messages import Bar, BarList, Header, Message, Note, Section
from bot.core.router import Context, UserError
from bot.core.services import LanguageModel
from storage import privacy
from storage.models import Workspace
from storage.privacy import feature_enabled, min_group_ok, min_group_size, person_figures_visible

__all__ = [
    "feature_enabled",
    "group_figure_ok",
    "individual_boards",
    "language_model",
    "min_group_ok",
    "min_group_size",
    "names_allowed",
    "person_figures_visible",
    "rankings_allowed",
    "require_feature",
    "sheet_lines",
    "team_board",
]

# Lines a feature adds to the privacy fact sheet (translation keys), shown while the feature is on.
_SHEET_LINES: dict[str, tuple[str, ...]] = {}


def declare_sheet_lines(feature: str, *keys: str) -> None:
    """A feature's own lines for the fact sheet (what it keeps, for how long and why)."""
    _SHEET_LINES[feature] = keys


def sheet_lines() -> dict[str, tuple[str, ...]]:
    return dict(_SHEET_LINES)


async def require_feature(ctx: Context, feature: str) -> None:
    """Raise a localized refusal when ``feature`` is switched off in the workspace."""
    if not await feature_enabled(ctx.session, ctx.workspace.id, feature):
        raise UserError("privacy.err.feature_off", feature=ctx.t(f"privacy.features.{feature}"))


async def language_model(ctx: Context) -> LanguageModel | None:
    """The language model (through the one gate: switch, profile, scrubbing on every call) if one is
    configured and the workspace allows its use, else None."""
    model = ctx.services.model
    if not await model.allowed(ctx.workspace.id, session=ctx.session):
        return None
    return model.bound(ctx.workspace.id)


async def individual_boards(ctx: Context) -> bool:
    """False when leaderboards may only show team aggregates (works-council profile)."""
    settings = await privacy.get_settings(ctx.session, workspace_id=ctx.workspace.id)
    return settings.individual_boards


async def team_board(
    ctx: Context,
    *,
    title: str,
    since: datetime | None,
    direction: str,
    value_tag: str | None,
    department: str | None,
) -> None:
    """Kudos per department; a department appears only if enough people stand behind its total."""
    minimum = await min_group_size(ctx.session, ctx.workspace.id)
    groups = await privacy.department_totals(
        ctx.session,
        workspace_id=ctx.workspace.id,
        since=since,
        direction=direction,
        value_tag=value_tag,
        department=department,
    )
    shown = [g for g in groups if min_group_ok(g.people, minimum)]
    complement = 0
    # What the shown teams leave over (the hidden teams, people without a team) is a figure too once the
    # overall total is known (the digest shows it): it must stand for the minimum group, or for nobody.
    # Otherwise the smallest shown team is left out as well, until it does.
    while shown:
        rest = await privacy.people_outside(
            ctx.session,
            workspace_id=ctx.workspace.id,
            since=since,
            direction=direction,
            value_tag=value_tag,
            departments=[g.group for g in shown],
        )
        if rest == 0 or min_group_ok(rest, minimum):
            break
        shown.remove(min(shown, key=lambda g: (g.people, g.points, g.group)))
        complement += 1
    blocks: list = [Header(text=title)]
    if shown:
        blocks.append(
            BarList(
                title=ctx.t("privacy.board.by_team"),
                rows=[
                    Bar(label=g.group, value=g.points, display=ctx.t.plural("kudos.points", g.points)) for g in shown
                ],
            )
        )
    else:
        blocks.append(Section(text=ctx.t("privacy.board.no_groups", min=minimum)))
    hidden = len(groups) - len(shown) - complement
    if hidden:
        blocks.append(Note(text=ctx.t.plural("privacy.board.hidden", hidden, min=minimum)))
    if complement:
        blocks.append(Note(text=ctx.t.plural("privacy.board.hidden_complement", complement, min=minimum)))
    blocks.append(Note(text=ctx.t("privacy.board.aggregates_only")))
    ctx.reply(Message(blocks=blocks, text=title))


async def group_figure_ok(session: AsyncSession, workspace_id: str, n_people: int) -> bool:
    """Whether a figure about a small group of named roles (e.g. approvers' decision times) may be shown:
    always in the standard profile, only for groups of the minimum size when per-person figures are off."""
    if await person_figures_visible(session, workspace_id):
        return True
    return min_group_ok(n_people, await min_group_size(session, workspace_id))


async def rankings_allowed(session: AsyncSession, workspace: Workspace) -> bool:
    """The one rule for every ranking of people by name (leaderboard posts, the digest's top lists): the
    ``leaderboards`` switch is on and boards show people (``privacy boards people``; off by default in the
    works-council profile)."""
    if not await feature_enabled(session, workspace.id, "leaderboards"):
        return False
    return (await privacy.get_settings(session, workspace_id=workspace.id)).individual_boards


def names_allowed(workspace: Workspace) -> bool:
    """False in the works-council profile: only aggregates, never individual names or rankings."""
    return workspace.privacy_profile != "works-council"
