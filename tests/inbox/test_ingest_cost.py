"""Ingestion stays cheap: a bounded number of SQL statements per message event.

The worker keeps up with 200 webhooks a second (``bench/fanout.py``) only while a
message costs a handful of statements; these bounds make a change that adds
queries per event fail here, not only in a benchmark run.
"""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from pagedesk.inbox.models import Conversation, Message
from pagedesk.live.models import LiveEvent
from tests.inbox import bodies as b
from tests.inbox.conftest import Pages, drain

CUSTOMERS = [f"73000000000000{n:02d}" for n in range(10)]
# One delivery with one message to a known conversation: the split, the lane and the
# message (SQLite: 14 statements; PostgreSQL also locks the lane: 17).
MAX_STATEMENTS_ONE_MESSAGE = 18
# Ten messages to ten known conversations in one delivery: one transaction, and every
# write and read of the batch is one statement for all ten (which messages are stored
# already, the conversations, the new messages, their conversations' updates, the
# events, the live events), so they cost what one message costs.
MAX_STATEMENTS_TEN_MESSAGES = MAX_STATEMENTS_ONE_MESSAGE


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries]


def _say_hello(pagedesk_server: str, task_queue: object) -> None:
    """Every customer has written before: contacts and conversations exist."""
    hello = [b.text(psid, "hello", b.T0 + n) for n, psid in enumerate(CUSTOMERS)]
    b.post(pagedesk_server, b.envelope(*hello))
    drain(task_queue)


def test_one_message_costs_a_bounded_number_of_statements(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    _say_hello(pagedesk_server, task_queue)
    b.post(pagedesk_server, b.envelope(b.text(CUSTOMERS[0], "still there?", b.T0 + 1000)))
    with CaptureQueriesContext(connection) as queries:
        assert drain(task_queue) == ["ingest_webhook"]
    conversation = Conversation.objects.get(thread_key=CUSTOMERS[0])
    assert list(conversation.messages.values_list("text", flat=True)) == ["hello", "still there?"]
    assert conversation.unread_count == 2
    assert LiveEvent.objects.filter(kind="message.created").count() == len(CUSTOMERS) + 1
    assert len(queries) <= MAX_STATEMENTS_ONE_MESSAGE, "\n".join(_statements(queries))


def test_a_batch_of_messages_shares_one_transaction(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    _say_hello(pagedesk_server, task_queue)
    events = [b.text(psid, "order #42?", b.T0 + 1000 + n) for n, psid in enumerate(CUSTOMERS)]
    b.post(pagedesk_server, b.envelope(*events))
    with CaptureQueriesContext(connection) as queries:
        drain(task_queue)
    assert Message.objects.filter(text="order #42?").count() == len(CUSTOMERS)
    assert set(Conversation.objects.values_list("unread_count", flat=True)) == {2}
    assert len(queries) <= MAX_STATEMENTS_TEN_MESSAGES, "\n".join(_statements(queries))
    commits = [sql for sql in _statements(queries) if sql.upper().startswith("COMMIT")]
    assert len(commits) == 1


def test_a_backlog_is_ingested_together_and_the_later_jobs_are_no_ops(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    _say_hello(pagedesk_server, task_queue)
    for n, psid in enumerate(CUSTOMERS[:4]):  # four deliveries wait for the worker
        b.post(pagedesk_server, b.envelope(b.text(psid, f"waiting {n}", b.T0 + 2000 + n)))
    with CaptureQueriesContext(connection) as first_job:
        first = task_queue.dequeue()  # type: ignore[attr-defined]
        task_queue.execute(first)  # type: ignore[attr-defined]
    assert Message.objects.filter(text__startswith="waiting").count() == 4
    with CaptureQueriesContext(connection) as later_jobs:
        assert drain(task_queue) == ["ingest_webhook"] * 3
    # Each later job finds its delivery done and none waiting: one read, no write lock.
    statements = _statements(later_jobs)
    assert len(statements) == 3, "\n".join(statements)
    assert all(sql.lstrip().startswith("SELECT") for sql in statements), "\n".join(statements)
    assert len(first_job) <= MAX_STATEMENTS_TEN_MESSAGES


def test_the_edge_queues_a_job_per_span_and_the_jobs_do_every_delivery(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    """Two and a half spans of stored deliveries, 3 jobs: every delivery is ingested,
    and deliveries left without a job (a lost job) are swept up by the next jobs too."""
    from pagedesk.core.models import RawWebhook
    from pagedesk.edge.jobs import enqueue_ingestion
    from pagedesk.inbox.ingest import JOB_SPAN

    def stored(n: int, first: int) -> list[int]:
        rows = [
            RawWebhook(
                status=RawWebhook.Status.ACCEPTED,
                signature_valid=True,
                page_ids=b.FB_PAGE_ID,
                body=(body := b.envelope(b.text(CUSTOMERS[k % 10], f"#{k}", b.T0 + k))),
                body_size=len(body),
            )
            for k in range(first, first + n)
        ]
        return [row.pk for row in RawWebhook.objects.bulk_create(rows)]

    queued = JOB_SPAN * 5 // 2
    stored(10, 0)  # their jobs were lost
    enqueue_ingestion(stored(queued, 10))
    assert task_queue.pending_count() == 3  # type: ignore[attr-defined]
    assert drain(task_queue).count("ingest_webhook") == 3  # (and the new contacts' profiles)
    assert Message.objects.count() == 10 + queued
    assert not RawWebhook.objects.filter(split_at__isnull=True).exists()
    for conversation in Conversation.objects.all():
        numbers = [int(t[1:]) for t in conversation.messages.values_list("text", flat=True)]
        assert numbers == sorted(numbers)
