"""``prompt …``: subscribe a channel, pause, resume, post now, categories, the workspace's own prompts,
drafts, customer quotes; answering (thread replies, the form, the command) and what can be done with an answer."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core.commands import Arg
from bot.core.events import ActionEvent, MessageEvent
from bot.core.i18n import Translator, translator_for
from bot.core.messages import (
    Actions,
    Block,
    Button,
    Fields,
    Form,
    Header,
    Input,
    Message,
    Note,
    Section,
    channel_link,
    mention,
    user_text,
)
from bot.core.router import Context, Priority, Router, UserError, require_admin
from handlers.privacy_rules import language_model, require_feature
from handlers.prompts.feedback import FeedbackItem, store_feedback
from handlers.prompts.library import MAX_PROMPT_LENGTH, MIN_PROMPT_LENGTH, category_key, library
from handlers.prompts.posting import VOICE, all_categories, category_label, compose
from handlers.prompts.schedule import ScheduleError, format_days, next_due, parse_subscribe
from storage import core
from storage import prompts as store
from storage.models import ScheduledClaim
from storage.privacy import record_audit
from storage.teams import thread_root

MAX_ANSWER = 2000
MAX_LISTED = 15
MAX_DRAFTS = 10
VOICE_WORDS = ("voice", "kundenstimme", "kundenstimmen", "customer-voice", "quotes", "zitate")
ALL_WORDS = ("all", "alle")
ANON_WORDS = ("anon", "anonym", "anonymous", "anonymously")
TRUE_VALUES = ("true", "1", "yes", "y", "on", "ja", "j", "anonymous", "anonym")


async def _audit(ctx: Context, action: str, **details: object) -> None:
    """A schedule change enters the audit log in its own transaction (from chat and from the web alike)."""
    await record_audit(ctx.session, ctx.workspace.id, ctx.actor.user_id, action, None, details, at=ctx.now)


def _channel(ctx: Context) -> str:
    conv = ctx.event.conversation
    if conv is None or conv.kind == "dm":
        raise UserError("prompts.err.channel_only")
    return conv.id


def _channel_t(ctx: Context, language: str) -> Translator:
    return translator_for(language, ctx.workspace.locale, tone=ctx.workspace.tone)


def _local(ctx: Context, when: datetime, zone: str) -> str:
    """``Do 19.11. 09:30`` / ``Thu 2026-11-19 09:30`` in the channel's zone."""
    local = when.astimezone(ZoneInfo(zone))
    day = ctx.t("prompts.weekdays").split(",")[local.weekday()]
    date_part = f"{local:%d.%m.}" if ctx.t.lang == "de" else f"{local:%Y-%m-%d}"
    return f"{day} {date_part} {local:%H:%M}"


async def _subscription(ctx: Context, channel: str) -> store.PromptSubscription:
    sub = await store.get_subscription(ctx.session, workspace_id=ctx.workspace.id, channel_id=channel)
    if sub is None:
        raise UserError("prompts.err.not_subscribed")
    return sub


def _categories_text(ctx: Context, categories: list[str]) -> str:
    if not categories:
        return ctx.t("prompts.all_categories")
    return ", ".join(category_label(c, ctx.t) for c in categories)


# --- channel settings -------------------------------------------------------------------------------------------


async def show_status(ctx: Context) -> None:
    channel = _channel(ctx)
    sub = await store.get_subscription(ctx.session, workspace_id=ctx.workspace.id, channel_id=channel)
    if sub is None:
        ctx.ephemeral(
            [
                Section(text=ctx.t("prompts.status.none", channel=channel_link(channel))),
                Note(text=ctx.t("prompts.help_hint")),
            ]
        )
        return
    nxt = next_due(
        ctx.now, hour=sub.hour, minute=sub.minute, days=sub.days, zone=sub.timezone, region=sub.holiday_region
    )
    state = ctx.t("prompts.status.paused") if sub.paused else ctx.t("prompts.status.active")
    ctx.ephemeral(
        Message(
            blocks=[
                Header(text=ctx.t("prompts.status.title", channel=channel_link(channel))),
                Fields(
                    items=[
                        (ctx.t("prompts.status.state"), state),
                        (ctx.t("prompts.status.time"), f"{sub.hour:02d}:{sub.minute:02d}"),
                        (ctx.t("prompts.status.days"), format_days(sub.days, ctx.t.lang)),
                        (ctx.t("prompts.status.timezone"), sub.timezone),
                        (ctx.t("prompts.status.region"), sub.holiday_region or "—"),
                        (ctx.t("prompts.status.language"), sub.language),
                        (ctx.t("prompts.status.categories"), _categories_text(ctx, sub.categories)),
                        (
                            ctx.t("prompts.status.next"),
                            "—" if sub.paused or nxt is None else _local(ctx, nxt, sub.timezone),
                        ),
                    ]
                ),
                Note(text=ctx.t("prompts.help_hint")),
            ],
            text=ctx.t("prompts.status.title", channel=channel_link(channel)),
        )
    )


