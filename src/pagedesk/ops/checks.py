"""Readiness checks: can this process reach what it needs to do its work?

Each check is a plain blocking function that raises when its dependency is not
usable; :func:`run_checks` runs them side by side in threads, each bounded by
``TIMEOUT`` so a hung database or Redis makes the probe fail fast instead of hang.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import redis
from django.db import connection
from huey.storage import RedisStorage

from pagedesk.config import get_config

log = logging.getLogger(__name__)

TIMEOUT = 2.0  # seconds per check
OK = "ok"
_BOUNDED = {"socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT}

# Own threads: a check stuck past its time-out must not hold up Django's executors.
EXECUTOR = ThreadPoolExecutor(max_workers=6, thread_name_prefix="pagedesk-readyz")


def check_database() -> None:
    """A query on a migrated table, over a fresh connection (closed again at once)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM django_migrations LIMIT 1")
            cursor.fetchone()
    finally:
        connection.close()


def check_queue() -> None:
    """The job queue's storage (the SQLite queue file, or Redis) answers."""
    from huey.contrib.djhuey import HUEY

    storage = HUEY.storage
    if isinstance(storage, RedisStorage):
        # Huey's own connections have no time-outs: ask over a bounded one of our own.
        pool = redis.ConnectionPool(
            connection_class=storage.pool.connection_class,
            **{**storage.pool.connection_kwargs, **_BOUNDED},
        )
        try:
            redis.Redis(connection_pool=pool).llen(storage.queue_key)
        finally:
            pool.disconnect()
    else:
        HUEY.pending_count()


def check_redis() -> None:
    url = get_config().redis_url
    assert url is not None
    with closing(redis.Redis.from_url(url, **_BOUNDED)) as client:
        client.ping()


def enabled_checks() -> dict[str, Callable[[], None]]:
    checks: dict[str, Callable[[], None]] = {"database": check_database, "queue": check_queue}
    if get_config().redis_url is not None:
        checks["redis"] = check_redis  # live-update fan-out, beside the queue
    return checks


async def _run_one(name: str, check: Callable[[], None]) -> str:
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.run_in_executor(EXECUTOR, check), TIMEOUT)
    except TimeoutError:
        log.warning("readiness check %s timed out after %.0f s", name, TIMEOUT)
        return f"timed out after {TIMEOUT:.0f} s"
    except Exception as exc:
        # The probe is unauthenticated: name the kind of failure, log the details.
        log.warning("readiness check %s failed: %s", name, exc)
        return f"failed: {type(exc).__name__}"
    return OK


async def run_checks() -> dict[str, str]:
    """Every enabled check's outcome: ``"ok"`` or what went wrong."""
    checks = enabled_checks()
    results = await asyncio.gather(*(_run_one(n, c) for n, c in checks.items()))
    return dict(zip(checks, results, strict=True))
