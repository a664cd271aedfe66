"""``/healthz``, ``/readyz`` and ``/metrics``: plain ASGI, in front of Django.

In front of Django on purpose: probes come from load balancers and orchestrators
that do not send a host name from ``PAGEDESK_ALLOWED_HOSTS``, and they must answer
even when Django's middleware (sessions, the database) cannot.

- ``/healthz``: liveness. 200 as long as the process serves requests; touches nothing.
- ``/readyz``: readiness. 200 ``{"status": "ok", "checks": {...}}`` when the database,
  the job queue and (with ``REDIS_URL``) Redis answer within the checks' time-out;
  503 with the same shape, naming what failed, otherwise.
- ``/metrics``: Prometheus text. With ``PAGEDESK_METRICS_TOKEN`` set it needs
  ``Authorization: Bearer <token>``; without, it answers only requests made
  directly on the loopback interface (no proxy headers), so a reverse proxy in
  front never exposes it by accident.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from ipaddress import ip_address

from prometheus_client import CONTENT_TYPE_LATEST

from pagedesk.config import get_config
from pagedesk.edge.asgi_helpers import Receive, Scope, Send, header, respond
from pagedesk.ops import checks, metrics

log = logging.getLogger(__name__)

HEALTHZ, READYZ, METRICS = "/healthz", "/readyz", "/metrics"
PATHS = frozenset({HEALTHZ, READYZ, METRICS})
METRICS_TIMEOUT = 10.0  # seconds; Prometheus' default scrape time-out
PROXY_HEADERS = (b"x-forwarded-for", b"forwarded", b"x-real-ip")
JSON = "application/json"


async def ops_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] not in {"GET", "HEAD"}:
        await respond(send, 405, "method not allowed: use GET\n")
        return
    path = scope["path"]
    if path == HEALTHZ:
        await respond(send, 200, json.dumps({"status": "ok"}), JSON)
    elif path == READYZ:
        await _readyz(send)
    else:
        await _metrics(scope, send)


async def _readyz(send: Send) -> None:
    results = await checks.run_checks()
    ready = all(outcome == checks.OK for outcome in results.values())
    body = {"status": "ok" if ready else "unavailable", "checks": results}
    await respond(send, 200 if ready else 503, json.dumps(body), JSON)


async def _metrics(scope: Scope, send: Send) -> None:
    refusal = metrics_refusal(scope)
    if refusal is not None:
        status, message = refusal
        await respond(send, status, message + "\n")
        return
    loop = asyncio.get_running_loop()
    try:
        text = await asyncio.wait_for(
            loop.run_in_executor(checks.EXECUTOR, metrics.render), METRICS_TIMEOUT
        )
    except Exception:
        log.exception("cannot collect metrics")
        await respond(send, 503, "metrics unavailable: see the web server's log\n")
        return
    await respond(send, 200, text, CONTENT_TYPE_LATEST)


def metrics_refusal(scope: Scope) -> tuple[int, str] | None:
    """Why this request may not read /metrics (status, message), or None if it may."""
    token = get_config().metrics_token
    if token is not None:
        given = header(scope, b"authorization") or ""
        scheme, _, credentials = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), token.encode()
        ):
            return None
        return 401, "metrics need Authorization: Bearer <PAGEDESK_METRICS_TOKEN>"
    client = scope.get("client") or ("", 0)
    proxied = any(header(scope, name) is not None for name in PROXY_HEADERS)
    if _is_loopback(client[0]) and not proxied:
        return None
    return 403, "metrics are served to loopback only; set PAGEDESK_METRICS_TOKEN to scrape"


def _is_loopback(host: str) -> bool:
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
