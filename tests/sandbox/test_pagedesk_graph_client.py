"""pagedesk's own GraphClient against the sandbox over real HTTP: every call shape
and every error the client maps, as a page integration would meet them."""

from __future__ import annotations

from typing import Any

import pytest

from pagedesk.messenger import (
    GraphClient,
    Message,
    PageRestricted,
    PrivateReplyNotAllowed,
    QuickReply,
    RateLimited,
    Recipient,
    RecipientUnreachable,
    RetryPolicy,
    SenderAction,
    SendRequest,
    ThreadOwnedByOtherApp,
    TokenInvalid,
    WindowClosed,
    parse_webhook,
)
from pagedesk.messenger.events import EventKind
from tests.sandbox.helpers import Sandbox

FAST = RetryPolicy(max_attempts=3, initial=0.01, max_delay=0.05, budget_seconds=5)
NO_RETRY = RetryPolicy(max_attempts=1, initial=0.01, max_delay=0.01, budget_seconds=1)
HOUR = 3600


def client(sandbox: Sandbox, page: dict[str, Any], retry: RetryPolicy = FAST) -> GraphClient:
    return GraphClient(page["access_token"], base_url=sandbox.url, version="v25.0", retry=retry)


def text(psid: str, body: str, **extra: Any) -> SendRequest:
    return SendRequest(
        recipient=Recipient(id=psid),
        messaging_type=extra.pop("messaging_type", "RESPONSE"),
        message=Message(text=body, **extra.pop("message_extra", {})),
        **extra,
    )


