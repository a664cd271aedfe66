"""Shared bits of the edge tests: a channel's credentials and Meta-shaped requests."""

from __future__ import annotations

import json

import httpx

PAGE_ID = "104857600012345"
APP_SECRET = "edge-test-app-secret"
VERIFY_TOKEN = "edge-verify-token"
WEBHOOK_PATH = "/webhooks/messenger"


def message_body(text: str = "Hello", page_id: str = PAGE_ID, mid: str = "m_edge_1") -> bytes:
    """A message delivery serialised the way Meta sends it (non-ASCII escaped)."""
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
                        "message": {"mid": mid, "text": text},
                    }
                ],
            }
        ],
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=True).encode()


def post(base_url: str, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return httpx.post(f"{base_url}{WEBHOOK_PATH}", content=body, headers=headers)


def verify(base_url: str, token: str, challenge: str = "1158201444") -> httpx.Response:
    params = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": challenge}
    return httpx.get(f"{base_url}{WEBHOOK_PATH}", params=params)


def pending_ingestions(task_queue: object) -> list[int]:
    """Row ids of the ``ingest_webhook`` jobs waiting in the real queue, in order."""
    tasks = task_queue.pending()  # type: ignore[attr-defined]
    return [task.args[0] for task in tasks if task.name == "ingest_webhook"]


def queued_task_names(task_queue: object) -> list[str]:
    return [task.name for task in task_queue.pending()]  # type: ignore[attr-defined]
