"""A thin test driver for the sandbox's control API (Graph calls stay plain httpx)."""

from __future__ import annotations

from typing import Any

import httpx

from pagedesk.messenger.signature import verify_signature
from tests.sandbox.servers import WebhookReceiver

ALL_FIELDS = [
    "messages",
    "message_echoes",
    "message_deliveries",
    "message_reads",
    "message_reactions",
    "message_edits",
    "messaging_postbacks",
    "messaging_referrals",
    "messaging_optins",
    "messaging_handovers",
    "messaging_policy_enforcement",
    "standby",
    "feed",
]


class Sandbox:
    def __init__(self, url: str, receiver: WebhookReceiver, receiver_url: str) -> None:
        self.url = url
        self.receiver = receiver
        self.receiver_url = receiver_url
        self.http = httpx.Client(base_url=url, timeout=10)
        self.app: dict[str, Any] = {}

    def close(self) -> None:
        self.http.close()

    # -- control API -------------------------------------------------------------------

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, f"/_sandbox{path}", json=body)
        assert response.status_code < 300, response.text
        return response.json()

    def register_callback(self) -> dict[str, Any]:
        self.app = self.control(
            "POST",
            "/app",
            {
                "callback_url": f"{self.receiver_url}/webhook",
                "verify_token": self.receiver.verify_token,
            },
        )
        return self.app

    def configure(self, **config: Any) -> dict[str, Any]:
        return self.control("PATCH", "/config", config)

    def page(self, name: str = "Acme Bikes", *, subscribed: bool = True, **settings: Any) -> Any:
        if subscribed:
            settings.setdefault("subscribed_fields", ALL_FIELDS)
        return self.control("POST", "/pages", {"name": name, **settings})

    def customer(self, page: dict[str, Any], first_name: str = "Ada", **profile: Any) -> Any:
        profile.setdefault("last_name", "Lovelace")
        body = {"first_name": first_name, **profile}
        return self.control("POST", f"/pages/{page['page_id']}/customers", body)

    def act(self, psid: str, endpoint: str, /, **body: Any) -> Any:
        return self.control("POST", f"/customers/{psid}/{endpoint}", body)

    def say(self, psid: str, text: str = "Hi there", **body: Any) -> Any:
        return self.act(psid, "messages", text=text, **body)

    def advance(self, seconds: float) -> Any:
        return self.control("POST", "/clock", {"advance_seconds": seconds})

    def flush(self) -> None:
        self.control("POST", "/flush", {"timeout": 10})

    def thread(self, psid: str) -> Any:
        return self.control("GET", f"/customers/{psid}/thread")

    # -- Graph API -----------------------------------------------------------------------

    def send(
        self,
        page: dict[str, Any],
        body: dict[str, Any],
        *,
        version: str = "v25.0",
        token: str | None = None,
    ) -> httpx.Response:
        token = page["access_token"] if token is None else token
        return self.http.post(f"/{version}/me/messages", params={"access_token": token}, json=body)

    def text(
        self, page: dict[str, Any], psid: str, text: str = "Hello!", **extra: Any
    ) -> httpx.Response:
        body = {"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": text}}
        body.update(extra)
        return self.send(page, body)

    # -- what the callback received ------------------------------------------------------

    def bodies(self) -> list[dict[str, Any]]:
        self.flush()
        return [r.json() for r in self.receiver.accepted]

    def events(self, container: str = "messaging") -> list[dict[str, Any]]:
        return [
            event
            for body in self.bodies()
            for entry in body["entry"]
            for event in entry.get(container, [])
        ]

    def signatures_ok(self) -> bool:
        secret = self.app["app_secret"]
        return all(
            verify_signature(r.body, r.headers.get("x-hub-signature-256"), secret)
            for r in self.receiver.received
        )


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert "error" in body, body
    return body["error"]


def assert_error(
    response: httpx.Response, code: int, subcode: int | None = None, status: int = 400
) -> dict[str, Any]:
    error = error_of(response)
    assert response.status_code == status, response.text
    assert error["code"] == code, error
    assert error["type"] == "OAuthException"
    assert error.get("error_subcode") == subcode, error
    assert error["fbtrace_id"]
    return error
