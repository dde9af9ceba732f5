"""The Dockerfile, read statically (no Docker engine needed): two stages, the runtime stage without uv,
pip installs or dev dependencies, with the Teams assets, a data volume and a non-root user."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def stages() -> dict[str, list[str]]:
    """Instruction lines (continuations joined) per stage name."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    out: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        found = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, flags=re.I)
        if found:
            current = found.group(2) or found.group(1)
            out[current] = []
        out[current].append(line)
    return out


def test_two_stages_build_then_runtime() -> None:
    built = stages()
    assert list(built) == ["build", "runtime"]
    build = "\n".join(built["build"])
    assert re.search(r"pip install --no-cache-dir uv==\d+\.\d+\.\d+\b", build)  # uv pinned
    assert "uv sync --locked --no-dev --no-install-project" in build  # dependencies layer first
    assert build.index("--no-install-project") < build.index("COPY bot")


def test_runtime_stage_has_no_build_tools_and_has_what_it_needs() -> None:
    runtime = "\n".join(stages()["runtime"])
    assert "uv" not in re.sub(r"\.venv|/app|uv\.lock", "", runtime).split("HEALTHCHECK")[0].replace("USER", "")
    assert "pip install" not in runtime and "apt-get" not in runtime
    assert "COPY --from=build /app/.venv ./.venv" in runtime
    assert "COPY teams ./teams" in runtime  # starling teams-package reads its assets from there
    assert re.search(r"^VOLUME /data$", runtime, flags=re.M)
    assert "STARLING_DATABASE_URL=sqlite:////data/starling.db" in runtime
    user = re.search(r"^USER (\S+)$", runtime, flags=re.M)
    assert user is not None and user.group(1) not in ("root", "0")
    assert runtime.rstrip().splitlines()[-1] == 'CMD ["starling", "serve"]'


def test_copied_folders_exist_and_ignored_files_stay_out() -> None:
    for line in "\n".join(sum(stages().values(), [])).splitlines():
        found = re.match(r"COPY (?!--from)(.+) \S+$", line)
        if found:
            for src in found.group(1).split():
                assert (ROOT / src).exists(), src
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".venv", ".tools", ".git", "tests", "*.db", ".env"} <= ignored
