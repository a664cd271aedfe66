"""Background jobs of the core app (thin wrappers around actions)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from pagedesk.core import actions


@db_task(retries=3, retry_delay=5)
def summarize_webhook(raw_webhook_id: int) -> None:
    actions.do_summarize_webhook(raw_webhook_id=raw_webhook_id)


@db_periodic_task(crontab(minute="*"))
def sweep_unsummarized_webhooks() -> None:
    """Re-enqueue accepted deliveries whose job was lost (e.g. the queue was down)."""
    for raw_webhook_id in actions.unsummarized_webhook_ids(older_than_seconds=60):
        summarize_webhook(raw_webhook_id)
