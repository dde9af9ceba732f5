"""Configuration and usage mistakes of the command line, each said in one line that names the problem and the fix.

:func:`explain` turns what went wrong (an unreadable database URL, a folder Starling cannot write, a PostgreSQL
server that does not answer, a port in use) into that line; the CLI prints it and exits with 2. A traceback
is shown only with ``--debug``.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from urllib.parse import urlsplit

DATABASE_HINT = "set STARLING_DATABASE_URL (e.g. sqlite:///starling.db or postgresql://user@host/starling)"


class Mistake(Exception):
    """A mistake already said in one line."""


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///…`` URL (None for other databases and in-memory ones)."""
    if not url.startswith("sqlite"):
        return None
    rest = url.split("://", 1)[1] if "://" in url else ""
    rest = rest[1:] if rest.startswith("/") else rest
    path = rest.split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def check_database_url(url: str) -> None:
    """Refuse a database URL Starling cannot use, before anything connects or creates a file."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if not scheme:
        raise Mistake(f"STARLING_DATABASE_URL is not a database URL; {DATABASE_HINT}")
    if not scheme.startswith(("sqlite", "postgres")):
        raise Mistake(
            f"STARLING_DATABASE_URL uses {scheme.split('+')[0]}, which Starling does not support; {DATABASE_HINT}"
        )
    path = sqlite_path(url)
    if path is not None:
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.exists():
            raise Mistake(
                f"cannot open the SQLite database {path}: the folder {folder} does not exist; {DATABASE_HINT}"
            )
        if not path.exists() and not os.access(folder, os.W_OK):
            raise Mistake(f"cannot open the SQLite database {path.resolve()}: the folder is read-only; {DATABASE_HINT}")
        if path.exists() and not os.access(path, os.W_OK):
            raise Mistake(f"cannot open the SQLite database {path.resolve()}: the file is read-only; {DATABASE_HINT}")


def explain(err: BaseException, database_url: str = "") -> str | None:
    """The one line for a known mistake, or None when ``err`` is not one (a bug: show it)."""
    if isinstance(err, Mistake):
        return str(err)
    text = f"{err}"
    lowered = text.lower()
    where = _server(database_url)
    if "could not parse sqlalchemy url" in lowered or "can't load plugin" in lowered:
        return f"STARLING_DATABASE_URL is not a database URL Starling can use; {DATABASE_HINT}"
    if "unable to open database file" in lowered:
        path = sqlite_path(database_url)
        shown = path.resolve() if path else database_url
        return f"cannot open the SQLite database {shown}: its folder is not writable here; {DATABASE_HINT}"
    if "no such table" in lowered or "undefinedtable" in type(getattr(err, "orig", err)).__name__.lower():
        return "the database has no Starling tables yet: run `starling migrate` (or start Starling once)"
    if "does not exist" in lowered and "database" in lowered:
        name = urlsplit(database_url.replace("+psycopg", "")).path.lstrip("/") or "?"
        return (
            f"the PostgreSQL database {name} does not exist on {where}: create it (createdb {name}) or {DATABASE_HINT}"
        )
    if "password authentication failed" in lowered or "role" in lowered and "does not exist" in lowered:
        return f"PostgreSQL on {where} refused the user or password in STARLING_DATABASE_URL; fix them there"
    if any(s in lowered for s in ("connection refused", "could not connect", "connection failed", "timeout expired")):
        return f"cannot reach the PostgreSQL server {where}: is it running? check the host and port in STARLING_DATABASE_URL"
    if any(
        s in lowered for s in ("name or service not known", "could not translate host name", "nodename nor servname")
    ):
        return f"cannot find the PostgreSQL server {where}: check the host in STARLING_DATABASE_URL"
    if isinstance(err, OSError) and err.errno == errno.EADDRINUSE:
        return "the port is in use by another program: choose another with --port (or PORT)"
    if isinstance(err, OSError) and err.errno in (errno.EACCES, errno.EROFS, errno.EISDIR, errno.ENOENT):
        return f"cannot write {err.filename or 'the file'}: {err.strerror.lower() if err.strerror else 'refused'}; choose another place with --out"
    return None


def _server(url: str) -> str:
    try:
        parts = urlsplit(url.replace("+psycopg", ""))
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    except ValueError:
        return "the configured server"
