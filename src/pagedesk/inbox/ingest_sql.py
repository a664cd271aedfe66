"""The statements every ingestion job runs before its handlers, in plain SQL.

A worker that keeps up with its queue runs a job for a handful of deliveries, so
what a job costs whatever its size is most of what a message costs. Django spent
0.2 to 0.9 ms of CPU building and compiling each of these statements (the lane
filter, the ``ORDER BY`` and ``defer`` the most) and the database far less running
them; written out they cost 15 to 100 µs (``bench/README.md``). Rows come back as
models through ``Manager.raw``, which converts each column as the ORM would, so
callers see what a queryset gave them. The statements are the same on SQLite and
PostgreSQL but for row locks, which only PostgreSQL takes. Only ``%s`` placeholders
and column names are ever put into the SQL text: values go as parameters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime
from functools import cache
from typing import Literal

from django.db import connection

from pagedesk.core.models import Channel, RawWebhook
from pagedesk.inbox.models import InboundEvent

Lane = tuple[int, str]  # (channel id, thread key)
_ACCEPTED = RawWebhook.Status.ACCEPTED.value
_PENDING = InboundEvent.State.PENDING.value


def has_work(raw_webhook_id: int) -> bool:
    """A delivery waits to be split, or this one was split by a run that did not get
    to process its events (they still wait)."""
    with connection.cursor() as cursor:
        cursor.execute(_HAS_WORK, [_ACCEPTED, raw_webhook_id, _ACCEPTED, _PENDING])
        row = cursor.fetchone()
    return bool(row and row[0])


_HAS_WORK = """
    SELECT EXISTS (SELECT 1 FROM core_rawwebhook WHERE status = %s AND split_at IS NULL)
        OR EXISTS (
            SELECT 1 FROM core_rawwebhook AS raw
            JOIN inbox_inboundevent AS event ON event.raw_webhook_id = raw.id
            WHERE raw.id = %s AND raw.status = %s AND event.state = %s
        )
"""


def lock_span(raw_webhook_id: int, span: int) -> list[RawWebhook]:
    """The job's span, held until commit: its own delivery, if accepted, then the
    oldest others waiting to be split, ``span`` waiting ones at most.

    Never waits for another worker: a delivery another holds (it took it along) is
    left to it (should it fail, it redoes its span one by one; should it die, the
    sweeper re-queues). Waiting for that batch to commit only to find the work done
    cost PostgreSQL workers a third of their time.
    """
    lock = _skip_locked()
    own = list(RawWebhook.objects.raw(_OWN + lock, [raw_webhook_id, _ACCEPTED]))
    limit = span - sum(1 for raw in own if raw.split_at is None)
    others = RawWebhook.objects.raw(_OTHERS + lock, [_ACCEPTED, raw_webhook_id, limit])
    return [*own, *others]


_SPAN_COLUMNS = "SELECT id, body, split_at, error FROM core_rawwebhook"
_OWN = f"{_SPAN_COLUMNS} WHERE id = %s AND status = %s"
_OTHERS = (
    f"{_SPAN_COLUMNS} WHERE status = %s AND split_at IS NULL AND id <> %s ORDER BY id LIMIT %s"
)


def mark_split(
    raw_ids: Collection[int], *, count: int, kinds: str, at: datetime, error: str
) -> None:
    """Record the outcome of splitting these deliveries; an empty ``error`` keeps what
    the edge noted, if anything."""
    sets = ["event_count = %s", "event_kinds = %s", "split_at = %s"]
    params: list[object] = [count, kinds, connection.ops.adapt_datetimefield_value(at)]
    if error:
        sets.append("error = %s")
        params.append(error)
    sql = f"UPDATE core_rawwebhook SET {', '.join(sets)} WHERE id IN ({_marks(raw_ids)})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *raw_ids])


def lock_lanes(lanes: Collection[Lane]) -> None:
    """Create the lanes' rows if need be and hold them until commit, in one sorted order
    for everyone (no deadlock between batches). PostgreSQL only: see
    ``pagedesk.inbox.ingest``."""
    ordered = sorted(lanes)
    where, params = lane_where(ordered)
    with connection.cursor() as cursor:
        cursor.execute(_NEW_LANES, [[c for c, _ in ordered], [t for _, t in ordered]])
        cursor.execute(_LOCK_LANES.format(where=where), params)


_NEW_LANES = """
    INSERT INTO inbox_threadlane (channel_id, thread_key)
    SELECT * FROM UNNEST(%s::bigint[], %s::varchar[])
    ON CONFLICT DO NOTHING
