"""``create_app``: the sandbox as one Starlette application.

Run it alone (``pagedesk sandbox``) or mount it under a prefix inside another ASGI
app; every URL it builds (paging links, the phone page's API calls) honours the
mount's ``root_path``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from pagedesk.sandbox import control, phone
from pagedesk.sandbox.delivery import WebhookDispatcher
from pagedesk.sandbox.graph_api import graph_endpoint
from pagedesk.sandbox.state import SandboxState


class _StartDelivery:
    """Starts the delivery loop on the first request when no lifespan ran (a mounted
    sub-application does not get lifespan events from Starlette's router)."""

    def __init__(self, app: ASGIApp, dispatcher: WebhookDispatcher) -> None:
        self.app = app
        self.dispatcher = dispatcher

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.dispatcher.running:
            await self.dispatcher.start()
        await self.app(scope, receive, send)


def create_app(
    state: SandboxState | None = None,
    *,
    snapshot_path: str | os.PathLike[str] | None = None,
) -> Starlette:
    """The sandbox app. ``snapshot_path`` keeps the state in a JSON file across restarts."""
    if state is None:
        state = SandboxState(snapshot_path=snapshot_path)
    elif snapshot_path is not None:
        state.snapshot_path = Path(snapshot_path)
    dispatcher = WebhookDispatcher(state)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()

    routes = [
        Route("/", phone.phone_page, methods=["GET"]),
        Route("/phone", phone.phone_page, methods=["GET"]),
        *control.routes,
        Route("/{path:path}", graph_endpoint, methods=["GET", "POST", "DELETE"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(_StartDelivery, dispatcher=dispatcher)],
    )
    app.state.sandbox = state
    app.state.dispatcher = dispatcher
    return app
