"""The sandbox mounted under a prefix, its JSON snapshot, and the customer phone page."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from pagedesk.messenger.signature import verify_signature
from pagedesk.sandbox.app import create_app
from tests.sandbox.servers import ServerThread, WebhookReceiver


@pytest.fixture
def mounted() -> Iterator[ServerThread]:
    async def home(request: Any) -> PlainTextResponse:
        return PlainTextResponse("host app")

    host = Starlette(routes=[Route("/", home), Mount("/sandbox", app=create_app())])
    server = ServerThread(host).start()
    yield server
    server.stop()


def test_mounted_under_a_prefix(
    mounted: ServerThread, webhook_receiver: tuple[WebhookReceiver, ServerThread]
) -> None:
    receiver, receiver_server = webhook_receiver
    receiver.reset()
    base = f"{mounted.url}/sandbox"
    with httpx.Client(base_url=base) as http:
        assert httpx.get(mounted.url).text == "host app"
        app = http.post(
            "/_sandbox/app",
            json={
                "callback_url": f"{receiver_server.url}/webhook",
                "verify_token": receiver.verify_token,
            },
        ).json()
        page = http.post(
            "/_sandbox/pages", json={"name": "Mounted", "subscribed_fields": ["messages"]}
        ).json()
        token = {"access_token": page["access_token"]}
        for n in range(3):
            created = http.post(
                "/v25.0/me/personas",
                params=token,
                json={"name": f"P{n}", "profile_picture_url": "https://e.com/p.png"},
            )
            assert created.status_code == 200
        listed = http.get("/v25.0/me/personas", params={**token, "limit": 2}).json()
        next_url = listed["paging"]["next"]
        assert next_url.startswith(f"{base}/v25.0/me/personas?")
        assert len(httpx.get(next_url).json()["data"]) == 1

        # Deliveries run even though Starlette gives a mounted app no lifespan events.
        psid = http.post(f"/_sandbox/pages/{page['page_id']}/customers", json={"first_name": "M"})
        http.post(f"/_sandbox/customers/{psid.json()['psid']}/messages", json={"text": "hi"})
        assert http.post("/_sandbox/flush").status_code == 200
        [received] = receiver.accepted
        assert verify_signature(
            received.body, received.headers["x-hub-signature-256"], app["app_secret"]
        )

        phone = http.get("/")
        assert 'const BASE = "/sandbox";' in phone.text
        assert http.get("/phone").status_code == 200


def test_snapshot_survives_a_restart(tmp_path: Path) -> None:
    snapshot = tmp_path / "sandbox.json"
    server = ServerThread(create_app(snapshot_path=snapshot)).start()
    try:
        with httpx.Client(base_url=server.url) as http:
            app = http.get("/_sandbox/app").json()
            page = http.post("/_sandbox/pages", json={"name": "Durable"}).json()
            customer = http.post(
                f"/_sandbox/pages/{page['page_id']}/customers", json={"first_name": "Kim"}
            ).json()
            said = http.post(
                f"/_sandbox/customers/{customer['psid']}/messages", json={"text": "hi"}
            )
            http.post(
                "/v25.0/me/personas",
                params={"access_token": page["access_token"]},
                json={"name": "Ana", "profile_picture_url": "https://e.com/a.png"},
            )
            http.post("/_sandbox/clock", json={"advance_seconds": 3600})
    finally:
        server.stop()
    assert snapshot.exists()

    restarted = ServerThread(create_app(snapshot_path=snapshot)).start()
    try:
        with httpx.Client(base_url=restarted.url) as http:
            assert http.get("/_sandbox/app").json()["app_secret"] == app["app_secret"]
            assert [p["page_id"] for p in http.get("/_sandbox/pages").json()["data"]] == [
                page["page_id"]
            ]
            thread = http.get(f"/_sandbox/customers/{customer['psid']}/thread").json()
            assert [m["mid"] for m in thread["items"]] == [said.json()["mid"]]
            assert http.get("/_sandbox/clock").json()["offset"] >= 3600
            personas = http.get("/v25.0/me/personas", params={"access_token": page["access_token"]})
            assert [p["name"] for p in personas.json()["data"]] == ["Ana"]
            # The window opened before the restart is still open (within the hour moved).
            reply = http.post(
                "/v25.0/me/messages",
                params={"access_token": page["access_token"]},
                json={"recipient": {"id": customer["psid"]}, "message": {"text": "still here"}},
            )
            assert reply.status_code == 200
    finally:
        restarted.stop()


def test_phone_page_is_self_contained_and_escapes_text(sandbox_server: ServerThread) -> None:
    response = httpx.get(f"{sandbox_server.url}/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert 'const BASE = "";' in html
    assert "default-src 'none'" in response.headers["content-security-policy"]
    # No external assets, no HTML injection sinks.
    assert "<link" not in html and 'src="http' not in html
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in html
    actions = ("messages", "postback", "open_link", "ad_click", "comment", "react", "read")
    for action in (*actions, "optin", "block", "unblock", "accept_request"):
        assert f'act("{action}"' in html
    assert '"/thread"' in html


def test_in_process_asgi_across_event_loops(
    webhook_receiver: tuple[WebhookReceiver, ServerThread],
) -> None:
    """httpx.ASGITransport runs no lifespan, and each asyncio.run is a new loop: the
    delivery loop starts on demand in whichever loop serves the request."""
    receiver, receiver_server = webhook_receiver
    receiver.reset()
    app = create_app()

    async def customer_writes(text: str) -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
            if not (await http.get("/_sandbox/pages")).json()["data"]:
                await http.post(
                    "/_sandbox/app",
                    json={
                        "callback_url": f"{receiver_server.url}/webhook",
                        "verify_token": receiver.verify_token,
                    },
                )
                page = await http.post(
                    "/_sandbox/pages",
                    json={"name": "In process", "subscribed_fields": ["messages"]},
                )
                await http.post(
                    f"/_sandbox/pages/{page.json()['page_id']}/customers", json={"first_name": "Io"}
                )
            page_id = (await http.get("/_sandbox/pages")).json()["data"][0]["page_id"]
            customers = (await http.get(f"/_sandbox/pages/{page_id}/customers")).json()["data"]
            await http.post(
                f"/_sandbox/customers/{customers[0]['psid']}/messages", json={"text": text}
            )
            assert (await http.post("/_sandbox/flush")).status_code == 200
        await app.state.dispatcher.stop()

    asyncio.run(customer_writes("first loop"))
    asyncio.run(customer_writes("second loop"))
    texts = [r.json()["entry"][0]["messaging"][0]["message"]["text"] for r in receiver.accepted]
    assert texts == ["first loop", "second loop"]
