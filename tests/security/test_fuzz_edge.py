"""Fuzzing the webhook edge over real HTTP with correctly signed arbitrary bodies:
never a 5xx, every POST stored, malformed bodies rejected with a clear 4xx, and what
is accepted goes through the worker's ingestion without an unhandled error (a
delivery it cannot read is kept with the reason)."""

from __future__ import annotations

import json

import httpx
from hypothesis import HealthCheck, example, given, settings

from pagedesk.core.models import Channel, RawWebhook
from pagedesk.inbox import ingest
from pagedesk.messenger.signature import sign_body
from pagedesk.messenger.webhook import WebhookParseError, parse_webhook
from tests.edge.conftest import channel, fresh_channel_keys, workspace  # noqa: F401  (fixtures)
from tests.edge.helpers import APP_SECRET, PAGE_ID
from tests.security.strategies import bodies

ANSWERS = {
    RawWebhook.Status.ACCEPTED: 200,
    RawWebhook.Status.MALFORMED: 400,
    RawWebhook.Status.UNKNOWN_PAGE: 403,
    RawWebhook.Status.TOO_LARGE: 413,
}
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _message_with_nul() -> bytes:
    event = {
        "sender": {"id": "6785432109876543\x00"},
        "recipient": {"id": PAGE_ID},
        "timestamp": 1782000000000,
        "message": {"mid": "m_\x00", "text": "a\x00b", "quick_reply": {"payload": "\x00"}},
    }
    entry = {"id": PAGE_ID, "time": 1782000000000, "messaging": [event]}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


def test_signed_arbitrary_bodies_never_cause_a_5xx(
    channel: Channel,  # noqa: F811
    pagedesk_server: str,
    task_queue: object,
    settings: object,
) -> None:
    settings.PAGEDESK_MAX_WEBHOOK_BYTES = 64 * 1024  # type: ignore[attr-defined]
    http = httpx.Client(base_url=pagedesk_server, timeout=30)

    @FUZZ
    @given(bodies(PAGE_ID))
    @example(b"[" * 50_000 + b"]" * 50_000)  # deeper than Python's recursion limit
    @example(b'{"entry":[{"id":"' + PAGE_ID.encode() + b'"}]}')  # no "object"
    @example(b'{"object":"page","entry":{"id":"1"}}')
    @example(b'{"object":"page","entry":"' + PAGE_ID.encode() + b'"}')
    @example(b'{"object":"page","entry":[{"id":' + b"9" * 5000 + b"}]}")
    @example(b"{" + b" " * 70_000 + b"}")  # over the (lowered) size limit
    @example(b'{"object":"page","entry":[{"id":"1\\u0000"}]}')  # NUL: PostgreSQL refuses it in text
    @example(_message_with_nul())
    def post_one(body: bytes) -> None:
        newest = RawWebhook.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        response = http.post(
            "/webhooks/messenger",
            content=body,
            headers={"X-Hub-Signature-256": sign_body(body, APP_SECRET)},
        )
        assert response.status_code < 500, (response.status_code, response.text, body[:200])
        row = RawWebhook.objects.get(pk__gt=newest)  # stored, whatever its fate
        assert response.status_code == ANSWERS[row.status], (row.status, response.text)
        if response.status_code != 200:
            assert response.text and row.error, "a rejection says why"
            return
        ingest.do_ingest_webhook(raw_webhook_id=row.pk)  # must not raise
        row.refresh_from_db()
        assert row.split_at is not None
        try:
            parse_webhook(body)
        except WebhookParseError:  # kept for inspection, with the reason
            assert row.error.startswith("not processed:"), row.error
        else:
            assert row.event_count == row.events.count()

    try:
        post_one()
    finally:
        http.close()


# --- regressions found by the fuzzer ------------------------------------------------------


def test_a_signed_body_nested_too_deep_is_a_400_and_kept(
    channel: Channel,  # noqa: F811
    pagedesk_server: str,
    task_queue: object,
) -> None:
    """It was an unhandled RecursionError: a 500, and the body was never stored."""
    body = b"[" * 50_000 + b"]" * 50_000
    response = httpx.post(
        f"{pagedesk_server}/webhooks/messenger",
        content=body,
        headers={"X-Hub-Signature-256": sign_body(body, APP_SECRET)},
    )
    assert response.status_code == 400 and "not a webhook body" in response.text
    row = RawWebhook.objects.get()
    assert row.status == RawWebhook.Status.MALFORMED and bytes(row.body) == body
    # The operators' event log shows it (as text) instead of failing too.
    from django.contrib.auth import get_user_model
    from django.test import Client

    staff = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-123456")
    client = Client()
    client.force_login(staff)
    assert client.get(f"/events/{row.pk}/").status_code == 200
