"""Outbound delivery against the sandbox over real HTTP: the real Huey queue (run in
the test thread), the real database, the pagedesk webhook receiver for echoes and
receipts. Every test checks how many Send API calls the sandbox received."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from django.db import connection

from pagedesk.core.actions import do_update_channel_credentials
from pagedesk.core.errors import PagedeskError
from pagedesk.core.models import Channel
from pagedesk.delivery import graph_call, sender
from pagedesk.delivery.models import OutboxEntry, Persona
from pagedesk.delivery.tasks import enqueue
from pagedesk.inbox.actions import composer_state, do_send_message
from pagedesk.inbox.models import Contact, Message, PendingReceipt
from pagedesk.live.models import LiveEvent
from tests.delivery.conftest import World
from tests.inbox.conftest import drain

State = OutboxEntry.State


def _entry(message: Message) -> OutboxEntry:
    return OutboxEntry.objects.get(message=message)


def _reload(message: Message) -> Message:
    message.refresh_from_db()
    return message


def test_reply_is_sent_once_then_delivered_and_read(world: World) -> None:
    message = do_send_message(
        conversation=world.conversation, author=world.agent, text="Yes, bring it by today."
    )
    assert message.status == Message.Status.QUEUED
    assert message.metadata == f"pagedesk:{message.pk}"

    world.settle()  # send, then the echo (and the delivery receipt) come back

    (phone,) = world.page_messages()
    assert phone["text"] == "Yes, bring it by today."
    (call,) = world.sends
    assert call["messaging_type"] == "RESPONSE"
    assert call["message"]["metadata"] == f"pagedesk:{message.pk}"
    assert call["recipient"] == {"id": world.psid}
    message = _reload(message)
    assert message.mid == phone["mid"]
    assert message.status in (Message.Status.SENT, Message.Status.DELIVERED)
    assert _entry(message).state == State.SENT
    assert _entry(message).attempts == 1
    announced = LiveEvent.objects.filter(data__message_id=message.pk).order_by("id")
    assert [(e.kind, e.data.get("status")) for e in announced][:2] == [
        ("message.created", None),
        ("message.updated", "sent"),
    ]

    world.customer("read")
    world.settle()
    assert _reload(message).status == Message.Status.READ
    assert len(world.sends) == 1


def test_window_closed_is_refused_before_any_call(world: World) -> None:
    world.age(hours=25)
    with pytest.raises(PagedeskError) as refused:
        do_send_message(conversation=world.conversation, author=world.agent, text="Still there?")
    assert refused.value.code == "window_closed"
    assert "HUMAN_AGENT" in refused.value.message  # says what is still allowed
    world.settle()
    assert world.sends == []
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()

    state = composer_state(conversation=world.conversation)
    assert not state.window_open and state.human_agent_open and state.can_reply
    assert state.options == [{"kind": "tag", "tag": "HUMAN_AGENT"}]
    assert "HUMAN_AGENT" in state.reason


def test_human_agent_tag_for_a_person_within_7_days_never_for_automation(world: World) -> None:
    world.age(hours=30)
    with pytest.raises(PagedeskError) as automated:
        do_send_message(conversation=world.conversation, text="Bot here", tag="HUMAN_AGENT")
    assert automated.value.code == "automated_human_agent"
    with pytest.raises(PagedeskError) as untagged:
        do_send_message(conversation=world.conversation, text="Bot here")
    assert untagged.value.code == "window_closed"
    assert "HUMAN_AGENT" not in untagged.value.message  # not an option for automation

    message = do_send_message(
        conversation=world.conversation,
        author=world.agent,
        text="Sorry for the wait: it's ready.",
        tag="HUMAN_AGENT",
    )
    world.settle()
    (call,) = world.sends
    assert (call["messaging_type"], call["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert _reload(message).status in (Message.Status.SENT, Message.Status.DELIVERED)

    world.age(hours=24 * 6)  # now more than 7 days since the customer wrote
    with pytest.raises(PagedeskError) as expired:
        do_send_message(
            conversation=world.conversation, author=world.agent, text="Hi?", tag="HUMAN_AGENT"
        )
    assert expired.value.code == "human_agent_expired"
    state = composer_state(conversation=world.conversation)
    assert not state.can_reply and state.options == []
    assert "customer writes" in state.reason
    assert len(world.sends) == 1


def test_rate_limited_send_backs_off_and_goes_out(world: World) -> None:
    world.page(rate_limit_per_second=1)
    first = do_send_message(conversation=world.conversation, author=world.agent, text="One")
    second = do_send_message(conversation=world.conversation, author=world.agent, text="Two")
    world.settle()
    assert _entry(first).state == State.SENT
    waiting = _entry(second)
    assert (waiting.state, waiting.graph_code) == (State.PENDING, 613)
    assert waiting.next_attempt_at is not None
    assert _reload(second).status == Message.Status.QUEUED

    world.time_passes(10)
    world.settle()
    assert _entry(second).state == State.SENT
    assert [m["text"] for m in world.page_messages()] == ["One", "Two"]
    assert len(world.sends) == 3  # one refused with 613, each message delivered once


def test_temporary_errors_are_retried_with_backoff(world: World) -> None:
    world.page(fail_next_sends=2)
    message = do_send_message(conversation=world.conversation, author=world.agent, text="Hi")
    world.settle()
    assert (_entry(message).state, _entry(message).failures) == (State.PENDING, 1)
    world.settle()  # not due yet: nothing happens
    assert len(world.sends) == 1

    world.time_passes(600)
    world.settle()
    assert (_entry(message).state, _entry(message).failures) == (State.PENDING, 2)
    world.time_passes(600)
    world.settle()
    assert _entry(message).state == State.SENT
    assert [m["text"] for m in world.page_messages()] == ["Hi"]
    assert len(world.sends) == 3


def test_connection_refused_is_retried_as_never_sent(world: World, settings: Any) -> None:
    sandbox_url = settings.PAGEDESK_GRAPH_URL
    settings.PAGEDESK_GRAPH_URL = "http://127.0.0.1:9"  # nothing listens: nothing was sent
    message = do_send_message(conversation=world.conversation, author=world.agent, text="Hi")
    world.settle()
    entry = _entry(message)
    assert (entry.state, entry.failures, entry.outcome_unknown) == (State.PENDING, 1, False)

    settings.PAGEDESK_GRAPH_URL = sandbox_url
    world.time_passes(60)
    world.settle()
    assert _entry(message).state == State.SENT
    assert len(world.sends) == 1


def test_invalid_token_pauses_the_channel_and_the_queue_waits(world: World) -> None:
    world.page(token_valid=False)
    first = do_send_message(conversation=world.conversation, author=world.agent, text="One")
    world.settle()
    channel = Channel.objects.get(pk=world.channel.pk)
    assert channel.status == Channel.Status.PAUSED
    assert "token" in channel.status_reason
    assert _entry(first).state == State.WAITING_CHANNEL
    assert _reload(first).status == Message.Status.QUEUED

    # While paused, replies are accepted and wait; no call is made for them.
    second = do_send_message(conversation=world.conversation, author=world.agent, text="Two")
    world.settle()
    assert _entry(second).state == State.WAITING_CHANNEL
    assert len(world.sends) == 1
    state = composer_state(conversation=world.conversation)
    assert state.can_reply and "token" in state.reason
    assert sender.resume_channel(world.channel.pk) == 0  # still paused: nothing resumes

    # An admin reconnects the page with a new token.
    world.page(access_token="EAAG-rotated-token-0001", token_valid=True)
    do_update_channel_credentials(channel=channel, page_token="EAAG-rotated-token-0001")
    # rotating the token re-queues the waiting messages by itself (on commit)
    assert sender.resume_channel(world.channel.pk) == 0
    world.settle()
    assert [m["text"] for m in world.page_messages()] == ["One", "Two"]
    assert {_entry(first).state, _entry(second).state} == {State.SENT}
    assert len(world.sends) == 3

    world.time_passes(600)  # the sweeper finds nothing more to do
    world.settle()
    assert len(world.sends) == 3


def test_sweeper_resumes_waiting_entries_once_the_channel_is_active(world: World) -> None:
    world.page(token_valid=False)
    message = do_send_message(conversation=world.conversation, author=world.agent, text="Hi")
    world.settle()
    world.page(token_valid=True)
    Channel.objects.filter(pk=world.channel.pk).update(status="active", status_reason="")
    world.time_passes(60)
    world.settle()
    assert _entry(message).state == State.SENT
    assert len(world.sends) == 2


def test_blocked_customer_fails_with_an_actionable_reason(world: World) -> None:
    world.control.patch(f"/customers/{world.psid}", json={"blocked": True}).raise_for_status()
    message = do_send_message(conversation=world.conversation, author=world.agent, text="Hi")
    world.settle()
    message = _reload(message)
    assert message.status == Message.Status.FAILED
    assert "blocked the page" in message.failed_reason
    entry = _entry(message)
    assert (entry.state, entry.graph_code, entry.attempts) == (State.FAILED, 551, 1)
    contact = Contact.objects.get(pk=world.conversation.contact_id)
    assert contact.unreachable_reason

    with pytest.raises(PagedeskError) as refused:
        do_send_message(conversation=world.conversation, author=world.agent, text="Hello?")
    assert refused.value.code == "contact_unreachable"
    assert not composer_state(conversation=world.conversation).can_reply
    assert len(world.sends) == 1


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: not an Exception, so nothing on the way catches it."""


