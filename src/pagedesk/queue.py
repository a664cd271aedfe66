"""The embedded job queue: Huey on a SQLite file, tuned for pagedesk.

Queue messages only carry ids of rows that are already committed in the database,
and sweepers re-enqueue anything pending, so a queue entry lost in a power cut is
redone, never lost. That makes WAL with ``synchronous=NORMAL`` the right trade:
no fsync per enqueue (Huey's default is a full sync), and still no corruption.
"""

from __future__ import annotations

import sqlite3

from huey import SqliteHuey
from huey.storage import SqliteStorage


class NormalSyncSqliteStorage(SqliteStorage):  # type: ignore[misc]
    def _create_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


class EmbeddedHuey(SqliteHuey):  # type: ignore[misc]
    storage_class = NormalSyncSqliteStorage