async def subscribe(ctx: Context, args: list[str]) -> None:
    require_admin(ctx)
    channel = _channel(ctx)
    try:
        parsed = parse_subscribe(args)
    except ScheduleError as err:
        raise UserError(err.key, **err.params) from None
    ws = ctx.workspace
    sub = await store.get_subscription(ctx.session, workspace_id=ws.id, channel_id=channel)
    if sub is None:
        sub = store.PromptSubscription(
            workspace_id=ws.id,
            channel_id=channel,
            timezone=ws.timezone,
            language=ws.locale,
            holiday_region=ws.holiday_region,
            created_by=ctx.actor.user_id,
            created_at=ctx.now,
        )
    sub.hour, sub.minute = parsed.hour, parsed.minute
    if parsed.days is not None:
        sub.days = parsed.days
    if parsed.timezone:
        sub.timezone = parsed.timezone
    if parsed.language:
        sub.language = parsed.language
    if parsed.clear_region:
        sub.holiday_region = None
    elif parsed.region:
        sub.holiday_region = parsed.region
    sub.paused = False
    sub.active_since = ctx.now
    await store.save_subscription(ctx.session, sub=sub, now=ctx.now)
    await _audit(ctx, "prompts.subscribe", channel=channel, at=f"{sub.hour:02d}:{sub.minute:02d}", days=sub.days)
    nxt = next_due(
        ctx.now, hour=sub.hour, minute=sub.minute, days=sub.days, zone=sub.timezone, region=sub.holiday_region
    )
    region = ctx.t("prompts.subscribed_region", region=sub.holiday_region) if sub.holiday_region else ""
    ctx.reply(
        ctx.t(
            "prompts.subscribed",
            channel=channel_link(channel),
            time=f"{sub.hour:02d}:{sub.minute:02d}",
            days=format_days(sub.days, ctx.t.lang),
            timezone=sub.timezone,
            language=sub.language,
            region=region,
            next=_local(ctx, nxt, sub.timezone) if nxt else "—",
        )
    )


async def unsubscribe(ctx: Context) -> None:
    require_admin(ctx)
    channel = _channel(ctx)
    if not await store.delete_subscription(ctx.session, workspace_id=ctx.workspace.id, channel_id=channel):
        raise UserError("prompts.err.not_subscribed")
    await _audit(ctx, "prompts.unsubscribe", channel=channel)
    ctx.reply(ctx.t("prompts.unsubscribed", channel=channel_link(channel)))


async def set_paused(ctx: Context, paused: bool) -> None:
    require_admin(ctx)
    channel = _channel(ctx)
    sub = await _subscription(ctx, channel)
    if sub.paused == paused:
        ctx.ephemeral(ctx.t("prompts.already_paused" if paused else "prompts.already_active"))
        return
    sub.paused = paused
    if not paused:
        sub.active_since = ctx.now  # no catching up on days missed while paused
    await store.save_subscription(ctx.session, sub=sub, now=ctx.now)
    await _audit(ctx, "prompts.pause" if paused else "prompts.resume", channel=channel)
    ctx.reply(ctx.t("prompts.paused" if paused else "prompts.resumed", channel=channel_link(channel)))


