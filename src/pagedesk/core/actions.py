"""Writes of the core app. Each action validates, then writes in one transaction."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from pagedesk.core.models import RawWebhook
from pagedesk.messenger.webhook import WebhookParseError, parse_webhook


def do_summarize_webhook(*, raw_webhook_id: int) -> None:
    """Record which events an accepted delivery holds. Idempotent."""
    with transaction.atomic():
        row = (
            RawWebhook.objects.select_for_update()
            .filter(pk=raw_webhook_id, status=RawWebhook.Status.ACCEPTED)
            .first()
        )
        if row is None or row.summarized_at is not None:
            return
        try:
            kinds = Counter(event.kind.value for event in parse_webhook(bytes(row.body)))
        except WebhookParseError as exc:
            row.error = f"could not parse: {exc}"
            kinds = Counter()
        row.event_count = sum(kinds.values())
        row.event_kinds = ", ".join(
            f"{kind} x{count}" if count > 1 else kind for kind, count in sorted(kinds.items())
        )[:1024]
        row.summarized_at = timezone.now()
        row.save(update_fields=["event_count", "event_kinds", "summarized_at", "error"])


def unsummarized_webhook_ids(*, older_than_seconds: int) -> list[int]:
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        RawWebhook.objects.filter(
            status=RawWebhook.Status.ACCEPTED, summarized_at__isnull=True, received_at__lt=cutoff
        ).values_list("pk", flat=True)[:1000]
    )
