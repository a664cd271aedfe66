"""Appending deliveries to the raw webhook log, then handing accepted ones to the worker.

Runs in the edge's writer thread (see :mod:`pagedesk.edge.group_commit`): a batch
of deliveries becomes one transaction. Ingestion is enqueued only after the
commit; if the queue is down the rows are still safe, because the ingestion
sweeper re-enqueues every accepted row that was never split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import close_old_connections, transaction

from pagedesk.core.models import RawWebhook
from pagedesk.edge.counters import count
from pagedesk.inbox.tasks import ingest_webhook

log = logging.getLogger(__name__)

Status = RawWebhook.Status
SIGNED = frozenset({Status.ACCEPTED, Status.MALFORMED, Status.UNKNOWN_PAGE})


@dataclass(frozen=True)
class Delivery:
    """A POST's body and the verdict on it, ready to be stored."""

    body: bytes
    status: str
    page_ids: tuple[str, ...] = ()
    error: str = ""


def append(deliveries: list[Delivery]) -> list[int]:
    """Store ``deliveries`` in one transaction; return their row ids, in order."""
    close_old_connections()  # the edge bypasses Django's request cycle, which does this
    try:
        with transaction.atomic():
            rows = RawWebhook.objects.bulk_create(
                RawWebhook(
                    status=d.status,
                    signature_valid=d.status in SIGNED,
                    page_ids=",".join(d.page_ids)[:1024],
                    body=d.body,
                    body_size=len(d.body),
                    error=d.error,
                )
                for d in deliveries
            )
    finally:
        close_old_connections()
    ids = [row.pk for row in rows]
    for row_id, delivery in zip(ids, deliveries, strict=True):
        if delivery.status == Status.ACCEPTED:
            _enqueue_ingestion(row_id)
    return ids


def _enqueue_ingestion(row_id: int) -> None:
    try:
        ingest_webhook(row_id)
    except Exception:
        count("enqueue_failed")
        log.exception("could not enqueue webhook #%s; the sweeper will", row_id)
