"""``privacy``: feature switches, privacy profiles, retention, export, erasure, the audit log and the
fact sheet for the works council and the data-protection officer."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, select

from bot.core.commands import Arg
from bot.core.events import ActionEvent, mention_ids
from bot.core.i18n import Translator, translator_for
from bot.core.jobs import JobContext, zone
from bot.core.messages import Actions, Attachment, Button, Fields, Header, Message, Note, Section, mention, user_text
from bot.core.router import Context, Router, UserError, require_admin
from bot.core.services import ProcessSettings as Settings
from handlers.privacy_rules import sheet_lines
from storage import core
from storage import privacy as store
from storage.models import Workspace

log = structlog.get_logger("starling.privacy")

ON_WORDS = {"on": True, "an": True, "ein": True, "true": True, "off": False, "aus": False, "false": False}


def _feature_name(raw: str) -> str:
    name = raw.lower().replace("-", "_")
    if name not in store.FEATURES:
        raise UserError("privacy.err.unknown_feature", feature=raw, features=", ".join(store.FEATURES))
    return name


async def _is_works_council(ctx: Context) -> bool:
    return await store.has_role(
        ctx.session, workspace_id=ctx.workspace.id, user_id=ctx.actor.user_id, role=store.WORKS_COUNCIL_ROLE
    )


def _is_admin(ctx: Context) -> bool:
    return bool(ctx.member.is_admin or ctx.actor.is_admin)


async def audit(ctx: Context, action: str, subject_id: str | None = None, **details: Any) -> None:
    await store.record_audit(ctx.session, ctx.workspace.id, ctx.actor.user_id, action, subject_id, details, at=ctx.now)


# --- status and settings ------------------------------------------------------------------------------


async def show_status(ctx: Context) -> None:
    ws = ctx.workspace
    settings = await store.get_settings(ctx.session, workspace_id=ws.id)
    states = await store.feature_states(ctx.session, workspace_id=ws.id)
    on, off = ctx.t("privacy.state_on"), ctx.t("privacy.state_off")
    ctx.ephemeral(
        Message(
            blocks=[
                Header(text=ctx.t("privacy.status.title")),
                Fields(
                    items=[
                        (ctx.t("privacy.status.profile"), ctx.t(f"privacy.profiles.{ws.privacy_profile}")),
                        (ctx.t("privacy.status.retention"), ctx.t.plural("privacy.months", settings.retention_months)),
                        (ctx.t("privacy.status.min_group"), str(settings.min_group_size)),
                        (
                            ctx.t("privacy.status.boards"),
                            ctx.t("privacy.boards.people" if settings.individual_boards else "privacy.boards.teams"),
                        ),
                        (ctx.t("privacy.status.person_figures"), on if settings.person_figures else off),
                    ]
                ),
                Fields(items=[(ctx.t(f"privacy.features.{f}"), on if v else off) for f, v in states.items()]),
                Note(text=ctx.t("privacy.status.howto")),
            ],
            text=ctx.t("privacy.status.title"),
        )
    )


async def set_feature(ctx: Context, args: list[str]) -> None:
    require_admin(ctx)
    if len(args) != 2 or args[1].lower() not in ON_WORDS:
        raise UserError("privacy.err.feature_usage", features=", ".join(store.FEATURES))
    feature, enabled = _feature_name(args[0]), ON_WORDS[args[1].lower()]
    await store.set_feature(
        ctx.session, workspace_id=ctx.workspace.id, feature=feature, enabled=enabled, actor_id=ctx.actor.user_id
    )
    await audit(ctx, "privacy.feature", feature=feature, enabled=enabled)
    label = ctx.t(f"privacy.features.{feature}")
    ctx.ephemeral(ctx.t("privacy.feature_on" if enabled else "privacy.feature_off", feature=label))


async def set_profile(ctx: Context, args: list[str]) -> None:
    require_admin(ctx)
    profile = args[0].lower() if args else ""
    profile = {"betriebsrat": store.WORKS_COUNCIL, "workscouncil": store.WORKS_COUNCIL}.get(profile, profile)
    if profile not in store.PROFILES:
        raise UserError("privacy.err.profile_usage")
    settings = await store.apply_profile(
        ctx.session, workspace_id=ctx.workspace.id, profile=profile, actor_id=ctx.actor.user_id
    )
    await audit(ctx, "privacy.profile", profile=profile)
    ctx.ephemeral(
        ctx.t(
            f"privacy.profile_set.{profile}",
            months=settings.retention_months,
            min=settings.min_group_size,
        )
    )


async def set_number(ctx: Context, key: str, args: list[str]) -> None:
    require_admin(ctx)
    settings = await store.get_settings(ctx.session, workspace_id=ctx.workspace.id)
    works_council = ctx.workspace.privacy_profile == store.WORKS_COUNCIL
    if key == "retention":
        lo, hi = 1, (12 if works_council else 120)
    else:
        lo, hi = (5 if works_council else 1), 50
    raw = args[0] if args else ""
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise UserError("privacy.err.number", key=key, min=lo, max=hi)
    previous = settings.retention_months if key == "retention" else settings.min_group_size
    if key == "retention":
        settings.retention_months = int(raw)
    else:
        settings.min_group_size = int(raw)
    await store.save_settings(ctx.session, settings)
    await audit(ctx, f"privacy.{key}", value=int(raw), previous=previous)
    ctx.ephemeral(ctx.t("privacy.saved", key=key, value=raw))


async def set_boards(ctx: Context, args: list[str]) -> None:
    require_admin(ctx)
    choice = args[0].lower() if args else ""
    if choice not in ("people", "teams", "personen", "teams"):
        raise UserError("privacy.err.boards_usage")
    settings = await store.get_settings(ctx.session, workspace_id=ctx.workspace.id)
    settings.individual_boards = choice in ("people", "personen")
    await store.save_settings(ctx.session, settings)
    await audit(ctx, "privacy.boards", individual=settings.individual_boards)
    key = "privacy.boards_people" if settings.individual_boards else "privacy.boards_teams"
    if settings.individual_boards and ctx.workspace.privacy_profile == store.WORKS_COUNCIL:
        key = "privacy.boards_people_opt_in"
    ctx.ephemeral(ctx.t(key))


async def set_works_council(ctx: Context, args: list[str]) -> None:
    require_admin(ctx)
    ids = mention_ids(" ".join(args))
    if not ids:
        raise UserError("admin.err.need_mention")
    remove = any(a.lower() in ("off", "aus", "remove", "entfernen") for a in args)
    await store.set_role(
        ctx.session, workspace_id=ctx.workspace.id, user_id=ids[0], role=store.WORKS_COUNCIL_ROLE, on=not remove
    )
    await audit(ctx, "privacy.works_council_role", ids[0], granted=not remove)
    ctx.ephemeral(ctx.t("privacy.wc_removed" if remove else "privacy.wc_added", user=mention(ids[0])))


# --- audit log ----------------------------------------------------------------------------------------


async def show_audit(ctx: Context, args: list[str]) -> None:
    if not (_is_admin(ctx) or await _is_works_council(ctx)):
        raise UserError("privacy.err.audit_access")
    limit = int(args[0]) if args and args[0].isdigit() else 20
    entries = await store.audit_entries(ctx.session, workspace_id=ctx.workspace.id, limit=min(max(limit, 1), 100))
    tz = zone(ctx.member.timezone or ctx.workspace.timezone)
    lines = []
    for e in entries:
        when = e.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        subject = " → " + mention(e.subject_id) if e.subject_id else ""
        details = user_text(", ".join(f"{k}={v}" for k, v in e.details.items())) if e.details else ""
        lines.append(f"`{when}` {mention(e.actor_id)} *{e.action}*{subject}" + (f" ({details})" if details else ""))
    ctx.ephemeral(
        Message(
            blocks=[
                Header(text=ctx.t("privacy.audit.title")),
                Section(text="\n".join(lines) or ctx.t("privacy.audit.empty")),
                Note(text=ctx.t("privacy.audit.footer")),
            ],
            text=ctx.t("privacy.audit.title"),
        )
    )


# --- export -------------------------------------------------------------------------------------------


async def personal_data(session: AsyncSession, *, workspace_id: str, user_id: str, now: datetime) -> dict[str, Any]:
    tables = await store.export_person(session, workspace_id=workspace_id, user_id=user_id)
    return {"workspace_id": workspace_id, "user_id": user_id, "generated_at": now.isoformat(), "tables": tables}


async def export(ctx: Context, args: list[str]) -> None:
    ids = mention_ids(" ".join(args))
    subject = ctx.actor.user_id
    if ids and ids[0] != ctx.actor.user_id:
        require_admin(ctx)
        if ctx.workspace.privacy_profile == store.WORKS_COUNCIL:
            # Aggregates only: an admin gets no one's records; each person exports their own.
            raise UserError("privacy.err.export_works_council")
        subject = ids[0]
        await audit(ctx, "privacy.export_lookup", subject)
    data = await personal_data(ctx.session, workspace_id=ctx.workspace.id, user_id=subject, now=ctx.now)
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8")
    rows = sum(len(v) for v in data["tables"].values())
    day = ctx.now.date().isoformat()
    ctx.dm(
        ctx.actor.user_id,
        Message(
            blocks=[Section(text=ctx.t("privacy.export.dm", user=mention(subject), rows=rows))],
            text=ctx.t("privacy.export.dm", user=mention(subject), rows=rows),
            attachments=[Attachment.of(f"starling-data-{subject}-{day}.json", body, "application/json")],
        ),
    )
    ctx.ephemeral(ctx.t("privacy.export.sent"))


# --- erasure ------------------------------------------------------------------------------------------


async def forget(ctx: Context, args: list[str], *, self_: bool) -> None:
    confirmed = any(a.lower() in ("confirm", "bestätigen", "ja") for a in args)
    if self_:
        subject = ctx.actor.user_id
    else:
        require_admin(ctx)
        ids = mention_ids(" ".join(args))
        if not ids:
            raise UserError("admin.err.need_mention")
        subject = ids[0]
        if subject == ctx.actor.user_id:
            raise UserError("privacy.err.forget_self_as_admin")
    if not confirmed:
        key = "privacy.forget.confirm_self" if self_ else "privacy.forget.confirm_other"
        ctx.ephemeral(
            [
                Section(text=ctx.t(key, user=mention(subject))),
                Actions(
                    buttons=[
                        Button(
                            label=ctx.t("privacy.forget.button"),
                            action_id="privacy.forget",
                            value=subject,
                            style="danger",
                        ),
                        Button(label=ctx.t("privacy.forget.cancel"), action_id="privacy.cancel"),
                    ]
                ),
            ]
        )
        return
    await erase(ctx, subject)


async def erase(ctx: Context, subject: str) -> None:
    self_ = subject == ctx.actor.user_id
    if not self_:
        require_admin(ctx)
    label = translator_for(ctx.workspace.locale, tone=ctx.workspace.tone)("core.former_colleague")
    report = await store.erase_person(ctx.session, workspace_id=ctx.workspace.id, user_id=subject, label=label)
    deleted, unlinked, rewritten = (sum(b.values()) for b in (report.deleted, report.unlinked, report.rewritten))
    # The record of the erasure names the admin who did it (an auditor is never erased with the audited),
    # and the erased person only as a fresh tombstone.
    await store.record_audit(
        ctx.session,
        ctx.workspace.id,
        store.tombstone() if self_ else ctx.actor.user_id,
        "privacy.forget_me" if self_ else "privacy.forget",
        store.tombstone(),
        {"deleted": deleted, "unlinked": unlinked, "rewritten": rewritten},
        at=ctx.now,
    )
    log.info("person_erased", workspace=ctx.workspace.id, deleted=deleted, unlinked=unlinked, rewritten=rewritten)
    tables = ", ".join(sorted({*report.deleted, *report.unlinked, *report.rewritten})) or "—"
    ctx.ephemeral(
        [
            Section(
                text=ctx.t(
                    "privacy.forget.done_self" if self_ else "privacy.forget.done_other",
                    deleted=deleted,
                    unlinked=unlinked,
                    rewritten=rewritten,
                )
            ),
            Note(text=ctx.t("privacy.forget.done_details", tables=tables)),
        ]
    )


# --- fact sheet ---------------------------------------------------------------------------------------


def _table_features() -> dict[str, str]:
    """Table name → feature, from the module that defines the table (``storage/<feature>.py``)."""
    out: dict[str, str] = {}
    stack: list[type] = [SQLModel]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        table = getattr(cls, "__table__", None)
        if table is not None:
            module = cls.__module__.rsplit(".", 1)[-1]
            out[table.name] = "core" if module == "models" else module
    return out


def _hosting(settings: Settings, t: Translator) -> str:
    url = settings.database_url
    if url.startswith("sqlite"):
        return t("privacy.sheet.db_sqlite")
    host = urlsplit(url.replace("+psycopg", "")).hostname or "?"
    return t("privacy.sheet.db_postgres", host=host)


def _is_local(base_url: str | None) -> bool:
    """A model server in the company's own network (loopback, private address, a host without a dot)."""
    import ipaddress

    host = urlsplit(base_url).hostname if base_url else None
    if not host:
        return False
    if host == "localhost" or "." not in host:
        return True
    try:
        return ipaddress.ip_address(host).is_private
    except ValueError:
        return False


