"""Enqueueing ingestion jobs for a batch of accepted rows, cheaply.

On the embedded SQLite queue every ``enqueue`` is its own transaction, and with
Huey's settings its own fsync (several milliseconds): one per accepted POST would
cap the edge at a few hundred deliveries a second. So a batch's jobs go into the
queue in one transaction. The rows are Huey's own serialised tasks in Huey's own
table; any other backend (Redis: a cheap LPUSH each) takes Huey's usual path,
as does a task with an expiry (``enqueue`` resolves it).
"""

from __future__ import annotations

from huey import Huey
from huey.storage import SqliteStorage

from pagedesk.inbox.ingest import JOB_SPAN
from pagedesk.inbox.tasks import ingest_webhook


def enqueue_ingestion(raw_webhook_ids: list[int]) -> None:
    """One job per span of rows: each job does a span of waiting deliveries (see
    ``pagedesk.inbox.ingest.do_ingest_webhook``), so a busy edge queues a job for
    every ``JOB_SPAN`` rows, not one per row that would mostly find its work done."""
    huey: Huey = ingest_webhook.huey
    tasks = [ingest_webhook.s(row_id) for row_id in raw_webhook_ids[::JOB_SPAN]]
    storage = huey.storage
    plain = huey.immediate or not isinstance(storage, SqliteStorage) or tasks[0].expires
    if plain or len(tasks) == 1:
        for task in tasks:
            huey.enqueue(task)
        return
    rows = [
        (storage.name, storage.to_blob(huey.serialize_task(task)), task.priority or 0)
        for task in tasks
    ]
    with storage.db(commit=True) as cursor:  # Huey's lock and BEGIN EXCLUSIVE
        cursor.executemany("insert into task (queue, data, priority) values (?, ?, ?)", rows)
    if wake := getattr(storage, "wake_workers", None):  # see pagedesk.queue
        wake()
