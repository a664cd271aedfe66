"""The webhook endpoint, driven over real HTTP like Meta drives it."""

from __future__ import annotations

import json

import httpx
import pytest

from pagedesk.core.models import Channel, RawWebhook
from pagedesk.messenger.signature import sign_body
from tests.edge.helpers import (
    APP_SECRET,
    PAGE_ID,
    VERIFY_TOKEN,
    message_body,
    pending_ingestions,
    post,
    queued_task_names,
    verify,
)


def test_verification_handshake_echoes_challenge(channel: Channel, pagedesk_server: str) -> None:
    response = verify(pagedesk_server, VERIFY_TOKEN, challenge="1158201444")
    assert response.status_code == 200
    assert response.text == "1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN[:-1], "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "tökén", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
    ids=["wrong", "prefix", "non-ascii", "unsubscribe", "no-token"],
)
def test_verification_refused(channel: Channel, pagedesk_server: str, params: dict) -> None:
    response = httpx.get(f"{pagedesk_server}/webhooks/messenger", params=params)
    assert response.status_code == 403
    assert response.text != "1"


def test_signed_delivery_is_stored_byte_for_byte_and_enqueued_once(
    channel: Channel, pagedesk_server: str, task_queue: object
) -> None:
    body = message_body("Grüße 👋")
    response = post(pagedesk_server, body, sign_body(body, APP_SECRET))
    assert response.status_code == 200
    assert response.text == "EVENT_RECEIVED"
    row = RawWebhook.objects.get()
    assert row.status == RawWebhook.Status.ACCEPTED
    assert row.signature_valid
    assert bytes(row.body) == body
    assert row.body_size == len(body)
    assert row.page_ids == PAGE_ID
    assert row.split_at is None  # the worker splits it later
    assert queued_task_names(task_queue) == ["ingest_webhook"]
    assert pending_ingestions(task_queue) == [row.pk]


def test_a_retried_delivery_is_stored_and_enqueued_again(
    channel: Channel, pagedesk_server: str, task_queue: object
) -> None:
    """Meta delivers at least once; the worker, not the edge, makes it exactly once."""
    body = message_body()
    for _ in range(2):
        assert post(pagedesk_server, body, sign_body(body, APP_SECRET)).status_code == 200
    ids = sorted(RawWebhook.objects.values_list("pk", flat=True))
    assert len(ids) == 2
    assert sorted(pending_ingestions(task_queue)) == ids


def test_batched_entries_for_two_pages_of_one_app(
    channel: Channel, pagedesk_server: str, task_queue: object
) -> None:
    from pagedesk.core.actions import do_add_channel

    do_add_channel(
        workspace=channel.workspace,
        page_id="104857600099999",
        page_token="EAAG-other-token",
        app_secret=APP_SECRET,
        verify_token="another-verify-token",
    )
    first, second = message_body(), message_body(page_id="104857600099999")
    body = first[:-2] + b"," + second[second.index(b"[") + 1 :]  # two entries, one POST
    response = post(pagedesk_server, body, sign_body(body, APP_SECRET))
    assert response.status_code == 200, response.text
    assert RawWebhook.objects.get().page_ids == f"{PAGE_ID},104857600099999"
    assert len(pending_ingestions(task_queue)) == 1


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (None, "missing signature"),
        ("sha256=" + "0" * 64, "does not match"),
        (sign_body(b"other body", APP_SECRET), "does not match"),
        (sign_body(message_body(), "another-secret"), "does not match"),
        ("sha1=" + "a" * 40, "does not match"),
        ("SHA256=" + sign_body(message_body(), APP_SECRET)[7:], "does not match"),
        (sign_body(message_body(), APP_SECRET)[:-2], "does not match"),
        (sign_body(message_body(), APP_SECRET) + "00", "does not match"),
    ],
    ids=[
        "missing",
        "zeros",
        "other-body",
        "other-secret",
        "sha1-only",
        "uppercase-prefix",
        "truncated",
        "too-long",
    ],
)
def test_unsigned_or_forged_delivery_is_rejected_and_kept_for_inspection(
    channel: Channel, pagedesk_server: str, task_queue: object, signature: str | None, reason: str
) -> None:
    body = message_body()
    response = post(pagedesk_server, body, signature)
    assert response.status_code == 403
    assert reason in response.text
    row = RawWebhook.objects.get()
    assert row.status == RawWebhook.Status.BAD_SIGNATURE
    assert not row.signature_valid
    assert bytes(row.body) == body
    assert queued_task_names(task_queue) == []  # never processed