@pytest.fixture
def page(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.page("Acme Bikes", human_agent_approved=True)


@pytest.fixture
def customer(sandbox: Sandbox, page: dict[str, Any]) -> dict[str, Any]:
    customer = sandbox.customer(page, "Ada")
    sandbox.say(customer["psid"], "Hi! Is the shop open on Sunday?")
    return customer


async def test_reply_is_sent_and_echo_and_delivery_come_back_parsed(
    sandbox: Sandbox, page: dict[str, Any], customer: dict[str, Any]
) -> None:
    psid = customer["psid"]
    request = text(
        psid,
        "Yes, 10:00-16:00 👋",
        message_extra={
            "metadata": "outbox:42",
            "quick_replies": [QuickReply(content_type="text", title="Thanks", payload="THANKS")],
        },
    )
    async with client(sandbox, page) as graph:
        result = await graph.send_message(request)
    assert result.recipient_id == psid
    assert result.message_id.startswith("m_")

    sandbox.flush()
    events = [
        event
        for received in sandbox.receiver.accepted
        for event in parse_webhook(received.body)
        if event.kind in {EventKind.ECHO, EventKind.DELIVERY}
    ]
    echo = next(e for e in events if e.kind == EventKind.ECHO)
    assert echo.raw["message"]["mid"] == result.message_id
    assert echo.raw["message"]["metadata"] == "outbox:42"
    assert echo.customer_id == psid
    delivery = next(e for e in events if e.kind == EventKind.DELIVERY)
    assert result.message_id in delivery.raw["delivery"].get("mids", [result.message_id])
    thread = sandbox.thread(psid)
    assert any(m.get("text") == "Yes, 10:00-16:00 👋" for m in thread["items"])


async def test_window_rules_reach_the_client_as_typed_errors(
    sandbox: Sandbox, page: dict[str, Any], customer: dict[str, Any]
) -> None:
    psid = customer["psid"]
    sandbox.advance(24 * HOUR + 1)
    async with client(sandbox, page) as graph:
        with pytest.raises(WindowClosed) as excinfo:
            await graph.send_message(text(psid, "Are you still there?"))
        assert (excinfo.value.code, excinfo.value.subcode) == (10, 2018278)
        assert excinfo.value.fbtrace_id
        assert not excinfo.value.retryable

        tagged = text(psid, "Sorry for the wait", messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
        assert (await graph.send_message(tagged)).message_id

        sandbox.advance(7 * 24 * HOUR)
        with pytest.raises(WindowClosed):
            await graph.send_message(tagged)


async def test_unreachable_and_unknown_recipients(
    sandbox: Sandbox, page: dict[str, Any], customer: dict[str, Any]
) -> None:
    async with client(sandbox, page) as graph:
        with pytest.raises(RecipientUnreachable) as unknown:
            await graph.send_message(text("1000000000000001", "hello?"))
        assert (unknown.value.code, unknown.value.subcode) == (100, 2018001)

        sandbox.act(customer["psid"], "block")
        with pytest.raises(RecipientUnreachable) as blocked:
            await graph.send_message(text(customer["psid"], "hello?"))
        assert blocked.value.code == 551


async def test_invalid_token_is_typed_and_never_echoed(
    sandbox: Sandbox, page: dict[str, Any], customer: dict[str, Any]
) -> None:
    sandbox.control("PATCH", f"/pages/{page['page_id']}", {"token_valid": False})
    async with client(sandbox, page) as graph:
        with pytest.raises(TokenInvalid) as excinfo:
            await graph.send_message(text(customer["psid"], "hi"))
    assert excinfo.value.code == 190
    assert excinfo.value.pause_channel
    assert page["access_token"] not in str(excinfo.value)
    assert page["access_token"] not in repr(excinfo.value)


async def test_rate_limit_is_retried_with_backoff_then_surfaces(
    sandbox: Sandbox, page: dict[str, Any], customer: dict[str, Any]
) -> None:
    sandbox.control("PATCH", f"/pages/{page['page_id']}", {"rate_limit_per_second": 1})
    psid = customer["psid"]
    async with client(sandbox, page, retry=NO_RETRY) as graph:
        await graph.send_message(text(psid, "one"))
        with pytest.raises(RateLimited) as excinfo:
            await graph.send_message(text(psid, "two"))
        assert excinfo.value.code == 613
        assert excinfo.value.retryable

    patient = RetryPolicy(max_attempts=6, initial=0.3, max_delay=1.0, budget_seconds=10)
    async with client(sandbox, page, retry=patient) as graph:
        assert (await graph.send_message(text(psid, "three"))).message_id


async def test_page_restriction_and_thread_owner(
    sandbox: Sandbox, page: dict[str, Any], customer: dict[str, Any]
) -> None:
    psid = customer["psid"]
    sandbox.act(psid, "thread_control", action="take")
    async with client(sandbox, page, retry=NO_RETRY) as graph:
        with pytest.raises(ThreadOwnedByOtherApp):
            await graph.send_message(text(psid, "hi"))
    sandbox.control("PATCH", f"/pages/{page['page_id']}", {"restricted": True})
    async with client(sandbox, page, retry=NO_RETRY) as graph:
        with pytest.raises(PageRestricted) as excinfo:
            await graph.send_message(text(psid, "hi"))
    assert (excinfo.value.code, excinfo.value.subcode) == (10, 1893063)


async def test_private_reply_once_per_comment(sandbox: Sandbox, page: dict[str, Any]) -> None:
    commenter = sandbox.customer(page, "Grace")
    comment = sandbox.act(commenter["psid"], "comment", message="Price of the blue one?")
    comment_id = comment["comment_id"]
    async with client(sandbox, page) as graph:
        first = await graph.private_reply(comment_id, "It's 499 €, want the link?")
        assert first.message_id
        with pytest.raises(PrivateReplyNotAllowed) as excinfo:
            await graph.private_reply(comment_id, "Again?")
    assert (excinfo.value.code, excinfo.value.subcode) == (100, 2534025)


async def test_profile_personas_sender_actions_and_messenger_profile(
    sandbox: Sandbox, page: dict[str, Any], customer: dict[str, Any]
) -> None:
    async with client(sandbox, page) as graph:
        profile = await graph.get_user_profile(customer["psid"])
        assert profile.first_name == "Ada"
        assert profile.last_name == "Lovelace"

        await graph.send_sender_action(customer["psid"], SenderAction.TYPING_ON)

        ids = [
            await graph.create_persona(f"Agent {n}", f"https://example.com/{n}.png")
            for n in range(3)
        ]
        listed = await graph.list_personas(page["page_id"])
        assert {p.id for p in listed} >= set(ids)
        assert (await graph.get_persona(ids[0])).name == "Agent 0"
        assert await graph.delete_persona(ids[0])
        persona_send = text(customer["psid"], "Ben here", persona_id=ids[1])
        assert (await graph.send_message(persona_send)).message_id

        await graph.set_messenger_profile(
            {
                "get_started": {"payload": "GET_STARTED"},
                "greeting": [{"locale": "default", "text": "Hi {{user_first_name}}!"}],
            }
        )
        stored = await graph.get_messenger_profile(["get_started", "greeting"])
        assert stored["get_started"]["payload"] == "GET_STARTED"
        await graph.delete_messenger_profile(["greeting"])
        assert "greeting" not in await graph.get_messenger_profile(["greeting"])

        assert await graph.subscribe_app(page["page_id"], ["messages", "messaging_postbacks"])
        info = await graph.debug_token(page["access_token"], page["access_token"])
        assert info.is_valid
