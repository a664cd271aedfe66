"""Every Send API error a send can trigger, with Meta's code, subcode and HTTP status."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox.helpers import Sandbox, assert_error


@pytest.fixture
def chat(sandbox: Sandbox) -> tuple[dict[str, Any], dict[str, Any]]:
    """A page and a customer who just wrote (the window is open)."""
    page = sandbox.page()
    customer = sandbox.customer(page)
    sandbox.say(customer["psid"])
    return page, customer


def to(psid: str, **message: Any) -> dict[str, Any]:
    return {"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": message}


# -- tokens ------------------------------------------------------------------------------


def test_missing_token(sandbox: Sandbox, chat: Any) -> None:
    response = httpx.post(f"{sandbox.url}/v25.0/me/messages", json=to(chat[1]["psid"], text="x"))
    assert_error(response, 2500)


def test_unknown_token_is_190(sandbox: Sandbox, chat: Any) -> None:
    response = sandbox.send(chat[0], to(chat[1]["psid"], text="x"), token="EAAGnotarealtoken")
    error = assert_error(response, 190)
    assert "Invalid OAuth access token" in error["message"]
    assert response.headers["www-authenticate"].startswith('OAuth "Facebook Platform"')


def test_invalidated_token(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    sandbox.control("PATCH", f"/pages/{page['page_id']}", {"token_valid": False})
    assert_error(sandbox.text(page, customer["psid"]), 190, 460)


def test_token_expiry_follows_the_clock(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    sandbox.control("PATCH", f"/pages/{page['page_id']}", {"token_expires_in": 3600})
    assert sandbox.text(page, customer["psid"]).status_code == 200
    sandbox.advance(3601)
    error = assert_error(sandbox.text(page, customer["psid"]), 190, 463)
    assert "Session has expired" in error["message"]


# -- page-level switches -----------------------------------------------------------------


def test_restricted_page(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    sandbox.control("PATCH", f"/pages/{page['page_id']}", {"restricted": True})
    assert_error(sandbox.text(page, customer["psid"]), 10, 1893063, status=403)
    sandbox.control("PATCH", f"/pages/{page['page_id']}", {"restricted": False})
    assert sandbox.text(page, customer["psid"]).status_code == 200


def test_rate_limit_613_per_page_and_second(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    other_page = sandbox.page("Other")
    other = sandbox.customer(other_page)
    sandbox.say(other["psid"])
    sandbox.control("PATCH", f"/pages/{page['page_id']}", {"rate_limit_per_second": 2})
    assert sandbox.text(page, customer["psid"]).status_code == 200
    assert sandbox.text(page, customer["psid"]).status_code == 200
    assert_error(sandbox.text(page, customer["psid"]), 613, 2534040)
    # Another page is not affected; a second later the page may send again.
    assert sandbox.text(other_page, other["psid"]).status_code == 200
    sandbox.advance(1.1)
    assert sandbox.text(page, customer["psid"]).status_code == 200


def test_injected_temporary_failure_is_a_500(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    sandbox.control("PATCH", f"/pages/{page['page_id']}", {"fail_next_sends": 1})
    error = assert_error(sandbox.text(page, customer["psid"]), 2, status=500)
    assert error["is_transient"] is True
    assert sandbox.text(page, customer["psid"]).status_code == 200


def test_thread_owned_by_another_app(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    sandbox.act(customer["psid"], "thread_control", action="take")
    assert_error(sandbox.text(page, customer["psid"]), 100, 2534037)
    taken = httpx.post(
        f"{sandbox.url}/v25.0/me/take_thread_control",
        params={"access_token": page["access_token"]},
        json={"recipient": {"id": customer["psid"]}, "metadata": "agent took over"},
    )
    assert taken.json() == {"success": True}
    assert sandbox.text(page, customer["psid"]).status_code == 200


def test_human_agent_not_approved(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    sandbox.control("PATCH", f"/pages/{page['page_id']}", {"human_agent_approved": False})
    body = to(customer["psid"], text="x") | {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    assert_error(sandbox.send(page, body), 10, 2018065, status=403)


def test_tag_misuse_flag(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    sandbox.control("PATCH", f"/pages/{page['page_id']}", {"tag_misuse_flagged": True})
    body = to(customer["psid"], text="x") | {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    assert_error(sandbox.send(page, body), 613, 2018338)
    assert sandbox.text(page, customer["psid"]).status_code == 200  # untagged still fine


# -- recipients --------------------------------------------------------------------------


def test_recipient_missing(sandbox: Sandbox, chat: Any) -> None:
    response = sandbox.send(chat[0], {"messaging_type": "RESPONSE", "message": {"text": "x"}})
    error = assert_error(response, 100)
    assert "recipient" in error["message"]


@pytest.mark.parametrize(
    "recipient",
    [
        {"id": "1", "user_ref": "abc"},
        {"id": "1", "phone_number": "+15551234567"},
        {"comment_id": "1_2", "post_id": "3_4"},
        {},
        {"psid": "1"},
    ],
)
def test_recipient_needs_exactly_one_field(
    sandbox: Sandbox, chat: Any, recipient: dict[str, Any]
) -> None:
    body = {"recipient": recipient, "messaging_type": "RESPONSE", "message": {"text": "x"}}
    assert_error(sandbox.send(chat[0], body), 100)


def test_unknown_psid_and_psid_of_another_page(sandbox: Sandbox, chat: Any) -> None:
    page, _ = chat
    assert_error(sandbox.text(page, "1234567890123456"), 100, 2018001)
    stranger = sandbox.customer(sandbox.page("Elsewhere"))
    assert_error(sandbox.text(page, stranger["psid"]), 100, 2018001)


def test_blocked_customer_is_551(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    sandbox.act(customer["psid"], "block")
    error = assert_error(sandbox.text(page, customer["psid"]), 551, 1545041)
    assert "isn't available" in error["message"]
    sandbox.act(customer["psid"], "unblock")
    assert sandbox.text(page, customer["psid"]).status_code == 200


def test_recipient_cannot_receive_right_now(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    sandbox.control("PATCH", f"/customers/{customer['psid']}", {"unavailable": True})
    assert_error(sandbox.text(page, customer["psid"]), 10, 2018108)


# -- message content ---------------------------------------------------------------------


def test_message_and_sender_action_together(sandbox: Sandbox, chat: Any) -> None:
    body = to(chat[1]["psid"], text="x") | {"sender_action": "typing_on"}
    assert_error(sandbox.send(chat[0], body), 100, 2018014)


def test_neither_message_nor_sender_action(sandbox: Sandbox, chat: Any) -> None:
    body = {"recipient": {"id": chat[1]["psid"]}, "messaging_type": "RESPONSE"}
    assert_error(sandbox.send(chat[0], body), 100)


def test_unknown_sender_action(sandbox: Sandbox, chat: Any) -> None:
    body = {"recipient": {"id": chat[1]["psid"]}, "sender_action": "dance"}
    assert_error(sandbox.send(chat[0], body), 100)


def test_text_limit_is_2000(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    assert sandbox.text(page, customer["psid"], "x" * 2000).status_code == 200
    error = assert_error(sandbox.text(page, customer["psid"], "x" * 2001), 100)
    assert "2000" in error["message"]


def test_text_and_attachment_together(sandbox: Sandbox, chat: Any) -> None:
    attachment = {"type": "image", "payload": {"url": "https://example.com/a.png"}}
    body = to(chat[1]["psid"], text="x", attachment=attachment)
    assert_error(sandbox.send(chat[0], body), 100)


def quick_replies(count: int, title: str = "Yes", payload: str = "YES") -> list[dict[str, Any]]:
    return [{"content_type": "text", "title": title, "payload": payload} for _ in range(count)]


def test_quick_reply_limits(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    psid = customer["psid"]
    ok = to(psid, text="Pick", quick_replies=quick_replies(13, "t" * 20, "p" * 1000))
    assert sandbox.send(page, ok).status_code == 200
    assert_error(sandbox.send(page, to(psid, text="Pick", quick_replies=quick_replies(14))), 100)
    long_title = to(psid, text="Pick", quick_replies=quick_replies(1, title="t" * 21))
    assert "20" in assert_error(sandbox.send(page, long_title), 100)["message"]
    long_payload = to(psid, text="Pick", quick_replies=quick_replies(1, payload="p" * 1001))
    assert "1000" in assert_error(sandbox.send(page, long_payload), 100)["message"]
    no_payload = to(psid, text="Pick", quick_replies=[{"content_type": "text", "title": "Hi"}])
    assert_error(sandbox.send(page, no_payload), 100)


def test_metadata_limit_and_echo(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    psid = customer["psid"]
    assert_error(sandbox.send(page, to(psid, text="x", metadata="m" * 1001)), 100)
    sent = sandbox.send(page, to(psid, text="x", metadata="m" * 1000)).json()
    echo = next(e for e in sandbox.events() if e["message"].get("mid") == sent["message_id"])
    assert echo["message"]["metadata"] == "m" * 1000


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"messaging_type": "PROMOTION"}, "messaging_type"),
        ({"messaging_type": "MESSAGE_TAG"}, "tag"),
        ({"messaging_type": "MESSAGE_TAG", "tag": "SHIPPING_UPDATE"}, "tag"),
        ({"notification_type": "LOUD"}, "notification_type"),
    ],
)
def test_bad_messaging_parameters(
    sandbox: Sandbox, chat: Any, params: dict[str, Any], fragment: str
) -> None:
    body = to(chat[1]["psid"], text="x") | params
    assert fragment in assert_error(sandbox.send(chat[0], body), 100)["message"]


@pytest.mark.parametrize(
    "tag", ["CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE"]
)
def test_retired_tags_fail_with_100(sandbox: Sandbox, chat: Any, tag: str) -> None:
    body = to(chat[1]["psid"], text="x") | {"messaging_type": "MESSAGE_TAG", "tag": tag}
    error = assert_error(sandbox.send(chat[0], body), 100)
    assert "no longer supported" in error["message"]


def test_invalid_and_deleted_persona(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    body = to(customer["psid"], text="x") | {"persona_id": "999999"}
    assert_error(sandbox.send(page, body), 100)
    persona = httpx.post(
        f"{sandbox.url}/v25.0/me/personas",
        params={"access_token": page["access_token"]},
        json={"name": "Ana", "profile_picture_url": "https://example.com/ana.png"},
    ).json()
    body["persona_id"] = persona["id"]
    assert sandbox.send(page, body).status_code == 200
    httpx.delete(
        f"{sandbox.url}/v25.0/{persona['id']}", params={"access_token": page["access_token"]}
    )
    assert_error(sandbox.send(page, body), 100)
    # Another page's persona is not valid either.
    other = sandbox.page("Other")
    sandbox.say(sandbox.customer(other)["psid"])
    foreign = httpx.post(
        f"{sandbox.url}/v25.0/me/personas",
        params={"access_token": other["access_token"]},
        json={"name": "Bo", "profile_picture_url": "https://example.com/bo.png"},
    ).json()
    body["persona_id"] = foreign["id"]
    assert_error(sandbox.send(page, body), 100)


def test_attachment_fetch_failure_and_unknown_attachment_id(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    psid = customer["psid"]
    unreachable = {"type": "image", "payload": {"url": "https://cdn.example.invalid/a.png"}}
    assert_error(sandbox.send(page, to(psid, attachment=unreachable)), 100, 2018008)
    unknown = {"type": "image", "payload": {"attachment_id": "123"}}
    assert_error(sandbox.send(page, to(psid, attachment=unknown)), 100, 2018047)
    relative = {"type": "image", "payload": {"url": "/a.png"}}
    assert_error(sandbox.send(page, to(psid, attachment=relative)), 100)
    uploaded = httpx.post(
        f"{sandbox.url}/v25.0/me/message_attachments",
        params={"access_token": page["access_token"]},
        json={
            "message": {
                "attachment": {
                    "type": "image",
                    "payload": {"url": "https://example.com/cat.png", "is_reusable": True},
                }
            }
        },
    ).json()
    reuse = {"type": "image", "payload": {"attachment_id": uploaded["attachment_id"]}}
    sent = sandbox.send(page, to(psid, attachment=reuse))
    assert sent.status_code == 200
    echo = next(e for e in sandbox.events() if e["message"].get("mid") == sent.json()["message_id"])
    assert echo["message"]["attachments"] == [
        {"type": "image", "payload": {"url": "https://example.com/cat.png"}}
    ]


def button(title: str = "Go", payload: str = "GO") -> dict[str, Any]:
    return {"type": "postback", "title": title, "payload": payload}


@pytest.mark.parametrize(
    "payload",
    [
        {"template_type": "button", "text": "Choose", "buttons": [button()] * 4},
        {"template_type": "button", "text": "Choose", "buttons": []},
        {"template_type": "button", "text": "x" * 641, "buttons": [button()]},
        {"template_type": "button", "text": "Choose", "buttons": [button("t" * 21)]},
        {"template_type": "generic", "elements": [{"title": "x"}] * 11},
        {"template_type": "generic", "elements": [{"title": "x" * 81}]},
        {"template_type": "generic", "elements": [{"title": "x", "subtitle": "s" * 81}]},
        {"template_type": "carousel", "elements": []},
        {
            "template_type": "generic",
            "elements": [{"title": "x", "buttons": [{"type": "web_url", "title": "Site"}]}],
        },
    ],
)
def test_template_limits(sandbox: Sandbox, chat: Any, payload: dict[str, Any]) -> None:
    attachment = {"type": "template", "payload": payload}
    assert_error(sandbox.send(chat[0], to(chat[1]["psid"], attachment=attachment)), 100)


def test_valid_templates_and_sticker(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    psid = customer["psid"]
    generic = {
        "template_type": "generic",
        "elements": [
            {
                "title": "Road bike",
                "subtitle": "Light and fast",
                "image_url": "https://example.com/bike.png",
                "buttons": [
                    {"type": "web_url", "url": "https://example.com/bike", "title": "View"},
                    button("Buy", "BUY_BIKE"),
                ],
            }
        ]
        * 10,
    }
    for payload in (generic, {"template_type": "button", "text": "Hi", "buttons": [button()] * 3}):
        sent = sandbox.send(page, to(psid, attachment={"type": "template", "payload": payload}))
        assert sent.status_code == 200, sent.text
    sticker = sandbox.send(page, to(psid, sticker_id=369239263222822))
    assert sticker.status_code == 200
    assert_error(sandbox.send(page, to(psid, sticker_id="smile")), 100)


def test_reply_to_must_be_in_the_thread(sandbox: Sandbox, chat: Any) -> None:
    page, customer = chat
    mid = sandbox.say(customer["psid"], "quote me")["mid"]
    body = to(customer["psid"], text="quoted") | {"reply_to": {"mid": mid}}
    assert sandbox.send(page, body).status_code == 200
    body["reply_to"] = {"mid": "m_unknown"}
    assert_error(sandbox.send(page, body), 100)


def test_invalid_json_body(sandbox: Sandbox, chat: Any) -> None:
    response = httpx.post(
        f"{sandbox.url}/v25.0/me/messages",
        params={"access_token": chat[0]["access_token"]},
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert_error(response, 100)
