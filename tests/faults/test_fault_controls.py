"""The sandbox's fault controls themselves: slow answers and the Send API call log."""

from __future__ import annotations

import time

import httpx

from tests.faults.harness import sandbox


def _send(base_url: str, token: str, psid: str, text: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.post(
        f"{base_url}/v25.0/me/messages",
        params={"access_token": token},
        json={
            "recipient": {"id": psid},
            "messaging_type": "RESPONSE",
            "message": {"text": text, "metadata": f"test:{text}"},
        },
        timeout=10,
    )
    return response, time.monotonic() - started


def test_slow_sends_and_the_send_log() -> None:
    with sandbox(customers=1) as box:
        (psid,) = box.psids
        box.customer_writes(psid, "hello")

        box.page(slow_next_sends=1, slow_send_seconds=0.3)  # delivered, answered late
        late, took = _send(box.url, box.page_token, psid, "late")
        assert late.status_code == 200 and took >= 0.3
        box.page(slow_next_sends=1, slow_send_seconds=0.3, slow_sends_deliver=False)
        hung, took = _send(box.url, box.page_token, psid, "hung")
        assert hung.status_code == 500 and took >= 0.3
        assert hung.json()["error"]["code"] == 2
        plain, took = _send(box.url, box.page_token, psid, "plain")
        assert plain.status_code == 200 and took < 0.3
        box.page(token_valid=False)
        refused, _ = _send(box.url, box.page_token, psid, "refused")
        assert refused.json()["error"]["code"] == 190

        assert box.phone_texts(psid) == ["late", "plain"]
        log = box.sends()
        assert [(s["metadata"], s["slow"], s["status_code"], s["error_code"]) for s in log] == [
            ("test:late", True, 200, None),
            ("test:hung", True, 500, 2),
            ("test:plain", False, 200, None),
            ("test:refused", False, 400, 190),
        ]
        assert log[0]["message_id"] and log[0]["page_id"] == box.page_id
        assert log[3]["page_id"] is None  # refused before the page was known
        assert [s["id"] for s in box.control.get("/sends?since=2").json()["data"]] == [3, 4]

        bad = box.control.patch(f"/pages/{box.page_id}", json={"slow_send_seconds": -1})
        assert bad.status_code == 400
        assert box.control.delete("/sends").status_code == 200
        assert box.sends() == []
