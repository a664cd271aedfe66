"""One Send API call for the sender, and what its failure means for a resend.

The Send API has no idempotency key, so the sender must know whether a failed call
could have reached Meta. Meta's own error answer (HTTP 4xx/5xx with an error body)
means it was not sent; a connection that never opened means it was not sent; a
time-out or a connection dropped after the request was written means nobody knows.
The Graph client folds all transport failures into ``TemporaryError``, so the call
goes through a transport that notes the failures that happen before a single byte
leaves.
"""

from __future__ import annotations

import asyncio
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from pagedesk.core.models import Channel
from pagedesk.messenger.errors import GraphError
from pagedesk.messenger.graph import GraphClient, RetryPolicy
from pagedesk.messenger.send import SendRequest, SendResult

# Retries are the outbox's job (with backoff across tasks), so one attempt is exactly
# one HTTP request.
ONE_ATTEMPT = RetryPolicy(max_attempts=1, initial=0, max_delay=0, budget_seconds=0)
TIMEOUT_SECONDS = 15.0

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class _NoteUnsentFailures(httpx.AsyncBaseTransport):
    """Wraps the real transport; remembers failures that happen before sending."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.never_sent = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self.inner.handle_async_request(request)
        except _NOT_SENT:
            self.never_sent = True
            raise

    async def aclose(self) -> None:
        await self.inner.aclose()


def _proxy_for(url: str) -> str | None:
    """The environment's proxy for ``url`` (a custom transport bypasses httpx's own)."""
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


@dataclass(frozen=True)
class CallFailed:
    """The call failed. ``maybe_sent``: Meta may have received and sent it anyway."""

    error: Exception
    maybe_sent: bool


def send(channel: Channel, request: SendRequest) -> SendResult | CallFailed:
    """Make exactly one Send API call for ``channel`` (sync, for worker threads)."""
    base_url = settings.PAGEDESK_GRAPH_URL
    try:
        transport = _NoteUnsentFailures(httpx.AsyncHTTPTransport(proxy=_proxy_for(base_url)))
        client = GraphClient(
            channel.page_access_token,
            base_url=base_url,
            version=channel.graph_version or settings.PAGEDESK_GRAPH_VERSION,
            timeout=TIMEOUT_SECONDS,
            retry=ONE_ATTEMPT,
            transport=transport,
            app_secret=channel.app_secret or None,
        )
    except Exception as exc:  # bad configuration: nothing left this process
        return CallFailed(exc, maybe_sent=False)

    async def call() -> SendResult:
        async with client:
            return await client.send_message(request)

    try:
        return asyncio.run(call())
    except GraphError as exc:
        if exc.http_status is not None:
            # Meta answered: an error status means refused; a 2xx it could not parse
            # may well have been a success.
            return CallFailed(exc, maybe_sent=exc.http_status < 400)
        return CallFailed(exc, maybe_sent=not transport.never_sent)
    except Exception as exc:  # a bug or an odd answer: the request may have gone out
        return CallFailed(exc, maybe_sent=not transport.never_sent)
