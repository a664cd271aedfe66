"""Ingestion: raw deliveries → events → contacts, conversations, messages.

Two steps, both idempotent:

1. Split: an accepted RawWebhook becomes one InboundEvent row per event (unique by
   delivery and index).
2. Process: the pending events of a thread run in Meta's order (timestamp, then
   arrival), holding the thread's lane so two workers never interleave a thread.

The fast path (``do_ingest_webhook``, ``do_process_lane``) does a batch of events in
one transaction: the split of a delivery and the events of every thread it touches,
or a lane's pending events, up to ``BATCH`` of them. That keeps every guarantee of
one transaction per event (a batch commits all its events with their live events,
or none; a second run is a no-op thanks to the unique keys on Meta's ids) at a
fraction of the cost. What a batch's message events read of the database (stored
mids, their conversations) is read up front, once (``pagedesk.inbox.read_ahead``).
The statements every job runs, whatever its size, are plain SQL
(``pagedesk.inbox.ingest_sql``): building them cost more than running them.
If a handler raises, the whole batch rolls back and is redone
one event per transaction (``_process_event_by_event``), where the failing event is
retried with backoff and, after ``PAGEDESK_INGEST_MAX_ATTEMPTS``, parked as dead
(visible, replayable) so the rest of the thread can go on.

Lanes: on PostgreSQL a ThreadLane row is locked per thread (in one sorted order, so
two batches never deadlock). SQLite needs none: pagedesk's transactions take the
database's single write lock at ``BEGIN``, so two transactions never overlap.

A worker killed at any point leaves either committed events or pending ones; the
sweeper (see tasks) re-enqueues whatever is pending.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from pagedesk.core import inserts
from pagedesk.core.models import Channel, RawWebhook
from pagedesk.edge.write_turns import write_turn
from pagedesk.inbox import handlers, ingest_sql
from pagedesk.inbox.models import InboundEvent
from pagedesk.live import emit as live
from pagedesk.messenger.events import EventKind, WebhookEvent
from pagedesk.messenger.webhook import WebhookParseError, container_of, parse_webhook

log = logging.getLogger(__name__)

Lane = tuple[int, str]  # (channel id, thread key)
Parsed = dict[tuple[int, int], WebhookEvent]  # (raw webhook id, index) → its event
BATCH = 100  # events per transaction at most (on SQLite the write lock is held that long)
JOB_SPAN = BATCH  # deliveries a job splits and processes at most (see do_ingest_webhook)
LANE_BATCH = 500  # events handled one by one per task run before yielding to other lanes


class _HandlerFailed(Exception):
    """A handler raised inside a batch: the batch is rolled back and redone event by event."""


def do_ingest_webhook(*, raw_webhook_id: int) -> dict[Lane, float]:
    """Split an accepted delivery and process the threads it touches.

    A job does a span of deliveries (``JOB_SPAN``): its own, if not done yet, and
    the oldest others waiting to be split, so that the cost of a transaction is
    shared by more events when the worker falls behind. The edge therefore queues
    one job per span of deliveries it stores (``pagedesk.edge.jobs``), and the
    count adds up: every job takes a full span while any delivery waits. (A delivery
    whose job was lost is swept up by the next job too.) Returns the lanes to run
    again, with the seconds to wait (0: more to do).
    """
    if not ingest_sql.has_work(raw_webhook_id):  # a cheap read, no write lock: the common no-op
        return {}
    raw_ids = [raw_webhook_id]
    try:
        with write_turn(), transaction.atomic():
            raws = ingest_sql.lock_span(raw_webhook_id, JOB_SPAN)
            raw_ids = [raw.pk for raw in raws]
            split = _Split()
            for raw in raws:
                if raw.split_at is None:
                    split.add(raw)
                else:  # split before, by a run that did not get to process it
                    split.lanes.update(dict.fromkeys(_pending_lanes(raw.pk)))
            split.mark_split()
            channels = {c.pk: c for c in split.channels.values() if c is not None}
            return _process_batch(list(split.lanes), split.parsed, channels, split.take_rows())
    except _HandlerFailed:
        pass
    later: dict[Lane, float] = {}
    for raw_id in raw_ids:
        for channel_id, thread_key in do_split_webhook(raw_webhook_id=raw_id):
            retry_in = _process_event_by_event(channel_id, thread_key)
            if retry_in is not None:
                later[(channel_id, thread_key)] = retry_in
    return later


def do_split_webhook(*, raw_webhook_id: int) -> list[Lane]:
    """Split an accepted RawWebhook into InboundEvents (idempotent); returns its lanes."""
    with write_turn(), transaction.atomic():
        raw = _lock_raw(raw_webhook_id)
        if raw is None:
            return []
        if raw.split_at is None:
            split = _Split()
            split.add(raw)
            split.save()
    return _pending_lanes(raw_webhook_id)


def _lock_raw(raw_webhook_id: int) -> RawWebhook | None:
    found = (
        RawWebhook.objects.select_for_update()
        .filter(pk=raw_webhook_id, status=RawWebhook.Status.ACCEPTED)
        .only("id", "body", "split_at", "error")[:1]
    )
    return next(iter(found), None)


def _pending_lanes(raw_webhook_id: int) -> list[Lane]:
    return list(
        InboundEvent.objects.filter(raw_webhook_id=raw_webhook_id, state=InboundEvent.State.PENDING)
        .values_list("channel_id", "thread_key")
        .distinct()
    )


class _Split:
    """Deliveries being split in one transaction: their events, lanes and channels."""

    def __init__(self) -> None:
        self.rows: list[InboundEvent] = []
        self.lanes: dict[Lane, None] = {}  # in order of appearance
        self.parsed: Parsed = {}
        self.channels: dict[str, Channel | None] = {}  # by page id; None: not connected
        self.outcomes: dict[tuple[int, str, str], list[int]] = {}  # (count, kinds, error) → raws

    def add(self, raw: RawWebhook) -> None:
        try:
            batch = parse_webhook(bytes(raw.body))
        except WebhookParseError as exc:
            self.outcomes.setdefault((0, "", f"not processed: {exc}"), []).append(raw.pk)
            return
        new_pages = {e.page_id for e in batch} - self.channels.keys()
        if new_pages:
            self.channels.update(dict.fromkeys(new_pages))
            self.channels.update((c.page_id, c) for c in ingest_sql.channels("page_id", new_pages))
        kinds, unknown = Counter[str](), set()
        count = 0
        for index, event in enumerate(batch):
            channel = self.channels[event.page_id]
            if channel is None:  # the channel was removed after the delivery was accepted
                unknown.add(event.page_id)
                continue
            count += 1
            kinds[event.kind.value] += 1
            thread_key = handlers.lane_key(event)
            self.lanes[(channel.pk, thread_key)] = None
            self.parsed[(raw.pk, index)] = event
            self.rows.append(
                InboundEvent(
                    raw_webhook=raw,
                    index=index,
                    workspace_id=channel.workspace_id,
                    channel=channel,
                    thread_key=thread_key,
                    kind=event.kind.value,
                    object=event.object,
                    page_id=event.page_id,
                    container=container_of(event),
                    is_standby=event.is_standby,
                    timestamp_ms=event.timestamp,
                    payload=event.raw,
                )
            )
        event_kinds = ", ".join(
            f"{kind} x{n}" if n > 1 else kind for kind, n in sorted(kinds.items())
        )[:1024]
        error = f"events for unconnected page(s) {sorted(unknown)} were skipped" if unknown else ""
        self.outcomes.setdefault((count, event_kinds, error), []).append(raw.pk)

    def save(self) -> None:
        """Write the events of every delivery added in one statement, and mark the
        deliveries split."""
        InboundEvent.objects.bulk_create(self.take_rows(), ignore_conflicts=True)
        self.mark_split()

    def take_rows(self) -> list[InboundEvent]:
        """The new events, not written yet (the caller writes them)."""
        rows, self.rows = self.rows, []
        return rows

    def mark_split(self) -> None:
        """Mark the deliveries added split, in one statement per outcome (usually one:
        "message")."""
        now = timezone.now()
        for (count, event_kinds, error), raw_ids in self.outcomes.items():
            ingest_sql.mark_split(raw_ids, count=count, kinds=event_kinds, at=now, error=error)
        self.outcomes = {}


def _lock_lanes(lanes: Collection[Lane]) -> None:
    """Hold the lanes until commit. Only where rows can be locked (see the module doc)."""
    if lanes and connection.features.has_select_for_update:
        ingest_sql.lock_lanes(lanes)


def do_process_lane(*, channel_id: int, thread_key: str) -> float | None:
    """Process a thread's pending events in order; seconds until it needs another run, or None."""
    lane = (channel_id, thread_key)
    try:
        with write_turn(), transaction.atomic():
            return _process_batch([lane], {}, {}).get(lane)
    except _HandlerFailed:
        return _process_event_by_event(channel_id, thread_key)


