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
# message (SQLite: 15 statements; PostgreSQL also locks the lane: 18).
MAX_STATEMENTS_ONE_MESSAGE = 20
# Ten messages to ten known conversations in one delivery: one transaction, so the
# fixed part is paid once, and which messages are stored already and the ten
# conversations are read in one query each (SQLite: 33 statements; PostgreSQL: 36).
MAX_STATEMENTS_TEN_MESSAGES = 38


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
    # The worker remembers what it took along: the later jobs do not even read.
    assert len(later_jobs) == 0, "\n".join(_statements(later_jobs))
    assert len(first_job) <= MAX_STATEMENTS_TEN_MESSAGES
