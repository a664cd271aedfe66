"""Ingestion jobs enqueued for a batch land in the real queue as ordinary Huey tasks:
one per span of rows (a job does a span of waiting deliveries)."""

from __future__ import annotations

from pagedesk.edge.jobs import enqueue_ingestion
from pagedesk.inbox.ingest import JOB_SPAN
from tests.edge.helpers import pending_ingestions, queued_task_names


def test_a_batch_gets_a_job_per_span_in_order(task_queue: object) -> None:
    rows = list(range(100, 100 + 2 * JOB_SPAN + 1))
    enqueue_ingestion(rows)
    assert queued_task_names(task_queue) == ["ingest_webhook"] * 3
    assert pending_ingestions(task_queue) == [100, 100 + JOB_SPAN, 100 + 2 * JOB_SPAN]


def test_a_single_job_takes_hueys_own_path(task_queue: object) -> None:
    enqueue_ingestion([7])
    assert pending_ingestions(task_queue) == [7]
