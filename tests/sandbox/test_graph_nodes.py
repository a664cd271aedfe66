"""Graph endpoints besides the Send API: profiles, personas, Messenger profile,
subscriptions, debug_token and thread control."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox.helpers import Sandbox, assert_error, error_of

PAGE_INBOX = "263902037430900"


@pytest.fixture
def page(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.page()


@pytest.fixture
def graph(sandbox: Sandbox, page: dict[str, Any]) -> httpx.Client:
    client = httpx.Client(
        base_url=f"{sandbox.url}/v25.0", params={"access_token": page["access_token"]}
    )
    yield client  # type: ignore[misc]
    client.close()


# -- profiles ----------------------------------------------------------------------------


def test_profile_fields_and_defaults(sandbox: Sandbox, page: Any, graph: httpx.Client) -> None:
    customer = sandbox.customer(page, "Mia", last_name="Schneider", locale="de_DE", timezone=1)
    psid = customer["psid"]
    default = graph.get(f"/{psid}").json()
    assert set(default) == {"first_name", "last_name", "profile_pic", "id"}
    chosen = graph.get(f"/{psid}", params={"fields": "name,locale,timezone"}).json()
    assert chosen == {"name": "Mia Schneider", "locale": "de_DE", "timezone": 1}
    assert_error(graph.get(f"/{psid}", params={"fields": "email"}), 100)


def test_profile_unavailable(sandbox: Sandbox, page: Any, graph: httpx.Client) -> None:
    psid = sandbox.customer(page, has_profile=False)["psid"]
    assert_error(graph.get(f"/{psid}", params={"fields": "first_name"}), 100, 2018218)


def test_unknown_and_foreign_nodes(sandbox: Sandbox, page: Any, graph: httpx.Client) -> None:
    stranger = sandbox.customer(sandbox.page("Other"))["psid"]
    for node in ("1234567", stranger):
        response = graph.get(f"/{node}")
        error = error_of(response)
        assert response.status_code == 400
        assert (error["code"], error["error_subcode"]) == (100, 33)
        assert error["type"] == "GraphMethodException"
    assert graph.get("/me/nonsense").json()["error"]["code"] == 2500


def test_page_node(page: Any, graph: httpx.Client) -> None:
    assert graph.get("/me").json() == {"name": page["name"], "id": page["page_id"]}
    fields = graph.get(f"/{page['page_id']}", params={"fields": "username,link"}).json()
    assert fields["link"].endswith(page["username"])


# -- personas ----------------------------------------------------------------------------


def test_persona_validation(graph: httpx.Client) -> None:
    too_long = graph.post(
        "/me/personas", json={"name": "x" * 51, "profile_picture_url": "https://e.com/p.png"}
    )
    assert_error(too_long, 100)
    bad_url = graph.post("/me/personas", json={"name": "Ana", "profile_picture_url": "nope"})
    assert_error(bad_url, 100)
    fifty = graph.post(
        "/me/personas", json={"name": "x" * 50, "profile_picture_url": "https://e.com/p.png"}
    )
    assert fifty.status_code == 200


def test_personas_paging_follows_next_links(
    sandbox: Sandbox, page: Any, graph: httpx.Client
) -> None:
    created = [
        graph.post(
            f"/{page['page_id']}/personas",
            json={"name": f"Agent {n}", "profile_picture_url": f"https://e.com/{n}.png"},
        ).json()["id"]
        for n in range(5)
    ]
    first = graph.get("/me/personas", params={"limit": 2}).json()
    assert [p["id"] for p in first["data"]] == created[:2]
    assert set(first["paging"]["cursors"]) == {"before", "after"}
    assert "previous" not in first["paging"]
    seen = [p["id"] for p in first["data"]]
    next_url = first["paging"].get("next")
    pages = 1
    while next_url:
        assert next_url.startswith(f"{sandbox.url}/v25.0/me/personas?")
        assert "access_token=" in next_url
        body = httpx.get(next_url).json()  # a full URL, usable as is
        seen += [p["id"] for p in body["data"]]
        next_url = body["paging"].get("next")
        pages += 1
    assert seen == created
    assert pages == 3
    after = graph.get(
        "/me/personas", params={"limit": 2, "after": first["paging"]["cursors"]["after"]}
    )
    previous = httpx.get(after.json()["paging"]["previous"]).json()
    assert [p["id"] for p in previous["data"]] == created[:2]


def test_persona_soft_delete(sandbox: Sandbox, page: Any, graph: httpx.Client) -> None:
    psid = sandbox.customer(page)["psid"]
    sandbox.say(psid)
    persona = graph.post(
        "/me/personas", json={"name": "Ana", "profile_picture_url": "https://e.com/a.png"}
    ).json()
    sent = graph.post(
        "/me/messages",
        json={
            "recipient": {"id": psid},
            "message": {"text": "Ana here"},
            "persona_id": persona["id"],
        },
    )
    assert sent.status_code == 200
    assert graph.delete(f"/{persona['id']}").json() == {"success": True}
    assert graph.get("/me/personas").json()["data"] == []
    assert error_of(graph.get(f"/{persona['id']}"))["code"] == 100
    item = sandbox.thread(psid)["items"][-1]
    assert item["persona"]["name"] == "Ana"  # old messages keep the persona


# -- Messenger profile -------------------------------------------------------------------


def test_messenger_profile_round_trip(graph: httpx.Client) -> None:
    profile = {
        "get_started": {"payload": "GET_STARTED"},
        "greeting": [{"locale": "default", "text": "Hi {{user_first_name}}!"}],
        "ice_breakers": [
            {
                "locale": "default",
                "call_to_actions": [
                    {"question": f"Question {n}?", "payload": f"Q{n}"} for n in range(4)
                ],
            }
        ],
        "persistent_menu": [
            {
                "locale": "default",
                "composer_input_disabled": False,
                "call_to_actions": [
                    {"type": "postback", "title": "Talk to an agent", "payload": "AGENT"},
                    {"type": "web_url", "title": "Shop", "url": "https://example.com"},
                ],
            }
        ],
        "whitelisted_domains": ["https://example.com"],
    }
    assert graph.post("/me/messenger_profile", json=profile).json() == {"result": "success"}
    fields = ",".join(profile)
    stored = graph.get("/me/messenger_profile", params={"fields": fields}).json()
    assert stored == {"data": [profile]}
    deleted = graph.request("DELETE", "/me/messenger_profile", json={"fields": ["greeting"]})
    assert deleted.json() == {"result": "success"}
    assert graph.get("/me/messenger_profile", params={"fields": "greeting"}).json() == {"data": []}
    assert_error(graph.get("/me/messenger_profile"), 100)


@pytest.mark.parametrize(
    "body",
    [
        {"greeting": [{"locale": "default", "text": "x" * 161}]},
        {"greeting": [{"locale": "en_US", "text": "no default"}]},
        {"ice_breakers": [{"question": f"Q{n}?", "payload": f"Q{n}"} for n in range(5)]},
        {
            "persistent_menu": [
                {
                    "locale": "default",
                    "call_to_actions": [{"type": "postback", "title": "A", "payload": "A"}],
                }
            ]
        },
        {"whitelisted_domains": ["http://insecure.example.com"]},
        {"get_started": {}},
        {"unknown_setting": True},
    ],
)
def test_messenger_profile_validation(graph: httpx.Client, body: dict[str, Any]) -> None:
    assert_error(graph.post("/me/messenger_profile", json=body), 100)


def test_get_started_cannot_go_while_a_menu_needs_it(graph: httpx.Client) -> None:
    graph.post(
        "/me/messenger_profile",
        json={
            "get_started": {"payload": "GO"},
            "persistent_menu": [
                {
                    "locale": "default",
                    "call_to_actions": [{"type": "postback", "title": "A", "payload": "A"}],
                }
            ],
        },
    )
    assert_error(
        graph.request("DELETE", "/me/messenger_profile", json={"fields": ["get_started"]}), 100
    )
    both = graph.request(
        "DELETE", "/me/messenger_profile", params={"fields": "get_started,persistent_menu"}
    )
    assert both.json() == {"result": "success"}


# -- subscriptions and tokens ------------------------------------------------------------


def test_only_subscribed_fields_are_delivered(sandbox: Sandbox, graph: httpx.Client) -> None:
    quiet = sandbox.page("Quiet", subscribed=False)
    loud = sandbox.page("Loud", subscribed=False)
    quiet_psid = sandbox.customer(quiet)["psid"]
    loud_psid = sandbox.customer(loud)["psid"]
    subscribe = httpx.post(
        f"{sandbox.url}/v25.0/{loud['page_id']}/subscribed_apps",
        params={"subscribed_fields": "messages", "access_token": loud["access_token"]},
    )
    assert subscribe.json() == {"success": True}
    listed = httpx.get(
        f"{sandbox.url}/v25.0/{loud['page_id']}/subscribed_apps",
        params={"access_token": loud["access_token"]},
    ).json()["data"]
    assert listed[0]["id"] == sandbox.app["app_id"]
    assert listed[0]["subscribed_fields"] == ["messages"]
    sandbox.say(quiet_psid, "nobody hears this")
    sandbox.say(loud_psid, "heard")
    assert sandbox.text(loud, loud_psid).status_code == 200  # echo + delivery not subscribed
    events = sandbox.events()
    assert [e["message"]["text"] for e in events] == ["heard"]
    bad = httpx.post(
        f"{sandbox.url}/v25.0/me/subscribed_apps",
        params={"subscribed_fields": "messages,telepathy", "access_token": loud["access_token"]},
    )
    assert_error(bad, 100)
    gone = httpx.delete(
        f"{sandbox.url}/v25.0/me/subscribed_apps", params={"access_token": loud["access_token"]}
    )
    assert gone.json() == {"success": True}


def test_debug_token(sandbox: Sandbox, page: Any) -> None:
    app_token = f"{sandbox.app['app_id']}|{sandbox.app['app_secret']}"
    url = f"{sandbox.url}/v25.0/debug_token"
    data = httpx.get(
        url, params={"input_token": page["access_token"], "access_token": app_token}
    ).json()["data"]
    assert data["app_id"] == sandbox.app["app_id"]
    assert data["type"] == "PAGE"
    assert data["is_valid"] is True
    assert data["profile_id"] == page["page_id"]
    assert "pages_messaging" in data["scopes"]
    assert data["expires_at"] == 0

    sandbox.control("PATCH", f"/pages/{page['page_id']}", {"token_expires_in": 60})
    sandbox.advance(120)
    expired = httpx.get(
        url, params={"input_token": page["access_token"], "access_token": app_token}
    ).json()["data"]
    assert expired["is_valid"] is False
    assert expired["error"]["code"] == 190
    assert expired["expires_at"] > 0

    bogus = httpx.get(url, params={"input_token": "EAAGbogus", "access_token": app_token}).json()
    assert bogus["data"]["is_valid"] is False
    assert_error(httpx.get(url, params={"input_token": page["access_token"]}), 100)


# -- thread control ----------------------------------------------------------------------


def test_thread_control_round_trip(sandbox: Sandbox, page: Any, graph: httpx.Client) -> None:
    psid = sandbox.customer(page)["psid"]
    sandbox.say(psid, "hello")

    def owner() -> str:
        body = graph.get("/me/thread_owner", params={"recipient": psid}).json()
        return body["data"][0]["thread_owner"]["app_id"]

    assert owner() == sandbox.app["app_id"]
    passed = graph.post(
        "/me/pass_thread_control",
        json={"recipient": {"id": psid}, "target_app_id": PAGE_INBOX, "metadata": "human please"},
    )
    assert passed.json() == {"success": True}
    assert owner() == PAGE_INBOX
    assert_error(
        graph.post("/me/messages", json={"recipient": {"id": psid}, "message": {"text": "x"}}),
        100,
        2534037,
    )

    # While the Page Inbox owns the thread, the customer's messages arrive as standby.
    sandbox.say(psid, "are you a human?")
    sandbox.act(psid, "page_reply", text="Yes, I am Sam.")
    standby = sandbox.events("standby")
    assert [e["message"].get("text") for e in standby if "message" in e] == [
        "are you a human?",
        "Yes, I am Sam.",
    ]
    assert standby[1]["message"]["app_id"] == int(PAGE_INBOX)

    requested = graph.post(
        "/me/request_thread_control", json={"recipient": {"id": psid}, "metadata": "bot again"}
    )
    assert requested.json() == {"success": True}
    taken = graph.post(
        "/me/take_thread_control", json={"recipient": {"id": psid}, "metadata": "back"}
    )
    assert taken.json() == {"success": True}
    assert owner() == sandbox.app["app_id"]
    assert (
        graph.post(
            "/me/messages", json={"recipient": {"id": psid}, "message": {"text": "x"}}
        ).status_code
        == 200
    )
    assert_error(graph.post("/me/request_thread_control", json={"recipient": {"id": psid}}), 100)
    assert_error(graph.post("/me/pass_thread_control", json={"recipient": {"id": psid}}), 100)


def test_other_apps_fire_handover_webhooks(sandbox: Sandbox, page: Any) -> None:
    psid = sandbox.customer(page)["psid"]
    ours = sandbox.app["app_id"]
    sandbox.act(psid, "thread_control", action="take", metadata="agent typing in inbox")
    sandbox.act(psid, "thread_control", action="request", metadata="bot wants it")
    sandbox.act(psid, "thread_control", action="pass", metadata="handing back")
    events = sandbox.events()
    assert events[0]["take_thread_control"] == {
        "previous_owner_app_id": ours,
        "new_owner_app_id": PAGE_INBOX,
        "metadata": "agent typing in inbox",
    }
    assert events[1]["request_thread_control"] == {
        "requested_owner_app_id": int(PAGE_INBOX),
        "metadata": "bot wants it",
    }
    assert events[2]["pass_thread_control"] == {
        "previous_owner_app_id": PAGE_INBOX,
        "new_owner_app_id": ours,
        "metadata": "handing back",
    }
    assert all(e["sender"] == {"id": psid} for e in events)
    roles = sandbox.control("POST", f"/pages/{page['page_id']}/app_roles")["events"][0]
    assert roles["app_roles"][ours] == ["primary_receiver"]
    assert "sender" not in roles
