"""Digest sections of the other features, built from what they publish for the digest:
prompt participation and highlighted answers (:mod:`handlers.prompts`), "you said, we did"
(:mod:`handlers.suggestions`)."""

from __future__ import annotations

from bot.core.messages import Bar, BarList, Block, Note, Section, channel_link, user_text
from handlers.digests.sections import DigestScope, register_section
from handlers.privacy_rules import group_figure_ok
from handlers.prompts import highlighted_answers, participation
from handlers.suggestions import digest_blocks, digest_summary

QUOTE_LENGTH = 280


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


async def prompts_section(scope: DigestScope) -> list[Block]:
    """Answers per channel (counts only, channels with fewer than five people left out) and the answers
    the team highlighted, without their authors."""
    t = scope.t
    rows = await participation(scope.session, workspace_id=scope.workspace.id, since=scope.start, until=scope.end)
    if not any(r.prompts for r in rows):
        return []
    shown = [r for r in rows if scope.group_ok(r.people)]
    blocks: list[Block] = [Section(text=t("digests.prompts.title"))]
    if shown:
        blocks.append(
            BarList(
                rows=[
                    Bar(
                        label=channel_link(r.channel_id),
                        value=float(r.answers),
                        display=t(
                            "digests.prompts.answers" if r.prompts != 1 else "digests.prompts.answers_one",
                            answers=r.answers,
                            prompts=r.prompts,
                        ),
                    )
                    for r in shown
                ]
            )
        )
    if len(shown) < len(rows):
        blocks.append(Note(text=t("digests.prompts.small_channels", min=scope.min_size)))
    visible = {r.channel_id for r in shown}
    answers = await highlighted_answers(
        scope.session, workspace_id=scope.workspace.id, since=scope.start, until=scope.end, limit=20
    )
    # Quotes only from channels shown above: a hidden small channel is not quoted either.
    for answer in [a for a in answers if a.channel_id in visible][:3]:
        blocks.append(Section(text="> " + user_text(_short(answer.text, QUOTE_LENGTH))))
        blocks.append(
            Note(
                text=t(
                    "digests.prompts.highlight",
                    prompt=user_text(_short(answer.prompt, 120)),
                    channel=channel_link(answer.channel_id),
                    marks=answer.highlights,
                )
            )
        )
    return blocks


async def suggestions_section(scope: DigestScope) -> list[Block]:
    """Suggestions submitted, decided and done, with the median time to a decision."""
    summary = await digest_summary(scope.session, scope.workspace.id, scope.start, scope.end)
    if not (summary.submitted or summary.decided or summary.done):
        return []
    if not await group_figure_ok(scope.session, scope.workspace.id, summary.deciders):
        summary.median_decision_hours = None  # a few approvers' response time is a per-person figure
    return digest_blocks(scope.t, summary)


def register() -> None:
    register_section("prompts", prompts_section, order=40)
    register_section("suggestions", suggestions_section, order=50)
