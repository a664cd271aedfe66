"""The embedded job queue: Huey on a SQLite file, tuned for pagedesk.

Queue messages only carry ids of rows that are already committed in the database,
and sweepers re-enqueue anything pending, so a queue entry lost in a power cut is
redone, never lost. That makes WAL with ``synchronous=NORMAL`` the right trade:
no fsync per enqueue (Huey's default is a full sync), and still no corruption.

Idle workers are woken, not only polling: Huey polls a SQLite queue with a backoff
(up to half a second here), so the first message after a quiet spell waited for
the next poll. Now every enqueue sends a datagram (``pagedesk.datagrams``) to the
workers' sockets, and a worker's empty dequeue waits for one, polling again after
``WAIT_SECONDS`` regardless (a lost datagram costs that long at most).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from huey import SqliteHuey
from huey.storage import SqliteStorage

from pagedesk.datagrams import Datagrams

WAIT_SECONDS = 1.0

_wakeups = Datagrams("queue-wakeups", to_self=True)  # the scheduler enqueues in the worker


class NormalSyncSqliteStorage(SqliteStorage):  # type: ignore[misc]
    waits = False  # set by ``pagedesk worker``; tests draining the queue never wait

    @property
    def blocking(self) -> bool:  # Huey's consumer then skips its own sleep
        return self.waits

    def _create_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn

    def enqueue(self, data: bytes, priority: Any = None) -> None:
        super().enqueue(data, priority)
        self.wake_workers()

    def wake_workers(self) -> None:
        _wakeups.send()

    def dequeue(self) -> bytes | None:
        data: bytes | None = super().dequeue()
        if data is None and self.waits and _wakeups.wait(WAIT_SECONDS):
            data = super().dequeue()
        return data


class EmbeddedHuey(SqliteHuey):  # type: ignore[misc]
    storage_class = NormalSyncSqliteStorage
