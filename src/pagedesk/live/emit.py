"""Writes of the live event log: :func:`emit` (in the caller's transaction) and the purge.

The SSE stream resumes from an event id and promises to miss nothing, which only
holds if, within a workspace, ids become visible in increasing order. Ids come
from one sequence but transactions commit in any order, so a transaction that
took id 10 could commit after one that took id 11, and a reader that already
moved past 11 would never see 10. Hence emitters of a workspace are serialised
from their first ``emit`` until commit:

- SQLite allows one writer at a time (and pagedesk's transactions take the
  write lock at ``BEGIN``), so ids already follow commit order.
- PostgreSQL: ``emit`` takes a transaction-scoped advisory lock per workspace,
  released by the commit or rollback. Call ``emit`` as late as possible in the
  transaction: other emitters of the same workspace wait from there to commit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from typing import Any, NamedTuple

from django.db import transaction
from django.utils import timezone

from pagedesk.core import inserts
from pagedesk.live import wakeup
from pagedesk.live.models import LiveEvent

# The kinds the inbox emits. ``data`` carries ids plus the few fields a list row needs.
MESSAGE_CREATED = "message.created"  # {conversation_id, message_id, direction}
MESSAGE_UPDATED = "message.updated"  # {conversation_id, message_id, status?}
CONVERSATION_CREATED = "conversation.created"  # {conversation_id}
CONVERSATION_UPDATED = "conversation.updated"  # {conversation_id, ...changed fields}
NOTE_CREATED = "note.created"  # {conversation_id, note_id}

MAX_KIND_LENGTH = 64
MAX_DATA_BYTES = 4096
RETENTION = timedelta(hours=24)
# A kind becomes the SSE ``event:`` line: dotted lowercase words, never a line break.
_KIND = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*\Z")
_LOCK_NAMESPACE = 0x4C495645  # "LIVE": keeps these advisory locks apart from others


class Pending(NamedTuple):
    """An event to emit later in the same transaction (see :func:`emit_many`)."""

    workspace_id: int
    kind: str
    data: dict[str, Any]


def emit(*, workspace_id: int, kind: str, data: dict[str, Any]) -> None:
    """Append an event to the workspace's live log, in the caller's transaction.

    The event exists if and only if that transaction commits; on commit the
    workspace's followers are woken. Outside a transaction the event commits
    at once. Raises ``ValueError`` for a malformed kind or oversized data.
    """
    emit_many([Pending(workspace_id, kind, data)])


def emit_many(events: Sequence[Pending]) -> None:
    """Like :func:`emit` for several events (of any workspaces), in one ``INSERT``.

    Ids follow the order of ``events``; each workspace is woken once, on commit,
    with its newest id.
    """
    if not events:
        return
    for event in events:
        _check(event.kind, event.data)
    with transaction.atomic(savepoint=False):  # joins the caller's transaction, if any
        for workspace_id in sorted({e.workspace_id for e in events}):  # one lock order
            _serialise_workspace(workspace_id)
        rows = [LiveEvent(workspace_id=e.workspace_id, kind=e.kind, data=e.data) for e in events]
        inserts.insert(rows)
        newest: dict[int, int] = {}
        for row in rows:
            newest[row.workspace_id] = max(newest.get(row.workspace_id, 0), row.pk)
        for workspace_id, last_id in newest.items():
            transaction.on_commit(partial(wakeup.announce, workspace_id, last_id), robust=True)


def _check(kind: str, data: dict[str, Any]) -> None:
    if len(kind) > MAX_KIND_LENGTH or not _KIND.match(kind):
        raise ValueError(f"live event kind must look like 'message.created', not {kind!r}")
    size = len(json.dumps(data, separators=(",", ":")))
    if size > MAX_DATA_BYTES:
        raise ValueError(f"live event data is {size} bytes; keep it under {MAX_DATA_BYTES}")


def _serialise_workspace(workspace_id: int) -> None:
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, workspace_id % 2**31]
        )


def purge_expired(*, max_age: timedelta = RETENTION, batch: int = 10_000) -> int:
    """Delete events older than ``max_age``, a batch per transaction; returns how many.

    A browser resuming from a purged id gets a ``reset`` event (see edge.sse).
    """
    cutoff = timezone.now() - max_age
    deleted = 0
    while True:
        ids = list(
            LiveEvent.objects.filter(created_at__lt=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:batch]
        )
        if ids:
            deleted += LiveEvent.objects.filter(id__in=ids).delete()[0]
        if len(ids) < batch:
            return deleted
