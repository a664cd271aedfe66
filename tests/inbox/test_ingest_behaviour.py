"""At-least-once, out-of-order, batched delivery: exactly-once, ordered results."""

from __future__ import annotations

import pytest

from pagedesk.inbox import handlers
from pagedesk.inbox.ingest import replay_events
from pagedesk.inbox.models import Conversation, InboundEvent, Message
from tests.inbox import bodies as b
from tests.inbox.conftest import Pages, drain

ADA, BOB, CAROL = "7000000000000001", "7000000000000002", "7000000000000003"


def test_batch_of_100_events_in_one_post_lands_in_order_per_conversation(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    customers = [f"71000000000000{n:02d}" for n in range(10)]
    events = [b.text(customers[i % 10], f"message {i // 10}", b.T0 + i) for i in range(100)]
    b.post(pagedesk_server, b.envelope(*events))
    drain(task_queue)
    assert Conversation.objects.count() == 10
    assert Message.objects.count() == 100
    for conversation in Conversation.objects.all():
        texts = list(conversation.messages.values_list("text", flat=True))
        assert texts == [f"message {n}" for n in range(10)]
        assert conversation.unread_count == 10


def test_more_events_than_a_batch_wait_their_turn_in_order(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    """A job handles a batch of events; the rest of what it split is stored pending
    and its threads run again, still in order behind what the batch handled."""
    customers = [f"71100000000000{n:02d}" for n in range(3)]
    # Meta's times run backwards across the delivery: order comes from them, not arrival.
    events = [b.text(customers[i % 3], f"message {i // 3}", b.T0 - i) for i in range(150)]
    b.post(pagedesk_server, b.envelope(*events))
    ran = drain(task_queue)
    assert "process_thread" in ran  # the batch could not take them all
    assert not InboundEvent.objects.exclude(state=InboundEvent.State.DONE).exists()
    assert InboundEvent.objects.count() == Message.objects.count() == 150
    for conversation in Conversation.objects.all():
        texts = list(conversation.messages.order_by("id").values_list("text", flat=True))
        assert texts == [f"message {n}" for n in reversed(range(50))]
        assert conversation.unread_count == 50


def test_duplicate_and_reordered_deliveries(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    first, second, third = (b.text(ADA, f"part {n}", b.T0 + n * 1000) for n in (1, 2, 3))
    for event in (third, first, second, first, third):  # out of order, twice
        b.post(pagedesk_server, b.envelope(event))
    drain(task_queue)
    conversation = Conversation.objects.get()
    assert list(conversation.messages.values_list("text", flat=True)) == [
        "part 1",
        "part 2",
        "part 3",
    ]
    assert conversation.unread_count == 3


def test_receipt_before_the_echo_it_confirms(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    b.post(pagedesk_server, b.envelope(b.text(ADA, "hello?", b.T0)))
    reply_mid, later_mid = b.mid(), b.mid()
    # delivery (by mid) and read (by watermark) arrive before the echoes
    b.post(
        pagedesk_server,
        b.envelope(b.receipt(ADA, "delivery", b.T0 + 5000, b.T0 + 1500, [later_mid])),
    )
    b.post(pagedesk_server, b.envelope(b.receipt(ADA, "read", b.T0 + 6000, b.T0 + 1100)))
    b.post(pagedesk_server, b.envelope(b.echo(ADA, "Hi Ada!", b.T0 + 1000, reply_mid)))
    b.post(pagedesk_server, b.envelope(b.echo(ADA, "How can I help?", b.T0 + 1200, later_mid)))
    drain(task_queue)
    statuses = dict(Message.objects.filter(direction="out").values_list("text", "status"))
    assert statuses == {"Hi Ada!": "read", "How can I help?": "delivered"}


def test_receipts_only_touch_their_own_conversation(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    b.post(
        pagedesk_server,
        b.envelope(
            b.echo(ADA, "to Ada", b.T0 + 10, b.mid()),
            b.echo(BOB, "to Bob", b.T0 + 10, b.mid()),
            b.receipt(ADA, "read", b.T0 + 50, b.T0 + 40),
        ),
    )
    drain(task_queue)
    statuses = dict(Message.objects.values_list("text", "status"))
    assert statuses == {"to Ada": "read", "to Bob": "sent"}


def test_echo_of_our_own_send_is_matched_to_the_outbox_row(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    b.post(pagedesk_server, b.envelope(b.text(ADA, "hi", b.T0)))
    drain(task_queue)
    conversation = Conversation.objects.get()
    queued = Message.objects.create(
        workspace=pages.workspace,
        conversation=conversation,
        direction="out",
        text="Our reply",
        status="queued",
        timestamp_ms=b.T0 + 100,
        sent_at=conversation.created_at,
    )
    echo_mid = b.mid()
    b.post(
        pagedesk_server,
        b.envelope(
            b.echo(ADA, "Our reply", b.T0 + 200, echo_mid, metadata=f"pagedesk:{queued.pk}")
        ),
    )
    drain(task_queue)
    queued.refresh_from_db()
    assert (queued.mid, queued.status) == (echo_mid, "sent")
    assert Message.objects.filter(direction="out").count() == 1  # no second row


def test_group_thread_collects_participants(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    group = {"thread": {"id": "t_1000000000000042"}}
    b.post(
        pagedesk_server,
        b.envelope(
            b.text(ADA, "Can we book for three?", b.T0, **group),
            b.text(BOB, "And a child seat please", b.T0 + 10, **group),
            b.text(CAROL, "separate question", b.T0 + 20),
        ),
    )
    drain(task_queue)
    group_conversation = Conversation.objects.get(is_group=True)
    assert group_conversation.thread_key == "t_1000000000000042"
    assert sorted(p.psid for p in group_conversation.participants.all()) == [ADA, BOB]
    assert group_conversation.messages.count() == 2
    assert Conversation.objects.filter(is_group=False).get().contact.psid == CAROL


def test_failing_event_goes_dead_after_retries_and_replays(
    pages: Pages,
    pagedesk_server: str,
    task_queue: object,
    monkeypatch: pytest.MonkeyPatch,
    settings,
) -> None:
    settings.PAGEDESK_INGEST_MAX_ATTEMPTS = 3
    real = handlers.HANDLERS[handlers.EventKind.MESSAGE]

    def broken(context: object) -> None:
        raise RuntimeError("database hiccup")

    monkeypatch.setitem(handlers.HANDLERS, handlers.EventKind.MESSAGE, broken)
    b.post(
        pagedesk_server, b.envelope(b.text(ADA, "will fail", b.T0), b.text(BOB, "also", b.T0 + 1))
    )
    for _ in range(3):
        drain(task_queue)
        InboundEvent.objects.filter(state="pending").update(next_attempt_at=None)
        from pagedesk.inbox.tasks import _sweep

        _sweep(older_than_seconds=0)
    drain(task_queue)
    dead = InboundEvent.objects.filter(state="dead")
    assert dead.count() == 2
    assert all("database hiccup" in e.last_error and e.attempts == 3 for e in dead)
    assert Message.objects.count() == 0

    monkeypatch.setitem(handlers.HANDLERS, handlers.EventKind.MESSAGE, real)
    assert replay_events(failed=True) == 2
    drain(task_queue)
    assert InboundEvent.objects.filter(state="done").count() == 2
    assert sorted(Message.objects.values_list("text", flat=True)) == ["also", "will fail"]


def test_profile_is_fetched_for_new_contacts_and_refreshed_when_old(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from pagedesk.inbox.models import Contact

    b.post(pagedesk_server, b.envelope(b.text(ADA, "one", b.T0)))
    assert drain(task_queue).count("fetch_contact_profile") == 1
    Contact.objects.update(profile_fetched_at=timezone.now(), profile_status="ok")
    b.post(pagedesk_server, b.envelope(b.text(ADA, "two", b.T0 + 1)))
    assert "fetch_contact_profile" not in drain(task_queue)
    Contact.objects.update(profile_fetched_at=timezone.now() - timedelta(days=8))
    b.post(pagedesk_server, b.envelope(b.text(ADA, "three", b.T0 + 2)))
    assert "fetch_contact_profile" in drain(task_queue)


def test_ingestion_tells_agents_screens_what_changed(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    from pagedesk.live.models import LiveEvent

    reply_mid = b.mid()
    b.post(pagedesk_server, b.envelope(b.text(ADA, "hi", b.T0)))
    b.post(pagedesk_server, b.envelope(b.echo(ADA, "hello!", b.T0 + 10, reply_mid)))
    b.post(pagedesk_server, b.envelope(b.receipt(ADA, "read", b.T0 + 20, b.T0 + 10)))
    drain(task_queue)
    conversation = Conversation.objects.get()
    events = [(e.kind, e.data) for e in LiveEvent.objects.order_by("id")]
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "conversation.created"
    assert kinds.count("message.created") == 2
    reply = Message.objects.get(mid=reply_mid)
    assert (
        "message.updated",
        {"conversation_id": conversation.pk, "message_ids": [reply.pk], "status": "read"},
    ) in events
    assert all(data["conversation_id"] == conversation.pk for _, data in events)
    # a second delivery of the same events changes nothing, so tells nobody anything
    count = LiveEvent.objects.count()
    b.post(
        pagedesk_server,
        b.envelope(b.text(ADA, "hi", b.T0, mid_=Message.objects.get(direction="in").mid)),
    )
    drain(task_queue)
    assert LiveEvent.objects.count() == count


def test_a_message_repeated_within_one_batch_is_stored_once(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    """A batch reads up front which mids are stored; one it stores itself counts too."""
    b.post(pagedesk_server, b.envelope(b.text(ADA, "first", b.T0)))
    drain(task_queue)
    again = b.text(ADA, "again?", b.T0 + 1000)
    # Twice in one delivery, once more in a delivery the first job takes along, and a
    # new conversation whose first two messages share the batch.
    b.post(pagedesk_server, b.envelope(again, again, b.text(BOB, "hi", b.T0 + 1001)))
    b.post(pagedesk_server, b.envelope(again, b.text(BOB, "anyone?", b.T0 + 1002)))
    drain(task_queue)
    ada = Conversation.objects.get(thread_key=ADA)
    assert list(ada.messages.values_list("text", flat=True)) == ["first", "again?"]
    assert ada.unread_count == 2
    bob = Conversation.objects.get(thread_key=BOB)
    assert list(bob.messages.values_list("text", flat=True)) == ["hi", "anyone?"]
    assert bob.unread_count == 2
    assert bob.last_customer_message_at is not None
    assert bob.last_customer_message_at.timestamp() == (b.T0 + 1002) / 1000


def test_a_job_whose_delivery_another_worker_holds_moves_on_without_waiting(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    """PostgreSQL: the holder took the delivery along and splits it; the job does not
    wait for that batch only to find the work done."""
    from django.db import connection

    from pagedesk.core.models import RawWebhook
    from pagedesk.inbox.ingest import do_ingest_webhook

    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only (SQLite has one writer at a time)")
    import psycopg

    b.post(pagedesk_server, b.envelope(b.text(ADA, "held", b.T0)))
    with connection.cursor() as cursor:  # waiting would fail the test, not hang it
        cursor.execute("SET lock_timeout = '5s'")
    raw_id = RawWebhook.objects.get().pk
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        autocommit=False,
    ) as other_worker:
        other_worker.execute("SELECT 1 FROM core_rawwebhook WHERE id = %s FOR UPDATE", [raw_id])
        assert do_ingest_webhook(raw_webhook_id=raw_id) == {}  # at once, nothing done
        assert not Message.objects.exists()
        other_worker.rollback()  # the holder failed: its delivery is still to do
    drain(task_queue)
    assert list(Message.objects.values_list("text", flat=True)) == ["held"]


def test_a_late_older_message_does_not_move_the_window_back(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    """Meta may deliver an older message after a newer one has been processed: the
    conversation keeps the newest times (compared in the database), counts both as
    unread, and a done conversation reopens."""
    b.post(pagedesk_server, b.envelope(b.text(ADA, "newer", b.T0 + 2000)))
    drain(task_queue)
    Conversation.objects.update(status=Conversation.Status.DONE)
    b.post(pagedesk_server, b.envelope(b.text(ADA, "older", b.T0 + 1000)))
    drain(task_queue)
    conversation = Conversation.objects.get()
    assert conversation.last_customer_message_at is not None
    assert conversation.last_customer_message_at.timestamp() == (b.T0 + 2000) / 1000
    assert conversation.last_message_at == conversation.last_customer_message_at
    assert conversation.unread_count == 2
    assert conversation.status == Conversation.Status.OPEN
