"""``pagedesk backup PATH``: a consistent copy of the SQLite database, while it runs.

SQLite's online backup API copies the database in one step, under one read
transaction: with WAL, writers carry on meanwhile and the copy is the database
as of one instant (never a half-written file, as ``cp`` of a live database can
be). One step on purpose: a step-wise backup restarts whenever another
connection writes, which on a busy inbox could be forever. The copy is written
beside its destination and renamed into place, so a failed backup never leaves
a truncated file under the final name.

PostgreSQL has its own tool for this; on PostgreSQL the command explains how to
use it instead of pretending to back anything up.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.db import connections

from pagedesk.core.errors import PagedeskError


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int


def _refuse(message: str) -> PagedeskError:
    return PagedeskError("backup_not_possible", message)


ALSO_COPY = (
    "also keep, from the data dir: `secret_key` (unless PAGEDESK_SECRET_KEY is set: page "
    "tokens and app secrets are encrypted with a key derived from it) and `media/` "
    "(downloaded attachments); the job queue (queue.sqlite3) need not be kept: "
    "the sweepers re-queue pending work"
)


def pg_dump_advice() -> str:
    return (
        "the database is PostgreSQL: back it up with PostgreSQL's own tools, e.g.\n"
        '  pg_dump --format=custom --file=pagedesk.dump "$DATABASE_URL"\n'
        "and restore with\n"
        '  pg_restore --clean --if-exists --dbname="$DATABASE_URL" pagedesk.dump\n' + ALSO_COPY
    )


def destination(path: Path, now: datetime) -> Path:
    """A directory gets a time-stamped file inside it; anything else is the file."""
    if path.is_dir():
        return path / f"pagedesk-{now:%Y%m%d-%H%M%S}.sqlite3"
    return path


def is_sqlite() -> bool:
    return bool(connections["default"].vendor == "sqlite")


def do_backup(*, path: Path) -> Backup:
    """Copy the SQLite database to ``path`` (a file, or a directory to put one in)."""
    database = connections["default"]
    if not is_sqlite():
        raise _refuse(pg_dump_advice())
    source_path = Path(database.settings_dict["NAME"])
    if not source_path.exists():
        raise _refuse(f"no database at {source_path}: nothing to back up")
    target = destination(path, datetime.now(UTC))
    if target.exists():
        raise _refuse(f"{target} exists already: choose a new name or a directory")
    partial = target.with_name(f".{target.name}.partial")
    source = sqlite3.connect(source_path, timeout=30)  # only read, but WAL needs -shm access
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # all pages in one step: see above
            (verdict,) = copy.execute("PRAGMA quick_check").fetchone()
            if verdict != "ok":
                raise _refuse(f"the copy failed its integrity check: {verdict}")
        finally:
            copy.close()
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise _refuse(f"backup of {source_path} failed: {exc}") from exc
    finally:
        source.close()
        partial.unlink(missing_ok=True)
    return Backup(path=target, size=target.stat().st_size)
