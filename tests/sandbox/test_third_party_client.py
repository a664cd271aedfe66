"""A third-party Messenger client's view: plain httpx calls shaped like Meta's docs,
against the sandbox's base URL instead of https://graph.facebook.com."""

from __future__ import annotations

import hashlib
import hmac

import httpx

from tests.sandbox.helpers import Sandbox


def test_documented_calls_work_unchanged(sandbox: Sandbox) -> None:
    page = sandbox.page("Third Party Shop", subscribed=False)
    customer = sandbox.customer(page, "Grace", last_name="Hopper", locale="en_US", timezone=-5)
    token = page["access_token"]
    graph = httpx.Client(base_url=f"{sandbox.url}/v25.0", timeout=10)

    # Subscribe the app to the page, the way the setup guide does it.
    subscribed = graph.post(
        f"/{page['page_id']}/subscribed_apps",
        params={
            "subscribed_fields": "messages,messaging_postbacks,message_echoes,message_deliveries",
            "access_token": token,
        },
    )
    assert subscribed.json() == {"success": True}

    sandbox.say(customer["psid"], "Do you ship to Lisbon?")

    # Profile.
    profile = graph.get(
        f"/{customer['psid']}",
        params={
            "fields": "first_name,last_name,profile_pic,locale,timezone",
            "access_token": token,
        },
    ).json()
    assert profile["first_name"] == "Grace"
    assert profile["last_name"] == "Hopper"
    assert profile["locale"] == "en_US"
    assert profile["timezone"] == -5
    picture = httpx.get(profile["profile_pic"])  # an expiring sandbox media URL
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/png"

    # Sender actions.
    for action in ("mark_seen", "typing_on"):
        seen = graph.post(
            "/me/messages",
            params={"access_token": token},
            json={"recipient": {"id": customer["psid"]}, "sender_action": action},
        )
        assert seen.status_code == 200
        assert seen.json() == {"recipient_id": customer["psid"]}

    # A text reply.
    sent = graph.post(
        "/me/messages",
        params={"access_token": token},
        json={
            "recipient": {"id": customer["psid"]},
            "messaging_type": "RESPONSE",
            "message": {"text": "hello, world!"},
        },
    )
    assert sent.status_code == 200
    body = sent.json()
    assert body["recipient_id"] == customer["psid"]
    assert body["message_id"].startswith("m_")

    # Quick replies, with the token in the Authorization header instead.
    quick = graph.post(
        "/me/messages",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "recipient": {"id": customer["psid"]},
            "messaging_type": "RESPONSE",
            "message": {
                "text": "Pick a color:",
                "quick_replies": [
                    {"content_type": "text", "title": "Red", "payload": "PICK_RED"},
                    {"content_type": "text", "title": "Green", "payload": "PICK_GREEN"},
                ],
            },
        },
    )
    assert quick.status_code == 200, quick.text

    # Form-encoded, as curl -F examples send it.
    form = graph.post(
        "/me/messages",
        data={
            "recipient": f'{{"id":"{customer["psid"]}"}}',
            "messaging_type": "RESPONSE",
            "message": '{"text":"form works too"}',
            "access_token": token,
        },
    )
    assert form.status_code == 200, form.text

    # A persona, then a message sent as that persona.
    persona = graph.post(
        "/me/personas",
        params={"access_token": token},
        json={"name": "John Mathew", "profile_picture_url": "https://example.com/john.png"},
    ).json()
    assert persona["id"].isdigit()
    as_persona = graph.post(
        "/me/messages",
        params={"access_token": token},
        json={
            "recipient": {"id": customer["psid"]},
            "messaging_type": "RESPONSE",
            "message": {"text": "Hi, John here"},
            "persona_id": persona["id"],
        },
    )
    assert as_persona.status_code == 200
    fetched = graph.get(f"/{persona['id']}", params={"access_token": token}).json()
    assert fetched == {
        "name": "John Mathew",
        "profile_picture_url": "https://example.com/john.png",
        "id": persona["id"],
    }

    # Messenger profile.
    saved = graph.post(
        "/me/messenger_profile",
        params={"access_token": token},
        json={
            "get_started": {"payload": "GET_STARTED"},
            "greeting": [
                {"locale": "default", "text": "Hello {{user_first_name}}!"},
                {"locale": "en_US", "text": "Timeless apparel for the masses."},
            ],
        },
    )
    assert saved.json() == {"result": "success"}
    read_back = graph.get(
        "/me/messenger_profile",
        params={"fields": "get_started,greeting", "access_token": token},
    ).json()
    assert read_back["data"][0]["get_started"] == {"payload": "GET_STARTED"}
    assert len(read_back["data"][0]["greeting"]) == 2

    # What the webhook saw: the customer's message, echoes with our app id, deliveries.
    sandbox.flush()
    received = sandbox.receiver.accepted
    assert received
    for delivery in received:
        assert delivery.headers["content-type"] == "application/json"
        assert delivery.headers["user-agent"] == "facebookexternalua"
        expected = hmac.new(
            sandbox.app["app_secret"].encode(), delivery.body, hashlib.sha256
        ).hexdigest()
        assert delivery.headers["x-hub-signature-256"] == f"sha256={expected}"
    events = sandbox.events()
    texts = [e["message"].get("text") for e in events if "message" in e]
    assert texts[0] == "Do you ship to Lisbon?"
    echoes = [e for e in events if e.get("message", {}).get("is_echo")]
    assert {e["message"]["text"] for e in echoes} >= {"hello, world!", "Pick a color:"}
    assert all(e["message"]["app_id"] == int(sandbox.app["app_id"]) for e in echoes)
    assert all(e["sender"]["id"] == page["page_id"] for e in echoes)
    deliveries = [e for e in events if "delivery" in e]
    assert {mid for e in deliveries for mid in e["delivery"]["mids"]} >= {body["message_id"]}
    graph.close()


def test_unversioned_and_other_versions_are_accepted(sandbox: Sandbox) -> None:
    page = sandbox.page()
    customer = sandbox.customer(page)
    sandbox.say(customer["psid"])
    for prefix in ("", "/v19.0", "/v26.0"):
        response = httpx.post(
            f"{sandbox.url}{prefix}/me/messages",
            params={"access_token": page["access_token"]},
            json={"recipient": {"id": customer["psid"]}, "message": {"text": "hi"}},
        )
        assert response.status_code == 200, (prefix, response.text)
    versioned = httpx.get(f"{sandbox.url}/v26.0/me", params={"access_token": page["access_token"]})
    assert versioned.json() == {"name": page["name"], "id": page["page_id"]}
    assert versioned.headers["facebook-api-version"] == "v26.0"