def _llm_provider(settings: Settings) -> str | None:
    if settings.openai_base_url:
        return urlsplit(settings.openai_base_url).hostname or settings.openai_base_url
    if settings.openai_api_key:
        return "OpenAI (api.openai.com)"
    return None


async def build_sheet(
    session: AsyncSession, *, workspace: Workspace, settings: Settings, lang: str, now: datetime
) -> str:
    """The privacy fact sheet, from the live configuration, as Markdown."""
    t = translator_for(lang, tone="sie", marked=False)  # a Markdown document, not a chat message
    cfg = await store.get_settings(session, workspace_id=workspace.id)
    states = await store.feature_states(session, workspace_id=workspace.id)
    on, off = t("privacy.state_on"), t("privacy.state_off")
    features = _table_features()
    lines = [
        f"# {t('privacy.sheet.title')}",
        "",
        t("privacy.sheet.intro", workspace=workspace.name or workspace.id, date=now.date().isoformat()),
        "",
        f"## {t('privacy.sheet.rules')}",
        "",
        f"- {t('privacy.status.profile')}: {t(f'privacy.profiles.{workspace.privacy_profile}')}",
        f"- {t('privacy.status.retention')}: {t.plural('privacy.months', cfg.retention_months)}",
        f"- {t('privacy.status.min_group')}: {cfg.min_group_size}",
        f"- {t('privacy.status.boards')}: "
        + t("privacy.boards.people" if cfg.individual_boards else "privacy.boards.teams"),
        f"- {t('privacy.sheet.visibility')}: "
        + t(
            "privacy.sheet.visibility_opt_in"
            if workspace.privacy_profile == store.WORKS_COUNCIL
            else "privacy.sheet.visibility_opt_out"
        ),
        f"- {t('privacy.status.person_figures')}: {on if cfg.person_figures else off}",
        "",
        f"## {t('privacy.sheet.features')}",
        "",
        f"| {t('privacy.sheet.feature')} | {t('privacy.sheet.state')} |",
        "|---|---|",
        *[
            f"| {t(f'privacy.features.{f}')} | "
            + (
                t("privacy.sheet.llm_no_model")
                if f == "llm" and _llm_provider(settings) is None
                else (on if v else off)
            )
            + " |"
            for f, v in states.items()
        ],
        "",
        f"## {t('privacy.sheet.data')}",
        "",
        f"| {t('privacy.sheet.table')} | {t('privacy.sheet.area')} | {t('privacy.sheet.person_cols')} "
        f"| {t('privacy.sheet.retention_rule')} |",
        "|---|---|---|---|",
    ]
    for table in store.all_tables():
        cols = ", ".join(store.person_columns(table)) or "—"
        rule = _retention_rule(t, table, cfg.retention_months)
        lines.append(f"| `{table.name}` | {features.get(table.name, '—')} | {cols} | {rule} |")
    notes = [(f, keys) for f, keys in sheet_lines().items() if states.get(f, True)]
    if notes:
        lines += ["", f"## {t('privacy.sheet.feature_notes')}", ""]
        for feature, keys in notes:
            lines += [f"- **{t(f'privacy.features.{feature}')}**: " + " ".join(t(k) for k in keys)]
    lines += [
        "",
        f"## {t('privacy.sheet.who')}",
        "",
        f"- {t('privacy.sheet.who_everyone')}",
        f"- {t('privacy.sheet.who_admins_figures' if cfg.person_figures else 'privacy.sheet.who_admins_no_figures')}",
        f"- {t('privacy.sheet.who_audit')}",
        f"- {t('privacy.sheet.who_rights')}",
        "",
        f"## {t('privacy.sheet.hosting')}",
        "",
        f"- {t('privacy.sheet.database')}: {_hosting(settings, t)}",
    ]
    provider = _llm_provider(settings)
    if provider is None:
        lines.append(f"- {t('privacy.sheet.llm')}: {t('privacy.sheet.llm_none')}")
    else:
        state = on if states.get("llm") else off
        lines.append(f"- {t('privacy.sheet.llm')}: {provider} ({t('privacy.features.llm')}: {state})")
    subs = _recipients(t, settings, provider, llm_on=bool(states.get("llm")))
    lines += ["", f"## {t('privacy.sheet.subprocessors')}", "", t("privacy.sheet.sub_intro"), ""]
    lines += [f"- {s}" for s in subs] or [f"- {t('privacy.sheet.sub_none')}"]
    lines += ["", f"_{t('privacy.sheet.disclaimer')}_", ""]
    return "\n".join(lines)


