"""What ``pagedesk events`` does: read the ingestion log and replay events.

Like ``pagedesk.core.cli_commands``, each function returns the text to print and
raises ``PagedeskError`` (exit 1) or ``UsageError`` (exit 2).
"""

from __future__ import annotations

from collections.abc import Sequence

from pagedesk.core.cli_commands import UsageError, format_table, format_when, one_line
from pagedesk.core.errors import PagedeskError
from pagedesk.core.models import RawWebhook
from pagedesk.inbox import ingest
from pagedesk.inbox.models import InboundEvent

ERROR_WIDTH = 60


def list_events(*, failed: bool = False, limit: int = 50) -> str:
    """InboundEvents, newest first; ``failed``: only dead-lettered ones."""
    events = InboundEvent.objects.select_related("channel", "raw_webhook").order_by("-id")
    if failed:
        events = events.filter(state=InboundEvent.State.DEAD)
    events = events.only(
        "id",
        "kind",
        "thread_key",
        "state",
        "attempts",
        "last_error",
        "channel__page_id",
        "raw_webhook__received_at",
    )[:limit]
    rows = [
        (
            e.pk,
            format_when(e.raw_webhook.received_at),
            e.channel.page_id,
            e.kind,
            e.thread_key,
            e.state,
            e.attempts,
            one_line(e.last_error, ERROR_WIDTH) or "-",
        )
        for e in events
    ]
    if not rows:
        return "No failed events." if failed else "No events yet."
    headers = ("id", "received", "page id", "kind", "thread", "state", "attempts", "last error")
    return format_table(headers, rows)


def list_raw_webhooks(*, failed: bool = False, limit: int = 50) -> str:
    """Every POST to the webhook endpoint, newest first; ``failed``: the rejected ones."""
    webhooks = RawWebhook.objects.order_by("-id")
    if failed:
        webhooks = webhooks.exclude(status=RawWebhook.Status.ACCEPTED)
    webhooks = webhooks.only("id", "received_at", "status", "page_ids", "body_size", "error")
    rows = [
        (
            w.pk,
            format_when(w.received_at),
            w.status,
            w.page_ids or "-",
            w.body_size,
            one_line(w.error, ERROR_WIDTH) or "-",
        )
        for w in webhooks[:limit]
    ]
    if not rows:
        return "No rejected webhooks." if failed else "No webhooks received yet."
    return format_table(("id", "received", "status", "pages", "size", "error"), rows)


def replay(*, event_ids: Sequence[int] = (), failed: bool = False) -> int:
    """Re-queue the named events, or every dead one; returns how many were re-queued."""
    if bool(event_ids) == failed:
        raise UsageError("give event ids or --failed (not both)")
    if failed:
        return ingest.replay_events(failed=True)
    wanted = sorted(set(event_ids))
    known = set(InboundEvent.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [str(pk) for pk in wanted if pk not in known]
    if missing:
        raise PagedeskError(
            "unknown_event",
            f"No event {', '.join(missing)}. `pagedesk events list` shows them.",
            status=404,
        )
    return ingest.replay_events(event_ids=wanted)
