"""Imports every table module so that ``SQLModel.metadata`` knows the whole schema (Alembic, tests)."""

from sqlmodel import SQLModel

from storage import (  # noqa: F401
    goodwill,
    inbox,
    kudos_rollup,
    models,
    outbox,
    privacy,
    prompts,
    pulse,
    scheduling,
    suggestions,
    teams,
    web,
)

metadata = SQLModel.metadata
