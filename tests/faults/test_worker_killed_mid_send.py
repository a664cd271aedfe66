"""Fault: the worker is SIGKILLed while Send API calls are in flight.

Many agent replies are queued; the sandbox holds the answers of two calls it has
already acted on (the messages are on the customer's phone), and the worker is
killed right then, so two outbox entries are left ``sending`` with nobody to record
the answer. A new worker must send every other message, and settle those two from
their echoes (``metadata="pagedesk:<id>"``), never by calling the Send API again.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from pagedesk.core.models import Membership
from pagedesk.delivery.models import OutboxEntry
from pagedesk.delivery.tasks import sweep_outbox
from pagedesk.inbox.actions import do_send_message
from pagedesk.inbox.models import Conversation, Message
from tests.faults.harness import (
    Tally,
    connect_page,
    pagedesk_env,
    running,
    sandbox,
    wait_for,
    worker,
)

CUSTOMERS = 3
REPLIES_EACH = 40
HELD = 2  # one per worker thread: both are mid-call when the worker dies
PROVEN = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ)


def test_worker_killed_mid_send_sends_each_reply_exactly_once(
    shared_db: str, pagedesk_server: str, backend: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    with sandbox(customers=CUSTOMERS) as box:
        env = pagedesk_env(DATABASE_URL=shared_db, PAGEDESK_GRAPH_URL=box.url)
        connect_page(env, box)
        box.subscribe(pagedesk_server)
        box.configure(retry_initial_delay=0.05)
        sender = worker(env, tmp_path)
        with running(sender):
            sender.start()
            for psid in box.psids:
                box.customer_writes(psid, "Is my bike ready?")
            wait_for(
                lambda: Conversation.objects.count() == CUSTOMERS, 60, "the customers' messages"
            )
            agent = Membership.objects.get().user
            replies = [
                do_send_message(conversation=conversation, author=agent, text=f"reply {n:03d}")
                for n in range(REPLIES_EACH)
                for conversation in Conversation.objects.order_by("pk")
            ]
            metadata = {reply.metadata for reply in replies}

            def accepted() -> list[dict]:
                return [s for s in box.sends() if s["metadata"] in metadata and s["message_id"]]

            wait_for(lambda: len(accepted()) >= len(replies) // 4, 60, "a quarter of the sends")
            box.page(slow_next_sends=HELD, slow_send_seconds=5)
            wait_for(
                lambda: sum(s["slow"] for s in accepted()) == HELD, 30, "two held Send API calls"
            )
            sender.kill()
            sending = OutboxEntry.objects.filter(state=OutboxEntry.State.SENDING).count()
            sent_at_kill = len(accepted())
            assert sending == HELD, "the killed worker should leave exactly its held calls"
            assert sent_at_kill < len(replies), "the worker finished before it could be killed"

            sender.start()  # its start-up sweep re-queues what the dead one had due
            wait_for(
                lambda: (
                    Message.objects.filter(pk__in=[r.pk for r in replies], status__in=PROVEN)
                    .exclude(mid=None)
                    .count()
                    == len(replies)
                ),
                90,
                "every reply proven sent (a mid from the answer or the echo)",
            )
            # The minute's outbox sweep settles the two held entries from their echoes;
            # queued now rather than waiting up to 60 s for the scheduler's tick.
            sweep_outbox()
            wait_for(
                lambda: OutboxEntry.objects.exclude(state=OutboxEntry.State.SENT).count() == 0,
                30,
                "every outbox entry settled as sent",
            )

        calls = Counter(s["metadata"] for s in box.sends() if s["metadata"] in metadata)
        accepted_calls = Counter(s["metadata"] for s in accepted())
        on_phone = Counter(text for psid in box.psids for text in box.phone_texts(psid))
    texts = [reply.text for reply in replies]
    expected = Counter(texts)
    tally = Tally(
        fault="worker SIGKILL mid-send",
        backend=backend,
        sent=len(replies),
        stored=sum(calls.values()),
        processed=sum(on_phone[text] for text in expected),
        duplicates=sum(n - 1 for n in accepted_calls.values() if n > 1)
        + sum(max(0, on_phone[t] - n) for t, n in expected.items()),
        lost=sum(1 for t, n in expected.items() if on_phone[t] < n),
        seconds=time.monotonic() - started,
        note=f"killed with {HELD} calls held, {sent_at_kill} accepted before",
    )
    tally.record()
    assert (tally.duplicates, tally.lost) == (0, 0)
    assert all(n == 1 for n in calls.values()), "a message was sent to the Send API twice"
    assert tally.processed == len(replies)
    for reply in replies:
        reply.refresh_from_db()
        assert reply.status in PROVEN and reply.failed_reason == ""
