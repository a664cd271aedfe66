"""Webhook delivery: exact signed bytes, envelopes, batching, retries, duplicates,
re-ordering, the handshake and the delivery log."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest

from tests.sandbox.helpers import Sandbox


@pytest.fixture
def page(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.page()


@pytest.fixture
def psid(sandbox: Sandbox, page: dict[str, Any]) -> str:
    return str(sandbox.customer(page)["psid"])


def test_body_is_ascii_escaped_compact_json_signed_over_the_exact_bytes(
    sandbox: Sandbox, psid: str
) -> None:
    sandbox.say(psid, "Grüße aus Köln 😀")
    sandbox.flush()
    [received] = sandbox.receiver.accepted
    raw = received.body
    assert raw.isascii()
    assert b"Gr\\u00fc\\u00dfe aus K\\u00f6ln \\ud83d\\ude00" in raw
    assert b", " not in raw and b": " not in raw
    secret = sandbox.app["app_secret"].encode()
    assert received.headers["x-hub-signature-256"] == (
        "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()
    )
    assert received.headers["x-hub-signature"] == (
        "sha1=" + hmac.new(secret, raw, hashlib.sha1).hexdigest()
    )
    assert received.headers["content-type"] == "application/json"
    assert received.headers["user-agent"] == "facebookexternalua"
    # Re-serialising the parsed body would not reproduce the signature: hash raw bytes.
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    assert (
        hmac.new(secret, reserialised, hashlib.sha256).hexdigest()
        not in received.headers["x-hub-signature-256"]
    )


def test_envelope_shape(sandbox: Sandbox, page: Any, psid: str) -> None:
    before = sandbox.control("GET", "/clock")["now_ms"]
    sent = sandbox.say(psid, "hello")
    [body] = sandbox.bodies()
    assert body["object"] == "page"
    [entry] = body["entry"]
    assert entry["id"] == page["page_id"]
    assert entry["time"] >= before
    [event] = entry["messaging"]
    assert event == {
        "sender": {"id": psid},
        "recipient": {"id": page["page_id"]},
        "timestamp": event["timestamp"],
        "message": {"mid": sent["mid"], "text": "hello"},
    }
    assert sent["events"] == [event]


def test_echo_then_delivery_then_read(sandbox: Sandbox, page: Any, psid: str) -> None:
    sandbox.say(psid)
    reply = sandbox.text(
        page, psid, "Thanks!", message={"text": "Thanks!", "metadata": "out:1"}
    ).json()
    read = sandbox.act(psid, "read")
    events = sandbox.events()[1:]
    echo, delivery, read_event = events
    assert echo["message"] == {
        "mid": reply["message_id"],
        "is_echo": True,
        "app_id": int(sandbox.app["app_id"]),
        "metadata": "out:1",
        "text": "Thanks!",
    }
    assert echo["sender"] == {"id": page["page_id"]} and echo["recipient"] == {"id": psid}
    assert delivery["delivery"]["mids"] == [reply["message_id"]]
    assert delivery["delivery"]["watermark"] == echo["timestamp"]
    assert read_event["read"] == {"watermark": read["watermark"]}
    thread = sandbox.thread(psid)["items"]
    assert thread[-1]["delivered"] and thread[-1]["read"]


def test_auto_read(sandbox: Sandbox, page: Any, psid: str) -> None:
    sandbox.control("PATCH", f"/pages/{page['page_id']}", {"auto_read": True})
    sandbox.say(psid)
    sandbox.text(page, psid)
    kinds = [next(k for k in ("message", "delivery", "read") if k in e) for e in sandbox.events()]
    assert kinds == ["message", "message", "delivery", "read"]


def test_batching_groups_events_into_entries_per_page(
    sandbox: Sandbox, page: Any, psid: str
) -> None:
    other_page = sandbox.page("Other shop")
    other = sandbox.customer(other_page)["psid"]
    sandbox.configure(batch_max_events=10, batch_window_ms=300)
    for n in range(3):
        sandbox.say(psid, f"message {n}")
    sandbox.say(other, "from the other page")
    sandbox.act(psid, "comment", message="nice post")
    bodies = sandbox.bodies()
    assert len(bodies) == 1
    entries = bodies[0]["entry"]
    assert [(e["id"], next(k for k in e if k in ("messaging", "changes"))) for e in entries] == [
        (page["page_id"], "messaging"),
        (other_page["page_id"], "messaging"),
        (page["page_id"], "changes"),
    ]
    assert [e["message"]["text"] for e in entries[0]["messaging"]] == [
        "message 0",
        "message 1",
        "message 2",
    ]
    log = sandbox.control("GET", "/deliveries")["data"]
    assert [record["event_count"] for record in log] == [5]


def test_batch_max_events_splits_posts(sandbox: Sandbox, psid: str) -> None:
    sandbox.configure(batch_max_events=2, batch_window_ms=200)
    for n in range(5):
        sandbox.say(psid, f"m{n}")
    sizes = [len(body["entry"][0]["messaging"]) for body in sandbox.bodies()]
    assert sizes == [2, 2, 1]


def test_retries_with_backoff_after_500s(sandbox: Sandbox, psid: str) -> None:
    sandbox.receiver.fail_next = 2
    sandbox.say(psid, "please arrive")
    sandbox.flush()
    received = sandbox.receiver.received
    assert [r.status for r in received] == [500, 500, 200]
    assert len({r.body for r in received}) == 1  # the same bytes every time
    [record] = sandbox.control("GET", "/deliveries")["data"]
    assert record["delivered"] is True
    assert record["attempts"] == 3
    assert [a["status_code"] for a in record["attempt_log"]] == [500, 500, 200]
    assert record["status_code"] == 200
    assert record["error"] is None
    assert (
        json.loads(record["body"])["entry"][0]["messaging"][0]["message"]["text"] == "please arrive"
    )


def test_retries_are_bounded(sandbox: Sandbox, psid: str) -> None:
    sandbox.configure(retry_max_attempts=3)
    sandbox.receiver.fail_next = 10
    sandbox.say(psid, "lost")
    sandbox.say(psid, "next one still goes out")
    sandbox.flush()
    first, second = sandbox.control("GET", "/deliveries")["data"]
    assert (first["delivered"], first["attempts"]) == (False, 3)
    assert first["error"].startswith("HTTP 500")
    assert second["attempts"] == 3 and second["delivered"] is False
    sandbox.receiver.fail_next = 0
    sandbox.say(psid, "recovered")
    assert sandbox.events()[-1]["message"]["text"] == "recovered"


def test_timeouts_are_retried(sandbox: Sandbox, psid: str) -> None:
    sandbox.configure(timeout_seconds=0.1)
    sandbox.receiver.delay_seconds = 0.4
    sandbox.receiver.delay_next = 1
    sandbox.say(psid, "slow")
    sandbox.flush()
    [record] = sandbox.control("GET", "/deliveries")["data"]
    assert record["delivered"] is True
    assert record["attempts"] == 2
    assert "timed out" in record["attempt_log"][0]["error"]


def test_duplicates(sandbox: Sandbox, psid: str) -> None:
    sandbox.configure(duplicate_rate=1.0)
    sandbox.say(psid, "twice")
    sandbox.flush()
    first, second = sandbox.receiver.accepted
    assert first.body == second.body
    assert first.headers["x-hub-signature-256"] == second.headers["x-hub-signature-256"]
    log = sandbox.control("GET", "/deliveries")["data"]
    assert [record["duplicate"] for record in log] == [False, True]


def test_reorder_delivers_the_receipt_before_the_echo(
    sandbox: Sandbox, page: Any, psid: str
) -> None:
    sandbox.say(psid)
    sandbox.flush()
    sandbox.receiver.reset()
    sandbox.configure(reorder=True, batch_window_ms=100)
    sandbox.text(page, psid, "in order?")
    kinds = [next(k for k in ("message", "delivery") if k in e) for e in sandbox.events()]
    assert kinds == ["delivery", "message"]
    # Ordering by timestamp recovers the truth.
    events = sorted(sandbox.events(), key=lambda e: (e["timestamp"], "delivery" in e))
    assert "message" in events[0]


def test_reorder_within_one_batch(sandbox: Sandbox, psid: str) -> None:
    sandbox.configure(reorder=True, batch_max_events=10, batch_window_ms=200)
    for n in range(4):
        sandbox.say(psid, f"m{n}")
    [body] = sandbox.bodies()
    texts = [e["message"]["text"] for e in body["entry"][0]["messaging"]]
    assert sorted(texts) == ["m0", "m1", "m2", "m3"]
    assert texts != ["m0", "m1", "m2", "m3"]


def test_handshake_failures_are_explained(sandbox: Sandbox) -> None:
    url = f"{sandbox.receiver_url}/webhook"
    for mode, fragment in (("wrong_body", "instead of the challenge"), ("forbidden", "HTTP 403")):
        sandbox.receiver.handshake = mode
        response = sandbox.http.post(
            "/_sandbox/app",
            json={"callback_url": url, "verify_token": sandbox.receiver.verify_token},
        )
        assert response.status_code == 400
        assert fragment in response.json()["error"]["message"]
    sandbox.receiver.handshake = "ok"
    wrong_token = sandbox.http.post(
        "/_sandbox/app", json={"callback_url": url, "verify_token": "nope"}
    )
    assert "HTTP 403" in wrong_token.json()["error"]["message"]
    unreachable = sandbox.http.post(
        "/_sandbox/app", json={"callback_url": "http://127.0.0.1:9/webhook", "verify_token": "t"}
    )
    assert "could not be reached" in unreachable.json()["error"]["message"]
    # The last good callback is still in place.
    assert sandbox.control("GET", "/app")["callback_url"] == url


def test_no_callback_means_no_deliveries(sandbox: Sandbox, psid: str) -> None:
    sandbox.control("POST", "/app", {"callback_url": None})
    sent = sandbox.say(psid, "into the void")
    assert sent["events"]  # produced, but nobody is subscribed to hear it
    sandbox.flush()
    assert sandbox.receiver.received == []
    assert sandbox.control("GET", "/deliveries")["data"] == []


def test_feed_changes_envelope(sandbox: Sandbox, page: Any, psid: str) -> None:
    result = sandbox.act(psid, "comment", message="Is this in stock?")
    [body] = sandbox.bodies()
    [entry] = body["entry"]
    [change] = entry["changes"]
    assert change["field"] == "feed"
    assert change["value"]["comment_id"] == result["comment_id"]
    assert change["value"]["post_id"] == result["post_id"]


def test_config_validation(sandbox: Sandbox) -> None:
    for bad in ({"duplicate_rate": 2}, {"batch_max_events": 0}, {"reorder": "yes"}, {"speed": 1}):
        assert sandbox.http.patch("/_sandbox/config", json=bad).status_code == 400
    config = sandbox.control("GET", "/config")
    assert set(config) == {
        "batch_max_events",
        "batch_window_ms",
        "duplicate_rate",
        "reorder",
        "retry_max_attempts",
        "retry_initial_delay",
        "timeout_seconds",
        "media_url_ttl_seconds",
    }


def test_delivery_log_since(sandbox: Sandbox, psid: str) -> None:
    sandbox.say(psid, "a")
    sandbox.say(psid, "b")
    sandbox.flush()
    log = sandbox.control("GET", "/deliveries")["data"]
    later = httpx.get(f"{sandbox.url}/_sandbox/deliveries", params={"since": log[0]["id"]}).json()
    assert [r["id"] for r in later["data"]] == [log[1]["id"]]
    assert sandbox.http.delete("/_sandbox/deliveries").json() == {"success": True}
    assert sandbox.control("GET", "/deliveries")["data"] == []
