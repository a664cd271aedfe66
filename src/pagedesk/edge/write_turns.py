"""Fair turns at SQLite's write lock for the two busiest writers: the edge and ingestion.

SQLite allows one writer at a time. A connection that finds the lock taken does
not wait in a queue: its busy handler sleeps and tries again, 1 ms, then 2, 5,
10 … up to 100 ms between tries. When another process takes the lock again and
again with short gaps (the ingestion worker under load does), the sleeper keeps
missing the gaps and can wait for seconds: the edge's answers to Meta stalled
that way at 200 webhooks a second.

So those writers first take an exclusive ``flock`` on a file beside the
database, and only then ``BEGIN``. A blocked ``flock`` is woken by the kernel as
soon as the holder lets go, so they take turns instead of polling. The lock
is per thread (each thread opens its own file), re-entrant, released by the
kernel if the process dies, and skipped when the calling thread is already
inside a transaction (it holds SQLite's lock already; waiting for the file then
could deadlock). Other writers (web views, other jobs) still use the busy
handler; they are rare. On PostgreSQL this does nothing: rows are locked there,
not the database.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


class _LockFile:
    """This thread's open lock file; closed with the thread (its lock goes with it)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def __del__(self) -> None:
        os.close(self.fd)


class _Turn(threading.local):
    file: _LockFile | None = None
    depth: int = 0


_turn = _Turn()


@contextmanager
def write_turn() -> Iterator[None]:
    """Wait for this thread's turn to write, then hold it for the block (SQLite only)."""
    name = str(connection.settings_dict["NAME"])
    in_memory = name.startswith("file:") or ":memory:" in name
    if (
        connection.vendor != "sqlite"
        or in_memory
        or (_turn.depth == 0 and connection.in_atomic_block)
    ):
        yield
        return
    if _turn.depth == 0:
        fcntl.flock(_lock_fd(f"{name}.write-turn"), fcntl.LOCK_EX)
    _turn.depth += 1
    try:
        yield
    finally:
        _turn.depth -= 1
        if _turn.depth == 0 and _turn.file is not None:
            fcntl.flock(_turn.file.fd, fcntl.LOCK_UN)


def _lock_fd(path: str) -> int:
    if _turn.file is None or _turn.file.path != path:  # first use, or another database
        _turn.file = _LockFile(path)
    return _turn.file.fd