def _process_batch(
    lanes: list[Lane],
    parsed: Parsed,
    channels: dict[int, Channel],
    new: list[InboundEvent] | None = None,
) -> dict[Lane, float]:
    """Handle the lanes' pending events, in the caller's transaction; raises _HandlerFailed.

    ``new``: events just split, not written yet. They are handled in order with the
    lanes' stored pending events, then written in one statement, those handled as
    done: each row written once, rather than written, read back and updated.

    Returns the lanes that need another run: a retry not yet due, or more than a batch.
    """
    if not lanes:
        return {}
    _lock_lanes(lanes)
    stored = ingest_sql.pending_events(lanes, BATCH + 1)
    # New rows have no id yet; theirs will be larger than any stored one's. (A stored
    # row left out by the limit comes after the last fetched, so after the cut below.)
    pending = sorted([*stored, *new], key=_lane_order) if new else stored
    later: dict[Lane, float] = {}
    if len(pending) > BATCH:
        del pending[BATCH:]
        # The last lane may be cut short, and lanes ordered after it were not reached.
        seen = {(e.channel_id, e.thread_key) for e in pending}
        last = (pending[-1].channel_id, pending[-1].thread_key)
        later = {lane: 0.0 for lane in lanes if lane not in seen or lane == last}
    reads = handlers.BatchReads(pending)
    missing = {e.channel_id for e in pending} - channels.keys()
    if missing:
        channels = {**channels, **{c.pk: c for c in ingest_sql.channels("id", missing)}}
    now = timezone.now()
    done: list[InboundEvent] = []
    live_events: list[list[live.Pending]] = []  # per event: a batched insert adds to its list
    for event in pending:
        lane = (event.channel_id, event.thread_key)
        if lane in later and later[lane] > 0:
            continue  # an earlier event of the thread waits for its retry: so do the others
        if event.next_attempt_at and event.next_attempt_at > now:
            later[lane] = max((event.next_attempt_at - now).total_seconds(), 0.05)
            continue
        event.channel = channels[event.channel_id]
        try:
            if event.kind != EventKind.MESSAGE:
                reads.flush()  # it may read the batch's new messages
            live_events.append(
                handlers.handle(event, parsed.get((event.raw_webhook_id, event.index)), reads)
            )
        except Exception as exc:
            raise _HandlerFailed from exc
        done.append(event)
    try:
        reads.flush()
    except Exception as exc:
        raise _HandlerFailed from exc
    if done_stored := [event.pk for event in done if event.pk is not None]:
        InboundEvent.objects.filter(pk__in=done_stored).update(
            state=InboundEvent.State.DONE, processed_at=now, last_error=""
        )
    for event in done:
        event.state, event.processed_at = InboundEvent.State.DONE, now
    if new:  # the rest of them wait, pending, for their lane's next run
        inserts.insert(new, ignore_conflicts=True)
    live.emit_many([e for events in live_events for e in events])  # last: see pagedesk.live.emit
    return later