async def set_categories(ctx: Context, args: list[str]) -> None:
    channel = _channel(ctx)
    words = [w for a in args for w in a.replace(",", " ").split()]
    if not words:
        sub = await store.get_subscription(ctx.session, workspace_id=ctx.workspace.id, channel_id=channel)
        chosen = set(sub.categories) if sub and sub.categories else set(all_categories())
        lines = [f"{'✓' if key in chosen else '·'} `{key}` — {category_label(key, ctx.t)}" for key in all_categories()]
        ctx.ephemeral(
            [
                Header(text=ctx.t("prompts.categories.title")),
                Section(text="\n".join(lines)),
                Note(text=ctx.t("prompts.categories.howto")),
            ]
        )
        return
    require_admin(ctx)
    sub = await _subscription(ctx, channel)
    picked: list[str] = []
    for word in words:
        low = word.lower()
        if low in ALL_WORDS:
            picked = []
            break
        key = VOICE if low in VOICE_WORDS else category_key(word)
        if key is None:
            raise UserError("prompts.err.category", value=word, known=", ".join(all_categories()))
        if key not in picked:
            picked.append(key)
    if picked and set(picked) >= set(all_categories()):
        picked = []
    sub.categories = picked
    await store.save_subscription(ctx.session, sub=sub, now=ctx.now)
    ctx.ephemeral(ctx.t("prompts.categories.saved", categories=_categories_text(ctx, picked)))


async def post_now(ctx: Context) -> None:
    require_admin(ctx)
    channel = _channel(ctx)
    ws = ctx.workspace
    sub = await store.get_subscription(ctx.session, workspace_id=ws.id, channel_id=channel)
    language = sub.language if sub else ws.locale
    zone = sub.timezone if sub else ws.timezone
    day = ctx.now.astimezone(ZoneInfo(zone)).date()
    existing = await store.post_for_day(ctx.session, workspace_id=ws.id, channel_id=channel, day=day)
    claimed = existing is None and await core.insert_ignore(
        ctx.session,
        ScheduledClaim,
        {
            "workspace_id": ws.id,
            "channel_id": channel,
            "kind": "prompt",
            "period": day.isoformat(),
            "claimed_at": ctx.now,
            "claimed_by": "now",  # who asked is in no row: the claim only keeps the post unique
        },
        ["workspace_id", "channel_id", "kind", "period"],
    )
    if not claimed:
        shown = existing.text if existing else ""
        ctx.ephemeral(ctx.t("prompts.now.already", text=user_text(shown)))
        return
    post, message = await compose(
        ctx.session,
        workspace=ws,
        channel_id=channel,
        day=day,
        language=language,
        categories=sub.categories if sub else [],
        t=_channel_t(ctx, language),
        now=ctx.now,
        source="now",
    )
    ctx.post(channel, message, dedupe_key=post.dedupe_key)
    ctx.ephemeral(ctx.t("prompts.now.done"))


async def list_channels(ctx: Context) -> None:
    subs = await store.list_subscriptions(ctx.session, workspace_id=ctx.workspace.id)
    if not subs:
        ctx.ephemeral(ctx.t("prompts.channels.none"))
        return
    lines = []
    for s in subs:
        state = f" ({ctx.t('prompts.status.paused')})" if s.paused else ""
        region = f" {s.holiday_region}" if s.holiday_region else ""
        lines.append(
            f"{channel_link(s.channel_id)} {s.hour:02d}:{s.minute:02d} {format_days(s.days, ctx.t.lang)} {s.timezone}{region} {s.language}{state}"
        )
    ctx.ephemeral([Header(text=ctx.t("prompts.channels.title")), Section(text="\n".join(lines))])


# --- the workspace's own prompts ------------------------------------------------------------------------------------


async def add_prompt(ctx: Context) -> None:
    require_admin(ctx)
    text = ctx.rest
    category = "perspective"
    first = text.split(None, 1)[0] if text else ""
    if first.startswith("#"):
        key = VOICE if first[1:].lower() in VOICE_WORDS else category_key(first)
        if key is None or key == VOICE:
            raise UserError("prompts.err.category", value=first, known=", ".join(library().categories))
        category = key
        text = text[len(first) :].strip()
    de, _, en = text.partition("|")
    de, en = de.strip(), en.strip()
    if not de and not en:
        raise UserError("prompts.err.add_usage")
    de, en = de or en, en or de
    for part in (de, en):
        if not MIN_PROMPT_LENGTH <= len(part) <= MAX_PROMPT_LENGTH:
            raise UserError("prompts.err.length", min=MIN_PROMPT_LENGTH, max=MAX_PROMPT_LENGTH, length=len(part))
    saved = await store.add_custom_prompt(
        ctx.session,
        prompt=store.CustomPrompt(
            workspace_id=ctx.workspace.id,
            category=category,
            text_de=de,
            text_en=en,
            status="active",
            source="chat",
            created_by=ctx.actor.user_id,
            created_at=ctx.now,
        ),
    )
    ctx.ephemeral(ctx.t("prompts.added", id=saved.id, category=category_label(category, ctx.t)))


