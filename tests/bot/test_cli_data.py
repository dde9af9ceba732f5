"""The command line as a newcomer meets it: where the data goes, quiet output, JSON logs, progress, and
imported quotes without names."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from handlers.prompts.scrub import names_pattern, scrub


def starling(tmp_path: Path, *args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("starling")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STARLING_", "SLACK_", "Microsoft", "OPENAI_"))}
    clean.update(XDG_DATA_HOME=str(tmp_path / "data"), HOME=str(tmp_path / "home"), **env)
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, env=clean, cwd=cwd or tmp_path, timeout=300, input=""
    )


def test_the_default_database_lives_in_the_data_folder_wherever_starling_starts(tmp_path: Path) -> None:
    for folder in ("a", "b/c"):
        (tmp_path / folder).mkdir(parents=True)
        done = starling(tmp_path, "migrate", cwd=tmp_path / folder)
        assert done.returncode == 0, done.stderr
        assert not list((tmp_path / folder).glob("*.db"))
    db = tmp_path / "data" / "starling" / "starling.db"
    assert db.exists()
    first = starling(tmp_path, "console", cwd=tmp_path / "a")
    assert f"(Daten: {db};" in first.stdout  # printed on start


def test_db_option_and_environment_choose_another_database(tmp_path: Path) -> None:
    done = starling(tmp_path, "--db", str(tmp_path / "mine.db"), "migrate")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mine.db").exists() and not (tmp_path / "data").exists()
    done = starling(tmp_path, "migrate", STARLING_DATABASE_URL=f"sqlite:///{tmp_path / 'env.db'}")
    assert done.returncode == 0 and (tmp_path / "env.db").exists()


def test_commands_are_quiet_and_verbose_shows_the_libraries(tmp_path: Path) -> None:
    done = starling(tmp_path, "migrate")
    assert done.returncode == 0, done.stderr
    assert "Context impl" not in done.stderr and "Running upgrade" not in done.stderr
    assert "[1/" in done.stderr  # progress: one line per schema change
    assert done.stdout.startswith("database is up to date (")
    again = starling(tmp_path, "-v", "--db", str(tmp_path / "v.db"), "migrate")
    assert "Context impl SQLiteImpl" in again.stderr


def test_json_logs_put_every_library_line_in_json(tmp_path: Path) -> None:
    done = starling(tmp_path, "-v", "migrate", STARLING_LOG_JSON="true")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(r.get("logger", "").startswith("alembic") and "Running upgrade" in r["event"] for r in records)


def test_salutations_and_the_workspaces_people_are_scrubbed() -> None:
    people = names_pattern(["Anna Schmidt", "Max Weber"])
    cases = {
        "Frau Meier hat mir super geholfen": "Frau [Name] hat mir super geholfen",
        "Sehr geehrter Herr Dr. Schulz, das Formular ist zu lang.": "Sehr geehrter Herr Dr. [Name], das Formular",
        "Herr von Bülow war freundlich.": "Herr [Name] war freundlich.",
        "Anna hat das gelöst, danke an Max Weber": "[Name] hat das gelöst, danke an [Name]",
        "max. 5 Tage Wartezeit": "max. 5 Tage Wartezeit",
        "Danke Herr Meier Sie waren super": "Danke Herr [Name] Sie waren super",
    }
    for text, expected in cases.items():
        assert scrub(text, people).text.startswith(expected), text


@pytest.mark.timeout(600)
def test_import_feedback_scrubs_names_and_shows_progress(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert starling(tmp_path, "--db", str(db), "console", "--demo").returncode == 0  # the demo people
    rows = ["text"] + [f"Frau Meier und Anna Schmidt haben Anfrage {i} schnell gelöst, danke!" for i in range(2500)]
    (tmp_path / "quotes.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    done = starling(tmp_path, "--db", str(db), "import-feedback", str(tmp_path / "quotes.csv"))
    assert done.returncode == 0, done.stderr
    assert "1,000/2,500" in done.stderr and "2,500/2,500" in done.stderr
    assert done.stdout.startswith("2500 quotes imported")
    with sqlite3.connect(db) as conn:
        texts = [r[0] for r in conn.execute("SELECT text FROM customer_feedback")]
    assert len(texts) == 2500
    assert all("Meier" not in t and "Anna" not in t and "Schmidt" not in t for t in texts)
    assert texts[0].startswith("Frau [Name] und [Name] haben Anfrage")
