"""Build signed webhook bodies of Meta's shape for behaviour tests."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx

from pagedesk.messenger.signature import sign_body
from tests.inbox.conftest import FB_PAGE_ID
from tests.messenger.fixtures import APP_SECRET

_mids = itertools.count(1)
T0 = 1_780_000_000_000  # ms, June 2026


def mid() -> str:
    return f"m_test{next(_mids):06d}"


def text(psid: str, body: str, t: int, *, mid_: str | None = None, **extra: Any) -> dict:
    event = {
        "sender": {"id": psid},
        "recipient": {"id": FB_PAGE_ID},
        "timestamp": t,
        "message": {"mid": mid_ or mid(), "text": body},
    }
    event.update(extra)
    return event


def echo(psid: str, body: str, t: int, mid_: str, *, metadata: str | None = None) -> dict:
    message: dict[str, Any] = {"mid": mid_, "is_echo": True, "app_id": 1517776481860111}
    message["text"] = body
    if metadata:
        message["metadata"] = metadata
    return {
        "sender": {"id": FB_PAGE_ID},
        "recipient": {"id": psid},
        "timestamp": t,
        "message": message,
    }


def receipt(psid: str, kind: str, t: int, watermark: int, mids: list[str] | None = None) -> dict:
    payload: dict[str, Any] = {"watermark": watermark}
    if mids is not None:
        payload["mids"] = mids
    return {"sender": {"id": psid}, "recipient": {"id": FB_PAGE_ID}, "timestamp": t, kind: payload}


def envelope(*events: dict, page_id: str = FB_PAGE_ID) -> bytes:
    body = {"object": "page", "entry": [{"id": page_id, "time": T0, "messaging": list(events)}]}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode()


def post(base_url: str, body: bytes) -> httpx.Response:
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign_body(body, APP_SECRET),
    }
    response = httpx.post(f"{base_url}/webhooks/messenger", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response
