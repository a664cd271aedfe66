"""The whole inbound path over real HTTP: a simulated customer writes in the sandbox,
the sandbox signs and delivers the webhook, pagedesk stores it, the worker ingests it
and fetches the profile through the Graph API, and the REST API shows it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from pagedesk.core.actions import do_add_channel, do_create_api_token, do_create_workspace
from pagedesk.core.models import Workspace
from pagedesk.sandbox.app import create_app
from tests.inbox.conftest import drain
from tests.servers import ServerThread

VERIFY_TOKEN = "e2e-verify-token"


@dataclass
class Connected:
    """A sandbox page connected to a pagedesk workspace, webhooks registered."""

    control: httpx.Client  # the sandbox's control API
    page: dict[str, Any]
    workspace: Workspace
    pagedesk_url: str

    def customer(self, first_name: str, last_name: str = "") -> str:
        body = {"first_name": first_name, "last_name": last_name}
        response = self.control.post(f"/pages/{self.page['page_id']}/customers", json=body)
        response.raise_for_status()
        return str(response.json()["psid"])

    def act(self, path: str, body: dict[str, Any]) -> Any:
        response = self.control.post(path, json=body)
        assert response.status_code < 300, response.text
        return response.json()

    def api(self, workspace: Workspace | None = None) -> httpx.Client:
        token = do_create_api_token(workspace=workspace or self.workspace).secret
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=f"{self.pagedesk_url}/api/v1", headers=headers)


@pytest.fixture
def connected(pagedesk_server: str, settings: Any) -> Iterator[Connected]:
    sandbox = ServerThread(create_app()).start()
    settings.PAGEDESK_GRAPH_URL = sandbox.url  # the worker talks to the sandbox
    control = httpx.Client(base_url=f"{sandbox.url}/_sandbox", timeout=10)
    app = control.get("/app").json()
    fields = ["messages", "message_echoes", "message_reads"]
    page = control.post("/pages", json={"name": "Acme Bikes", "subscribed_fields": fields}).json()
    workspace = do_create_workspace(name="Acme", owner_email="owner@acme.test")
    do_add_channel(
        workspace=workspace,
        page_id=page["page_id"],
        page_token=page["access_token"],
        app_secret=app["app_secret"],
        verify_token=VERIFY_TOKEN,
        name="Acme Bikes",
    )
    # Meta's handshake against our GET endpoint, then signed deliveries to our POST.
    callback = {
        "callback_url": f"{pagedesk_server}/webhooks/messenger",
        "verify_token": VERIFY_TOKEN,
    }
    registered = control.post("/app", json=callback)
    assert registered.status_code == 200, registered.text
    yield Connected(control, page, workspace, pagedesk_server)
    control.close()
    sandbox.stop()


def deliver_all(connected: Connected, task_queue: object) -> None:
    """Wait for the sandbox to deliver, then run the worker's queue (profiles included)."""
    connected.act("/flush", {"timeout": 10})
    drain(task_queue, skip=())


def test_customer_message_reaches_the_api_with_profile_name(
    connected: Connected, task_queue: object
) -> None:
    psid = connected.customer("Ada", "Lovelace")
    connected.act(f"/customers/{psid}/messages", {"text": "Is the shop open today?"})
    deliver_all(connected, task_queue)

    api = connected.api()
    (conversation,) = api.get("/conversations").json()["data"]
    assert conversation["contact"]["name"] == "Ada Lovelace"
    assert conversation["contact"]["psid"] == psid
    assert conversation["unread_count"] == 1
    assert conversation["window"]["open"] is True

    messages = api.get(f"/conversations/{conversation['id']}/messages").json()["data"]
    assert [(m["direction"], m["text"], m["status"]) for m in messages] == [
        ("in", "Is the shop open today?", "received")
    ]
    assert messages[0]["mid"].startswith("m_")
    contact = api.get(f"/contacts/{conversation['contact']['id']}").json()
    assert contact["profile_status"] == "ok"
    assert contact["first_name"] == "Ada"


def test_attachment_is_copied_before_metas_url_expires(
    connected: Connected, task_queue: object
) -> None:
    psid = connected.customer("Ada")
    connected.act(f"/customers/{psid}/messages", {"attachments": [{"type": "image"}]})
    deliver_all(connected, task_queue)
    connected.act("/clock", {"advance_seconds": 7200})  # Meta's URL has expired by now

    api = connected.api()
    (conversation,) = api.get("/conversations").json()["data"]
    (message,) = api.get(f"/conversations/{conversation['id']}/messages").json()["data"]
    (attachment,) = message["attachments"]
    assert attachment["download"] == "done"
    assert attachment["content_type"] == "image/png"
    stored = api.get(attachment["url"])
    assert stored.status_code == 200
    assert stored.content.startswith(b"\x89PNG")
    assert len(stored.content) == attachment["size"]

    other = do_create_workspace(name="Other", owner_email="owner@other.test")
    assert connected.api(other).get(attachment["url"]).status_code == 404


def test_sandbox_group_thread_becomes_one_conversation_with_participants(
    connected: Connected, task_queue: object
) -> None:
    members = [connected.customer(name) for name in ("Ada", "Grace", "Alan")]
    group = connected.act(
        f"/pages/{connected.page['page_id']}/groups", {"title": "Sunday ride", "members": members}
    )
    for psid, text in zip(members, ("Sunday at 9?", "Works for me", "Count me in"), strict=True):
        connected.act(f"/groups/{group['thread_id']}/messages", {"psid": psid, "text": text})
    deliver_all(connected, task_queue)

    api = connected.api()
    (conversation,) = api.get("/conversations").json()["data"]
    assert conversation["is_group"] is True
    detail = api.get(f"/conversations/{conversation['id']}").json()
    assert sorted(p["name"] for p in detail["participants"]) == ["Ada", "Alan", "Grace"]
    messages = api.get(f"/conversations/{conversation['id']}/messages").json()["data"]
    assert [m["text"] for m in messages] == ["Sunday at 9?", "Works for me", "Count me in"]
