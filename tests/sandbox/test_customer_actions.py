"""Acting as the customer: each control action fires Meta-shaped webhook events and
returns them; the thread view shows both sides."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox.helpers import Sandbox


@pytest.fixture
def page(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.page()


@pytest.fixture
def psid(sandbox: Sandbox, page: dict[str, Any]) -> str:
    return str(sandbox.customer(page)["psid"])


def set_get_started(sandbox: Sandbox, page: dict[str, Any]) -> None:
    httpx.post(
        f"{sandbox.url}/v25.0/me/messenger_profile",
        params={"access_token": page["access_token"]},
        json={"get_started": {"payload": "GET_STARTED"}},
    ).raise_for_status()


def test_messages_with_attachments_stickers_quick_replies_and_quotes(
    sandbox: Sandbox, page: Any, psid: str
) -> None:
    first = sandbox.say(psid, "first")
    image = sandbox.act(
        psid, "messages", attachments=[{"type": "image", "url": "https://example.com/bike.jpg"}]
    )
    assert image["events"][0]["message"]["attachments"] == [
        {"type": "image", "payload": {"url": "https://example.com/bike.jpg"}}
    ]
    location = {"type": "location", "payload": {"coordinates": {"lat": 52.5, "long": 13.4}}}
    located = sandbox.act(psid, "messages", attachments=[location])
    assert located["events"][0]["message"]["attachments"] == [location]
    sticker = sandbox.act(psid, "messages", sticker_id=369239263222822)
    [attachment] = sticker["events"][0]["message"]["attachments"]  # after 30 Aug 2026
    assert attachment["type"] == "sticker"
    assert attachment["payload"]["sticker_id"] == 369239263222822
    quick = sandbox.say(psid, "Red", quick_reply_payload="COLOR_RED")
    assert quick["events"][0]["message"]["quick_reply"] == {"payload": "COLOR_RED"}
    quoted = sandbox.say(psid, "as I said", reply_to_mid=first["mid"])
    assert quoted["events"][0]["message"]["reply_to"] == {
        "mid": first["mid"],
        "is_self_reply": True,
    }
    page_mid = sandbox.text(page, psid, "We have it").json()["message_id"]
    answer = sandbox.say(psid, "great", reply_to_mid=page_mid)
    assert answer["events"][0]["message"]["reply_to"]["is_self_reply"] is False


def test_stickers_come_twice_during_the_transition(sandbox: Sandbox, psid: str) -> None:
    sandbox.control("POST", "/clock", {"set": 1782000000})  # July 2026
    sticker = sandbox.act(psid, "messages", sticker_id=1234)
    types = [a["type"] for a in sticker["events"][0]["message"]["attachments"]]
    assert sorted(types) == ["image", "sticker"]


def test_postback(sandbox: Sandbox, page: Any, psid: str) -> None:
    result = sandbox.act(psid, "postback", title="Track order", payload="TRACK:42")
    [event] = result["events"]
    assert event["postback"] == {
        "mid": result["mid"],
        "title": "Track order",
        "payload": "TRACK:42",
    }


def test_open_link_in_a_new_thread_is_a_get_started_postback(
    sandbox: Sandbox, page: Any, psid: str
) -> None:
    set_get_started(sandbox, page)
    [event] = sandbox.act(psid, "open_link", ref="qr-store-berlin")["events"]
    assert event["postback"]["title"] == "Get Started"
    assert event["postback"]["payload"] == "GET_STARTED"
    assert event["postback"]["referral"] == {
        "ref": "qr-store-berlin",
        "source": "SHORTLINK",
        "type": "OPEN_THREAD",
    }
    # The thread exists now: the next link is a referral event.
    [again] = sandbox.act(psid, "open_link", ref="newsletter")["events"]
    assert again["referral"] == {"ref": "newsletter", "source": "SHORTLINK", "type": "OPEN_THREAD"}
    assert [e for e in sandbox.events()] == [event, again]


def test_open_link_without_get_started_is_a_referral(sandbox: Sandbox, psid: str) -> None:
    [event] = sandbox.act(psid, "open_link", ref="promo", is_new_thread=True)["events"]
    assert event["referral"]["source"] == "SHORTLINK"


def test_ad_click_in_a_new_thread_rides_on_the_first_message(
    sandbox: Sandbox, page: Any, psid: str
) -> None:
    clicked = sandbox.act(psid, "ad_click", ad_id="120212345678900123", ad_title="Spring sale")
    assert clicked["events"] == [] and clicked["pending"] is True
    message = sandbox.say(psid, "Is the sale still on?")
    referral = message["events"][0]["message"]["referral"]
    assert referral["source"] == "ADS"
    assert referral["ad_id"] == "120212345678900123"
    assert referral["ads_context_data"]["ad_title"] == "Spring sale"
    assert referral["ads_context_data"]["post_id"].startswith(page["page_id"] + "_")
    later = sandbox.say(psid, "hello?")
    assert "referral" not in later["events"][0]["message"]


def test_ad_click_with_postback_and_in_an_existing_thread(sandbox: Sandbox, psid: str) -> None:
    started = sandbox.act(psid, "ad_click", ad_id="1", ref="ad-ref", postback_payload="ICE_1")
    assert started["events"][0]["postback"]["referral"]["ref"] == "ad-ref"
    [event] = sandbox.act(psid, "ad_click", ad_id="2", photo_url="https://e.com/p.jpg")["events"]
    assert event["referral"]["ad_id"] == "2"
    assert event["referral"]["ads_context_data"]["photo_url"] == "https://e.com/p.jpg"


def test_comment_change_shape(sandbox: Sandbox, page: Any, psid: str) -> None:
    post = sandbox.control("POST", f"/pages/{page['page_id']}/posts", {"message": "New bikes!"})
    result = sandbox.act(psid, "comment", message="Price?", post_id=post["post_id"])
    [change] = result["events"]
    value = change["value"]
    customer = sandbox.control("GET", f"/customers/{psid}")
    assert value["from"] == {"id": customer["user_id"], "name": "Ada Lovelace"}
    assert value["from"]["id"] != psid  # feed ids are not PSIDs
    assert value["post_id"] == post["post_id"]
    assert post["post_id"].startswith(page["page_id"] + "_")
    assert value["comment_id"].startswith(post["post_id"].split("_")[1] + "_")
    assert value["post"]["id"] == post["post_id"]
    assert (value["item"], value["verb"], value["message"]) == ("comment", "add", "Price?")
    assert value["parent_id"] == post["post_id"]
    assert isinstance(value["created_time"], int) and value["created_time"] < 10**11
    missing = sandbox.http.post(
        f"/_sandbox/customers/{psid}/comment", json={"message": "x", "post_id": "1_2"}
    )
    assert missing.status_code == 404


def test_react_unreact_read_and_edit(sandbox: Sandbox, page: Any, psid: str) -> None:
    mine = sandbox.say(psid, "helo")
    page_mid = sandbox.text(page, psid, "Hi!").json()["message_id"]
    react = sandbox.act(psid, "react", mid=page_mid, reaction="love")["events"][0]["reaction"]
    assert react == {
        "mid": page_mid,
        "action": "react",
        "reaction": "love",
        "emoji": "\u2764\ufe0f",
    }
    unreact = sandbox.act(psid, "react", mid=page_mid, action="unreact")["events"][0]["reaction"]
    assert unreact == {"mid": page_mid, "action": "unreact"}
    edit = sandbox.act(psid, "edit", mid=mine["mid"], text="hello")["events"][0]["message_edit"]
    assert edit == {"mid": mine["mid"], "text": "hello", "num_edit": 1}
    assert (
        sandbox.http.post(
            f"/_sandbox/customers/{psid}/edit", json={"mid": page_mid, "text": "x"}
        ).status_code
        == 400
    )
    bad = sandbox.http.post(
        f"/_sandbox/customers/{psid}/react", json={"mid": page_mid, "reaction": "meh"}
    )
    assert bad.status_code == 400
    items = sandbox.thread(psid)["items"]
    assert items[0]["text"] == "hello" and items[0]["edit_count"] == 1


def test_optin_shapes(sandbox: Sandbox, psid: str) -> None:
    one_time = sandbox.act(psid, "optin", type="one_time", payload="RESTOCK:42")
    assert one_time["events"][0]["optin"] == {
        "type": "one_time_notif_req",
        "payload": "RESTOCK:42",
        "one_time_notif_token": one_time["token"],
    }
    recurring = sandbox.act(
        psid,
        "optin",
        type="recurring",
        frequency="WEEKLY",
        title="Deals",
        payload="DEALS",
        timezone="Europe/Berlin",
    )
    optin = recurring["events"][0]["optin"]
    assert optin["type"] == "notification_messages"
    assert optin["notification_messages_frequency"] == "WEEKLY"
    assert optin["notification_messages_timezone"] == "Europe/Berlin"
    assert optin["notification_messages_token"] == recurring["token"]
    assert optin["user_token_status"] == "NOT_REFRESHED"
    now = sandbox.control("GET", "/clock")["now_ms"]
    assert 272 * 86400_000 < optin["token_expiry_timestamp"] - now < 274 * 86400_000
    bad = sandbox.http.post(f"/_sandbox/customers/{psid}/optin", json={"type": "smoke_signal"})
    assert bad.status_code == 400


def test_block_fires_nothing_and_stops_the_customer(sandbox: Sandbox, psid: str) -> None:
    assert sandbox.act(psid, "block") == {"events": [], "blocked": True}
    assert (
        sandbox.http.post(f"/_sandbox/customers/{psid}/messages", json={"text": "x"}).status_code
        == 409
    )
    sandbox.act(psid, "unblock")
    sandbox.say(psid, "back")


def test_policy_enforcement_restricts_the_page(sandbox: Sandbox, page: Any, psid: str) -> None:
    sandbox.say(psid)
    path = f"/pages/{page['page_id']}/policy_enforcement"
    block = sandbox.control("POST", path, {"action": "block", "reason": "Too many blocks"})
    assert block["events"][0]["policy_enforcement"] == {
        "action": "block",
        "reason": "Too many blocks",
    }
    assert sandbox.text(page, psid).json()["error"]["error_subcode"] == 1893063
    unblock = sandbox.control("POST", path, {"action": "unblock", "reason": "ignored"})
    assert unblock["events"][0]["policy_enforcement"] == {"action": "unblock"}
    assert sandbox.text(page, psid).status_code == 200


def test_thread_view_shows_both_sides_with_persona_names(
    sandbox: Sandbox, page: Any, psid: str
) -> None:
    sandbox.say(psid, "Hi")
    persona = httpx.post(
        f"{sandbox.url}/v25.0/me/personas",
        params={"access_token": page["access_token"]},
        json={"name": "Sam from Support", "profile_picture_url": "https://e.com/sam.png"},
    ).json()
    sandbox.send(
        page,
        {
            "recipient": {"id": psid},
            "messaging_type": "RESPONSE",
            "message": {
                "text": "Which size?",
                "quick_replies": [{"content_type": "text", "title": "M", "payload": "SIZE_M"}],
            },
            "persona_id": persona["id"],
        },
    )
    thread = sandbox.thread(psid)
    customer_item, page_item = thread["items"]
    assert (customer_item["from"], customer_item["text"]) == ("customer", "Hi")
    assert page_item["from"] == "page"
    assert page_item["persona"]["name"] == "Sam from Support"
    assert page_item["quick_replies"][0]["payload"] == "SIZE_M"
    assert thread["page"]["name"] == page["name"]
    assert thread["customer"]["window"]["open"] is True
    assert thread["thread_owner_app_id"] == sandbox.app["app_id"]


def test_control_errors(sandbox: Sandbox, page: Any) -> None:
    assert (
        sandbox.http.post("/_sandbox/customers/404/messages", json={"text": "x"}).status_code == 404
    )
    assert sandbox.http.get("/_sandbox/pages/404").status_code == 404
    no_name = sandbox.http.post(f"/_sandbox/pages/{page['page_id']}/customers", json={})
    assert no_name.status_code == 400
    typo = sandbox.http.patch(f"/_sandbox/pages/{page['page_id']}", json={"restrcted": True})
    assert typo.status_code == 400 and "restrcted" in typo.json()["error"]["message"]
    duplicate = sandbox.http.post(
        "/_sandbox/pages", json={"name": "Dup", "page_id": page["page_id"]}
    )
    assert duplicate.status_code == 409
    not_json = sandbox.http.post(
        "/_sandbox/pages", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400


def test_page_defaults_look_real(sandbox: Sandbox) -> None:
    page = sandbox.page("Café Zürich")
    assert page["page_id"].isdigit() and len(page["page_id"]) in (15, 16)
    assert page["access_token"].startswith("EAAG") and len(page["access_token"]) > 150
    assert page["username"].isascii() and page["username"].isalnum()
    assert page["link"] == f"https://m.me/{page['username']}"
    customer = sandbox.customer(page)
    assert customer["psid"].isdigit() and len(customer["psid"]) in (16, 17)
    assert sandbox.control("GET", f"/pages/{page['username']}")["page_id"] == page["page_id"]
    chosen = sandbox.control(
        "POST",
        "/pages",
        {"name": "Fixed", "page_id": "108420531234567", "access_token": "EAAGfixed"},
    )
    assert (chosen["page_id"], chosen["access_token"]) == ("108420531234567", "EAAGfixed")
