"""/metrics: what Prometheus scrapes after real traffic, and who may scrape it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pagedesk.config import get_config
from pagedesk.inbox.actions import do_send_message
from pagedesk.ops import http as ops_http
from tests.delivery.conftest import World

TOKEN = "metrics-token-for-tests-0123456789"


def scrape(base_url: str, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{base_url}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_metrics_after_webhooks_ingestion_and_sends(
    world: World, pagedesk_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The world fixture: a customer wrote once, it was ingested. Now a forged POST,
    # a message waiting for the worker, and two replies of which Meta rate-limits one.
    # (The edge's own counter lives as long as the server process: earlier tests of
    # the session count too, so it is compared with its value before.)
    forged_before = value(
        scrape(pagedesk_server), "pagedesk_edge_webhooks_total", counter="rejected_bad_signature"
    )
    forged = httpx.post(
        f"{pagedesk_server}/webhooks/messenger",
        content=b'{"object":"page","entry":[]}',
        headers={"X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    assert forged.status_code == 403
    world.page(rate_limit_per_second=1)
    do_send_message(conversation=world.conversation, author=world.agent, text="One")
    do_send_message(conversation=world.conversation, author=world.agent, text="Two")
    world.settle()
    world.customer("messages", {"text": "Thanks!"})
    world.control.post("/flush", json={"timeout": 10}).raise_for_status()

    samples = scrape(pagedesk_server)
    received = value(samples, "pagedesk_webhooks_received_total")
    assert received >= 4  # the customer's two messages, echoes, a receipt, the forgery
    assert value(samples, "pagedesk_webhooks_rejected_total", reason="bad_signature") == 1
    assert value(samples, "pagedesk_webhooks_rejected_total", reason="unknown_page") == 0
    assert value(samples, "pagedesk_ingest_waiting", stage="split") >= 1  # "Thanks!"
    assert value(samples, "pagedesk_ingest_oldest_pending_seconds", stage="split") > 0
    assert value(samples, "pagedesk_queue_jobs", kind="ready") >= 1
    assert value(samples, "pagedesk_outbox_entries", state="sent") == 1
    assert value(samples, "pagedesk_outbox_entries", state="pending") == 1
    assert value(samples, "pagedesk_graph_errors", code="613") == 1
    # This server process's own counter saw the forgery (and every other POST).
    forged_now = value(samples, "pagedesk_edge_webhooks_total", counter="rejected_bad_signature")
    assert forged_now == forged_before + 1

    world.settle()  # the worker catches up
    samples = scrape(pagedesk_server)
    assert value(samples, "pagedesk_ingest_waiting", stage="split") == 0
    assert value(samples, "pagedesk_ingest_waiting", stage="event") == 0
    assert value(samples, "pagedesk_ingest_oldest_pending_seconds", stage="event") == 0
    assert value(samples, "pagedesk_queue_jobs", kind="ready") == 0
    median = value(samples, "pagedesk_ingest_lag_seconds", quantile="0.5")
    slowest = value(samples, "pagedesk_ingest_lag_seconds", quantile="1.0")
    assert 0 < median <= slowest < 60


@pytest.mark.parametrize(
    "header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"], ids=["xff", "forwarded", "real-ip"]
)
def test_without_a_token_metrics_refuse_proxied_requests(pagedesk_server: str, header: str) -> None:
    response = httpx.get(f"{pagedesk_server}/metrics", headers={header: "203.0.113.9"})
    assert response.status_code == 403
    assert "PAGEDESK_METRICS_TOKEN" in response.text


def test_with_a_token_metrics_need_it(
    pagedesk_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = get_config().model_copy(update={"metrics_token": TOKEN})
    monkeypatch.setattr(ops_http, "get_config", lambda: config)
    url = f"{pagedesk_server}/metrics"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    samples = scrape(pagedesk_server, Authorization=f"Bearer {TOKEN}")
    assert ("pagedesk_webhooks_received_total", ()) in samples
    # With a token, where the request comes from no longer matters.
    proxied = {"Authorization": f"Bearer {TOKEN}", "X-Forwarded-For": "203.0.113.9"}
    assert httpx.get(url, headers=proxied).status_code == 200


def test_a_short_metrics_token_stops_pagedesk_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from pagedesk.config import ConfigError, load_config

    monkeypatch.setenv("PAGEDESK_METRICS_TOKEN", "too-short")
    with pytest.raises(ConfigError, match="PAGEDESK_METRICS_TOKEN"):
        load_config()
    monkeypatch.setenv("PAGEDESK_METRICS_TOKEN", "  ")  # blank, as compose passes it unset
    assert load_config().metrics_token is None