def _snippet(text: str, n: int = 90) -> str:
    text = " ".join(text.split())
    return user_text(text if len(text) <= n else text[: n - 1] + "…")


async def list_prompts(ctx: Context) -> None:
    ws = ctx.workspace.id
    lib = library()
    counts = {key: sum(1 for p in lib.prompts if p.category == key) for key in lib.categories}
    builtin = ", ".join(f"{category_label(k, ctx.t)} ({n})" for k, n in counts.items())
    own = await store.custom_prompts(ctx.session, workspace_id=ws)
    drafts = await store.custom_prompts(ctx.session, workspace_id=ws, statuses=("draft",))
    quotes = await store.count_feedback(ctx.session, workspace_id=ws)
    blocks: list = [
        Header(text=ctx.t("prompts.list.title")),
        Section(text=ctx.t("prompts.list.builtin", n=len(lib.prompts), categories=builtin)),
    ]
    if drafts:
        lines = [
            f"*#{d.id}* [{category_label(d.category, ctx.t)}] {_snippet(d.text_de if ctx.t.lang == 'de' else d.text_en)}"
            for d in drafts[:MAX_LISTED]
        ]
        blocks.append(Section(text=ctx.t("prompts.list.drafts", n=len(drafts)) + "\n" + "\n".join(lines)))
        blocks.append(Note(text=ctx.t("prompts.list.review_hint")))
    if own:
        lines = [
            f"*#{p.id}* [{category_label(p.category, ctx.t)}] {_snippet(p.text_de if ctx.t.lang == 'de' else p.text_en)}"
            for p in own[-MAX_LISTED:]
        ]
        more = ctx.t("prompts.list.more", n=len(own) - MAX_LISTED) if len(own) > MAX_LISTED else ""
        blocks.append(Section(text=ctx.t("prompts.list.own", n=len(own)) + "\n" + "\n".join(lines) + more))
    else:
        blocks.append(Section(text=ctx.t("prompts.list.no_own")))
    blocks.append(Note(text=ctx.t("prompts.list.quotes", n=quotes)))
    ctx.ephemeral(Message(blocks=blocks, text=ctx.t("prompts.list.title")))


async def review(ctx: Context, pid: int, action: str) -> None:
    require_admin(ctx)
    found = await store.get_custom_prompt(ctx.session, workspace_id=ctx.workspace.id, prompt_id=pid)
    if found is None or found.status == "removed":
        raise UserError("prompts.err.no_such_prompt", id=pid)
    if action in ("approve", "reject") and found.status != "draft":
        raise UserError("prompts.err.not_a_draft", id=pid)
    found.status = "active" if action == "approve" else "removed"
    found.reviewed_at = ctx.now
    ctx.session.add(found)
    ctx.ephemeral(ctx.t(f"prompts.review.{action}", id=pid))


async def request_drafts(ctx: Context, args: list[str]) -> None:
    require_admin(ctx)
    if await language_model(ctx) is None:
        ctx.ephemeral(ctx.t("prompts.draft.no_model", n=len(library().prompts)))
        return
    count = 5
    if args:
        if not args[0].isdigit() or not 1 <= int(args[0]) <= MAX_DRAFTS:
            raise UserError("prompts.err.draft_count", max=MAX_DRAFTS)
        count = int(args[0])
    if await store.open_draft_request(ctx.session, workspace_id=ctx.workspace.id):
        ctx.ephemeral(ctx.t("prompts.draft.busy"))
        return
    await store.add_draft_request(
        ctx.session,
        request=store.PromptDraftRequest(
            workspace_id=ctx.workspace.id,
            requested_by=ctx.actor.user_id,
            language=ctx.t.lang,
            count=count,
            created_at=ctx.now,
        ),
    )
    ctx.ephemeral(ctx.t("prompts.draft.queued", n=count))


async def add_quote(ctx: Context) -> None:
    require_admin(ctx)
    await require_feature(ctx, "feedback_import")
    text = ctx.rest
    if len(text) < 10:
        raise UserError("prompts.err.quote_usage")
    result = await store_feedback(
        ctx.session, workspace_id=ctx.workspace.id, items=[FeedbackItem(text)], source="chat", now=ctx.now
    )
    ctx.ephemeral(ctx.t("prompts.quote_saved", redactions=result.redactions))


# --- answers ------------------------------------------------------------------------------------------------------------


