"""``pagedesk.inbox.ingest_sql``: the job's plain-SQL statements read and write what the
ORM would, on either database (order, conversions, the rows they leave alone)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction
from django.utils import timezone

from pagedesk.core.actions import do_create_workspace
from pagedesk.core.models import RawWebhook
from pagedesk.inbox import ingest_sql
from pagedesk.inbox.models import InboundEvent, Message
from tests.inbox import bodies as b
from tests.inbox.conftest import Pages, drain


def _raw(*, split: bool = False, error: str = "", status: str = "accepted") -> RawWebhook:
    body = b.envelope(b.text("7300000000000000", "hi", b.T0))
    return RawWebhook.objects.create(
        status=status,
        signature_valid=True,
        page_ids=b.FB_PAGE_ID,
        body=body,
        body_size=len(body),
        error=error,
        split_at=timezone.now() if split else None,
    )


def _event(
    raw: RawWebhook, pages: Pages, index: int, thread: str, **fields: object
) -> InboundEvent:
    defaults: dict[str, object] = {
        "workspace": pages.workspace,
        "channel": pages.facebook,
        "kind": "message",
        "page_id": b.FB_PAGE_ID,
        "payload": {"message": {"mid": f"m_{index}", "text": "ünïcödé 🚲"}},
        "last_error": "an earlier try failed",
    }
    return InboundEvent.objects.create(
        raw_webhook=raw, index=index, thread_key=thread, **(defaults | fields)
    )


def test_pending_events_come_in_processing_order_with_their_values(pages: Pages) -> None:
    raw = _raw(split=True)
    no_time = _event(raw, pages, 0, "a", timestamp_ms=None)
    late = _event(raw, pages, 1, "a", timestamp_ms=2000)
    early = _event(raw, pages, 2, "a", timestamp_ms=1000)
    same_time = _event(raw, pages, 3, "a", timestamp_ms=1000)
    other_thread = _event(raw, pages, 4, "b", timestamp_ms=5)
    _event(raw, pages, 5, "a", timestamp_ms=1, state=InboundEvent.State.DONE)
    _event(raw, pages, 6, "c", timestamp_ms=1)  # a thread not asked for
    _event(raw, pages, 7, "a", timestamp_ms=1, channel=pages.second)  # another channel
    retry_at = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    InboundEvent.objects.filter(pk=late.pk).update(next_attempt_at=retry_at, attempts=2)

    lanes = [(pages.facebook.pk, "a"), (pages.facebook.pk, "b")]
    found = ingest_sql.pending_events(lanes, 10)

    assert [e.pk for e in found] == [early.pk, same_time.pk, late.pk, no_time.pk, other_thread.pk]
    first_late = found[2]
    assert first_late.payload == {"message": {"mid": "m_1", "text": "ünïcödé 🚲"}}
    assert first_late.next_attempt_at == retry_at
    assert first_late.attempts == 2
    assert first_late.is_standby is False
    assert "last_error" in first_late.get_deferred_fields()
    assert [e.pk for e in ingest_sql.pending_events(lanes, 2)] == [early.pk, same_time.pk]
    assert ingest_sql.pending_events([], 10) == []


def test_has_work_sees_a_waiting_delivery_or_its_own_unprocessed_events(pages: Pages) -> None:
    done = _raw(split=True)
    assert not ingest_sql.has_work(done.pk)
    pending = _event(done, pages, 0, "a")
    assert ingest_sql.has_work(done.pk)  # split by a run that did not get to its events
    InboundEvent.objects.filter(pk=pending.pk).update(state=InboundEvent.State.DONE)
    assert not ingest_sql.has_work(done.pk)
    _raw(status="bad_signature")  # never split: rejected rows are not work
    assert not ingest_sql.has_work(done.pk)
    _raw()
    assert ingest_sql.has_work(done.pk)  # another delivery waits: this job takes it along


def test_a_span_is_the_own_delivery_then_the_oldest_waiting(pages: Pages) -> None:
    waiting = [_raw() for _ in range(4)]
    _raw(split=True)
    _raw(status="bad_signature")
    own = waiting[2]
    with transaction.atomic():
        span = ingest_sql.lock_span(own.pk, 3)
    assert [r.pk for r in span] == [own.pk, waiting[0].pk, waiting[1].pk]
    assert bytes(span[0].body) == bytes(own.body)
    assert span[0].split_at is None

    own_split = _raw(split=True)  # its events still wait: it does not count in the span
    with transaction.atomic():
        span = ingest_sql.lock_span(own_split.pk, 2)
    assert [r.pk for r in span] == [own_split.pk, waiting[0].pk, waiting[1].pk]
    assert span[0].split_at is not None
    rejected = RawWebhook.objects.get(status="bad_signature")  # not accepted: not taken
    with transaction.atomic():
        assert [r.pk for r in ingest_sql.lock_span(rejected.pk, 1)] == [waiting[0].pk]


def test_mark_split_records_the_outcome_and_keeps_the_edges_note(pages: Pages) -> None:
    noted, plain, other = _raw(error="noted by the edge"), _raw(), _raw()
    at = datetime(2026, 11, 26, 17, 30, 1, 123456, tzinfo=UTC)
    ingest_sql.mark_split([noted.pk, plain.pk], count=2, kinds="message x2", at=at, error="")
    for row in RawWebhook.objects.filter(pk__in=[noted.pk, plain.pk]):
        assert (row.event_count, row.event_kinds, row.split_at) == (2, "message x2", at)
    assert RawWebhook.objects.get(pk=noted.pk).error == "noted by the edge"
    assert RawWebhook.objects.filter(split_at=at).count() == 2  # compared in the database
    assert RawWebhook.objects.get(pk=other.pk).split_at is None

    ingest_sql.mark_split([other.pk], count=0, kinds="", at=at, error="not processed: empty")
    assert RawWebhook.objects.get(pk=other.pk).error == "not processed: empty"


def test_channels_and_stored_mids(pages: Pages, pagedesk_server: str, task_queue: object) -> None:
    by_page = ingest_sql.channels("page_id", [b.FB_PAGE_ID, "999"])
    assert [(c.pk, c.workspace_id, c.kind) for c in by_page] == [
        (pages.facebook.pk, pages.workspace.pk, "facebook")
    ]
    assert "page_access_token" in by_page[0].get_deferred_fields()  # not decrypted
    assert {c.pk for c in ingest_sql.channels("id", [pages.second.pk, pages.instagram.pk])} == {
        pages.second.pk,
        pages.instagram.pk,
    }
    with pytest.raises(ValueError, match="by id or page_id"):
        ingest_sql.channels("name; DROP TABLE core_channel", ["x"])  # type: ignore[arg-type]

    b.post(pagedesk_server, b.envelope(b.text("7300000000000000", "hello", b.T0)))
    drain(task_queue)
    (mid,) = Message.objects.values_list("mid", flat=True)
    assert ingest_sql.stored_mids(pages.workspace.pk, [mid, "m_never_seen"]) == [mid]
    other = do_create_workspace(name="Globex", owner_email="owner@globex.test")
    assert ingest_sql.stored_mids(other.pk, [mid]) == []
