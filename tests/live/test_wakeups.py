"""How a stream learns of new events: in-process hints, Redis pub/sub, polling.

"Another process" is simulated by switching off in-process hints: the event is
then only in the database (and on Redis, if any), as when the worker wrote it.
"""

from __future__ import annotations

import time

import pytest

from pagedesk.config import get_config
from pagedesk.live import feed, wakeup
from tests.live.conftest import Member, emit_many
from tests.live.sse_client import SSEClient

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


@pytest.fixture
def from_another_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wakeup, "notify_local", lambda workspace_id, last_id: None)


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def arrival_seconds(stream: SSEClient, member: Member) -> float:
    started = time.monotonic()
    emit_many(member.workspace, 1)
    stream.events(1, timeout=10)
    return time.monotonic() - started


def test_in_process_hint_wakes_the_stream_without_polling(
    pagedesk_server: str, acme: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wakeup, "redis_url", lambda: None)
    monkeypatch.setattr(feed, "POLL_FAST", 60.0)
    with SSEClient(pagedesk_server, token=acme.token) as stream:
        stream.next_message()
        assert arrival_seconds(stream, acme) < 1.0


def test_embedded_mode_polls_for_other_processes_events(
    pagedesk_server: str, acme: Member, monkeypatch: pytest.MonkeyPatch, from_another_process: None
) -> None:
    monkeypatch.setattr(wakeup, "redis_url", lambda: None)
    with SSEClient(pagedesk_server, token=acme.token) as stream:
        stream.next_message()
        assert arrival_seconds(stream, acme) < 1.0  # POLL_FAST is 0.1 s
        (hub,) = feed.active_hubs()
        assert not hub.redis_healthy


@pytest.mark.redis
@pytest.mark.skipif(get_config().redis_url is None, reason="needs REDIS_URL")
def test_redis_pubsub_wakes_streams_of_other_processes(
    pagedesk_server: str, acme: Member, monkeypatch: pytest.MonkeyPatch, from_another_process: None
) -> None:
    monkeypatch.setattr(feed, "POLL_SAFETY", 60.0)  # only Redis can wake the stream in time
    with SSEClient(pagedesk_server, token=acme.token) as stream:
        stream.next_message()
        (hub,) = feed.active_hubs()
        wait_for(lambda: hub.redis_healthy)
        time.sleep(0.5)  # let the poll that follows subscribing finish
        polls, hints = feed.STATS["polls"], feed.STATS["hints"]
        assert arrival_seconds(stream, acme) < 2.0
        assert feed.STATS["polls"] == polls, "the event came by polling, not by Redis"
        assert feed.STATS["hints"] > hints


def test_redis_unavailable_falls_back_to_polling(
    pagedesk_server: str, acme: Member, monkeypatch: pytest.MonkeyPatch, from_another_process: None
) -> None:
    monkeypatch.setattr(wakeup, "redis_url", lambda: DEAD_REDIS)
    with SSEClient(pagedesk_server, token=acme.token) as stream:
        stream.next_message()
        (hub,) = feed.active_hubs()
        assert arrival_seconds(stream, acme) < 2.0  # publishing failed; the poll found it
        assert not hub.redis_healthy
        emit_many(acme.workspace, 20)
        assert len(stream.events(20)) == 20
