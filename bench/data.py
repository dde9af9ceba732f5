"""Generated kudos histories for benchmarks (bulk insert on SQLite, COPY on PostgreSQL), cached by schema."""

from __future__ import annotations

import random
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from alembic.script import ScriptDirectory

from bench.core import Config
from bench.dbs import TMP, _sqlite_template, create_postgres, drop_postgres, postgres_exists, psycopg_url, schema_key
from storage import kudos_rollup
from storage.core import DEFAULT_VALUES
from storage.db import alembic_config, migrate

WORKSPACE = "console:bench"
NOW = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
PEOPLE = 2000
DAYS = 400
TAGS = [v["tag"] for v in DEFAULT_VALUES] + [None]
DEPARTMENTS = ["Kundenservice", "IT", "Buchhaltung", "Vertrieb", "Logistik"]


def person(i: int) -> str:
    return f"U{i:05d}"


def _rows(n: int, seed: int = 8) -> Iterator[tuple[object, ...]]:
    rnd = random.Random(seed)
    start = NOW - timedelta(days=DAYS)
    span = int((NOW - start).total_seconds())
    # In time order, as a real history is written: index pages fill in order and the load stays fast.
    offsets = sorted(rnd.randrange(span) for _ in range(n))
    for i, offset in enumerate(offsets):
        giver = rnd.randrange(PEOPLE)
        receiver = int(rnd.paretovariate(1.2) * 7) % PEOPLE  # a few people receive much more than most
        if receiver == giver:
            receiver = (receiver + 1) % PEOPLE
        created = start + timedelta(seconds=offset)
        yield (
            WORKSPACE,
            f"b{i:07d}",
            person(giver),
            person(receiver),
            1 + (rnd.random() < 0.1),
            TAGS[rnd.randrange(len(TAGS))],
            "danke für die Hilfe beim Kundentermin",
            giver % 5 != receiver % 5,
            "command",
            "general",
            None,
            DEPARTMENTS[giver % 5],
            DEPARTMENTS[receiver % 5],
            created.date(),
            created,
        )


COLUMNS = (
    "workspace_id, batch_id, giver_id, receiver_id, points, value_tag, reason, cross_team, source, "
    "conversation_id, message_id, giver_department, receiver_department, giver_day, created_at"
)


def _members() -> list[tuple[object, ...]]:
    now = NOW.replace(tzinfo=None)
    return [
        (WORKSPACE, person(i), f"Person {i}", f"p{i}", DEPARTMENTS[i % 5], i == 0, False, i % 97 == 0, False, now, now)
        for i in range(PEOPLE)
    ]


MEMBER_COLUMNS = (
    "workspace_id, user_id, display_name, handle, department, is_admin, is_bot, leaderboard_opt_out, "
    "leaderboard_opt_in, created_at, updated_at"
)


def _sqlite_ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _fill_sqlite(path: Path, n: int) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")
        conn.execute(
            "INSERT INTO workspace (id, platform, name, locale, tone, timezone, daily_budget, min_reason_length, "
            "max_recipients, pair_daily_cap, max_text_length, undo_minutes, kudos_emoji, privacy_profile, created_at) "
            "VALUES (?, 'console', 'Bench', 'de', 'du', 'Europe/Berlin', 1000000, 10, 5, 1000000, 500, 5, 'star', "
            "'standard', ?)",
            (WORKSPACE, _sqlite_ts(NOW)),
        )
        for pos, v in enumerate(DEFAULT_VALUES):
            conn.execute(
                "INSERT INTO company_value (workspace_id, tag, label_de, label_en, aliases, position) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (WORKSPACE, v["tag"], v["label_de"], v["label_en"], '["' + '","'.join(v["aliases"]) + '"]', pos),
            )
        conn.executemany(
            f"INSERT INTO member ({MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*m[:9], _sqlite_ts(NOW), _sqlite_ts(NOW)) for m in _members()],
        )
        for stmt in kudos_rollup.drop_triggers("sqlite"):  # bulk: the roll-up is made once afterwards
            conn.execute(stmt)
        conn.executemany(
            f"INSERT INTO kudos ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((*r[:13], r[13].isoformat(), _sqlite_ts(r[14])) for r in _rows(n)),  # type: ignore[attr-defined]
        )
        for stmt in kudos_rollup.rebuild("sqlite") + kudos_rollup.create_triggers("sqlite"):
            conn.execute(stmt)
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
    finally:
        conn.close()


