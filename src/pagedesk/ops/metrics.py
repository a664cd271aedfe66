"""Prometheus metrics: what an operator watches, mostly read from durable rows.

Figures from the database and the queue are the same whichever web process is
scraped (several processes, one truth). Only ``pagedesk_edge_webhooks_total`` is
this process's own count (the webhook edge's in-memory counters), because a body
that could not be stored has no row to count.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db import connection
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pagedesk.core.models import RawWebhook
from pagedesk.delivery.models import OutboxEntry
from pagedesk.edge.counters import COUNTERS
from pagedesk.inbox.models import InboundEvent

LAG_SAMPLE = 1000  # latest processed events the stored → processed quantiles cover
QUANTILES = (0.5, 0.9, 0.99, 1.0)


def _age_seconds(oldest: datetime | None, now: datetime) -> float:
    return max((now - oldest).total_seconds(), 0.0) if oldest else 0.0


def quantile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank quantile of an ascending list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(min(round(q * len(sorted_values) + 0.5) - 1, len(sorted_values) - 1), 0)
    return sorted_values[rank]


class PagedeskCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        try:
            now = timezone.now()
            yield from self._webhooks()
            yield from self._ingestion(now)
            yield from self._queue()
            yield from self._sends()
        finally:
            connection.close()  # runs in a short-lived worker thread

    def _webhooks(self) -> Iterable[Metric]:
        by_status = dict(
            RawWebhook.objects.order_by()
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        received = CounterMetricFamily(
            "pagedesk_webhooks_received", "Webhook POSTs stored (every one, whatever its fate)"
        )
        received.add_metric([], sum(by_status.values()))
        yield received
        rejected = CounterMetricFamily(
            "pagedesk_webhooks_rejected", "Webhook POSTs refused, by reason", labels=["reason"]
        )
        for status in RawWebhook.Status.values:
            if status != RawWebhook.Status.ACCEPTED:
                rejected.add_metric([status], by_status.get(status, 0))
        yield rejected
        edge = CounterMetricFamily(
            "pagedesk_edge_webhooks",
            "This web process's webhook counters since it started (received, accepted, "
            "rejected and rejected_<reason>, store_failed: answered 503 so Meta retries, "
            "enqueue_failed: stored, left to the sweeper)",
            labels=["counter"],
        )
        for name, value in COUNTERS.items():
            edge.add_metric([name], value)
        yield edge

    def _ingestion(self, now: datetime) -> Iterable[Metric]:
        unsplit = RawWebhook.objects.filter(
            status=RawWebhook.Status.ACCEPTED, split_at__isnull=True
        ).aggregate(oldest=Min("received_at"), n=Count("id"))
        pending = InboundEvent.objects.filter(state=InboundEvent.State.PENDING).aggregate(
            oldest=Min("created_at"), n=Count("id")
        )
        dead = InboundEvent.objects.filter(state=InboundEvent.State.DEAD).count()

        oldest = GaugeMetricFamily(
            "pagedesk_ingest_oldest_pending_seconds",
            "Age of the oldest work waiting for ingestion (0 when none)",
            labels=["stage"],
        )
        oldest.add_metric(["split"], _age_seconds(unsplit["oldest"], now))
        oldest.add_metric(["event"], _age_seconds(pending["oldest"], now))
        yield oldest
        waiting = GaugeMetricFamily(
            "pagedesk_ingest_waiting",
            "Webhooks not yet split, events pending, events failed for good",
            labels=["stage"],
        )
        waiting.add_metric(["split"], unsplit["n"])
        waiting.add_metric(["event"], pending["n"])
        waiting.add_metric(["dead"], dead)
        yield waiting

        recent = (
            InboundEvent.objects.filter(state=InboundEvent.State.DONE)
            .order_by("-id")
            .values_list("processed_at", "raw_webhook__received_at")[:LAG_SAMPLE]
        )
        lags = sorted((done - stored).total_seconds() for done, stored in recent if done and stored)
        lag = GaugeMetricFamily(
            "pagedesk_ingest_lag_seconds",
            f"Stored → processed time of the latest {LAG_SAMPLE} processed events, by quantile",
            labels=["quantile"],
        )
        for q in QUANTILES:
            lag.add_metric([str(q)], quantile(lags, q))
        yield lag

    def _queue(self) -> Iterable[Metric]:
        from huey.contrib.djhuey import HUEY

        depth = GaugeMetricFamily(
            "pagedesk_queue_jobs", "Jobs in the queue: ready to run, or scheduled", labels=["kind"]
        )
        depth.add_metric(["ready"], HUEY.pending_count())
        depth.add_metric(["scheduled"], HUEY.scheduled_count())
        yield depth

    def _sends(self) -> Iterable[Metric]:
        by_state = dict(
            OutboxEntry.objects.order_by()
            .values_list("state")
            .annotate(n=Count("id"))
            .values_list("state", "n")
        )
        sends = GaugeMetricFamily(
            "pagedesk_outbox_entries", "Outbound messages by delivery state", labels=["state"]
        )
        for state in OutboxEntry.State.values:
            sends.add_metric([state], by_state.get(state, 0))
        yield sends
        by_code = (
            OutboxEntry.objects.filter(graph_code__isnull=False)
            .order_by()
            .values_list("graph_code")
            .annotate(n=Count("id"))
            .values_list("graph_code", "n")
        )
        errors = GaugeMetricFamily(
            "pagedesk_graph_errors",
            "Outbound messages whose latest failed Send API call got this Graph error code "
            "(retried ones may have been sent since)",
            labels=["code"],
        )
        for code, n in sorted(by_code):
            errors.add_metric([str(code)], n)
        yield errors


def render() -> bytes:
    """The exposition text (blocking: queries the database and the queue)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PagedeskCollector())
    return generate_latest(registry)