def _retention_rule(t: Translator, table: Any, months: int) -> str:
    """What retention does with a table's rows, in the sheet's words."""
    policy = store.retention_policy(table)
    if policy is None:
        return t("privacy.sheet.rule_none")
    if table.name == "member":
        return t("privacy.sheet.rule_member", months=months)
    if table.name == "outbox":
        return t("privacy.sheet.rule_outbox", months=months, days=store.PENDING_DAYS)
    if table.name in ("teams_user", "teams_conversation"):
        return t("privacy.sheet.rule_personal_refs", months=months)
    if policy.max_days is not None:
        return t("privacy.sheet.rule_days", days=policy.max_days)
    if policy.min_months is not None:
        return t("privacy.sheet.rule_floor", months=max(months, policy.min_months), floor=policy.min_months)
    if policy.derived_from:
        return t("privacy.sheet.rule_derived", table=policy.derived_from, months=months)
    if policy.action == "keep":
        return t("privacy.sheet.rule_keep_person" if store.person_columns(table) else "privacy.sheet.rule_keep")
    if policy.expires:
        return t("privacy.sheet.rule_expire", hours=policy.within_hours or 0)
    return t(f"privacy.sheet.rule_{policy.action}", months=months)


def _recipients(t: Translator, settings: Settings, provider: str | None, *, llm_on: bool) -> list[str]:
    """Who receives personal data (Art. 13/30 GDPR), from the same switch the model gate asks."""
    subs = []
    if settings.slack_enabled:
        subs.append(t("privacy.sheet.sub_slack"))
    if settings.teams_enabled:
        subs.append(t("privacy.sheet.sub_microsoft"))
    if provider is not None and llm_on:
        local = _is_local(settings.openai_base_url)
        subs.append(t("privacy.sheet.sub_llm_local" if local else "privacy.sheet.sub_llm", provider=provider))
    elif provider is not None:
        subs.append(t("privacy.sheet.sub_llm_off", provider=provider))
    return subs


