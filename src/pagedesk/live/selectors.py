"""Reads of the live event log, shaped for the SSE stream's hot path.

Every query is one index seek or range on ``(workspace, id)``: the stream polls
often, so none of them may grow with the size of the log.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import OuterRef, Subquery

from pagedesk.core.models import Membership, Workspace
from pagedesk.live.models import LiveEvent


class Row(NamedTuple):
    id: int
    kind: str
    data: dict[str, Any]


def latest_event_id(*, workspace_id: int) -> int:
    """The id of the workspace's newest event, 0 when it has none."""
    found = (
        LiveEvent.objects.filter(workspace_id=workspace_id)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return found or 0


def latest_event_ids(*, workspace_ids: Collection[int]) -> dict[int, int]:
    """The newest event id of each workspace (0 when none), in one query.

    A correlated ``ORDER BY id DESC LIMIT 1`` per workspace, not ``GROUP BY``:
    both SQLite and PostgreSQL answer it with one index seek, where a grouped
    ``MAX`` would read every event of the day. Plain SQL, built once per number
    of workspaces: this runs ten times a second per web process, and building
    it through the ORM cost five times as much as running it.
    """
    ids = sorted(set(workspace_ids))
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_latest_ids_sql(connection.vendor, len(ids)), ids)
        return {pk: last or 0 for pk, last in cursor.fetchall()}


@cache
def _latest_ids_sql(vendor: str, count: int) -> str:
    newest = LiveEvent.objects.filter(workspace_id=OuterRef("pk")).order_by("-id").values("id")
    query = (
        Workspace.objects.filter(pk__in=list(range(count)))
        .annotate(last=Subquery(newest[:1]))
        .values_list("pk", "last")
    )
    sql, params = query.query.sql_with_params()
    assert len(params) == count  # the ids are the only parameters
    return sql


def events_after(*, workspace_id: int, after_id: int, limit: int) -> list[Row]:
    """Up to ``limit`` events of the workspace with an id above ``after_id``, oldest first."""
    rows = (
        LiveEvent.objects.filter(workspace_id=workspace_id, id__gt=after_id)
        .order_by("id")
        .values_list("id", "kind", "data")[:limit]
    )
    return [Row(*row) for row in rows]


def event_exists(*, workspace_id: int, event_id: int) -> bool:
    return LiveEvent.objects.filter(workspace_id=workspace_id, id=event_id).exists()


def is_member(*, user_id: int, workspace_id: int) -> bool:
    return Membership.objects.filter(user_id=user_id, workspace_id=workspace_id).exists()
