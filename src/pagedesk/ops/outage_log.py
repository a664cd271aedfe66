"""One traceback per outage, not one per job.

While the database (or Redis) is down, every job the worker runs fails the same
way and Huey logs each with a full traceback: a 3-second PostgreSQL restart wrote
about 280 of them. Nothing is lost (jobs are retried), but an operator reading the
log needs the first failure and how many followed, not 280 copies.

``OutageFilter`` lets the first connection failure through, drops the repeats for
``window`` seconds, then lets the next one through with how many it dropped (so a
long outage logs one traceback every ``window`` seconds). Any other record passes
untouched.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

# Exceptions that mean "a backing service is unreachable", by class name, so this
# module imports neither database driver nor Redis.
OUTAGE_ERRORS = frozenset(
    {
        "OperationalError",  # django.db, sqlite3, psycopg
        "InterfaceError",  # django.db, psycopg: the connection is already closed
        "ConnectionError",  # redis
        "TimeoutError",  # redis
    }
)


class OutageFilter(logging.Filter):
    def __init__(self, window: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self.clock = clock
        self._quiet_until = 0.0
        self._dropped = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if not _is_outage(record):
            return True
        with self._lock:
            now = self.clock()
            if now < self._quiet_until:
                self._dropped += 1
                return False
            self._quiet_until = now + self.window
            dropped, self._dropped = self._dropped, 0
        since = f" ({dropped} more since the last one logged)" if dropped else ""
        record.msg = (
            f"{record.getMessage()}{since}; repeats of this connection error are counted, "
            f"not logged, for {self.window:.0f} s"
        )
        record.args = None
        return True


def _is_outage(record: logging.LogRecord) -> bool:
    error = record.exc_info[1] if record.exc_info else None
    while error is not None:
        if type(error).__name__ in OUTAGE_ERRORS:
            return True
        error = error.__cause__ or error.__context__
    return False
