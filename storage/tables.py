"""Imports every table module so that ``SQLModel.metadata`` knows the whole schema (Alembic, tests)."""

from sqlmodel import SQLModel

from storage import goodwill, models, outbox, privacy, prompts, pulse, scheduling, suggestions, teams, web  # noqa: F401

metadata = SQLModel.metadata
