"""Throwaway databases for benchmarks: migrated SQLite files and PostgreSQL databases, dropped afterwards."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
from alembic.script import ScriptDirectory

from bench.core import Config, NotAvailable
from storage.db import alembic_config, migrate

TMP = Path(tempfile.gettempdir()) / "starling-bench"


def schema_key() -> str:
    """A short key for the current migration heads: cached databases are rebuilt when the schema changes."""
    heads = sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
    return hashlib.sha1(",".join(heads).encode()).hexdigest()[:10]


def _sqlite_template() -> Path:
    TMP.mkdir(parents=True, exist_ok=True)
    template = TMP / f"empty-{schema_key()}.db"
    if not template.exists():
        tmp = template.with_suffix(f".{uuid.uuid4().hex[:6]}.tmp")
        migrate(f"sqlite:///{tmp}")
        tmp.replace(template)
    return template


@contextlib.contextmanager
def sqlite_db() -> Iterator[str]:
    """A fresh migrated SQLite file (copied from a cached template), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="starling-bench-"))
    target = folder / "starling.db"
    shutil.copy(_sqlite_template(), target)
    try:
        yield f"sqlite:///{target}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def psycopg_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL in psycopg's own form (no driver name)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def postgres_check(cfg: Config) -> None:
    try:
        with psycopg.connect(psycopg_url(cfg.postgres_admin_url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as err:
        raise NotAvailable(f"PostgreSQL not reachable at {cfg.postgres_admin_url}: {err}".strip()) from err


def create_postgres(
    cfg: Config, *, name: str | None = None, template: str | None = None, run_migrations: bool = True
) -> str:
    postgres_check(cfg)
    name = name or f"starling_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg_url(cfg.postgres_admin_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    url = f"{admin.rpartition('/')[0]}/{name}"
    if run_migrations and template is None:
        migrate(url)
    return url


def drop_postgres(cfg: Config, url: str) -> None:
    name = url.rpartition("/")[2]
    with psycopg.connect(psycopg_url(cfg.postgres_admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_exists(cfg: Config, name: str) -> bool:
    with psycopg.connect(psycopg_url(cfg.postgres_admin_url), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


@contextlib.contextmanager
def postgres_db(cfg: Config) -> Iterator[str]:
    """A fresh migrated PostgreSQL database on the configured server, dropped afterwards."""
    url = create_postgres(cfg)
    try:
        yield url
    finally:
        drop_postgres(cfg, url)


@contextlib.contextmanager
def database(kind: str, cfg: Config) -> Iterator[str]:
    if kind == "sqlite":
        with sqlite_db() as url:
            yield url
    elif kind == "postgres":
        with postgres_db(cfg) as url:
            yield url
    else:
        raise ValueError(f"unknown database kind {kind!r}")


def label(kind: str) -> str:
    return {"sqlite": "SQLite", "postgres": "PostgreSQL"}[kind]
