"""Who may be messaged when: the 24-hour window, tags, private replies, notification
tokens, customer matching and user_ref, all moved through time with the sandbox clock."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox.helpers import Sandbox, assert_error

HOUR = 3600
DAY = 24 * HOUR


@pytest.fixture
def page(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.page()


def tagged(psid: str, tag: str, **message: Any) -> dict[str, Any]:
    return {
        "recipient": {"id": psid},
        "messaging_type": "MESSAGE_TAG",
        "tag": tag,
        "message": message or {"text": "tagged"},
    }


def feedback_template() -> dict[str, Any]:
    return {
        "attachment": {
            "type": "template",
            "payload": {"template_type": "customer_feedback", "title": "Rate us"},
        }
    }


# -- the standard window -----------------------------------------------------------------


def test_no_window_before_the_customer_writes(sandbox: Sandbox, page: Any) -> None:
    customer = sandbox.customer(page)
    assert_error(sandbox.text(page, customer["psid"]), 10, 2018278)


@pytest.mark.parametrize("messaging_type", ["RESPONSE", "UPDATE"])
def test_window_is_24_hours_from_the_last_message(
    sandbox: Sandbox, page: Any, messaging_type: str
) -> None:
    psid = sandbox.customer(page)["psid"]
    sandbox.say(psid)
    sandbox.advance(DAY - 5)
    assert sandbox.text(page, psid, messaging_type=messaging_type).status_code == 200
    sandbox.advance(10)
    error = assert_error(sandbox.text(page, psid, messaging_type=messaging_type), 10, 2018278)
    assert "outside of allowed window" in error["message"]
    # Sender actions follow the same window.
    typing = sandbox.send(page, {"recipient": {"id": psid}, "sender_action": "typing_on"})
    assert_error(typing, 10, 2018278)
    sandbox.say(psid, "back again")
    assert sandbox.text(page, psid, messaging_type=messaging_type).status_code == 200


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("postback", {"title": "Menu", "payload": "MENU"}),
        ("open_link", {"ref": "summer"}),
        ("ad_click", {"ad_id": "120200000000001"}),
    ],
)
def test_customer_actions_that_reopen_the_window(
    sandbox: Sandbox, page: Any, action: str, body: dict[str, Any]
) -> None:
    psid = sandbox.customer(page)["psid"]
    sandbox.say(psid)
    sandbox.advance(2 * DAY)
    assert_error(sandbox.text(page, psid), 10, 2018278)
    sandbox.act(psid, action, **body)
    assert sandbox.text(page, psid).status_code == 200


def test_reactions_optins_and_comments_do_not_open_the_window(sandbox: Sandbox, page: Any) -> None:
    psid = sandbox.customer(page)["psid"]
    sent_mid = None
    sandbox.say(psid)
    sent_mid = sandbox.text(page, psid).json()["message_id"]
    sandbox.advance(2 * DAY)
    sandbox.act(psid, "react", mid=sent_mid, reaction="love")
    sandbox.act(psid, "optin", type="one_time", payload="RESTOCK")
    sandbox.act(psid, "comment", message="nice")
    sandbox.act(psid, "read")
    assert_error(sandbox.text(page, psid), 10, 2018278)


def test_click_to_messenger_ad_window_lasts_7_days(sandbox: Sandbox, page: Any) -> None:
    from_ad = sandbox.customer(page)["psid"]
    sandbox.act(from_ad, "ad_click", ad_id="120200000000001", text="Is this on sale?")
    plain = sandbox.customer(page, "Bob")["psid"]
    sandbox.say(plain)
    sandbox.advance(3 * DAY)
    assert sandbox.text(page, from_ad).status_code == 200
    assert_error(sandbox.text(page, plain), 10, 2018278)
    sandbox.advance(4 * DAY + 60)
    assert_error(sandbox.text(page, from_ad), 10, 2018278)


# -- tags --------------------------------------------------------------------------------


def test_human_agent_allowed_for_7_days(sandbox: Sandbox, page: Any) -> None:
    psid = sandbox.customer(page)["psid"]
    sandbox.say(psid)
    sandbox.advance(7 * DAY - 10)
    assert sandbox.send(page, tagged(psid, "HUMAN_AGENT")).status_code == 200
    sandbox.advance(20)
    error = assert_error(sandbox.send(page, tagged(psid, "HUMAN_AGENT")), 10, 2018278)
    assert "7 days" in error["message"]


def test_tags_are_fine_inside_the_window(sandbox: Sandbox, page: Any) -> None:
    psid = sandbox.customer(page)["psid"]
    sandbox.say(psid)
    assert sandbox.send(page, tagged(psid, "HUMAN_AGENT")).status_code == 200


def test_customer_feedback_needs_its_template_and_7_days(sandbox: Sandbox, page: Any) -> None:
    psid = sandbox.customer(page)["psid"]
    sandbox.say(psid)
    sandbox.advance(3 * DAY)
    assert_error(sandbox.send(page, tagged(psid, "CUSTOMER_FEEDBACK", text="Rate us?")), 100)
    ok = sandbox.send(page, tagged(psid, "CUSTOMER_FEEDBACK", **feedback_template()))
    assert ok.status_code == 200, ok.text
    sandbox.advance(5 * DAY)
    late = sandbox.send(page, tagged(psid, "CUSTOMER_FEEDBACK", **feedback_template()))
    assert_error(late, 10, 2018278)


def test_allowed_tags_are_per_page_data(sandbox: Sandbox, page: Any) -> None:
    psid = sandbox.customer(page)["psid"]
    sandbox.say(psid)
    sandbox.control("PATCH", f"/pages/{page['page_id']}", {"allowed_tags": ["CUSTOMER_FEEDBACK"]})
    assert_error(sandbox.send(page, tagged(psid, "HUMAN_AGENT")), 100)
    sandbox.control("PATCH", f"/pages/{page['page_id']}", {"allowed_tags": ["ACCOUNT_UPDATE"]})
    assert sandbox.send(page, tagged(psid, "ACCOUNT_UPDATE")).status_code == 200


# -- private replies ---------------------------------------------------------------------


def private_reply(comment_id: str, text: str = "Sent you the details!") -> dict[str, Any]:
    return {"recipient": {"comment_id": comment_id}, "message": {"text": text}}


def test_private_reply_once_per_comment(sandbox: Sandbox, page: Any) -> None:
    psid = sandbox.customer(page)["psid"]
    comment = sandbox.act(psid, "comment", message="Price?")
    first = sandbox.send(page, private_reply(comment["comment_id"]))
    assert first.status_code == 200
    assert first.json()["recipient_id"] == psid
    assert first.json()["message_id"].startswith("m_")
    error = assert_error(sandbox.send(page, private_reply(comment["comment_id"])), 100, 2534025)
    assert "already" in error["message"]
    # Another comment by the same person can get its own private reply.
    second = sandbox.act(psid, "comment", message="And shipping?")
    assert sandbox.send(page, private_reply(second["comment_id"])).status_code == 200
    thread = sandbox.thread(psid)
    assert [m["kind"] for m in thread["items"]] == ["private_reply", "private_reply"]


def test_private_reply_window_is_7_days(sandbox: Sandbox, page: Any) -> None:
    psid = sandbox.customer(page)["psid"]
    comment = sandbox.act(psid, "comment", message="Price?")
    sandbox.advance(7 * DAY + 60)
    error = assert_error(sandbox.send(page, private_reply(comment["comment_id"])), 100, 2534025)
    assert "7 days" in error["message"]


def test_private_reply_to_unknown_comment(sandbox: Sandbox, page: Any) -> None:
    assert_error(sandbox.send(page, private_reply("123_456")), 100, 2534025)


def test_private_reply_does_not_open_the_window(sandbox: Sandbox, page: Any) -> None:
    psid = sandbox.customer(page)["psid"]
    comment = sandbox.act(psid, "comment", message="Price?")
    assert sandbox.send(page, private_reply(comment["comment_id"])).status_code == 200
    assert_error(sandbox.text(page, psid, "Any news?"), 10, 2018278)
    sandbox.say(psid, "Thanks, yes please send the link")
    assert sandbox.text(page, psid, "Here it is").status_code == 200


def test_private_reply_to_a_visitor_post(sandbox: Sandbox, page: Any) -> None:
    psid = sandbox.customer(page)["psid"]
    post = sandbox.act(psid, "comment", message="Love your shop!", visitor_post=True)
    body = {"recipient": {"post_id": post["post_id"]}, "message": {"text": "Thank you!"}}
    assert sandbox.send(page, body).json()["recipient_id"] == psid
    assert_error(sandbox.send(page, body), 100, 2534025)


# -- notification tokens -----------------------------------------------------------------


def test_one_time_notification_token_is_single_use_and_expires(sandbox: Sandbox, page: Any) -> None:
    psid = sandbox.customer(page)["psid"]
    token = sandbox.act(psid, "optin", type="one_time", payload="RESTOCK")["token"]
    other = sandbox.act(psid, "optin", type="one_time", payload="RESTOCK")["token"]
    sandbox.advance(30 * DAY)  # long outside the window
    body = {"recipient": {"one_time_notif_token": token}, "message": {"text": "Back in stock!"}}
    sent = sandbox.send(page, body)
    assert sent.status_code == 200
    assert sent.json()["recipient_id"] == psid
    assert "already been used" in assert_error(sandbox.send(page, body), 100)["message"]
    sandbox.advance(366 * DAY)
    body["recipient"] = {"one_time_notif_token": other}
    assert "expired" in assert_error(sandbox.send(page, body), 100)["message"]
    body["recipient"] = {"one_time_notif_token": "nonsense"}
    assert_error(sandbox.send(page, body), 100)


def test_recurring_token_one_message_per_period(sandbox: Sandbox, page: Any) -> None:
    psid = sandbox.customer(page)["psid"]
    token = sandbox.act(psid, "optin", type="recurring", frequency="DAILY", title="Deals")["token"]
    body = {"recipient": {"notification_messages_token": token}, "message": {"text": "Deal!"}}
    assert sandbox.send(page, body).status_code == 200
    sandbox.advance(12 * HOUR)
    assert_error(sandbox.send(page, body), 10, 2018278)
    sandbox.advance(12 * HOUR + 60)
    assert sandbox.send(page, body).status_code == 200
    # The person stops the notifications, then the token expires after six months.
    sandbox.act(psid, "optin", type="recurring", action="stop", token=token)
    sandbox.advance(2 * DAY)
    assert "stopped" in assert_error(sandbox.send(page, body), 100)["message"]
    sandbox.act(psid, "optin", type="recurring", action="resume", token=token)
    assert sandbox.send(page, body).status_code == 200
    sandbox.advance(183 * DAY)
    assert "expired" in assert_error(sandbox.send(page, body), 100)["message"]


def test_weekly_token_period(sandbox: Sandbox, page: Any) -> None:
    psid = sandbox.customer(page)["psid"]
    token = sandbox.act(psid, "optin", type="recurring", frequency="WEEKLY")["token"]
    body = {"recipient": {"notification_messages_token": token}, "message": {"text": "Weekly"}}
    assert sandbox.send(page, body).status_code == 200
    sandbox.advance(6 * DAY)
    assert_error(sandbox.send(page, body), 10, 2018278)
    sandbox.advance(DAY + 60)
    assert sandbox.send(page, body).status_code == 200


# -- customer matching and user_ref ------------------------------------------------------


def test_customer_matching_request_then_acceptance(sandbox: Sandbox, page: Any) -> None:
    body = {
        "recipient": {
            "phone_number": "+1 (212) 555-2368",
            "name": {"first_name": "John", "last_name": "Doe"},
        },
        "message": {"text": "Your order has shipped"},
    }
    first = sandbox.send(page, body)
    assert first.status_code == 200
    assert set(first.json()) == {"message_id"}  # no recipient_id for phone numbers
    assert_error(sandbox.send(page, body), 10, 2018278)

    customers = sandbox.control("GET", f"/pages/{page['page_id']}/customers")["data"]
    customer = next(c for c in customers if c["phone_number"] == "+12125552368")
    assert customer["first_name"] == "John"
    assert customer["request_state"] == "pending"
    assert sandbox.thread(customer["psid"])["message_request"] is True
    assert_error(sandbox.text(page, customer["psid"]), 10, 2018278)

    accepted = sandbox.act(customer["psid"], "accept_request")
    optin = accepted["events"][0]
    assert optin["sender"] == {"id": customer["psid"]}
    assert "optin" in optin
    assert optin["prior_message"] == {"source": "customer_matching", "identifier": "+12125552368"}
    assert sandbox.send(page, body).status_code == 200
    assert sandbox.text(page, customer["psid"]).status_code == 200
    assert optin in sandbox.events()


def test_customer_matching_needs_the_permission(sandbox: Sandbox, page: Any) -> None:
    sandbox.control("PATCH", f"/pages/{page['page_id']}", {"customer_matching_enabled": False})
    body = {"recipient": {"phone_number": "+15551234567"}, "message": {"text": "Hi"}}
    assert_error(sandbox.send(page, body), 200, 2018021, status=403)


def test_known_phone_number_matches_the_existing_customer(sandbox: Sandbox, page: Any) -> None:
    customer = sandbox.customer(page, phone_number="+49 30 1234567")
    body = {"recipient": {"phone_number": "+49301234567"}, "message": {"text": "Hallo"}}
    assert sandbox.send(page, body).status_code == 200
    assert sandbox.thread(customer["psid"])["message_request"] is True
    # Answering the request accepts it too.
    sandbox.say(customer["psid"], "Danke!")
    events = [
        next(key for key in ("optin", "message") if key in e)
        for e in sandbox.events()
        if e.get("sender", {}).get("id") == customer["psid"] and ("optin" in e or "message" in e)
    ]
    assert events == ["optin", "message"]
    assert sandbox.text(page, customer["psid"]).status_code == 200


def test_user_ref_gets_one_message(sandbox: Sandbox, page: Any) -> None:
    psid = sandbox.customer(page)["psid"]
    optin = sandbox.act(psid, "optin", type="plugin", ref="checkout-48213")
    event = optin["events"][0]
    assert "sender" not in event
    assert event["optin"] == {"ref": "checkout-48213", "user_ref": optin["user_ref"]}
    body = {"recipient": {"user_ref": optin["user_ref"]}, "message": {"text": "Your receipt"}}
    first = sandbox.send(page, body)
    assert set(first.json()) == {"message_id"}
    assert_error(sandbox.send(page, body), 10, 2018278)
    unknown = {"recipient": {"user_ref": "ref_unknown"}, "message": {"text": "x"}}
    assert_error(sandbox.send(page, unknown), 100, 2018001)
    # Once the person writes, the page answers by PSID as usual.
    sandbox.say(psid, "Thanks")
    assert sandbox.text(page, psid).status_code == 200


def test_sender_actions_do_not_need_a_message(sandbox: Sandbox, page: Any) -> None:
    psid = sandbox.customer(page)["psid"]
    sandbox.say(psid)
    for action in ("typing_on", "typing_off", "mark_seen", "TYPING_ON"):
        response = httpx.post(
            f"{sandbox.url}/v25.0/me/messages",
            params={"access_token": page["access_token"]},
            json={"recipient": {"id": psid}, "sender_action": action},
        )
        assert response.json() == {"recipient_id": psid}
    assert sandbox.thread(psid)["typing"] is True