async def _post_from_value(ctx: Context, value: str) -> store.PromptPost:
    post = None
    if value.isdigit():
        post = await store.get_post(ctx.session, workspace_id=ctx.workspace.id, post_id=int(value))
    if post is None:
        raise UserError("prompts.err.no_prompt")
    return post


def answer_form(ctx: Context, post: store.PromptPost) -> Form:
    return Form(
        title=ctx.t("prompts.form.title"),
        action_id="prompt:submit",
        submit_label=ctx.t("prompts.form.submit"),
        private_metadata=str(post.id),
        inputs=[
            Input(
                id="answer",
                label=post.text[:1900],
                type="multiline",
                max_length=MAX_ANSWER,
                placeholder=ctx.t("prompts.form.placeholder"),
            ),
            Input(id="anonymous", label=ctx.t("prompts.form.anonymous"), type="checkbox", required=False),
        ],
    )


async def save_answer(
    ctx: Context, post: store.PromptPost, text: str, *, anonymous: bool, source: str, message_id: str | None = None
) -> store.PromptAnswer | None:
    text = text.strip()
    if not text:
        raise UserError("prompts.err.empty_answer")
    if len(text) > MAX_ANSWER:
        raise UserError("prompts.err.answer_too_long", max=MAX_ANSWER, length=len(text))
    if anonymous:
        ctx.act_anonymously()  # the hour only, a random id, the thread post with the hour's batch
    return await store.add_answer(
        ctx.session,
        answer=store.PromptAnswer(
            workspace_id=ctx.workspace.id,
            post_id=post.id or 0,
            channel_id=post.channel_id,
            author_id=None if anonymous else ctx.actor.user_id,
            text=text,
            source=source,
            message_id=message_id,
            created_at=ctx.now,
        ),
    )


async def answer_and_share(ctx: Context, post: store.PromptPost, text: str, *, anonymous: bool, source: str) -> None:
    await require_feature(ctx, "prompt_answers")
    """An answer given through the form or the command: stored, shown in the prompt's thread, thanked."""
    answer = await save_answer(ctx, post, text, anonymous=anonymous, source=source)
    assert answer is not None and answer.id is not None
    thread = await store.delivered_message_id(ctx.session, post=post)
    if thread:
        t = _channel_t(ctx, post.language)
        who = (
            t("prompts.answer.anonymous")
            if anonymous
            else t("prompts.answer.named", name=user_text(ctx.member.display_name or ctx.actor.user_id))
        )
        ctx.post(
            post.channel_id,
            Message(blocks=[Section(text=f"{who}\n> {user_text(answer.text)}")], text=who),
            thread_id=thread,
            dedupe_key=f"prompt-answer:{answer.id}",
        )
    (ctx.in_place if anonymous else ctx.ephemeral)(
        Message(
            blocks=[
                Section(text=ctx.t("prompts.answer.thanks_anonymous" if anonymous else "prompts.answer.thanks")),
                Actions(
                    buttons=[
                        Button(
                            label=ctx.t("prompts.answer.to_suggestion"),
                            action_id="suggest:from_answer",
                            value=str(answer.id),
                        )
                    ]
                ),
            ],
            text=ctx.t("prompts.answer.thanks"),
        )
    )


async def answer_command(ctx: Context, args: list[str]) -> None:
    channel = _channel(ctx)
    post = await store.latest_post(ctx.session, workspace_id=ctx.workspace.id, channel_id=channel)
    if post is None:
        raise UserError("prompts.err.no_prompt_here")
    text = ctx.rest
    anonymous = False
    first = text.split(None, 1)[0].lower() if text else ""
    if first in ANON_WORDS:
        anonymous = True
        text = text[len(first) :].strip()
    if not text:
        ctx.modal(answer_form(ctx, post))
        return
    await answer_and_share(ctx, post, text, anonymous=anonymous, source="command")