def sqlite_history(n: int) -> Path:
    """A cached SQLite file with ``n`` kudos rows (built once per schema and size)."""
    TMP.mkdir(parents=True, exist_ok=True)
    cached = TMP / f"kudos-{schema_key()}-{n}.db"
    if not cached.exists():
        tmp = cached.with_suffix(f".{uuid.uuid4().hex[:6]}.tmp")
        older = [
            p
            for p in sorted(TMP.glob(f"kudos-*-{n}.db"), key=lambda p: p.stat().st_mtime)
            if upgradable(_sqlite_revisions(p))
        ]
        if older:  # an earlier schema: bring its copy up to date instead of generating the rows again
            shutil.copy(older[-1], tmp)
            migrate(f"sqlite:///{tmp}")
        else:
            shutil.copy(_sqlite_template(), tmp)
            _fill_sqlite(tmp, n)
        tmp.replace(cached)
        if older:
            older[-1].unlink(missing_ok=True)
    return cached


def upgradable(revisions: list[str]) -> bool:
    """Whether this checkout's migrations know every revision a cached database is at (another
    checkout sharing the cache may have migrations this one lacks)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    try:
        return bool(revisions) and all(script.get_revision(r) is not None for r in revisions)
    except Exception:  # alembic raises several kinds for unknown or ambiguous ids
        return False


def _sqlite_revisions(path: Path) -> list[str]:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def _postgres_revisions(cfg: Config, name: str) -> list[str]:
    url = f"{psycopg_url(cfg.postgres_admin_url).rpartition('/')[0]}/{name}"
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            return [r[0] for r in conn.execute("SELECT version_num FROM alembic_version").fetchall()]
    except psycopg.Error:
        return []


def sqlite_history_copy(n: int) -> tuple[str, Path]:
    folder = Path(tempfile.mkdtemp(prefix="starling-bench-"))
    target = folder / "starling.db"
    shutil.copy(sqlite_history(n), target)
    return f"sqlite:///{target}", folder


def _fill_postgres(url: str, n: int) -> None:
    with psycopg.connect(psycopg_url(url)) as conn:
        conn.execute(
            "INSERT INTO workspace (id, platform, name, locale, tone, timezone, daily_budget, min_reason_length, "
            "max_recipients, pair_daily_cap, max_text_length, undo_minutes, kudos_emoji, privacy_profile, created_at) "
            "VALUES (%s, 'console', 'Bench', 'de', 'du', 'Europe/Berlin', 1000000, 10, 5, 1000000, 500, 5, 'star', "
            "'standard', %s)",
            (WORKSPACE, NOW),
        )
        for pos, v in enumerate(DEFAULT_VALUES):
            conn.execute(
                "INSERT INTO company_value (workspace_id, tag, label_de, label_en, aliases, position) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (WORKSPACE, v["tag"], v["label_de"], v["label_en"], '["' + '","'.join(v["aliases"]) + '"]', pos),
            )
        with conn.cursor() as cur:
            with cur.copy(f"COPY member ({MEMBER_COLUMNS}) FROM STDIN") as copy:
                for m in _members():
                    copy.write_row((*m[:9], NOW, NOW))
            for stmt in kudos_rollup.drop_triggers("postgresql"):  # bulk: the roll-up is made once afterwards
                cur.execute(stmt)
            with cur.copy(f"COPY kudos ({COLUMNS}) FROM STDIN") as copy:
                for r in _rows(n):
                    copy.write_row(r)
            for stmt in kudos_rollup.rebuild("postgresql") + kudos_rollup.create_triggers("postgresql"):
                cur.execute(stmt)
        conn.commit()
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def postgres_history(cfg: Config, n: int) -> str:
    """A fresh PostgreSQL database with ``n`` kudos rows, cloned from a cached template database."""
    name = f"starling_bench_kudos_{schema_key()}_{n}"
    if not postgres_exists(cfg, name):
        older = _older_postgres(cfg, n, name)
        building_name = f"{name}_{uuid.uuid4().hex[:6]}"
        building = create_postgres(cfg, name=building_name, template=older)
        try:
            if older:  # an earlier schema: upgrade a clone of it instead of generating the rows again
                migrate(building)
            else:
                _fill_postgres(building, n)
            with psycopg.connect(psycopg_url(cfg.postgres_admin_url), autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{building.rpartition("/")[2]}" RENAME TO "{name}"')
        except BaseException:
            drop_postgres(cfg, building)
            raise
        if older:
            drop_postgres(cfg, f"{building.rpartition('/')[0]}/{older}")
    return create_postgres(cfg, template=name)


def _older_postgres(cfg: Config, n: int, current: str) -> str | None:
    with psycopg.connect(psycopg_url(cfg.postgres_admin_url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
            (f"starling_bench_kudos_%\\_{n}", current),
        ).fetchall()
    names = [r[0] for r in rows if r[0].count("_") == 4]  # not a half-built one (…_<hex>)
    return next((name for name in names if upgradable(_postgres_revisions(cfg, name))), None)


def today() -> date:
    return NOW.date()
