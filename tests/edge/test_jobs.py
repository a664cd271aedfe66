"""Ingestion jobs enqueued for a batch land in the real queue as ordinary Huey tasks."""

from __future__ import annotations

from pagedesk.edge.jobs import enqueue_ingestion
from tests.edge.helpers import pending_ingestions, queued_task_names


def test_a_batch_of_jobs_is_enqueued_once_each_in_order(task_queue: object) -> None:
    enqueue_ingestion([11, 12, 13])
    assert queued_task_names(task_queue) == ["ingest_webhook"] * 3
    assert pending_ingestions(task_queue) == [11, 12, 13]


def test_a_single_job_takes_hueys_own_path(task_queue: object) -> None:
    enqueue_ingestion([7])
    assert pending_ingestions(task_queue) == [7]
