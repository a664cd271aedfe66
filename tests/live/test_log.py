"""The live event log itself: what emit accepts, the retention task, the hot-path reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pagedesk.live import selectors
from pagedesk.live.emit import emit
from pagedesk.live.models import LiveEvent
from pagedesk.live.tasks import purge_live_events
from tests.live.conftest import Member, emit_many


@pytest.mark.parametrize(
    "kind", ["", "Message.Created", "message.created\nevent: x", "message..created", "x" * 65]
)
def test_emit_refuses_kinds_that_would_break_the_stream(acme: Member, kind: str) -> None:
    with pytest.raises(ValueError, match="kind"):
        emit(workspace_id=acme.workspace.pk, kind=kind, data={})
    assert not LiveEvent.objects.exists()


def test_emit_refuses_large_data(acme: Member) -> None:
    with pytest.raises(ValueError, match="bytes"):
        emit(workspace_id=acme.workspace.pk, kind="message.created", data={"text": "x" * 5000})


def test_emit_outside_a_transaction_commits_at_once(acme: Member) -> None:
    emit(workspace_id=acme.workspace.pk, kind="conversation.created", data={"conversation_id": 1})
    event = LiveEvent.objects.get()
    assert (event.workspace_id, event.kind, event.data) == (
        acme.workspace.pk,
        "conversation.created",
        {"conversation_id": 1},
    )


def test_emit_wakes_followers_only_after_commit(
    acme: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pagedesk.live import wakeup

    announced: list[tuple[int, int]] = []
    monkeypatch.setattr(wakeup, "announce", lambda ws, last: announced.append((ws, last)))
    with transaction.atomic():
        emit(workspace_id=acme.workspace.pk, kind="message.created", data={})
        assert announced == []
    assert announced == [(acme.workspace.pk, LiveEvent.objects.get().pk)]


def test_the_retention_task_deletes_events_older_than_a_day(acme: Member) -> None:
    emit_many(acme.workspace, 5)
    ids = list(LiveEvent.objects.order_by("id").values_list("id", flat=True))
    LiveEvent.objects.filter(id__in=ids[:3]).update(created_at=timezone.now() - timedelta(hours=25))
    LiveEvent.objects.filter(id=ids[3]).update(created_at=timezone.now() - timedelta(hours=23))
    purge_live_events.call_local()
    assert list(LiveEvent.objects.order_by("id").values_list("id", flat=True)) == ids[3:]


def test_hot_path_reads(acme: Member, globex: Member) -> None:
    emit_many(acme.workspace, 3)
    emit_many(globex.workspace, 2)
    acme_ids = list(LiveEvent.objects.filter(workspace=acme.workspace).values_list("id", flat=True))
    globex_last = LiveEvent.objects.filter(workspace=globex.workspace).latest("id").pk
    with CaptureQueriesContext(connection) as queries:
        latest = selectors.latest_event_ids(workspace_ids=[acme.workspace.pk, globex.workspace.pk])
    assert len(queries) == 1
    assert latest == {acme.workspace.pk: acme_ids[-1], globex.workspace.pk: globex_last}
    rows = selectors.events_after(workspace_id=acme.workspace.pk, after_id=acme_ids[0], limit=1)
    assert [row.id for row in rows] == [acme_ids[1]]
    assert selectors.latest_event_id(workspace_id=acme.workspace.pk) == acme_ids[-1]
    assert not selectors.event_exists(workspace_id=acme.workspace.pk, event_id=globex_last)
