"""``pagedesk worker``: the Huey consumer, with threads or processes, one scheduler.

Every worker runs Huey's scheduler, but periodic jobs (the sweepers) are enqueued
by only one of them per minute: before enqueueing a minute's periodic jobs, a
scheduler claims that minute in the queue storage with an atomic put-if-absent
(SQLite ``INSERT``, Redis ``HSETNX``). The first worker to claim it enqueues; the
others skip. Nothing has to be configured, and when the worker that happened to
win dies, the next minute is simply claimed by another. ``--no-scheduler`` turns
periodic jobs off in a worker altogether (delayed retries still run).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils.module_loading import autodiscover_modules
from huey.consumer import Consumer, Scheduler
from huey.consumer_options import ConsumerConfig

log = logging.getLogger(__name__)

CLAIM_PREFIX = "pagedesk:periodic:"
CLAIMS_KEPT = timedelta(minutes=10)  # older claims are removed as new ones are made


def claim_key(minute: datetime) -> str:
    return CLAIM_PREFIX + minute.strftime("%Y%m%d%H%M")


def claim_minute(huey: Any, now: datetime) -> bool:
    """True for the first caller, across every worker sharing the queue, per minute."""
    if not huey.put_if_empty(claim_key(now), os.getpid()):
        return False
    huey.get(claim_key(now - CLAIMS_KEPT))  # pops (deletes) a long-settled claim
    return True


class SingleScheduler(Scheduler):  # type: ignore[misc]
    """Huey's scheduler, enqueueing periodic jobs only for minutes it claims first."""

    def enqueue_periodic_tasks(self, now: datetime | None) -> None:
        now = now or self.huey._get_timestamp()
        try:
            claimed = claim_minute(self.huey, now)
        except Exception:
            # The storage is away: skip this minute; the sweepers' start-up runs and
            # the next minute's claim cover for it.
            log.exception("cannot claim the periodic jobs of %s", now)
            return
        if claimed:
            super().enqueue_periodic_tasks(now)


class PagedeskConsumer(Consumer):  # type: ignore[misc]
    scheduler_class = SingleScheduler


def pool_too_small(*, threads: int) -> str:
    """Why ``threads`` worker threads cannot share this process's PostgreSQL pool
    ("" when they can). Each thread keeps a connection between jobs, and the
    scheduler needs one: with fewer, threads would wait and their jobs time out."""
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    needed = threads + 1
    if not isinstance(pool, dict) or pool.get("max_size", needed) >= needed:
        return ""
    return (
        f"--workers {threads} needs {needed} database connections, but "
        f"PAGEDESK_DB_POOL_SIZE is {pool['max_size']}: raise it, or run fewer threads "
        "(--processes N gives each process its own pool)"
    )


def run_worker(*, workers: int, worker_type: str, periodic: bool) -> None:
    """Run the consumer until SIGINT/SIGTERM (Huey's graceful / immediate stop)."""
    from huey.contrib.djhuey import HUEY

    autodiscover_modules("tasks")
    options = dict(settings.HUEY.get("consumer", {}))
    options.update(workers=workers, worker_type=worker_type, periodic=periodic)
    config = ConsumerConfig(**options)
    config.validate()  # logging: Django's LOGGING setting (Huey's own stays unused)
    # Forked worker processes must not share the parent's database connections,
    # nor its PostgreSQL pool (open sockets, threads that do not survive a fork):
    # each process opens its own on first use.
    connections.close_all()
    for conn in connections.all():
        if getattr(conn, "pool", None) is not None:
            conn.close_pool()
    if hasattr(HUEY.storage, "waits"):  # the embedded queue: wait for wake-ups when idle
        HUEY.storage.waits = True
    consumer = PagedeskConsumer(HUEY, **config.values)
    kind = {"process": "processes", "thread": "threads"}[worker_type]
    log.info(
        "pagedesk worker: %d %s, periodic jobs %s",
        workers,
        kind,
        "on (enqueued by one worker per minute)" if periodic else "off (--no-scheduler)",
    )
    consumer.run()
