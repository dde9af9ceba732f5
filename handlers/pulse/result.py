"""Closing a pulse: compute the result once, store only aggregates, and build the messages.

The result is computed from the answers with :mod:`handlers.pulse.method` (local TF-IDF, or the
model's embeddings when the workspace allows the model). The published result holds the score, each
cluster's size, label and two or three scrubbed example answers; the starter's own comparison is
computed at the close (while the pulse's owner keys still exist) and sent only to the starter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.i18n import Translator
from bot.core.messages import Actions, Block, Button, Divider, Header, Message, Note, Section, channel_link, user_text
from handlers.prompts.scrub import scrub
from handlers.pulse.method import Analysis, analyse
from storage import pulse as q
from storage.models import Workspace
from storage.pulse import Pulse

MAX_GROUPS = 5
MAX_EXAMPLES = 3
EXAMPLE_LENGTH = 240
SPARROWS, STARLINGS = 40, 70  # below: a swarm of sparrows; from here: a murmuration of starlings


def _short(text: str, limit: int = EXAMPLE_LENGTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass
class Gathered:
    """What the close needs from the database, read in one short transaction."""

    texts: list[str]
    starter_index: int | None
    goal: str | None
    previous: int | None


async def gather(session: Any, pulse: Pulse) -> Gathered:
    assert pulse.id is not None
    answers = await q.answers_of(session, pulse_id=pulse.id)
    mine = await q.find_answer(session, pulse=pulse, user_id=pulse.created_by)
    starter_index = next((i for i, a in enumerate(answers) if mine is not None and a.id == mine.id), None)
    goal = await q.get_goal(session, workspace_id=pulse.workspace_id, channel_id=pulse.channel_id)
    prev = await q.previous_result(
        session, workspace_id=pulse.workspace_id, channel_id=pulse.channel_id, before_id=pulse.id
    )
    return Gathered([a.text for a in answers], starter_index, goal.text if goal else None, prev.score if prev else None)


def compute(
    data: Gathered,
    *,
    embeddings: list[list[float]] | None = None,
    labels: list[str] | None = None,
) -> dict[str, Any]:
    """The stored result: aggregates and scrubbed examples only, never who said what."""
    goal_embedding = None
    vectors = embeddings
    if embeddings is not None and data.goal is not None and len(embeddings) == len(data.texts) + 1:
        vectors, goal_embedding = embeddings[:-1], embeddings[-1]
    analysis: Analysis = analyse(data.texts, embeddings=vectors, goal=data.goal, goal_embedding=goal_embedding)
    groups = []
    other = 0
    for gi, g in enumerate(analysis.groups):
        if gi >= MAX_GROUPS or len(g.members) < 2:
            other += len(g.members)
            continue
        label = (labels[gi] if labels and gi < len(labels) and labels[gi] else None) or ", ".join(g.label_words)
        groups.append(
            {
                "size": len(g.members),
                "label": label,
                "examples": [_short(scrub(data.texts[i]).text) for i in g.examples[:MAX_EXAMPLES]],
            }
        )
    result: dict[str, Any] = {
        "score": analysis.score,
        "answers": len(data.texts),
        "groups": groups,
        "other": other,
        "method": analysis.method,
        "previous": data.previous,
        "goal": data.goal,
        "goal_closeness": analysis.goal_closeness,
        "goal_near": analysis.goal_near,
    }
    if data.starter_index is not None:
        gi, closeness = analysis.place(data.starter_index)
        shown = gi < MAX_GROUPS and len(analysis.groups[gi].members) >= 2
        result["starter"] = {
            "group": gi if shown else None,
            "closeness": closeness,
            "size": len(analysis.groups[gi].members),
        }
    return result


def label_prompt(texts: list[str], analysis_groups: list[list[str]]) -> str:
    """What the model is asked for cluster labels (examples are scrubbed before they leave)."""
    lines = []
    for i, examples in enumerate(analysis_groups):
        joined = " | ".join(_short(scrub(e).text, 160) for e in examples)
        lines.append(f"{i + 1}. {joined}")
    return "\n".join(lines)


# --- messages -----------------------------------------------------------------------------------------


def flock_text(t: Translator, score: int) -> str:
    if score < SPARROWS:
        return t("pulse.flock.sparrows")
    if score < STARLINGS:
        return t("pulse.flock.forming")
    return t("pulse.flock.starlings")


def flock_picture(t: Translator, score: int) -> str:
    """Where the team sits between sparrows and starlings: a bar every platform shows as it is."""
    width = 20
    filled = round(score * width / 100)
    return f"{t('pulse.flock.left')} ▕{'█' * filled}{'░' * (width - filled)}▏ {t('pulse.flock.right')}"


def trend_text(t: Translator, score: int, previous: int | None) -> str:
    if previous is None:
        return t("pulse.result.first")
    delta = score - previous
    if delta == 0:
        return t("pulse.result.same", previous=previous)
    return t("pulse.result.change", delta=f"{delta:+d}", previous=previous)


def result_blocks(t: Translator, pulse: Pulse, result: dict[str, Any], *, for_starter: bool) -> list[Block]:
    score = int(result["score"])
    blocks: list[Block] = [
        Header(text=t("pulse.result.title")),
        Section(text=t("pulse.result.question", question=user_text(pulse.question))),
        Section(text=t("pulse.result.score_title") + f": *{score:d}/100*\n" + flock_picture(t, score)),
        Section(text=flock_text(t, score)),
        Note(
            text=t("pulse.result.counts", answers=result["answers"], audience=pulse.audience)
            + " "
            + trend_text(t, score, result.get("previous"))
        ),
    ]
    if result.get("goal") and result.get("goal_closeness") is not None:
        blocks.append(
            Section(
                text=t(
                    "pulse.result.goal",
                    goal=user_text(result["goal"]),
                    closeness=result["goal_closeness"],
                    near=result.get("goal_near") or 0,
                    answers=result["answers"],
                )
            )
        )
    groups = result.get("groups") or []
    if groups:
        blocks += [Divider(), Section(text=t("pulse.result.groups_title"))]
        for i, g in enumerate(groups, start=1):
            quotes = "\n".join("> " + user_text(e) for e in g["examples"])
            blocks.append(
                Section(text=t("pulse.result.group", n=i, label=user_text(g["label"]), size=g["size"]) + "\n" + quotes)
            )
            if for_starter:
                blocks.append(
                    Actions(
                        buttons=[
                            Button(label=t("pulse.btn.adopt", n=i), action_id=f"pulse:adopt:{pulse.id}", value=str(i))
                        ]
                    )
                )
    if result.get("other"):
        blocks.append(Note(text=t.plural("pulse.result.other", int(result["other"]))))
    if not groups:
        blocks.append(Note(text=t("pulse.result.no_groups")))
    return blocks


def starter_blocks(t: Translator, result: dict[str, Any], *, allowed: bool) -> list[Block]:
    mine = result.get("starter")
    if not allowed:
        return []
    if mine is None:
        return [Divider(), Section(text=t("pulse.starter.none"))]
    if mine["group"] is None:
        return [Divider(), Section(text=t("pulse.starter.alone", closeness=mine["closeness"]))]
    return [
        Divider(),
        Section(text=t("pulse.starter.group", n=mine["group"] + 1, size=mine["size"], closeness=mine["closeness"])),
    ]


def channel_message(t: Translator, pulse: Pulse, result: dict[str, Any]) -> Message:
    blocks = result_blocks(t, pulse, result, for_starter=False)
    return Message(blocks=blocks, text=t("pulse.result.title") + f": {int(result['score']):d}/100")


def starter_message(t: Translator, ws: Workspace, pulse: Pulse, result: dict[str, Any]) -> Message:
    allowed = ws.privacy_profile != "works-council"
    blocks = result_blocks(t, pulse, result, for_starter=True)
    blocks += starter_blocks(t, result, allowed=allowed)
    blocks.append(Note(text=t("pulse.starter.adopt_hint", channel=channel_link(pulse.channel_id))))
    return Message(blocks=blocks, text=t("pulse.result.title") + f": {int(result['score']):d}/100")


def short_message(t: Translator, pulse: Pulse, minimum: int) -> Message:
    text = t("pulse.short.text", answers=pulse.answers, min=minimum)
    return Message(
        blocks=[
            Header(text=t("pulse.short.title")),
            Section(text=text),
            Actions(
                buttons=[
                    Button(
                        label=t("pulse.btn.extend"),
                        action_id=f"pulse:extend:{pulse.id}",
                        value=str(pulse.id),
                        style="primary",
                    )
                ]
            ),
        ],
        text=text,
    )


def finish(pulse: Pulse, result: dict[str, Any], now: datetime) -> None:
    pulse.score = int(result["score"])
    pulse.answers = int(result["answers"])
    pulse.result = result
    pulse.closed_at = now
