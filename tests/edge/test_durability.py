"""Durability first: a 200 means the row is committed; the queue is a convenience."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection

from pagedesk.core.models import Channel, RawWebhook
from pagedesk.edge import raw_log
from pagedesk.edge.webhooks import COUNTERS
from pagedesk.inbox.ingest import JOB_SPAN
from pagedesk.messenger.signature import sign_body
from tests.edge.helpers import (
    APP_SECRET,
    message_body,
    pending_ingestions,
    post,
    queued_task_names,
)


def test_every_200_is_already_in_the_database(
    channel: Channel, pagedesk_server: str, task_queue: object
) -> None:
    """Concurrent posts (so batches of several rows) are each readable right after 200."""
    bodies = [message_body(f"message {n}", mid=f"m_burst_{n}") for n in range(96)]

    def deliver(body: bytes) -> bool:
        with httpx.Client(base_url=pagedesk_server) as client:
            response = client.post(
                "/webhooks/messenger",
                content=body,
                headers={"X-Hub-Signature-256": sign_body(body, APP_SECRET)},
            )
        try:  # read from this thread's own connection, straight after the answer
            stored = RawWebhook.objects.filter(
                body=body, status=RawWebhook.Status.ACCEPTED
            ).exists()
        finally:
            connection.close()
        return response.status_code == 200 and stored

    with ThreadPoolExecutor(max_workers=24) as pool:
        outcomes = list(pool.map(deliver, bodies))
    assert all(outcomes)
    ids = sorted(RawWebhook.objects.values_list("pk", flat=True))
    assert len(ids) == len(bodies)
    # A job per span of each batch of rows (each job does a span of waiting deliveries:
    # tests/inbox/test_ingest_cost.py shows that every row is then ingested).
    queued = pending_ingestions(task_queue)
    assert len(set(queued)) == len(queued), "a row has two jobs"
    assert set(queued) <= set(ids)
    assert len(queued) >= len(ids) / JOB_SPAN


def test_a_failed_enqueue_still_answers_200_and_keeps_the_row(
    channel: Channel, pagedesk_server: str, task_queue: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    def queue_down(raw_webhook_ids: list[int]) -> None:
        raise ConnectionError("queue unavailable")

    monkeypatch.setattr(raw_log, "enqueue_ingestion", queue_down)
    before = COUNTERS["enqueue_failed"]
    body = message_body()
    assert post(pagedesk_server, body, sign_body(body, APP_SECRET)).status_code == 200
    row = RawWebhook.objects.get()
    assert row.status == RawWebhook.Status.ACCEPTED
    assert row.split_at is None  # so the ingestion sweeper picks it up
    assert COUNTERS["enqueue_failed"] == before + 1
    assert queued_task_names(task_queue) == []


def test_a_failed_write_is_a_503_for_meta_to_retry(
    channel: Channel, pagedesk_server: str, task_queue: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(raw_log, "_statement", lambda deliveries: ("INSERT INTO no_such_table", []))
    before = dict(COUNTERS)
    body = message_body()
    response = post(pagedesk_server, body, sign_body(body, APP_SECRET))
    assert response.status_code == 503
    assert COUNTERS["store_failed"] == before["store_failed"] + 1
    assert COUNTERS["accepted"] == before["accepted"]
    assert queued_task_names(task_queue) == []
    assert not RawWebhook.objects.exists()
    monkeypatch.undo()  # the database is back: the retry is stored
    assert post(pagedesk_server, body, sign_body(body, APP_SECRET)).status_code == 200
    assert RawWebhook.objects.count() == 1


def test_counters_count_every_post_by_outcome(
    channel: Channel, pagedesk_server: str, task_queue: object
) -> None:
    before = dict(COUNTERS)
    good = message_body()
    unknown = message_body(page_id="999999999999999")
    post(pagedesk_server, good, sign_body(good, APP_SECRET))
    post(pagedesk_server, good, sign_body(good, APP_SECRET))
    post(pagedesk_server, good, None)
    post(pagedesk_server, good, sign_body(good, "wrong"))
    post(pagedesk_server, b"nope", sign_body(b"nope", APP_SECRET))
    post(pagedesk_server, unknown, sign_body(unknown, APP_SECRET))
    post(pagedesk_server, b"x" * (1024 * 1024 + 1), None)
    httpx.get(f"{pagedesk_server}/webhooks/messenger")  # verification is not a delivery

    delta = {key: COUNTERS[key] - before[key] for key in COUNTERS}
    assert delta == {
        "received": 7,
        "accepted": 2,
        "rejected": 5,
        "rejected_bad_signature": 2,
        "rejected_unknown_page": 1,
        "rejected_malformed": 1,
        "rejected_too_large": 1,
        "store_failed": 0,
        "enqueue_failed": 0,
    }
    assert RawWebhook.objects.count() == 7
    assert len(pending_ingestions(task_queue)) == 2
