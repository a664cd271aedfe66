"""The whole inbound path over real HTTP: a simulated customer writes in the sandbox,
the sandbox signs and delivers the webhook, pagedesk stores it, the worker ingests it
and fetches the profile through the Graph API, and the REST API shows it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from pagedesk.core.actions import do_add_channel, do_create_api_token, do_create_workspace
from pagedesk.sandbox.app import create_app
from tests.inbox.conftest import drain
from tests.servers import ServerThread

VERIFY_TOKEN = "e2e-verify-token"


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    server = ServerThread(create_app()).start()
    yield server.url
    server.stop()


def test_customer_message_reaches_the_api_with_profile_name(
    pagedesk_server: str, sandbox_url: str, task_queue: object, settings
) -> None:
    settings.PAGEDESK_GRAPH_URL = sandbox_url  # the worker talks to the sandbox
    control = httpx.Client(base_url=f"{sandbox_url}/_sandbox", timeout=10)
    app = control.get("/app").json()
    page = control.post(
        "/pages",
        json={
            "name": "Acme Bikes",
            "subscribed_fields": ["messages", "message_echoes", "message_reads"],
        },
    ).json()

    workspace = do_create_workspace(name="Acme", owner_email="owner@acme.test")
    do_add_channel(
        workspace=workspace,
        page_id=page["page_id"],
        page_token=page["access_token"],
        app_secret=app["app_secret"],
        verify_token=VERIFY_TOKEN,
        name="Acme Bikes",
    )
    token = do_create_api_token(workspace=workspace).secret
    # Meta's handshake against our GET endpoint, then signed deliveries to our POST.
    registered = control.post(
        "/app",
        json={
            "callback_url": f"{pagedesk_server}/webhooks/messenger",
            "verify_token": VERIFY_TOKEN,
        },
    )
    assert registered.status_code == 200, registered.text

    customer = control.post(
        f"/pages/{page['page_id']}/customers", json={"first_name": "Ada", "last_name": "Lovelace"}
    ).json()
    said = control.post(
        f"/customers/{customer['psid']}/messages", json={"text": "Is the shop open today?"}
    )
    assert said.status_code < 300, said.text
    assert control.post("/flush", json={"timeout": 10}).status_code == 200

    drain(task_queue, skip=())  # ingest, then fetch the profile from the sandbox

    api = httpx.Client(
        base_url=f"{pagedesk_server}/api/v1", headers={"Authorization": f"Bearer {token}"}
    )
    conversations = api.get("/conversations").json()["data"]
    assert len(conversations) == 1
    conversation = conversations[0]
    assert conversation["contact"]["name"] == "Ada Lovelace"
    assert conversation["contact"]["psid"] == customer["psid"]
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
    pagedesk_server: str, sandbox_url: str, task_queue: object, settings
) -> None:
    settings.PAGEDESK_GRAPH_URL = sandbox_url
    control = httpx.Client(base_url=f"{sandbox_url}/_sandbox", timeout=10)
    app = control.get("/app").json()
    page = control.post("/pages", json={"name": "Acme", "subscribed_fields": ["messages"]}).json()
    workspace = do_create_workspace(name="Acme", owner_email="owner@acme.test")
    do_add_channel(
        workspace=workspace,
        page_id=page["page_id"],
        page_token=page["access_token"],
        app_secret=app["app_secret"],
        verify_token=VERIFY_TOKEN,
    )
    other = do_create_workspace(name="Other", owner_email="owner@other.test")
    control.post(
        "/app",
        json={
            "callback_url": f"{pagedesk_server}/webhooks/messenger",
            "verify_token": VERIFY_TOKEN,
        },
    ).raise_for_status()
    customer = control.post(
        f"/pages/{page['page_id']}/customers", json={"first_name": "Ada"}
    ).json()
    control.post(
        f"/customers/{customer['psid']}/messages", json={"attachments": [{"type": "image"}]}
    ).raise_for_status()
    control.post("/flush", json={"timeout": 10}).raise_for_status()
    drain(task_queue, skip=())
    control.post("/clock", json={"advance_seconds": 7200}).raise_for_status()  # Meta's URL expired

    token = do_create_api_token(workspace=workspace).secret
    api = httpx.Client(base_url=pagedesk_server, headers={"Authorization": f"Bearer {token}"})
    (conversation,) = api.get("/api/v1/conversations").json()["data"]
    (message,) = api.get(f"/api/v1/conversations/{conversation['id']}/messages").json()["data"]
    (attachment,) = message["attachments"]
    assert attachment["download"] == "done"
    assert attachment["content_type"] == "image/png"
    stored = api.get(attachment["url"])
    assert stored.status_code == 200
    assert stored.content.startswith(b"\x89PNG")
    assert len(stored.content) == attachment["size"]

    stranger = do_create_api_token(workspace=other).secret
    refused = httpx.get(attachment["url"], headers={"Authorization": f"Bearer {stranger}"})
    assert refused.status_code == 404


def test_sandbox_group_thread_becomes_one_conversation_with_participants(
    pagedesk_server: str, sandbox_url: str, task_queue: object, settings
) -> None:
    settings.PAGEDESK_GRAPH_URL = sandbox_url
    control = httpx.Client(base_url=f"{sandbox_url}/_sandbox", timeout=10)
    app = control.get("/app").json()
    page = control.post("/pages", json={"name": "Acme", "subscribed_fields": ["messages"]}).json()
    workspace = do_create_workspace(name="Acme", owner_email="owner@acme.test")
    do_add_channel(
        workspace=workspace,
        page_id=page["page_id"],
        page_token=page["access_token"],
        app_secret=app["app_secret"],
        verify_token=VERIFY_TOKEN,
    )
    control.post(
        "/app",
        json={
            "callback_url": f"{pagedesk_server}/webhooks/messenger",
            "verify_token": VERIFY_TOKEN,
        },
    ).raise_for_status()
    members = [
        control.post(f"/pages/{page['page_id']}/customers", json={"first_name": name}).json()[
            "psid"
        ]
        for name in ("Ada", "Grace", "Alan")
    ]
    group = control.post(
        f"/pages/{page['page_id']}/groups", json={"title": "Sunday ride", "members": members}
    ).json()
    for psid, text in zip(members, ("Sunday at 9?", "Works for me", "Count me in"), strict=True):
        control.post(
            f"/groups/{group['thread_id']}/messages", json={"psid": psid, "text": text}
        ).raise_for_status()
    control.post("/flush", json={"timeout": 10}).raise_for_status()
    drain(task_queue, skip=())

    token = do_create_api_token(workspace=workspace).secret
    api = httpx.Client(
        base_url=f"{pagedesk_server}/api/v1", headers={"Authorization": f"Bearer {token}"}
    )
    (conversation,) = api.get("/conversations").json()["data"]
    assert conversation["is_group"] is True
    detail = api.get(f"/conversations/{conversation['id']}").json()
    assert sorted(p["name"] for p in detail["participants"]) == ["Ada", "Alan", "Grace"]
    messages = api.get(f"/conversations/{conversation['id']}/messages").json()["data"]
    assert [m["text"] for m in messages] == ["Sunday at 9?", "Works for me", "Count me in"]
