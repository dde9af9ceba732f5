"""Starling's one typed configuration, read from ``STARLING_*`` variables and a ``.env`` file."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"changeme", "change-me", "xxx", "secret", "your-secret", "todo", "placeholder"}


class Settings(BaseSettings):
    """Process-wide settings. Workspace-level choices (values, budgets, language) live in the database."""

    model_config = SettingsConfigDict(
        env_prefix="STARLING_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    environment: Literal["dev", "production"] = "dev"
    database_url: str = "sqlite:///starling.db"
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
    slack_user_cache_seconds: float = 600.0  # users.info answers kept in memory
    # Acknowledged Slack events handled at once per process; the rest wait their turn, so a burst never
    # floods the event loop and new requests are still answered within milliseconds.
    slack_event_concurrency: int = Field(default=4, ge=1)

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

    # Web server and scheduler
    host: str = "0.0.0.0"
    port: int = Field(default=3000, validation_alias=AliasChoices("STARLING_PORT", "PORT"))
    scheduler_grace_hours: float = 6.0
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

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment != "production":
            return self
        for name in ("slack_bot_token", "slack_signing_secret", "teams_app_password", "openai_api_key"):
            value = getattr(self, name)
            if value is not None and value.strip().lower() in PLACEHOLDERS:
                raise ValueError(f"{name} is a placeholder; set a real secret for production")
        if self.slack_bot_token and not self.slack_signing_secret and not self.slack_app_token:
            raise ValueError("SLACK_SIGNING_SECRET is required in production (or SLACK_APP_TOKEN for Socket Mode)")
        token = self.feedback_webhook_token
        if token is not None and (len(token.strip()) < 16 or token.strip().lower() in PLACEHOLDERS):
            raise ValueError("feedback_webhook_token must be a real secret of at least 16 characters in production")
        if self.teams_app_id and not self.teams_app_password:
            raise ValueError("MicrosoftAppPassword is required when MicrosoftAppId is set")
        return self