def _kill_worker(monkeypatch: pytest.MonkeyPatch, *, after_call: bool) -> None:
    real_send = graph_call.send

    def dying_send(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(graph_call, "send", real_send)  # only this worker dies
        if after_call:
            real_send(*args, **kwargs)
        raise WorkerKilled

    monkeypatch.setattr(graph_call, "send", dying_send)


def test_crash_after_the_call_is_not_resent_and_the_echo_reconciles(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _kill_worker(monkeypatch, after_call=True)
    message = do_send_message(conversation=world.conversation, author=world.agent, text="Hi")
    with pytest.raises(WorkerKilled):
        drain(world.queue)
    entry = _entry(message)
    assert (entry.state, entry.attempts) == (State.SENDING, 1)
    assert len(world.sends) == 1  # Meta has it; pagedesk never heard the answer

    enqueue([entry.pk, entry.pk])  # the job comes back (sweeper, queue retry, …)
    drain(world.queue)
    assert len(world.sends) == 1  # never a second call
    # still waiting for the echo, unless it already came in and reconciled the row
    assert _entry(message).state in (State.SENDING, State.SENT)

    world.settle()  # the echo arrives and names our message in its metadata
    message = _reload(message)
    assert message.mid and message.status in (Message.Status.SENT, Message.Status.DELIVERED)
    enqueue(sender.sweep())
    drain(world.queue)
    assert _entry(message).state == State.SENT
    assert len(world.sends) == 1
    assert len(world.page_messages()) == 1


def test_crash_before_the_call_fails_after_the_grace_period_without_resending(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _kill_worker(monkeypatch, after_call=False)
    message = do_send_message(conversation=world.conversation, author=world.agent, text="Hi")
    with pytest.raises(WorkerKilled):
        drain(world.queue)
    assert _entry(message).state == State.SENDING

    world.time_passes(60)  # within the grace period: keep waiting for an echo
    world.settle()
    assert _entry(message).state == State.SENDING

    world.time_passes(120)
    world.settle()
    message = _reload(message)
    assert message.status == Message.Status.FAILED
    assert message.failed_reason == sender.UNKNOWN_OUTCOME
    entry = _entry(message)
    assert (entry.state, entry.outcome_unknown) == (State.FAILED, True)
    assert world.sends == []


def test_a_late_echo_turns_an_unknown_outcome_into_sent(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.page(subscribed_fields=["messages", "message_reads"])  # the echo is held back
    _kill_worker(monkeypatch, after_call=True)
    message = do_send_message(conversation=world.conversation, author=world.agent, text="Hi")
    with pytest.raises(WorkerKilled):
        drain(world.queue)
    world.time_passes(300)
    world.settle()
    assert _reload(message).status == Message.Status.FAILED

    # The mid turns up later (here: the way the echo handler stores it).
    Message.objects.filter(pk=message.pk).update(mid=world.page_messages()[0]["mid"])
    enqueue(sender.sweep())
    drain(world.queue)
    message = _reload(message)
    assert (message.status, message.failed_reason) == (Message.Status.SENT, "")
    assert _entry(message).state == State.SENT
    assert len(world.sends) == 1


def test_a_receipt_that_came_before_metas_answer_is_applied(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = graph_call.send

    def answer_after_the_receipt(channel: Channel, request: Any) -> Any:
        result = real_send(channel, request)
        # The customer read it before the answer was recorded: ingestion parked the read.
        PendingReceipt.objects.create(channel=channel, mid=result.message_id, kind="read")
        return result

    monkeypatch.setattr(graph_call, "send", answer_after_the_receipt)
    message = do_send_message(conversation=world.conversation, author=world.agent, text="Hi")
    drain(world.queue)
    assert _reload(message).status == Message.Status.READ
    assert not PendingReceipt.objects.exists()


def test_duplicate_and_concurrent_task_runs_make_one_call(world: World) -> None:
    message = do_send_message(conversation=world.conversation, author=world.agent, text="Once")
    entry = _entry(message)
    enqueue([entry.pk, entry.pk])  # three jobs for one entry, run one after the other
    drain(world.queue)

    racer = do_send_message(conversation=world.conversation, author=world.agent, text="Race")
    racer_entry = _entry(racer)
    start = threading.Barrier(4)

    def run() -> None:
        try:
            start.wait()
            sender.deliver(entry_id=racer_entry.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    world.settle()

    assert [m["text"] for m in world.page_messages()] == ["Once", "Race"]
    assert len(world.sends) == 2
    assert {_entry(message).state, _entry(racer).state} == {State.SENT}


def test_an_agents_persona_is_used_for_their_replies_only(world: World) -> None:
    created = httpx.post(
        f"{world.url}/v25.0/{world.page_id}/personas",
        params={"access_token": world.channel.page_access_token},
        json={"name": "Grace at Acme", "profile_picture_url": "https://example.com/grace.png"},
    ).json()
    Persona.objects.create(
        workspace=world.workspace,
        channel=world.channel,
        user=world.agent,
        persona_id=created["id"],
        name="Grace at Acme",
    )
    do_send_message(conversation=world.conversation, author=world.agent, text="Grace here")
    do_send_message(conversation=world.conversation, text="An automated note")
    do_send_message(
        conversation=world.conversation, author=world.agent, text="As the page", persona=False
    )
    world.settle()
    shown = [(m["text"], (m["persona"] or {}).get("name")) for m in world.page_messages()]
    assert shown == [
        ("Grace here", "Grace at Acme"),
        ("An automated note", None),
        ("As the page", None),
    ]