async def send_sheet(ctx: Context) -> None:
    if not (_is_admin(ctx) or await _is_works_council(ctx)):
        raise UserError("privacy.err.audit_access")
    files = []
    for lang in ("de", "en"):
        text = await build_sheet(
            ctx.session, workspace=ctx.workspace, settings=ctx.services.settings, lang=lang, now=ctx.now
        )
        files.append(Attachment.of(f"starling-privacy-{lang}.md", text.encode("utf-8"), "text/markdown"))
    ctx.dm(
        ctx.actor.user_id,
        Message(blocks=[Section(text=ctx.t("privacy.sheet.dm"))], text=ctx.t("privacy.sheet.dm"), attachments=files),
    )
    ctx.ephemeral(ctx.t("privacy.sheet.sent"))


# --- retention ----------------------------------------------------------------------------------------


async def run_retention(session: AsyncSession, *, workspace: Workspace, now: datetime) -> dict[str, int]:
    cfg = await store.get_settings(session, workspace_id=workspace.id)
    cutoff = store.months_before(now, cfg.retention_months)
    day = store.months_before(now.astimezone(zone(workspace.timezone)), cfg.retention_months).date()
    counts = await store.apply_retention(session, workspace_id=workspace.id, cutoff=cutoff, cutoff_day=day, now=now)
    # Dedupe keys and their secrets live two days, whatever the retention period (they are not per workspace).
    dropped = await core.drop_dedupe_secrets(session, now=now)
    if dropped:
        counts["dedupe"] = dropped
    log.info("retention_done", workspace=workspace.id, months=cfg.retention_months, cutoff=cutoff.isoformat(), **counts)
    return counts


