"""Real loopback servers for the sandbox tests: uvicorn in a thread, plus a webhook
receiver that records every body and header exactly as received."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.servers import ServerThread

__all__ = ["Received", "ServerThread", "WebhookReceiver"]


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    status: int

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """A callback URL: answers the handshake, records POSTs, fails on demand."""

    verify_token: str = "sandbox-verify-token"
    handshake: str = "ok"  # ok, wrong_body, forbidden
    fail_next: int = 0  # answer 500 to that many POSTs
    delay_next: int = 0  # sleep past the timeout on that many POSTs
    delay_seconds: float = 0.5
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.handshake = "ok"
            self.fail_next = 0
            self.delay_next = 0
            self.received = []

    @property
    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.status == 200]

    def app(self) -> Starlette:
        async def webhook(request: Request) -> Response:
            if request.method == "GET":
                params = request.query_params
                if self.handshake == "forbidden":
                    return PlainTextResponse("nope", status_code=403)
                if self.handshake == "wrong_body":
                    return PlainTextResponse("hello")
                if (
                    params.get("hub.mode") == "subscribe"
                    and params.get("hub.verify_token") == self.verify_token
                ):
                    return PlainTextResponse(params.get("hub.challenge", ""))
                return PlainTextResponse("bad token", status_code=403)
            body = await request.body()
            headers = {k.lower(): v for k, v in request.headers.items()}
            with self.lock:
                status = 200
                delay = False
                if self.fail_next > 0:
                    self.fail_next -= 1
                    status = 500
                elif self.delay_next > 0:
                    self.delay_next -= 1
                    delay = True
                    status = 599  # recorded as a timed-out attempt
                self.received.append(Received(body, headers, status))
            if delay:
                await asyncio.sleep(self.delay_seconds)
            return PlainTextResponse("EVENT_RECEIVED", status_code=min(status, 500))

        return Starlette(routes=[Route("/webhook", webhook, methods=["GET", "POST"])])
