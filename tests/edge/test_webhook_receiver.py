"""The webhook endpoint, driven over real HTTP like Meta drives it."""

from __future__ import annotations

import json

import httpx
import pytest

from pagedesk.core.models import Channel, RawWebhook
from pagedesk.messenger.signature import sign_body
from tests.conftest import run_queued_tasks

PAGE_ID = "104857600012345"
APP_SECRET = "edge-test-app-secret"
VERIFY_TOKEN = "edge-verify-token"


def _message_body(text: str = "Hello", page_id: str = PAGE_ID) -> bytes:
    envelope = {
        "object": "page",
        "entry": [
            {
                "id": page_id,
                "time": 1782000000000,
                "messaging": [
                    {
                        "sender": {"id": "6785432109876543"},
                        "recipient": {"id": page_id},
                        "timestamp": 1782000000000,
                        "message": {"mid": "m_edge_1", "text": text},
                    }
                ],
            }
        ],
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=True).encode()


@pytest.fixture
def channel(transactional_db: None) -> Channel:
    return Channel.objects.create(
        page_id=PAGE_ID,
        name="Acme Bikes",
        page_access_token="EAAG-test-token",
        app_secret=APP_SECRET,
        verify_token=VERIFY_TOKEN,
    )


def _post(base_url: str, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return httpx.post(f"{base_url}/webhooks/messenger", content=body, headers=headers)


def test_verification_handshake_echoes_challenge(channel: Channel, pagedesk_server: str) -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    response = httpx.get(f"{pagedesk_server}/webhooks/messenger", params=params)
    assert response.status_code == 200
    assert response.text == "1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
)
def test_verification_refused(channel: Channel, pagedesk_server: str, params: dict) -> None:
    response = httpx.get(f"{pagedesk_server}/webhooks/messenger", params=params)
    assert response.status_code == 403
    assert response.text != "1"


def test_signed_delivery_is_stored_then_summarized_by_the_worker(
    channel: Channel, pagedesk_server: str, task_queue: object
) -> None:
    body = _message_body("Grüße 👋")
    response = _post(pagedesk_server, body, sign_body(body, APP_SECRET))
    assert response.status_code == 200
    row = RawWebhook.objects.get()
    assert row.status == RawWebhook.Status.ACCEPTED
    assert bytes(row.body) == body  # stored byte for byte
    assert row.page_ids == PAGE_ID
    assert row.summarized_at is None

    assert run_queued_tasks(task_queue) == 1
    row.refresh_from_db()
    assert row.event_count == 1
    assert row.event_kinds == "message"


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (None, "missing signature"),
        ("sha256=" + "0" * 64, "does not match"),
        (sign_body(b"other body", APP_SECRET), "does not match"),
        (sign_body(_message_body(), "another-secret"), "does not match"),
        ("sha1=" + "a" * 40, "does not match"),
        ("SHA256=" + sign_body(_message_body(), APP_SECRET)[7:], "does not match"),
        (sign_body(_message_body(), APP_SECRET)[:-2], "does not match"),
    ],
    ids=[
        "missing",
        "zeros",
        "other-body",
        "other-secret",
        "sha1-only",
        "uppercase-prefix",
        "truncated",
    ],
)
def test_unsigned_or_forged_delivery_is_rejected_and_kept_for_inspection(
    channel: Channel, pagedesk_server: str, task_queue: object, signature: str | None, reason: str
) -> None:
    body = _message_body()
    response = _post(pagedesk_server, body, signature)
    assert response.status_code == 403
    assert reason in response.text
    row = RawWebhook.objects.get()
    assert row.status == RawWebhook.Status.BAD_SIGNATURE
    assert not row.signature_valid
    assert run_queued_tasks(task_queue) == 0  # never processed


def test_signed_but_not_json_is_a_clear_400(channel: Channel, pagedesk_server: str) -> None:
    body = b"this is not json"
    response = _post(pagedesk_server, body, sign_body(body, APP_SECRET))
    assert response.status_code == 400
    assert "not a webhook body" in response.text
    assert RawWebhook.objects.get().status == RawWebhook.Status.MALFORMED


def test_delivery_for_unknown_page_is_rejected(channel: Channel, pagedesk_server: str) -> None:
    body = _message_body(page_id="999999999999999")
    response = _post(pagedesk_server, body, sign_body(body, APP_SECRET))
    assert response.status_code == 403
    assert "999999999999999" in response.text
    assert RawWebhook.objects.get().status == RawWebhook.Status.UNKNOWN_PAGE


def test_oversized_body_is_refused_with_413(
    channel: Channel, pagedesk_server: str, settings: object
) -> None:
    body = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    response = _post(pagedesk_server, body, sign_body(body, APP_SECRET))
    assert response.status_code == 413
    row = RawWebhook.objects.get()
    assert row.status == RawWebhook.Status.TOO_LARGE
    assert row.body_size == 1024 * 1024  # the head is kept for inspection


def test_other_methods_are_refused(channel: Channel, pagedesk_server: str) -> None:
    assert httpx.put(f"{pagedesk_server}/webhooks/messenger").status_code == 405
