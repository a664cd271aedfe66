"""``pagedesk.core.inserts.insert`` stores what ``bulk_create`` stores, on either database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from django.db.models import Model

from pagedesk.core import inserts
from pagedesk.core.models import RawWebhook
from pagedesk.inbox.models import Contact, Conversation, InboundEvent, Message
from pagedesk.live.models import LiveEvent
from tests.inbox import bodies as b
from tests.inbox.conftest import Pages

AWKWARD_TEXT = [
    "plain",
    "",
    'it\'s a "quote", a back\\slash and %s, %(name)s',
    "line one\nline two\ttab",
    "Ünïcödé, 日本語, emoji 🚲, RTL عربى",
    "'); DROP TABLE inbox_message; --",
]
KOLKATA = timezone(timedelta(hours=5, minutes=30))


def _messages(conversation: Conversation, prefix: str) -> list[Message]:
    return [
        Message(
            workspace_id=conversation.workspace_id,
            conversation=conversation,
            contact=conversation.contact if n % 2 else None,
            direction=Message.Direction.INBOUND if n % 3 else Message.Direction.OUTBOUND,
            kind=Message.Kind.MESSAGE,
            mid=f"{prefix}{n}" if n != 4 else None,
            dedupe_key=f"{prefix}-key" if n == 4 else None,
            text=text,
            quick_reply_payload="QR" if n == 1 else "",
            data={"n": n, "nested": {"text": text, "list": [1, None, True]}} if n else {},
            status=Message.Status.RECEIVED,
            timestamp_ms=1_780_000_000_000 + n,
            sent_at=datetime(2026, 5, 28, 20, 26, 41, 1000 * n, tzinfo=KOLKATA if n % 2 else UTC),
            edit_count=n,
            edited_at=datetime(2026, 5, 29, tzinfo=UTC) if n == 2 else None,
        )
        for n, text in enumerate(AWKWARD_TEXT)
    ]


def _stored(model: type[Model], ids: list[int], leave_out: set[str]) -> list[dict[str, Any]]:
    rows = {row["id"]: row for row in model.objects.filter(pk__in=ids).values()}  # type: ignore[attr-defined]
    return [{k: v for k, v in rows[pk].items() if k not in leave_out} for pk in ids]


def test_messages_events_and_live_events_read_back_as_bulk_create_wrote_them(
    pages: Pages,
) -> None:
    channel = pages.facebook
    contact = Contact.objects.create(workspace=channel.workspace, channel=channel, psid="7001")
    conversation = Conversation.objects.create(
        workspace=channel.workspace, channel=channel, contact=contact, thread_key="7001"
    )
    by_django, by_us = _messages(conversation, "dj"), _messages(conversation, "us")
    Message.objects.bulk_create(by_django)
    inserts.insert(by_us)
    assert all(m.pk and not m._state.adding for m in by_us)
    assert [m.pk for m in by_us] == sorted(m.pk for m in by_us)  # ids in the given order
    assert [m.text for m in Message.objects.filter(pk__in=[m.pk for m in by_us])] == AWKWARD_TEXT
    leave_out = {"id", "mid", "dedupe_key", "created_at"}
    expected = _stored(Message, [m.pk for m in by_django], leave_out)
    assert _stored(Message, [m.pk for m in by_us], leave_out) == expected
    assert all(m.created_at is not None for m in by_us)

    raw = RawWebhook.objects.create(status=RawWebhook.Status.ACCEPTED, body=b"{}", body_size=2)
    events = [
        InboundEvent(
            raw_webhook=raw,
            index=n,
            workspace_id=channel.workspace_id,
            channel=channel,
            thread_key="7001",
            kind="message",
            page_id=b.FB_PAGE_ID,
            is_standby=bool(n % 2),
            timestamp_ms=None if n == 3 else n,
            payload={"message": {"text": text}},
            state=InboundEvent.State.DONE if n % 2 else InboundEvent.State.PENDING,
        )
        for n, text in enumerate(AWKWARD_TEXT)
    ]
    inserts.insert(events, ignore_conflicts=True)
    again = InboundEvent(
        raw_webhook=raw,
        index=0,  # the same (delivery, index) as the first
        workspace_id=channel.workspace_id,
        channel=channel,
        thread_key="7001",
        kind="message",
        page_id=b.FB_PAGE_ID,
        payload={"other": True},
    )
    inserts.insert([again], ignore_conflicts=True)  # skipped, not an error
    stored = list(InboundEvent.objects.filter(raw_webhook=raw).order_by("index"))
    assert [e.payload for e in stored] == [{"message": {"text": t}} for t in AWKWARD_TEXT]
    assert [e.timestamp_ms for e in stored] == [0, 1, 2, None, 4, 5]
    assert [e.is_standby for e in stored] == [False, True, False, True, False, True]
    assert [e.state for e in stored] == ["pending", "done"] * 3

    live = [
        LiveEvent(workspace_id=channel.workspace_id, kind="note.created", data={"t": t})
        for t in AWKWARD_TEXT
    ]
    inserts.insert(live)
    assert [
        e.data for e in LiveEvent.objects.filter(pk__in=[e.pk for e in live]).order_by("id")
    ] == [{"t": t} for t in AWKWARD_TEXT]
