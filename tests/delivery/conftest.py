"""A connected page in the sandbox with one customer who has written, the pagedesk
webhook receiver registered as the sandbox app's callback, and a count of every Send
API call the sandbox receives."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from django.db.models import F

from pagedesk.core.actions import do_add_channel, do_create_workspace
from pagedesk.core.models import Channel, Membership, Workspace
from pagedesk.delivery import sender
from pagedesk.delivery.models import OutboxEntry
from pagedesk.delivery.tasks import enqueue
from pagedesk.inbox.models import Conversation
from pagedesk.sandbox.app import create_app
from tests.inbox.conftest import drain
from tests.servers import ServerThread

VERIFY_TOKEN = "delivery-verify-token"
_SEND_PATH = re.compile(r"^(/v\d+\.\d+)?/(me|\d+)/messages$")


class CountingSandbox:
    """The sandbox app, recording the JSON body of every Send API call."""

    def __init__(self) -> None:
        self.app = create_app()
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and _SEND_PATH.match(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def recording_receive() -> Any:
            event = await receive()
            if event["type"] == "http.request":
                chunks.append(event.get("body", b""))
            return event

        try:
            await self.app(scope, recording_receive, send)
        finally:
            self.calls.append(json.loads(b"".join(chunks) or b"{}"))


@dataclass
class World:
    url: str
    control: httpx.Client
    sandbox: CountingSandbox
    queue: Any
    workspace: Workspace
    channel: Channel
    agent: Any
    page_id: str
    psid: str
    conversation: Conversation = field(init=False)

    # -- the outside world

    def settle(self) -> list[str]:
        """Run queued tasks, let the sandbox deliver its webhooks, ingest them."""
        ran = drain(self.queue)
        self.control.post("/flush", json={"timeout": 10}).raise_for_status()
        return ran + drain(self.queue)

    def customer(self, action: str, body: dict[str, Any] | None = None) -> Any:
        response = self.control.post(f"/customers/{self.psid}/{action}", json=body or {})
        assert response.status_code < 300, response.text
        return response.json()

    def page(self, **settings: Any) -> None:
        self.control.patch(f"/pages/{self.page_id}", json=settings).raise_for_status()

    def page_messages(self) -> list[dict[str, Any]]:
        """What the customer's phone shows from the page."""
        thread = self.control.get(f"/customers/{self.psid}/thread").json()
        return [item for item in thread["items"] if item["from"] == "page"]

    @property
    def sends(self) -> list[dict[str, Any]]:
        """Send API calls carrying a message (not sender actions)."""
        return [call for call in self.sandbox.calls if "message" in call]

    def age(self, *, hours: float) -> None:
        """The customer's last message happened ``hours`` earlier, here and in Meta."""
        Conversation.objects.filter(pk=self.conversation.pk).update(
            last_customer_message_at=F("last_customer_message_at") - timedelta(hours=hours)
        )
        self.control.post("/clock", json={"advance_seconds": hours * 3600}).raise_for_status()
        self.conversation.refresh_from_db()

    def time_passes(self, seconds: float) -> None:
        """Backoffs and grace periods elapse; the sweeper finds what is due."""
        delta = timedelta(seconds=seconds)
        OutboxEntry.objects.filter(next_attempt_at__isnull=False).update(
            next_attempt_at=F("next_attempt_at") - delta
        )
        OutboxEntry.objects.filter(sending_since__isnull=False).update(
            sending_since=F("sending_since") - delta
        )
        self.control.post("/clock", json={"advance_seconds": seconds}).raise_for_status()
        # Scheduled retries fall due (the consumer's scheduler would move them), and the
        # periodic sweeper runs.
        for task in self.queue.read_schedule(datetime.now(UTC).replace(tzinfo=None) + delta):
            task.eta = None
            self.queue.enqueue(task)
        enqueue(sender.sweep())


@pytest.fixture
def world(pagedesk_server: str, task_queue: Any, settings: Any) -> Iterator[World]:
    sandbox = CountingSandbox()
    server = ServerThread(sandbox).start()
    settings.PAGEDESK_GRAPH_URL = server.url
    control = httpx.Client(base_url=f"{server.url}/_sandbox", timeout=10)
    app = control.get("/app").json()
    page = control.post(
        "/pages",
        json={
            "name": "Acme Bikes",
            "subscribed_fields": [
                "messages",
                "message_echoes",
                "message_deliveries",
                "message_reads",
            ],
        },
    ).json()
    workspace = do_create_workspace(name="Acme", owner_email="owner@acme.test")
    channel = do_add_channel(
        workspace=workspace,
        page_id=page["page_id"],
        page_token=page["access_token"],
        app_secret=app["app_secret"],
        verify_token=VERIFY_TOKEN,
        name="Acme Bikes",
    )
    control.post(
        "/app",
        json={
            "callback_url": f"{pagedesk_server}/webhooks/messenger",
            "verify_token": VERIFY_TOKEN,
        },
    ).raise_for_status()
    control.patch("/config", json={"retry_initial_delay": 0.01}).raise_for_status()
    agent = Membership.objects.get(workspace=workspace).user
    customer = control.post(f"/pages/{page['page_id']}/customers", json={"first_name": "Ada"})
    world = World(
        url=server.url,
        control=control,
        sandbox=sandbox,
        queue=task_queue,
        workspace=workspace,
        channel=channel,
        agent=agent,
        page_id=page["page_id"],
        psid=customer.json()["psid"],
    )
    world.customer("messages", {"text": "Do you fix tubeless tyres?"})
    world.settle()
    world.conversation = Conversation.objects.get(channel=channel)
    try:
        yield world
    finally:
        control.close()
        server.stop()
