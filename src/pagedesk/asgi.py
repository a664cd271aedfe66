"""The ASGI entry point: edge hot paths in front of Django, optionally the sandbox.

``application`` is what ``pagedesk web`` serves. ``pagedesk up`` builds one with the
sandbox mounted under ``/sandbox`` so the demo needs a single port.
"""

from __future__ import annotations

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pagedesk.settings")

from django.core.asgi import get_asgi_application

from pagedesk.edge.asgi_helpers import ASGIApp, Receive, Scope, Send

SANDBOX_PREFIX = "/sandbox"
GC_THRESHOLDS = (20_000, 20, 20)  # see tune_gc


def build_application(*, sandbox: ASGIApp | None = None) -> ASGIApp:
    django_app = get_asgi_application()
    # Imported after Django is set up: the receiver uses the ORM.
    from pagedesk.edge import sse
    from pagedesk.edge.webhooks import PATH as WEBHOOK_PATH
    from pagedesk.edge.webhooks import webhook_receiver
    from pagedesk.ops.http import PATHS as OPS_PATHS
    from pagedesk.ops.http import ops_endpoint

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(scope, receive, send, sandbox)
            return
        path = scope.get("path", "")
        if scope["type"] == "http" and path == WEBHOOK_PATH:
            await webhook_receiver(scope, receive, send)
        elif scope["type"] == "http" and path == sse.PATH:
            await sse.live_stream(scope, receive, send)
        elif scope["type"] == "http" and path in OPS_PATHS:
            await ops_endpoint(scope, receive, send)  # /healthz, /readyz, /metrics
        elif sandbox is not None and (
            path == SANDBOX_PREFIX or path.startswith(SANDBOX_PREFIX + "/")
        ):
            # Starlette convention: the full path stays, root_path names the mount.
            child = dict(scope, root_path=scope.get("root_path", "") + SANDBOX_PREFIX)
            await sandbox(child, receive, send)
        else:
            await django_app(scope, receive, send)

    return app


async def _lifespan(scope: Scope, receive: Receive, send: Send, sandbox: ASGIApp | None) -> None:
    tune_gc()
    if sandbox is not None:
        await sandbox(scope, receive, send)
        return
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def tune_gc() -> None:
    """Garbage collection for a serving process, once it has started.

    A request allocates many short-lived objects and keeps almost none, and what
    start-up built (Django, the URLconf, templates) is never garbage. CPython's
    default collects the young generation every 700 allocations and walks the whole
    heap in full collections, which put the p99 of 128 concurrent webhook POSTs in
    the collector: freezing start-up's objects and collecting less often halved it
    (``bench/ingest.py``: about 60 to 30 ms on SQLite and PostgreSQL). Memory grows
    by a few MiB at most: reference counting still frees almost everything at once.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def demo_application() -> ASGIApp:
    """The app ``pagedesk up`` serves: pagedesk plus the sandbox under /sandbox."""
    from pagedesk.sandbox.app import create_app

    snapshot = os.environ.get("PAGEDESK_SANDBOX_SNAPSHOT")
    return build_application(sandbox=create_app(snapshot_path=snapshot))


application = build_application()