"""
_LOCK_LANES = """
    SELECT id FROM inbox_threadlane WHERE {where} ORDER BY channel_id, thread_key FOR UPDATE
"""


def pending_events(lanes: Collection[Lane], limit: int) -> list[InboundEvent]:
    """The lanes' pending events in processing order (thread, Meta's time with events
    without one last, arrival), ``limit`` at most. ``last_error`` is left unread."""
    where, params = lane_where(lanes)
    sql = _PENDING_EVENTS.format(columns=_event_columns(), where=where)
    return list(InboundEvent.objects.raw(sql, [_PENDING, *params, limit]))


_PENDING_EVENTS = """
    SELECT {columns} FROM inbox_inboundevent WHERE state = %s AND ({where})
    ORDER BY channel_id, thread_key, timestamp_ms NULLS LAST, id LIMIT %s
"""


def stored_mids(workspace_id: int, mids: Collection[str]) -> list[str]:
    """Which of these message ids the workspace has stored already."""
    sql = f"SELECT mid FROM inbox_message WHERE workspace_id = %s AND mid IN ({_marks(mids)})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [workspace_id, *mids])
        return [mid for (mid,) in cursor.fetchall()]


def channels(column: Literal["id", "page_id"], values: Collection[object]) -> list[Channel]:
    """The channels with these ids or page ids, with what handlers use of them: loading
    (and decrypting) every column cost more than the query. Anything else is loaded on
    first use."""
    if column not in ("id", "page_id"):  # a column name goes into the SQL text
        raise ValueError(f"channels are looked up by id or page_id, not {column!r}")
    sql = _CHANNELS.format(column=column, values=_marks(values))
    return list(Channel.objects.raw(sql, list(values)))


_CHANNELS = "SELECT id, workspace_id, page_id, kind FROM core_channel WHERE {column} IN ({values})"


def lane_where(lanes: Iterable[Lane]) -> tuple[str, list[object]]:
    """SQL for rows of these threads: a ``thread_key IN (…)`` per channel."""
    by_channel = lanes_by_channel(lanes)
    clauses = [_LANE.format(keys=_marks(keys)) for keys in by_channel.values()]
    params = [value for channel_id, keys in by_channel.items() for value in (channel_id, *keys)]
    return " OR ".join(clauses) or "1 = 0", params


def lanes_by_channel(lanes: Iterable[Lane]) -> dict[int, list[str]]:
    """The thread keys of each channel: one ``IN (…)`` per channel costs far less to
    build and to plan than an OR of a hundred (channel, thread) pairs."""
    by_channel: dict[int, list[str]] = defaultdict(list)
    for channel_id, thread_key in lanes:
        by_channel[channel_id].append(thread_key)
    return by_channel


_LANE = "(channel_id = %s AND thread_key IN ({keys}))"


def _marks(values: Collection[object]) -> str:
    return ", ".join(["%s"] * len(values))


def _skip_locked() -> str:
    can = connection.features.has_select_for_update_skip_locked
    return " FOR UPDATE SKIP LOCKED" if can else ""


@cache
def _event_columns() -> str:
    quote = connection.ops.quote_name  # "index" is a keyword
    fields = InboundEvent._meta.concrete_fields
    return ", ".join(quote(field.column) for field in fields if field.name != "last_error")
