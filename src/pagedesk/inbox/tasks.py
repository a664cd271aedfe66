"""Ingestion jobs (thin wrappers around pagedesk.inbox.ingest)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup

from pagedesk.inbox import ingest


@db_task(retries=5, retry_delay=2)
def ingest_webhook(raw_webhook_id: int) -> None:
    """Split an accepted delivery into events, then process each thread it touches.

    The threads are processed right here rather than as jobs of their own: one queue
    round trip per delivery instead of one per thread (each lane still takes its own
    lock, so order per conversation holds with any number of workers).
    """
    for channel_id, thread_key in ingest.do_split_webhook(raw_webhook_id=raw_webhook_id):
        _process(channel_id, thread_key)


@db_task(retries=3, retry_delay=2)
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
    for raw_webhook_id in ingest.unsplit_webhook_ids(older_than_seconds=older_than_seconds):
        ingest_webhook(raw_webhook_id)
    for channel_id, thread_key in ingest.stuck_lanes(older_than_seconds=older_than_seconds):
        process_thread(channel_id, thread_key)
