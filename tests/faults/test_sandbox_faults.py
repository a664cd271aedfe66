"""Faults of Meta's side: 500 storms, 613 storms, time-outs and an invalidated token.

The sandbox injects each fault (``PATCH /_sandbox/pages/{id}``) while agents' replies
are queued; the real queue runs in the test thread and time is moved forward for
backoffs (``World.time_passes``). For every message, the sandbox's own log of Send
API calls (``GET /_sandbox/sends``) and the customer's phone are the judges: each
reply is on the phone exactly once, or it failed with a reason a person can act on,
and a call whose outcome was unknown is never repeated.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from pagedesk.core.actions import do_update_channel_credentials
from pagedesk.core.models import Channel
from pagedesk.delivery import graph_call
from pagedesk.delivery.models import OutboxEntry
from pagedesk.delivery.sender import MAX_FAILURES, UNKNOWN_OUTCOME
from pagedesk.inbox.actions import do_send_message
from pagedesk.inbox.models import Message
from tests.delivery.conftest import World
from tests.faults.harness import Tally

State = OutboxEntry.State
PROVEN = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ)


def _reply(world: World, text: str) -> Message:
    return do_send_message(conversation=world.conversation, author=world.agent, text=text)


def _settle_over(world: World, *, seconds: float, rounds: int, until: Any) -> None:
    """Let backoffs elapse and the worker catch up until ``until()`` (bounded)."""
    world.settle()
    for _ in range(rounds):
        if until():
            return
        world.time_passes(seconds)
        world.settle()
    assert until(), "the outbox did not settle"


def _tally(
    fault: str,
    world: World,
    replies: list[Message],
    started: float,
    backend: str,
    note: str = "",
) -> Tally:
    ours = {reply.metadata for reply in replies}
    calls = [s for s in world.control.get("/sends").json()["data"] if s["metadata"] in ours]
    accepted = Counter(s["metadata"] for s in calls if s["message_id"])
    on_phone = Counter(m["text"] for m in world.page_messages())
    failed = [r for r in replies if _reload(r).status == Message.Status.FAILED]
    unaccounted = [
        r for r in replies if r not in failed and on_phone[r.text] == 0
    ]  # neither delivered nor visibly failed
    tally = Tally(
        fault=fault,
        backend=f"{backend} (queue run in the test)",
        sent=len(replies),
        stored=len(calls),
        processed=sum(on_phone[r.text] for r in replies),
        duplicates=sum(n - 1 for n in accepted.values() if n > 1)
        + sum(max(0, on_phone[r.text] - 1) for r in replies),
        lost=len(unaccounted),
        seconds=time.monotonic() - started,
        note=note,
    )
    tally.record()
    assert (tally.duplicates, tally.lost) == (0, 0)
    return tally


def _reload(message: Message) -> Message:
    message.refresh_from_db()
    return message


def _all_settled(replies: list[Message]) -> bool:
    return not OutboxEntry.objects.filter(
        message__in=replies, state__in=[State.PENDING, State.SENDING]
    ).exists()


def test_500_storm_is_retried_until_sent_or_failed_with_a_reason(
    world: World, backend: str
) -> None:
    started = time.monotonic()
    # A storm that passes: replies go out in order, so the first takes every 500 (one
    # fewer than would fail it) and the others wait behind it.
    world.page(fail_next_sends=MAX_FAILURES - 1)
    passing = [_reply(world, f"storm {n}") for n in range(6)]
    _settle_over(world, seconds=300, rounds=20, until=lambda: _all_settled(passing))
    assert all(_reload(r).status in PROVEN for r in passing)

    world.page(fail_next_sends=1000)  # a storm that does not
    doomed = _reply(world, "into the storm")
    _settle_over(world, seconds=300, rounds=20, until=lambda: _all_settled([doomed]))
    doomed = _reload(doomed)
    assert doomed.status == Message.Status.FAILED
    assert f"after {MAX_FAILURES} attempts" in doomed.failed_reason
    assert "Try sending it again later" in doomed.failed_reason
    tally = _tally(
        "sandbox 500 storm",
        world,
        [*passing, doomed],
        started,
        backend,
        note=f"6 sent in order through {MAX_FAILURES - 1} HTTP 500s; 1 failed after "
        f"{MAX_FAILURES} attempts "
        "('Try sending it again later')",
    )
    assert tally.stored == 6 + (MAX_FAILURES - 1) + MAX_FAILURES
    world.page(fail_next_sends=0)


def test_613_storm_backs_off_and_sends_everything_once(world: World, backend: str) -> None:
    started = time.monotonic()
    world.page(rate_limit_per_second=1)
    replies = [_reply(world, f"busy {n:02d}") for n in range(12)]
    _settle_over(world, seconds=10, rounds=60, until=lambda: _all_settled(replies))
    assert all(_reload(r).status in PROVEN for r in replies)
    phone = [m["text"] for m in world.page_messages()]
    # Replies of one conversation wait for the earlier ones: the phone shows them in
    # the order the agent wrote them, rate limits or not.
    assert phone == [r.text for r in replies]
    in_order = True
    assert not OutboxEntry.objects.filter(failures__gt=0).exists()  # a 613 is not a failure
    codes = Counter(s["error_code"] for s in world.control.get("/sends").json()["data"])
    _tally(
        "sandbox 613 storm",
        world,
        replies,
        started,
        backend,
        note=f"1 call/s allowed: {codes[613]} answers of 613, backed off, none failed; "
        f"phone order {'kept' if in_order else 'NOT kept'}",
    )


def test_time_outs_are_settled_by_the_echo_never_resent(
    world: World, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    monkeypatch.setattr(graph_call, "TIMEOUT_SECONDS", 0.5)
    # Meta sends these, but the answers come too late: the echo must decide.
    world.page(slow_next_sends=3, slow_send_seconds=2, slow_sends_deliver=True)
    late = [_reply(world, f"late answer {n}") for n in range(5)]
    world.settle()
    assert OutboxEntry.objects.filter(message__in=late, state=State.SENDING).count() == 3
    _settle_over(world, seconds=150, rounds=3, until=lambda: _all_settled(late))
    assert all(_reload(r).status in PROVEN and r.mid for r in late)

    # These hang and are never sent: after the grace period a person decides.
    world.page(slow_next_sends=2, slow_send_seconds=2, slow_sends_deliver=False)
    lost_answers = [_reply(world, f"no answer {n}") for n in range(2)]
    _settle_over(world, seconds=150, rounds=3, until=lambda: _all_settled(lost_answers))
    for message in lost_answers:
        message = _reload(message)
        assert message.status == Message.Status.FAILED
        assert message.failed_reason == UNKNOWN_OUTCOME
    _tally(
        "sandbox time-outs",
        world,
        [*late, *lost_answers],
        started,
        backend,
        note="3 answers late (settled by their echoes), 2 hung unsent: failed "
        f"'{UNKNOWN_OUTCOME}'; no call repeated",
    )
    calls = Counter(s["metadata"] for s in world.control.get("/sends").json()["data"])
    assert all(calls[r.metadata] == 1 for r in [*late, *lost_answers])


def test_invalid_token_pauses_the_channel_until_rotation(world: World, backend: str) -> None:
    started = time.monotonic()
    before = [_reply(world, f"before {n}") for n in range(4)]
    world.settle()
    world.page(token_valid=False)  # the page admin changed their password
    during = [_reply(world, f"during {n}") for n in range(8)]
    world.settle()
    channel = Channel.objects.get(pk=world.channel.pk)
    assert channel.status == Channel.Status.PAUSED
    paused_for = channel.status_reason
    assert "token" in paused_for.lower()
    assert OutboxEntry.objects.filter(state=State.WAITING_CHANNEL).count() == len(during)
    world.time_passes(600)  # the sweeper does not resend while paused
    world.settle()

    world.page(access_token="EAAG-rotated-token-faults", token_valid=True)
    do_update_channel_credentials(channel=channel, page_token="EAAG-rotated-token-faults")
    _settle_over(world, seconds=60, rounds=5, until=lambda: _all_settled(during))
    assert Channel.objects.get(pk=world.channel.pk).status == Channel.Status.ACTIVE
    replies = [*before, *during]
    assert [m["text"] for m in world.page_messages()] == [r.text for r in replies]
    tally = _tally(
        "sandbox invalid token",
        world,
        replies,
        started,
        backend,
        note=f"paused ('{paused_for}') with {len(during)} waiting; "
        "all sent after the token was rotated",
    )
    assert tally.stored == len(replies) + 1  # the one call answered 190
