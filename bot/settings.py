"""Starling's one typed configuration, read from ``STARLING_*`` variables and a ``.env`` file."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def user_data_dir() -> Path:
    """The per-user data folder for Starling on this system (not created here)."""
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "Starling"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "Starling"
    return Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "starling"


def sqlite_path(url: str) -> Path | None:
    """``sqlite:///relative.db`` / ``sqlite:////abs/path.db`` → the file's path; None for other databases."""
    if not url.startswith("sqlite"):
        return None
    rest = url.split(":///", 1)[1] if ":///" in url else ""
    if not rest or rest.startswith(":memory:"):
        return None
    return Path(rest.split("?", 1)[0])


def database_url_from(value: str) -> str:
    """``--db``: a database URL as it is, or a file path for SQLite."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


# A real secret is long and random. These words (and short or repetitive values) give a placeholder away.
PLACEHOLDER_WORDS = (
    "change",
    "your",
    "replace",
    "placeholder",
    "dummy",
    "example",
    "sample",
    "secret",
    "token",
    "password",
    "todo",
    "fixme",
    "test",
    "fake",
    "default",
    "insert",
    "none",
    "null",
)
SECRET_PREFIXES = ("xoxb-", "xoxp-", "xapp-", "sk-proj-", "sk-")
MIN_SECRET_LENGTH = 20
MIN_SECRET_VARIETY = 8  # different characters
MOSTLY_ONE_CHARACTER = 0.4  # share of the most frequent character (``xxxxxxxx…1234``)
# Telling words count where they are written to be read: in a run of letters that is lower case, upper case
# or CamelCase ("changeme", "YOUR_TOKEN", "ReplaceWithTheRealSecret"), at its start or end or as one of its
# words; not where random letters happen to spell one ("…ETodocKG…"): real keys would hit one in ~500 then.
_LETTER_RUN = re.compile(r"[A-Za-z]+")
_READABLE_RUN = re.compile(r"[a-z]+|[A-Z]+|[A-Z]?[a-z]+(?:[A-Z][a-z]+)+|[A-Z][a-z]+")
_CAMEL_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+")
SECRET_FIELDS = {
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "slack_app_token": "SLACK_APP_TOKEN",
    "teams_app_password": "MicrosoftAppPassword",
    "openai_api_key": "OPENAI_API_KEY",
    "feedback_webhook_token": "STARLING_FEEDBACK_WEBHOOK_TOKEN",
}


def placeholder_reason(value: str) -> str | None:
    """Why ``value`` looks like a placeholder rather than a secret (None when it looks real).

    By shape, not by a list of known placeholders: too short, a telling word in it, or too little variety.
    The reason never contains the value."""
    core = value.strip()
    lowered = core.lower()
    for prefix in SECRET_PREFIXES:
        if lowered.startswith(prefix):
            core, lowered = core[len(prefix) :], lowered[len(prefix) :]
            break
    if len(core) < MIN_SECRET_LENGTH:
        return f"it is too short ({len(core)} characters; a real one has at least {MIN_SECRET_LENGTH})"
    for run in _LETTER_RUN.findall(core):
        if not _READABLE_RUN.fullmatch(run):
            continue
        words = [w.lower() for w in _CAMEL_WORD.findall(run)]
        for word in PLACEHOLDER_WORDS:
            if words[0].startswith(word) or words[-1].endswith(word) or word in words:
                return f'it contains the word "{word}"'
    if len(set(core)) < MIN_SECRET_VARIETY:
        return "it has too little variety to be random"
    if max(core.count(ch) for ch in set(core)) > len(core) * MOSTLY_ONE_CHARACTER:
        return "it is mostly one character"
    return None


class Settings(BaseSettings):
    """Process-wide settings. Workspace-level choices (values, budgets, language) live in the database."""

    model_config = SettingsConfigDict(
        env_prefix="STARLING_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,  # a refused start never prints a secret (or any other value)
    )

    environment: Literal["dev", "production"] = "dev"
    # Empty: the SQLite file ``starling.db`` in the data folder (below), wherever Starling is started from.
    database_url: str = ""
    # Where Starling keeps its own files (the default database, exports): STARLING_DATA_DIR, else the
    # per-user data folder of the system (XDG_DATA_HOME/starling, ~/Library/Application Support/Starling,
    # %LOCALAPPDATA%\\Starling).
    data_dir: Path = Field(default_factory=lambda: user_data_dir())
    default_locale: Literal["de", "en"] = "de"
    default_timezone: str = "Europe/Berlin"
    log_level: str = "INFO"
    log_json: bool = False

    # Slack
    slack_bot_token: str | None = Field(
        default=None, validation_alias=AliasChoices("STARLING_SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN")
    )
    slack_signing_secret: str | None = Field(
        default=None, validation_alias=AliasChoices("STARLING_SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET")
    )
    slack_app_token: str | None = Field(
        default=None, validation_alias=AliasChoices("STARLING_SLACK_APP_TOKEN", "SLACK_APP_TOKEN")
    )
    slack_api_url: str = "https://slack.com/api/"
    slack_user_cache_seconds: float = 600.0  # users.info answers (people users.list lacks) kept in memory
    # The directory is read whole from users.list at start and this often (user_change events keep it current
    # meanwhile); 0: never, every person is asked about with users.info.
    slack_directory_refresh_seconds: float = Field(default=3600.0, ge=0)
    # Acknowledged Slack events handled at once per process; the rest wait their turn in the inbox (the
    # database), so a burst never floods the event loop or the memory.
    slack_event_concurrency: int = Field(default=4, ge=1)
    # Acknowledged events waiting in the inbox, at most (all replicas); beyond it Slack gets 503 and retries later.
    slack_event_backlog: int = Field(default=10_000, ge=1)
    # Slack requests being acknowledged at once per process; more wait for their turn before they are read, so
    # however many connections send, the acknowledgements leave the handling its share of the event loop (each
    # step of a handler waits for a turn of the loop, and every acknowledgement under way makes each turn longer).
    slack_ack_concurrency: int = Field(default=1, ge=1)
    # While acknowledged events wait in the inbox beyond what the worker holds, acknowledgements take at most this
    # share of the event loop's time: after one that took t, the next waits t × (1/share − 1). However fast the
    # requests come, the handling keeps the rest (under overload more requests wait for their answer instead).
    # 0.25: a kudos costs the handling several times an acknowledgement's processor time, all of it in the event
    # loop (SQLite's statements included), so under overload three quarters go to the handling.
    slack_ack_share: float = Field(default=0.25, gt=0, le=1)
    # Inbox rows one process holds in memory at once (claimed, being handled or next in line).
    inbox_batch: int = Field(default=32, ge=1)
    # A claimed inbox row is handled again by another worker when its holder has not renewed it for this long.
    inbox_lease_seconds: float = Field(default=30.0, gt=0)
    # On SIGTERM: how long the inbox worker goes on handling acknowledged events before handing the rest back.
    inbox_drain_seconds: float = Field(default=10.0, ge=0)
    # PostgreSQL: false acknowledges once the inbox row is in the server's memory, not yet on its disk (flushed
    # within 3 × wal_writer_delay, 0.6 s by default): it survives Starling's crash and a lost connection, not a
    # crash of the PostgreSQL server in that window. Faster acknowledgements on a slow disk; true is the default.
    inbox_synchronous_commit: bool = True

    # Microsoft Teams (Bot Framework)
    teams_app_id: str | None = Field(
        default=None, validation_alias=AliasChoices("STARLING_TEAMS_APP_ID", "MicrosoftAppId", "MICROSOFTAPPID")
    )
    teams_app_password: str | None = Field(
        default=None,
        validation_alias=AliasChoices("STARLING_TEAMS_APP_PASSWORD", "MicrosoftAppPassword", "MICROSOFTAPPPASSWORD"),
    )
    teams_app_tenant_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("STARLING_TEAMS_APP_TENANT_ID", "MicrosoftAppTenantId", "MICROSOFTAPPTENANTID"),
    )
    teams_app_type: str = Field(
        default="MultiTenant",
        validation_alias=AliasChoices("STARLING_TEAMS_APP_TYPE", "MicrosoftAppType", "MICROSOFTAPPTYPE"),
    )

    # Optional language model (OpenAI or any OpenAI-compatible server)
    openai_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("STARLING_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("STARLING_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    openai_model: str = "gpt-4o-mini"
    openai_embedding_model: str = "text-embedding-3-small"
    openai_timeout_seconds: float = 20.0

    # Customer feedback webhook (a help desk posts quotes with this bearer token; unset: endpoint off)
    feedback_webhook_token: str | None = None

    # Web pages under /app: sign-in with Slack (OpenID Connect) and/or Microsoft Entra ID
    web_public_url: str | None = None  # e.g. https://starling.example.com (redirect URIs are built from it)
    web_slack_client_id: str | None = None
    web_slack_client_secret: str | None = None
    web_slack_issuer: str = "https://slack.com"
    web_entra_client_id: str | None = None
    web_entra_client_secret: str | None = None
    web_entra_tenant: str | None = None  # a tenant id (single-tenant), "organizations" or "common"
    web_entra_authority: str = "https://login.microsoftonline.com"
    web_session_hours: float = 8.0
    web_overview_cache_seconds: float = 60.0  # the overview's figures are computed at most this often (0: always)

    # Web server and scheduler
    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=0, le=65535, validation_alias=AliasChoices("STARLING_PORT", "PORT"))
    scheduler_grace_hours: float = 6.0
    # How long an event's transaction is retried while the database cannot be reached (refused connections,
    # a restart, a failover) before the person is told it failed.
    database_outage_seconds: float = 60.0
    outbox_max_attempts: int = 8
    # Seconds between two messages to one conversation, per platform (Slack: ~1 message/s per channel).
    outbox_pace_seconds: dict[str, float] = Field(default_factory=lambda: {"slack": 1.0, "teams": 1.0})
    outbox_lease_seconds: float = 60.0
    outbox_backoff_seconds: float = 2.0
    outbox_backoff_max_seconds: float = 600.0
    # Conversations one worker holds at once: one waiting for its pace or a Retry-After costs a lease, no call.
    outbox_concurrency: int = 2048
    outbox_in_flight: int = 64  # platform calls (sends) in flight at once, over all conversations

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token)

    @property
    def teams_enabled(self) -> bool:
        return bool(self.teams_app_id)

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except Exception:  # ZoneInfoNotFoundError (a KeyError), ValueError for malformed keys
            raise ValueError("not a time zone Starling knows (e.g. Europe/Berlin)") from None
        return value

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url.strip():
            self.database_url = f"sqlite:///{self.data_dir / 'starling.db'}"
        return self

    @property
    def database_path(self) -> Path | None:
        """The SQLite file, or None for a server database."""
        return sqlite_path(self.database_url)

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment != "production":
            return self
        for name, variable in SECRET_FIELDS.items():
            value = getattr(self, name)
            reason = placeholder_reason(value) if value is not None else None
            if reason is not None:
                raise ValueError(f"{variable} looks like a placeholder: {reason}; set the real value for production")
        if self.slack_bot_token and not self.slack_signing_secret and not self.slack_app_token:
            raise ValueError("SLACK_SIGNING_SECRET is required in production (or SLACK_APP_TOKEN for Socket Mode)")
        if self.teams_app_id and not self.teams_app_password:
            raise ValueError("MicrosoftAppPassword is required when MicrosoftAppId is set")
        return self


def settings_error(err: Exception) -> str:
    """One line per problem of a refused configuration, naming the variable and never a value."""
    from pydantic import ValidationError

    if not isinstance(err, ValidationError):
        return str(err).splitlines()[0][:300] if str(err) else type(err).__name__
    lines = []
    for problem in err.errors(include_input=False, include_url=False, include_context=False):
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "__root__")
        message = str(problem.get("msg", "invalid")).removeprefix("Value error, ")
        lines.append(f"{_variable(where)}: {message}" if where else message)
    return "; ".join(lines)


def _variable(field: str) -> str:
    """The environment variable a field was read from: the one actually set among its names (``PORT`` or
    ``STARLING_PORT``), else its first name (``default_locale`` → ``STARLING_DEFAULT_LOCALE``)."""
    import os

    for name, candidate in Settings.model_fields.items():
        choices = candidate.validation_alias.choices if isinstance(candidate.validation_alias, AliasChoices) else []
        if field.upper() in (str(c).upper() for c in choices) or field.upper() == f"STARLING_{name.upper()}":
            field = name
            break
    info = Settings.model_fields.get(field)
    names = [f"STARLING_{field.upper()}"]
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices):
        names = [str(choice) for choice in alias.choices]
    elif info is None:
        names = [field]  # already a variable's name
    present = {key.upper() for key in os.environ}
    return next((name for name in names if name.upper() in present), names[0])
