"""Sending a failed reply again: from the conversation view and the API, exactly one
more Send API call, never for a message Meta may already have."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from pagedesk.core.errors import PagedeskError
from pagedesk.delivery.models import OutboxEntry
from pagedesk.inbox.actions import do_retry_message, do_send_message
from pagedesk.inbox.models import Message
from tests.api.factories import make_token
from tests.delivery.conftest import World
from tests.delivery.test_sender import WorkerKilled, _entry, _kill_worker, _reload
from tests.inbox.conftest import drain

State = OutboxEntry.State


def _fail_for_good(world: World, text: str = "Your bike is ready") -> Message:
    """A reply that failed after every temporary-error retry."""
    world.page(fail_next_sends=100)
    message = do_send_message(conversation=world.conversation, author=world.agent, text=text)
    world.settle()
    for _ in range(20):
        if _entry(message).state == State.FAILED:
            break
        world.time_passes(600)
        world.settle()
    message = _reload(message)
    assert message.status == Message.Status.FAILED
    assert "Try sending it again later" in message.failed_reason
    world.page(fail_next_sends=0)
    return message


def test_an_agent_sends_a_failed_reply_again_from_the_thread(world: World) -> None:
    message = _fail_for_good(world)
    calls = len(world.sends)
    agent = Client()
    agent.force_login(world.agent)
    url = f"/inbox/c/{world.conversation.pk}/"
    page = agent.get(url).content.decode()
    assert "Send again" in page

    response = agent.post(f"{url}m/{message.pk}/retry/")
    assert response.status_code == 302
    assert _reload(message).status == Message.Status.QUEUED
    assert _reload(message).failed_reason == ""
    world.settle()
    message = _reload(message)
    assert message.status in (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ)
    assert message.mid
    assert len(world.sends) == calls + 1
    assert [m["text"] for m in world.page_messages()] == ["Your bike is ready"]
    # The same message row, not a copy; and no button any more.
    assert Message.objects.filter(direction="out").count() == 1
    assert "Send again" not in agent.get(url).content.decode()
    # A second retry of a sent message is refused.
    with pytest.raises(PagedeskError) as refused:
        do_retry_message(message=message, actor=world.agent)
    assert refused.value.code == "not_retryable"
    world.settle()
    assert len(world.sends) == calls + 1


def test_the_api_retries_and_refuses_with_the_policy_reason(world: World) -> None:
    message = _fail_for_good(world)
    api = Client(headers={"Authorization": f"Bearer {make_token(world.workspace)}"})
    url = f"/api/v1/conversations/{world.conversation.pk}/messages/{message.pk}/retry"

    world.age(hours=25)  # the window closed since it failed
    response = api.post(url)
    assert response.status_code == 409
    assert response.json()["code"] == "window_closed"
    assert _reload(message).status == Message.Status.FAILED

    world.customer("messages", {"text": "Still there?"})
    world.settle()
    response = api.post(url)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "queued"
    world.settle()
    assert _reload(message).mid
    assert (
        api.post(f"/api/v1/conversations/{world.conversation.pk}/messages/999999/retry").status_code
        == 404
    )


def test_a_reply_meta_may_already_have_is_never_sent_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _kill_worker(monkeypatch, after_call=False)
    message = do_send_message(conversation=world.conversation, author=world.agent, text="Hi")
    with pytest.raises(WorkerKilled):
        drain(world.queue)
    world.time_passes(180)
    world.settle()
    message = _reload(message)
    assert message.status == Message.Status.FAILED and _entry(message).outcome_unknown

    agent = Client()
    agent.force_login(world.agent)
    url = f"/inbox/c/{world.conversation.pk}/"
    assert "Send again" not in agent.get(url).content.decode()
    response = agent.post(f"{url}m/{message.pk}/retry/", follow=True)
    assert "Meta may have received this message" in response.content.decode()
    assert _reload(message).status == Message.Status.FAILED
    world.settle()
    assert world.sends == []


def test_retry_is_scoped_to_the_conversation(world: World, settings: Any) -> None:
    message = _fail_for_good(world)
    agent = Client()
    agent.force_login(world.agent)
    # The message id under a conversation it does not belong to: 404, nothing queued.
    response = agent.post(f"/inbox/c/{world.conversation.pk + 1000}/m/{message.pk}/retry/")
    assert response.status_code == 404
    assert _reload(message).status == Message.Status.FAILED