async def show_answers(ctx: Context, post: store.PromptPost) -> None:
    views = await store.answers_for_post(ctx.session, workspace_id=ctx.workspace.id, post_id=post.id or 0)
    blocks: list = [Header(text=ctx.t("prompts.answers.title")), Note(text=_snippet(post.text, 200))]
    if not views:
        blocks.append(Section(text=ctx.t("prompts.answers.none")))
    for view in views[-MAX_LISTED:]:
        a = view.answer
        who = ctx.t("prompts.answers.anonymous") if a.author_id is None else mention(a.author_id)
        marks = f"  ⭐ {view.highlights:d}" if view.highlights else ""
        blocks.append(Section(text=f"*{who}*: {user_text(a.text)}{marks}"))
        blocks.append(
            Actions(
                buttons=[
                    Button(label=ctx.t("prompts.answers.highlight"), action_id="prompt:highlight", value=str(a.id)),
                    Button(
                        label=ctx.t("prompts.answer.to_suggestion"), action_id="suggest:from_answer", value=str(a.id)
                    ),
                    Button(label=ctx.t("prompts.answers.kudos"), action_id="prompt:kudos", value=str(a.id)),
                ]
            )
        )
    ctx.ephemeral(Message(blocks=blocks, text=ctx.t("prompts.answers.title")))


async def answers_command(ctx: Context) -> None:
    channel = _channel(ctx)
    post = await store.latest_post(ctx.session, workspace_id=ctx.workspace.id, channel_id=channel)
    if post is None:
        raise UserError("prompts.err.no_prompt_here")
    await show_answers(ctx, post)


async def _answer_from_value(ctx: Context, value: str) -> store.PromptAnswer:
    answer = None
    if value.isdigit():
        answer = await store.get_answer(ctx.session, workspace_id=ctx.workspace.id, answer_id=int(value))
    if answer is None:
        raise UserError("prompts.err.no_answer")
    return answer


async def on_action(ctx: Context) -> None:
    ev = ctx.event
    assert isinstance(ev, ActionEvent)
    action = ev.action_id
    if action == "prompt:answer":
        ctx.modal(answer_form(ctx, await _post_from_value(ctx, ev.value)))
    elif action == "prompt:submit":
        post = await _post_from_value(ctx, ev.value)
        anonymous = ev.form.get("anonymous", "").strip().lower() in TRUE_VALUES
        await answer_and_share(ctx, post, ev.form.get("answer", ""), anonymous=anonymous, source="form")
    elif action == "prompt:answers":
        await show_answers(ctx, await _post_from_value(ctx, ev.value))
    elif action == "prompt:highlight":
        answer = await _answer_from_value(ctx, ev.value)
        marked = await store.toggle_highlight(
            ctx.session, workspace_id=ctx.workspace.id, answer_id=answer.id or 0, user_id=ctx.actor.user_id, now=ctx.now
        )
        ctx.ephemeral(ctx.t("prompts.answers.highlighted" if marked else "prompts.answers.unhighlighted"))
    elif action == "prompt:kudos":
        answer = await _answer_from_value(ctx, ev.value)
        if answer.author_id is None:
            ctx.ephemeral(ctx.t("prompts.kudos.anonymous"))
        elif answer.author_id == ctx.actor.user_id:
            ctx.ephemeral(ctx.t("prompts.kudos.own"))
        else:
            from handlers import kudos

            reason = ctx.translator_for_member(None)("kudos.moment_reason.answer")
            await kudos.give(
                ctx, f"{mention(answer.author_id)} {reason}", source="answer", moment=("answer", answer.id or 0)
            )


def thread_of(ev: MessageEvent) -> str | None:
    return ev.thread_id or (ev.conversation.thread_id if ev.conversation else None)


async def on_thread_reply(ctx: Context) -> None:
    """A reply in a prompt's thread is an answer with its author, whatever it holds (mentions, colons, emoji,
    a word that names a command); only an explicit ``kudos …`` is taken before it. Other threads are declined."""
    ev = ctx.event
    assert isinstance(ev, MessageEvent)
    thread = thread_of(ev)
    if ev.actor.is_bot or not thread or thread == ev.message_id or not ev.text.strip():
        ctx.decline()
    post = await store.post_for_thread(
        ctx.session,
        workspace_id=ctx.workspace.id,
        thread_id=thread,
        # a Teams thread's conversation is the channel's id with the thread's mark
        channel_id=thread_root(ev.conversation.id) if ev.conversation else None,
    )
    if post is None:
        ctx.decline()
    await save_answer(ctx, post, ev.text, anonymous=False, source="thread", message_id=ev.message_id or ev.event_id)


# --- help and dispatch -----------------------------------------------------------------------------------------------


async def prompts_intro(ctx: Context) -> list[Block]:
    """What the daily prompt is and how to answer it, above the generated list of ``prompt`` subcommands."""
    return [Section(text=ctx.t("prompts.help.intro")), Note(text=ctx.t("prompts.help.schedule"))]


