"""Ingestion jobs (thin wrappers around pagedesk.inbox.ingest)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db import connections
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task, on_startup, task

from pagedesk.inbox import ingest

KEEP_CONNECTION = 10.0  # seconds a worker thread keeps its database connection between jobs


def ingest_task(**options: Any) -> Callable[[Callable[..., None]], Any]:
    """Like djhuey's ``db_task``, except that a busy worker keeps its database connection.

    ``db_task`` applies Django's end-of-request hygiene around every job, and with
    SQLite's ``CONN_MAX_AGE=0`` that means a new connection per job: about a
    millisecond to open, and closing SQLite's last connection checkpoints the WAL.
    Ingestion runs a job per webhook, so here the connection is kept while it is
    younger than ``KEEP_CONNECTION`` (broken ones are still dropped at once).
    """

    def decorator(fn: Callable[..., None]) -> Any:
        @wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> None:
            if not HUEY.immediate:
                _tidy_connections()
            try:
                fn(*args, **kwargs)
            finally:
                if not HUEY.immediate:
                    _tidy_connections()

        wrapped = task(**options)(inner)
        wrapped.call_local = fn
        return wrapped

    return decorator


_kept_until: dict[int, float] = {}  # id(connection wrapper) → the close_at we set


def _tidy_connections() -> None:
    for conn in connections.all(initialized_only=True):
        fresh = _kept_until.get(id(conn)) != conn.close_at  # opened since we last looked
        if conn.settings_dict["CONN_MAX_AGE"] == 0 and conn.close_at is not None and fresh:
            conn.close_at += KEEP_CONNECTION
            _kept_until[id(conn)] = conn.close_at
        conn.close_if_unusable_or_obsolete()


@ingest_task(retries=5, retry_delay=2)
def ingest_webhook(raw_webhook_id: int) -> None:
    """Split an accepted delivery into events and process each thread it touches;
    the same for the oldest others waiting, a span in all (``ingest.JOB_SPAN``).

    The threads are processed right here, in the split's transaction, rather than as
    jobs of their own: one queue round trip and one commit per delivery instead of
    one per thread and event (each lane is still held while it is processed, so
    order per conversation holds with any number of workers).
    """
    for (channel_id, thread_key), retry_in in ingest.do_ingest_webhook(
        raw_webhook_id=raw_webhook_id
    ).items():
        process_thread.schedule((channel_id, thread_key), delay=retry_in)


@ingest_task(retries=3, retry_delay=2)
def process_thread(channel_id: int, thread_key: str) -> None:
    _process(channel_id, thread_key)


def _process(channel_id: int, thread_key: str) -> None:
    retry_in = ingest.do_process_lane(channel_id=channel_id, thread_key=thread_key)
    if retry_in is not None:
        process_thread.schedule((channel_id, thread_key), delay=retry_in)


@db_task(retries=3, retry_delay=10)
def fetch_contact_profile(contact_id: int) -> None:
    ingest.do_fetch_contact_profile(contact_id=contact_id)


@db_task(retries=4, retry_delay=15)
def download_attachment(attachment_id: int) -> None:
    ingest.do_download_attachment(attachment_id=attachment_id)


@db_periodic_task(crontab(minute="*"))
def sweep_ingestion() -> None:
    """Re-enqueue work whose job was lost (a killed worker, a queue outage)."""
    _sweep(older_than_seconds=30)


@on_startup()
def sweep_at_start() -> None:
    _sweep(older_than_seconds=0)


def _sweep(*, older_than_seconds: int) -> None:
    waiting = ingest.unsplit_webhook_ids(older_than_seconds=older_than_seconds)
    for raw_webhook_id in waiting[:: ingest.JOB_SPAN]:  # each job does a span of them
        ingest_webhook(raw_webhook_id)
    for channel_id, thread_key in ingest.stuck_lanes(older_than_seconds=older_than_seconds):
        process_thread(channel_id, thread_key)