def test_signature_is_checked_before_parsing(
    channel: Channel, pagedesk_server: str, task_queue: object
) -> None:
    """Junk with a wrong signature is a signature failure, not a parse failure."""
    response = post(pagedesk_server, b"\xff not json", "sha256=" + "1" * 64)
    assert response.status_code == 403
    assert RawWebhook.objects.get().status == RawWebhook.Status.BAD_SIGNATURE


@pytest.mark.parametrize(
    "body",
    [
        b"this is not json",
        b'{"object":"page"}',
        b'{"entry":[{"time":1}]}',
        b"[1,2]",
        # JSON between systems is UTF-8; the worker would not read this either
        json.dumps({"object": "page", "entry": [{"id": PAGE_ID}]}).encode("utf-16"),
    ],
)
def test_signed_but_not_a_webhook_is_a_clear_400(
    channel: Channel, pagedesk_server: str, task_queue: object, body: bytes
) -> None:
    response = post(pagedesk_server, body, sign_body(body, APP_SECRET))
    assert response.status_code == 400
    assert "not a webhook body" in response.text
    row = RawWebhook.objects.get()
    assert row.status == RawWebhook.Status.MALFORMED
    assert row.signature_valid
    assert queued_task_names(task_queue) == []


@pytest.mark.parametrize(
    ("page_id", "stored"),
    [
        ("999999999999999", "999999999999999"),
        # PostgreSQL refuses NUL in text: the row is kept without it, not refused with a 503
        ("999\x00999", "999999"),
    ],
)
def test_delivery_for_unknown_page_is_rejected(
    channel: Channel, pagedesk_server: str, task_queue: object, page_id: str, stored: str
) -> None:
    body = message_body(page_id=page_id)
    response = post(pagedesk_server, body, sign_body(body, APP_SECRET))
    assert response.status_code == 403
    assert f"no channel for page(s) {[page_id]}" in response.text
    row = RawWebhook.objects.get()
    assert row.status == RawWebhook.Status.UNKNOWN_PAGE
    assert row.page_ids == stored
    assert bytes(row.body) == body
    assert queued_task_names(task_queue) == []


def test_oversized_body_is_refused_with_413(
    channel: Channel, pagedesk_server: str, task_queue: object
) -> None:
    body = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    response = post(pagedesk_server, body, sign_body(body, APP_SECRET))
    assert response.status_code == 413
    row = RawWebhook.objects.get()
    assert row.status == RawWebhook.Status.TOO_LARGE
    assert row.body_size == 1024 * 1024  # the head is kept for inspection
    assert queued_task_names(task_queue) == []


def test_other_methods_are_refused(channel: Channel, pagedesk_server: str) -> None:
    assert httpx.put(f"{pagedesk_server}/webhooks/messenger").status_code == 405
    assert not RawWebhook.objects.exists()


def test_any_bytes_are_kept_exactly(channel: Channel, pagedesk_server: str) -> None:
    body = bytes(range(256)) * 4 + b'\\"\x00%s'
    response = post(pagedesk_server, body, sign_body(body, APP_SECRET))
    assert response.status_code == 400
    row = RawWebhook.objects.get()
    assert (row.status, bytes(row.body), row.body_size) == ("malformed", body, len(body))
