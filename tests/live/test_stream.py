"""GET /live/stream over real HTTP: order, transactions, resuming, and the stream's life."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from pagedesk.edge import sse
from pagedesk.live import feed
from pagedesk.live.emit import emit, purge_expired
from pagedesk.live.models import LiveEvent
from tests.live.conftest import Member, data_of, emit_many
from tests.live.sse_client import SSEClient
from tests.servers import ServerThread


def test_protocol_headers_and_preface(pagedesk_server: str, acme: Member) -> None:
    emit_many(acme.workspace, 2)
    newest = LiveEvent.objects.filter(workspace=acme.workspace).latest("id").pk
    with SSEClient(pagedesk_server, token=acme.token) as stream:
        assert stream.status == 200
        assert stream.headers["content-type"] == "text/event-stream"
        assert stream.headers["cache-control"] == "no-cache"
        assert stream.headers["x-accel-buffering"] == "no"
        preface = stream.next_message()
        assert preface is not None
        # Starting fresh: the browser learns the current position, nothing is replayed.
        assert (preface.retry, preface.id, preface.data) == ("2000", str(newest), None)
        assert stream.no_event_within(0.3)


def test_committed_events_arrive_in_order_with_their_kind_and_data(
    pagedesk_server: str, acme: Member
) -> None:
    with SSEClient(pagedesk_server, token=acme.token) as stream:
        with transaction.atomic():  # several events in one transaction
            for n in range(3):
                emit(workspace_id=acme.workspace.pk, kind="message.created", data={"n": n})
        emit(workspace_id=acme.workspace.pk, kind="conversation.updated", data={"n": 3})
        with transaction.atomic():
            emit(workspace_id=acme.workspace.pk, kind="note.created", data={"n": 4, "t": "Grüße"})
        events = stream.events(5)
    ids = [int(event.id) for event in events]  # type: ignore[arg-type]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [event.event for event in events] == ["message.created"] * 3 + [
        "conversation.updated",
        "note.created",
    ]
    assert [json.loads(event.data)["n"] for event in events] == [0, 1, 2, 3, 4]  # type: ignore[arg-type]
    assert json.loads(events[-1].data)["t"] == "Grüße"  # type: ignore[arg-type]
    assert ids == list(
        LiveEvent.objects.filter(workspace=acme.workspace)
        .order_by("id")
        .values_list("id", flat=True)
    )


def test_a_rolled_back_transaction_emits_nothing(pagedesk_server: str, acme: Member) -> None:
    with SSEClient(pagedesk_server, token=acme.token) as stream:
        with pytest.raises(RuntimeError), transaction.atomic():
            emit(workspace_id=acme.workspace.pk, kind="message.created", data={"n": "ghost"})
            raise RuntimeError("the change fails after the emit")
        with transaction.atomic():
            with pytest.raises(RuntimeError), transaction.atomic():  # a savepoint rolled back
                emit(workspace_id=acme.workspace.pk, kind="message.created", data={"n": "ghost"})
                raise RuntimeError("the handler fails")
            emit(workspace_id=acme.workspace.pk, kind="message.created", data={"n": "real"})
        assert data_of(stream.events(1)) == ['{"n":"real"}']
        assert stream.no_event_within(0.4)
    assert list(LiveEvent.objects.values_list("data", flat=True)) == [{"n": "real"}]


@pytest.mark.parametrize("via", ["header", "query"])
def test_reconnecting_with_the_last_event_id_misses_nothing_and_repeats_nothing(
    pagedesk_server: str, acme: Member, via: str
) -> None:
    with SSEClient(pagedesk_server, token=acme.token) as stream:
        emit_many(acme.workspace, 3)
        seen = stream.events(3)
    last_id = seen[-1].id
    emit_many(acme.workspace, 50)  # while nobody is connected
    resume = {"last_event_id": last_id} if via == "header" else {}
    query = {"last_event_id": str(last_id)} if via == "query" else None
    with SSEClient(pagedesk_server, token=acme.token, query=query, **resume) as stream:
        missed = stream.events(50)
        assert data_of(missed) == [f'{{"message_id":{n}}}' for n in range(50)]
        assert stream.no_event_within(0.4)  # nothing repeated
        emit_many(acme.workspace, 1)
        assert data_of(stream.events(1)) == ['{"message_id":0}']
    ids = [int(e.id) for e in seen + missed]  # type: ignore[arg-type]
    assert ids == sorted(ids) and len(set(ids)) == 53


def test_a_stream_behind_the_shared_buffer_reads_pages_from_the_log(
    pagedesk_server: str, acme: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed, "BUFFER", 8)
    monkeypatch.setattr(sse, "BATCH", 5)
    with SSEClient(pagedesk_server, token=acme.token) as stream:
        stream.next_message()  # the preface: the stream follows the feed
        with transaction.atomic():  # 60 at once: the feed keeps the newest 8 only
            for n in range(60):
                emit(workspace_id=acme.workspace.pk, kind="message.created", data={"n": n})
        emit_many(acme.workspace, 20, kind="message.updated")
        events = stream.events(80)
    assert [json.loads(e.data)["n"] for e in events[:60]] == list(range(60))  # type: ignore[arg-type]
    assert [e.event for e in events[60:]] == ["message.updated"] * 20
    ids = [int(e.id) for e in events]  # type: ignore[arg-type]
    assert ids == sorted(set(ids))


def test_an_event_committed_late_is_not_skipped(pagedesk_server: str, acme: Member) -> None:
    """T1 emits first but commits last; T2 emits and commits meanwhile. Ids must still
    become visible in order, or a stream past T2's id would never see T1's event."""
    first_emitted = threading.Event()

    def slow_writer() -> None:
        from django.db import connection

        try:
            with transaction.atomic():
                emit(workspace_id=acme.workspace.pk, kind="message.created", data={"t": 1})
                first_emitted.set()
                time.sleep(0.5)
        finally:
            connection.close()

    def quick_writer() -> None:
        from django.db import connection

        try:
            with transaction.atomic():
                emit(workspace_id=acme.workspace.pk, kind="message.created", data={"t": 2})
        finally:
            connection.close()

    with SSEClient(pagedesk_server, token=acme.token) as stream:
        slow = threading.Thread(target=slow_writer)
        slow.start()
        assert first_emitted.wait(5)
        quick = threading.Thread(target=quick_writer)
        quick.start()
        slow.join()
        quick.join()
        events = stream.events(2)
    assert data_of(events) == ['{"t":1}', '{"t":2}']
    assert int(events[0].id) < int(events[1].id)  # type: ignore[arg-type]


def test_resuming_from_a_purged_id_asks_the_browser_to_reload(
    pagedesk_server: str, acme: Member
) -> None:
    emit_many(acme.workspace, 3)
    old_ids = list(LiveEvent.objects.order_by("id").values_list("id", flat=True))
    LiveEvent.objects.filter(id__in=old_ids[:2]).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    assert purge_expired() == 2
    with SSEClient(pagedesk_server, token=acme.token, last_event_id=old_ids[0]) as stream:
        reset = stream.events(1)[0]
        assert (reset.event, reset.id) == ("reset", str(old_ids[2]))
        assert json.loads(reset.data) == {"reason": "expired"}  # type: ignore[arg-type]
        assert stream.no_event_within(0.3)  # follows from now on
        emit_many(acme.workspace, 1)
        assert stream.events(1)[0].event == "message.created"


def test_heartbeat_comments_keep_an_idle_stream_open(
    pagedesk_server: str, acme: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sse, "HEARTBEAT", 0.2)
    with SSEClient(pagedesk_server, token=acme.token) as stream:
        stream.next_message()
        beat = stream.next_message(timeout=2)
        assert beat is not None and beat.comment == "ping" and not beat.is_event


def test_a_stream_ends_after_its_lifetime_and_resumes(
    pagedesk_server: str, acme: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sse, "MAX_LIFETIME", 0.5)
    with SSEClient(pagedesk_server, token=acme.token) as stream:
        start = stream.next_message()
        assert start is not None
        assert stream.no_event_within(2.0) and stream.ended
    emit_many(acme.workspace, 2)
    with SSEClient(pagedesk_server, token=acme.token, last_event_id=start.id) as stream:
        assert len(stream.events(2)) == 2


def test_a_client_leaving_releases_its_stream(pagedesk_server: str, acme: Member) -> None:
    stream = SSEClient(pagedesk_server, token=acme.token)
    stream.next_message()
    assert len(feed.active_hubs()) == 1
    stream.close()
    deadline = time.monotonic() + 3
    while feed.active_hubs() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not feed.active_hubs()


def test_server_shutdown_ends_open_streams(transactional_db: None, acme: Member) -> None:
    from pagedesk.asgi import build_application

    server = ServerThread(build_application()).start()
    stream = SSEClient(server.url, token=acme.token)
    stream.next_message()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3, "shutdown waited for the open stream"
    assert not server.thread.is_alive()
    assert stream.next_message(timeout=2) is None and stream.ended
    stream.close()


def test_a_database_outage_asks_the_browser_to_retry_instead_of_failing(
    pagedesk_server: str, acme: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EventSource gives up for good on a 5xx; an empty stream makes it come back."""
    from django.db import OperationalError

    from pagedesk.live import selectors

    def database_away(**kwargs: object) -> int:
        raise OperationalError("database is locked")

    monkeypatch.setattr(selectors, "latest_event_id", database_away)
    with SSEClient(pagedesk_server, token=acme.token) as stream:
        assert stream.status == 200
        preface = stream.next_message()
        assert preface is not None and preface.retry == "2000" and not preface.is_event
        assert stream.next_message(timeout=2) is None and stream.ended