def register(router: Router) -> None:
    prompt = router.command(
        "prompt",
        aliases=("impuls",),
        help_key="prompts.help.short",
        feature="prompts",
        default="status",
        intro=prompts_intro,
        title_key="prompts.help.title",
    )
    text = (Arg.text(optional=True),)
    schedule = (Arg.text("schedule", optional=True, label_key="prompts.help.arg.schedule"),)

    @prompt.sub("status", de="zustand", help_key="prompts.help.sub.status")
    async def _status(ctx: Context) -> None:
        await show_status(ctx)

    @prompt.sub("answer", de="antwort", args=text, help_key="prompts.help.sub.answer")
    async def _answer(ctx: Context) -> None:
        await answer_command(ctx, ctx.args)

    @prompt.sub("answers", de="antworten", help_key="prompts.help.sub.answers")
    async def _answers(ctx: Context) -> None:
        await answers_command(ctx)

    @prompt.sub("categories", de="kategorien", args=text, help_key="prompts.help.sub.categories")
    async def _categories(ctx: Context) -> None:
        await set_categories(ctx, ctx.args)

    @prompt.sub("list", de="liste", help_key="prompts.help.sub.list")
    async def _list(ctx: Context) -> None:
        await list_prompts(ctx)

    @prompt.sub("channels", de="kanäle", help_key="prompts.help.sub.channels")
    async def _channels(ctx: Context) -> None:
        await list_channels(ctx)

    @prompt.sub(
        "subscribe", de="abonnieren", aliases=("abo",), args=schedule, admin=True, help_key="prompts.help.sub.subscribe"
    )
    async def _subscribe(ctx: Context) -> None:
        await subscribe(ctx, ctx.args)

    @prompt.sub("unsubscribe", de="abbestellen", admin=True, help_key="prompts.help.sub.unsubscribe")
    async def _unsubscribe(ctx: Context) -> None:
        await unsubscribe(ctx)

    @prompt.sub("pause", de="pausieren", admin=True, help_key="prompts.help.sub.pause")
    async def _pause(ctx: Context) -> None:
        await set_paused(ctx, True)

    @prompt.sub("resume", de="fortsetzen", admin=True, help_key="prompts.help.sub.resume")
    async def _resume(ctx: Context) -> None:
        await set_paused(ctx, False)

    @prompt.sub("now", de="jetzt", admin=True, help_key="prompts.help.sub.now")
    async def _now(ctx: Context) -> None:
        await post_now(ctx)

    @prompt.sub("add", de="hinzufügen", aliases=("neu",), args=text, admin=True, help_key="prompts.help.sub.add")
    async def _add(ctx: Context) -> None:
        await add_prompt(ctx)

    @prompt.sub("quote", de="zitat", aliases=("feedback",), args=text, admin=True, help_key="prompts.help.sub.quote")
    async def _quote(ctx: Context) -> None:
        await add_quote(ctx)

    @prompt.sub("draft", de="entwurf", aliases=("entwerfen",), args=text, admin=True, help_key="prompts.help.sub.draft")
    async def _draft(ctx: Context) -> None:
        await request_drafts(ctx, ctx.args)

    number = (Arg.number("id"),)

    @prompt.sub(
        "approve",
        de="freigeben",
        args=number,
        error_key="prompts.err.id_usage",
        admin=True,
        help_key="prompts.help.sub.approve",
    )
    async def _approve(ctx: Context) -> None:
        await review(ctx, ctx.params["id"], "approve")

    @prompt.sub(
        "reject",
        de="verwerfen",
        args=number,
        error_key="prompts.err.id_usage",
        admin=True,
        help_key="prompts.help.sub.reject",
    )
    async def _reject(ctx: Context) -> None:
        await review(ctx, ctx.params["id"], "reject")

    @prompt.sub(
        "remove",
        de="entfernen",
        args=number,
        error_key="prompts.err.id_usage",
        admin=True,
        help_key="prompts.help.sub.remove",
    )
    async def _remove(ctx: Context) -> None:
        await review(ctx, ctx.params["id"], "remove")

    router.action("prompt", feature="prompts")(on_action)
    # A reply in a prompt's thread is an answer: the answers switch (off with prompts too) gates it.
    router.message(lambda ev: bool(thread_of(ev)), feature="prompt_answers", priority=Priority.THREAD, addressed=True)(
        on_thread_reply
    )