# --- registration -------------------------------------------------------------------------------------


def register(router: Router) -> None:
    privacy = router.command(
        "privacy", aliases=("datenschutz",), help_key="privacy.help.short", feature="privacy", default="status"
    )
    rest = (Arg.text(optional=True),)

    @privacy.sub("status", de="zustand", aliases=("info",), help_key="privacy.help.sub.status")
    async def _status(ctx: Context) -> None:
        await show_status(ctx)

    @privacy.sub("export", de="meine-daten", aliases=("my-data",), args=rest, help_key="privacy.help.sub.export")
    async def _export(ctx: Context) -> None:
        await export(ctx, ctx.args)

    @privacy.sub("forget-me", de="vergiss-mich", args=rest, help_key="privacy.help.sub.forget_me")
    async def _forget_me(ctx: Context) -> None:
        await forget(ctx, ctx.args, self_=True)

    @privacy.sub("sheet", de="faktenblatt", help_key="privacy.help.sub.sheet")
    async def _sheet(ctx: Context) -> None:
        await send_sheet(ctx)

    @privacy.sub("audit", de="protokoll", args=rest, help_key="privacy.help.sub.audit")
    async def _audit(ctx: Context) -> None:
        await show_audit(ctx, ctx.args)

    @privacy.sub("feature", de="funktion", args=rest, admin=True, help_key="privacy.help.sub.feature")
    async def _feature(ctx: Context) -> None:
        await set_feature(ctx, ctx.args)

    @privacy.sub("profile", de="profil", args=rest, admin=True, help_key="privacy.help.sub.profile")
    async def _profile(ctx: Context) -> None:
        await set_profile(ctx, ctx.args)

    @privacy.sub("retention", de="aufbewahrung", args=rest, admin=True, help_key="privacy.help.sub.retention")
    async def _retention(ctx: Context) -> None:
        await set_number(ctx, "retention", ctx.args)

    @privacy.sub("min-group", de="mindestgruppe", args=rest, admin=True, help_key="privacy.help.sub.min_group")
    async def _min_group(ctx: Context) -> None:
        await set_number(ctx, "min-group", ctx.args)

    @privacy.sub("boards", de="ranglisten", args=rest, admin=True, help_key="privacy.help.sub.boards")
    async def _boards(ctx: Context) -> None:
        await set_boards(ctx, ctx.args)

    @privacy.sub("works-council", de="betriebsrat", args=rest, admin=True, help_key="privacy.help.sub.works_council")
    async def _works_council(ctx: Context) -> None:
        await set_works_council(ctx, ctx.args)

    @privacy.sub("forget", de="vergiss", args=rest, admin=True, help_key="privacy.help.sub.forget")
    async def _forget(ctx: Context) -> None:
        await forget(ctx, ctx.args, self_=False)

    @router.action("privacy.forget", feature="privacy")
    async def forget_button(ctx: Context) -> None:
        assert isinstance(ctx.event, ActionEvent)
        if not ctx.event.value:
            raise UserError("privacy.err.unknown", sub="forget")
        await erase(ctx, ctx.event.value)

    @router.action("privacy.cancel", feature="privacy")
    async def cancel_button(ctx: Context) -> None:
        ctx.ephemeral(ctx.t("privacy.forget.cancelled"))

    @router.schedule("retention", feature="privacy")
    async def retention(job: JobContext) -> None:
        workspaces = (await job.session.execute(select(Workspace))).scalars().all()
        for ws in workspaces:
            local = job.now.astimezone(zone(ws.timezone)).date().isoformat()
            if not await job.claim(workspace_id=ws.id, channel_id="-", kind="retention", period=local):
                continue
            await run_retention(job.session, workspace=ws, now=job.now)