# A thread's events in Meta's order, then arrival; an event without a time last (as
# ``ingest_sql.pending_events`` reads them). In Python: ``_lane_order``, where a new
# row (no id yet) comes after every stored one.
LANE_ORDER = (F("timestamp_ms").asc(nulls_last=True), "id")


def _lane_order(row: InboundEvent) -> tuple[int, str, bool, int, bool, int]:
    time, pk = row.timestamp_ms, row.pk
    return (row.channel_id, row.thread_key, time is None, time or 0, pk is None, pk or 0)


def _process_event_by_event(channel_id: int, thread_key: str) -> float | None:
    """The careful path: one transaction per event, a failure recorded on its event."""
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
    with write_turn(), transaction.atomic():
        _lock_lanes([(channel_id, thread_key)])
        event = (
            InboundEvent.objects.select_related("channel")
            .defer("channel__page_access_token", "channel__app_secret")
            .filter(channel_id=channel_id, thread_key=thread_key, state=InboundEvent.State.PENDING)
            .order_by(*LANE_ORDER)
            .first()
        )
        if event is None:
            return None
        if event.next_attempt_at and event.next_attempt_at > now:
            # Order first: later events of this thread wait for this one's retry.
            return max((event.next_attempt_at - now).total_seconds(), 0.05)
        try:
            with transaction.atomic():
                live.emit_many(handlers.handle(event))
        except Exception as exc:  # recorded on the event; the lane moves on or retries
            return _record_failure(event, exc, now)
        event.state = InboundEvent.State.DONE
        event.processed_at = now
        event.last_error = ""
        event.save(update_fields=["state", "processed_at", "last_error"])
    return 0.0


def _record_failure(event: InboundEvent, exc: Exception, now: datetime) -> float:
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
