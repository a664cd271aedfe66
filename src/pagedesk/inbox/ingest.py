"""Ingestion: raw deliveries → events → contacts, conversations, messages.

Two steps, both idempotent:

1. ``do_split_webhook`` turns an accepted RawWebhook into one InboundEvent row per
   event (unique by delivery and index), in one transaction.
2. ``do_process_lane`` processes the pending events of one thread in Meta's order
   (timestamp, then arrival), one transaction per event, holding the thread's lane
   row so two workers never interleave a thread. A failing event is retried with
   backoff and, after ``PAGEDESK_INGEST_MAX_ATTEMPTS``, parked as dead (visible,
   replayable) so the rest of the thread can go on.

A worker killed at any point leaves either a committed event or a pending one; the
sweeper (see tasks) re-enqueues whatever is pending, and the unique keys on Meta's
ids turn a second run into a no-op.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from pagedesk.core.models import Channel, RawWebhook
from pagedesk.inbox import handlers
from pagedesk.inbox.models import InboundEvent, ThreadLane
from pagedesk.messenger.webhook import WebhookParseError, container_of, parse_webhook

log = logging.getLogger(__name__)

LANE_BATCH = 500  # events handled per task run before yielding to other lanes


def do_split_webhook(*, raw_webhook_id: int) -> list[tuple[int, str]]:
    """Split an accepted RawWebhook into InboundEvents (idempotent); returns its lanes."""
    with transaction.atomic():
        raw = (
            RawWebhook.objects.select_for_update()
            .filter(pk=raw_webhook_id, status=RawWebhook.Status.ACCEPTED)
            .first()
        )
        if raw is None:
            return []
        if raw.split_at is None:
            _split(raw)
    return list(
        InboundEvent.objects.filter(raw_webhook_id=raw_webhook_id, state=InboundEvent.State.PENDING)
        .values_list("channel_id", "thread_key")
        .distinct()
    )


def _split(raw: RawWebhook) -> None:
    try:
        batch = parse_webhook(bytes(raw.body))
    except WebhookParseError as exc:
        raw.error = f"not processed: {exc}"
        raw.split_at = timezone.now()
        raw.save(update_fields=["error", "split_at"])
        return
    channels = {
        c.page_id: c for c in Channel.objects.filter(page_id__in={e.page_id for e in batch})
    }
    rows, kinds, unknown = [], Counter[str](), set()
    for index, event in enumerate(batch):
        channel = channels.get(event.page_id)
        if channel is None:  # the channel was removed after the delivery was accepted
            unknown.add(event.page_id)
            continue
        kinds[event.kind.value] += 1
        rows.append(
            InboundEvent(
                raw_webhook=raw,
                index=index,
                workspace_id=channel.workspace_id,
                channel=channel,
                thread_key=handlers.lane_key(event),
                kind=event.kind.value,
                object=event.object,
                page_id=event.page_id,
                container=container_of(event),
                is_standby=event.is_standby,
                timestamp_ms=event.timestamp,
                payload=event.raw,
            )
        )
    InboundEvent.objects.bulk_create(rows, ignore_conflicts=True)
    raw.event_count = len(rows)
    raw.event_kinds = ", ".join(
        f"{kind} x{n}" if n > 1 else kind for kind, n in sorted(kinds.items())
    )[:1024]
    if unknown:
        raw.error = f"events for unconnected page(s) {sorted(unknown)} were skipped"
    raw.split_at = timezone.now()
    raw.save(update_fields=["event_count", "event_kinds", "error", "split_at"])


def do_process_lane(*, channel_id: int, thread_key: str) -> float | None:
    """Process a thread's pending events in order; seconds until a retry is due, or None."""
    ThreadLane.objects.get_or_create(channel_id=channel_id, thread_key=thread_key)
    for _ in range(LANE_BATCH):
        outcome = _process_next(channel_id, thread_key)
        if outcome is None:
            return None
        if outcome > 0:
            return outcome
    return 0.0  # more to do: come back at once, after other lanes had a turn


def _process_next(channel_id: int, thread_key: str) -> float | None:
    """Handle the lane's next event. None: nothing left; 0: handled; > 0: retry in N s."""
    now = timezone.now()
    with transaction.atomic():
        ThreadLane.objects.select_for_update().get(channel_id=channel_id, thread_key=thread_key)
        event = (
            InboundEvent.objects.select_for_update()
            .filter(channel_id=channel_id, thread_key=thread_key, state=InboundEvent.State.PENDING)
            .order_by("timestamp_ms", "id")
            .first()
        )
        if event is None:
            return None
        if event.next_attempt_at and event.next_attempt_at > now:
            # Order first: later events of this thread wait for this one's retry.
            return max((event.next_attempt_at - now).total_seconds(), 0.05)
        try:
            with transaction.atomic():
                handlers.handle(event)
        except Exception as exc:  # recorded on the event; the lane moves on or retries
            return _record_failure(event, exc, now)
        event.state = InboundEvent.State.DONE
        event.processed_at = now
        event.last_error = ""
        event.save(update_fields=["state", "processed_at", "last_error"])
    return 0.0


def _record_failure(event: InboundEvent, exc: Exception, now: object) -> float:
    event.attempts += 1
    event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if event.attempts >= settings.PAGEDESK_INGEST_MAX_ATTEMPTS:
        event.state = InboundEvent.State.DEAD
        event.next_attempt_at = None
        log.error("event %s is dead after %s attempts: %s", event.pk, event.attempts, exc)
        delay = 0.0
    else:
        delay = min(2.0**event.attempts, 300.0)
        event.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        log.warning("event %s failed (attempt %s), retry in %.0fs", event.pk, event.attempts, delay)
    event.save(update_fields=["attempts", "last_error", "state", "next_attempt_at"])
    return delay


def do_fetch_contact_profile(*, contact_id: int) -> None:
    handlers.fetch_contact_profile(contact_id=contact_id)


def do_download_attachment(*, attachment_id: int) -> None:
    handlers.download_attachment(attachment_id=attachment_id)


def unsplit_webhook_ids(*, older_than_seconds: int) -> list[int]:
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        RawWebhook.objects.filter(
            status=RawWebhook.Status.ACCEPTED, split_at__isnull=True, received_at__lte=cutoff
        )
        .order_by("id")
        .values_list("pk", flat=True)[:1000]
    )


def stuck_lanes(*, older_than_seconds: int) -> list[tuple[int, str]]:
    """Lanes with pending events that are due and have waited longer than the cut-off."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=older_than_seconds)
    return list(
        InboundEvent.objects.filter(state=InboundEvent.State.PENDING, created_at__lte=cutoff)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .values("channel_id", "thread_key")
        .annotate(first=Min("id"))
        .order_by("first")
        .values_list("channel_id", "thread_key")[:1000]
    )


def replay_events(*, event_ids: list[int] | None = None, failed: bool = False) -> int:
    """Put dead (or named) events back to pending and enqueue their lanes; returns how many."""
    from pagedesk.inbox.tasks import process_thread

    query = InboundEvent.objects.all()
    if event_ids:
        query = query.filter(pk__in=event_ids)
    elif failed:
        query = query.filter(state=InboundEvent.State.DEAD)
    else:
        return 0
    with transaction.atomic():
        lanes = set(query.values_list("channel_id", "thread_key"))
        count = query.update(
            state=InboundEvent.State.PENDING, attempts=0, next_attempt_at=None, processed_at=None
        )

        def enqueue() -> None:
            for channel_id, thread_key in sorted(lanes):
                process_thread(channel_id, thread_key)

        transaction.on_commit(enqueue)
    return count
