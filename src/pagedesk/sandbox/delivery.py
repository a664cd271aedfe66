"""Webhook delivery: a background loop that POSTs signed bodies to the app's callback.

Events queued by :meth:`SandboxState.emit` are collected (optionally over a batch
window), optionally re-ordered, grouped into ``entry`` items, signed and POSTed,
retried with exponential backoff on failure, and optionally delivered twice, so a
receiver can be tested against Meta's at-least-once, unordered delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
from typing import Any

import httpx

from pagedesk.messenger.signature import sign_body
from pagedesk.sandbox import ids, payloads
from pagedesk.sandbox.models import QueuedEvent
from pagedesk.sandbox.state import SandboxState

log = logging.getLogger(__name__)

USER_AGENT = "facebookexternalua"
MAX_EVENTS_PER_POST = 1000  # Meta's ceiling for one webhook POST
HANDSHAKE_TIMEOUT = 10.0


def signature_headers(body: bytes, app_secret: str) -> dict[str, str]:
    legacy = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha1).hexdigest()
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Hub-Signature-256": sign_body(body, app_secret),
        "X-Hub-Signature": f"sha1={legacy}",
    }


async def verify_callback(url: str, verify_token: str) -> tuple[bool, str]:
    """Meta's subscription handshake: GET the callback, expect 200 and the challenge back."""
    challenge = ids.challenge()
    params = {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": challenge}
    try:
        async with httpx.AsyncClient(headers={"User-Agent": USER_AGENT}) as client:
            response = await client.get(url, params=params, timeout=HANDSHAKE_TIMEOUT)
    except httpx.HTTPError as exc:
        return False, f"the callback URL could not be reached: {exc!r}"
    body = response.text
    if response.status_code != 200:
        return False, f"the callback answered HTTP {response.status_code}: {body[:200]!r}"
    if body != challenge:
        return False, f"the callback answered {body[:200]!r} instead of the challenge {challenge!r}"
    return True, "verified"


class WebhookDispatcher:
    """Owns the delivery loop for one :class:`SandboxState`; lives on one event loop."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.random = random.Random()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._busy = False
        self._client: httpx.AsyncClient | None = None

    @property
    def running(self) -> bool:
        """True when the loop runs on the current event loop (a test may switch loops)."""
        if self._task is None or self._task.done():
            return False
        try:
            return self._loop is asyncio.get_running_loop()
        except RuntimeError:
            return True

    async def start(self) -> None:
        if self.running:
            return
        # A task left behind on another (closed) event loop cannot be awaited here.
        self.state.remove_outbox_listener(self._notify)
        self._task = None
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._client = httpx.AsyncClient(headers={"User-Agent": USER_AGENT})
        self.state.add_outbox_listener(self._notify)
        self._task = asyncio.create_task(self._run(), name="sandbox-webhook-delivery")
        self._wake.set()

    async def stop(self) -> None:
        self.state.remove_outbox_listener(self._notify)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _notify(self) -> None:
        loop, wake, idle = self._loop, self._wake, self._idle
        if loop is None or wake is None or idle is None or loop.is_closed():
            return
        try:
            same_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            same_loop = False
        if same_loop:
            idle.clear()
            wake.set()
        else:
            loop.call_soon_threadsafe(idle.clear)
            loop.call_soon_threadsafe(wake.set)

    async def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event has been delivered (or given up on)."""
        if not self.running:
            await self.start()
        assert self._idle is not None
        deadline = time.monotonic() + timeout
        while self.state.outbox or self._busy:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._idle.clear()
            if not self.state.outbox and not self._busy:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), min(remaining, 0.05))
        return True

    async def _run(self) -> None:
        assert self._wake is not None and self._idle is not None
        while True:
            if not self.state.outbox:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            self._busy = True
            self._idle.clear()
            try:
                events = await self._collect()
                for chunk in self._plan(events):
                    await self._deliver(chunk)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sandbox webhook delivery failed")
            finally:
                self._busy = False

    async def _collect(self) -> list[QueuedEvent]:
        """Take queued events, waiting up to ``batch_window_ms`` for more to arrive."""
        assert self._wake is not None
        config = self.state.config
        cap = MAX_EVENTS_PER_POST
        if config.batch_max_events > 1:
            cap = min(cap, config.batch_max_events)
        if config.batch_window_ms > 0:
            deadline = time.monotonic() + config.batch_window_ms / 1000
            while len(self.state.outbox) < cap:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), remaining)
        elif config.batch_max_events <= 1 and not config.reorder:
            cap = 1
        taken: list[QueuedEvent] = []
        while self.state.outbox and len(taken) < cap:
            taken.append(self.state.outbox.popleft())
        return taken

    def _plan(self, events: list[QueuedEvent]) -> list[list[QueuedEvent]]:
        config = self.state.config
        if config.reorder and len(events) > 1:
            original = list(events)
            self.random.shuffle(events)
            if events == original:  # always visibly out of order
                events.append(events.pop(0))
        size = max(1, min(config.batch_max_events, MAX_EVENTS_PER_POST))
        return [events[i : i + size] for i in range(0, len(events), size)]

    async def _deliver(self, events: list[QueuedEvent]) -> None:
        body = payloads.encode_body(payloads.envelope(events, self.state.clock.now_ms()))
        await self._post(body, len(events), duplicate=False)
        rate = self.state.config.duplicate_rate
        if rate > 0 and self.random.random() < rate:
            await self._post(body, len(events), duplicate=True)

    async def _post(self, body: bytes, event_count: int, *, duplicate: bool) -> dict[str, Any]:
        assert self._client is not None
        config = self.state.config
        app = self.state.app
        attempts: list[dict[str, Any]] = []
        delivered = False
        max_attempts = max(1, config.retry_max_attempts)
        for attempt in range(1, max_attempts + 1):
            url = app.callback_url
            if url is None:
                attempts.append(_attempt(None, "no callback URL configured", 0.0))
                break
            started = time.monotonic()
            status: int | None = None
            error: str | None = None
            try:
                response = await self._client.post(
                    url,
                    content=body,
                    headers=signature_headers(body, app.app_secret),
                    timeout=config.timeout_seconds,
                )
                status = response.status_code
                if not 200 <= status < 300:
                    error = f"HTTP {status}: {response.text[:200]}"
            except httpx.TimeoutException:
                error = f"timed out after {config.timeout_seconds} s"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            attempts.append(_attempt(status, error, time.monotonic() - started))
            if error is None:
                delivered = True
                break
            if attempt < max_attempts:
                await asyncio.sleep(config.retry_initial_delay * 2 ** (attempt - 1))
        last = attempts[-1]
        return self.state.log_delivery(
            {
                "time": self.state.clock.now_ms(),
                "url": app.callback_url,
                "body": body.decode("ascii"),
                "event_count": event_count,
                "duplicate": duplicate,
                "delivered": delivered,
                "status_code": last["status_code"],
                "attempts": len(attempts),
                "attempt_log": attempts,
                "error": last["error"],
            }
        )


def _attempt(status: int | None, error: str | None, duration: float) -> dict[str, Any]:
    return {
        "at": int(time.time() * 1000),
        "status_code": status,
        "error": error,
        "duration_ms": round(duration * 1000, 1),
    }
