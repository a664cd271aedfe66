"""The write ingestion makes most often: "the customer spoke" on a conversation.

A customer action opens the messaging window, reopens a done conversation, bumps
the unread count and, for the first message after an ad click, opens the 7-day
ad window. A batch of events (see ``pagedesk.inbox.read_ahead``) collects these
and writes them in one statement, however many conversations it touched.

Several actions on one conversation merge exactly as if applied one by one: the
newest time wins (compared in the database, against the row as it is), the last
ad message's time wins, unread counts add up.

Plain SQL: the ORM spent ten times longer building this UPDATE than the database
took to run it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from django.db import connection
from django.utils import timezone

from pagedesk.inbox.models import Conversation


class Spoke(NamedTuple):
    conversation_id: int
    at: datetime
    unread: bool
    ad_message: bool


class _Merged(NamedTuple):
    at: datetime
    ad_at: datetime | None
    unread: int


def write(actions: Iterable[Spoke]) -> None:
    """Apply the actions, in order, in one UPDATE."""
    merged: dict[int, _Merged] = {}
    for action in actions:
        before = merged.get(action.conversation_id)
        at = action.at if before is None else max(before.at, action.at)
        ad_at = action.at if action.ad_message else (before.ad_at if before else None)
        unread = int(action.unread) + (before.unread if before else 0)
        merged[action.conversation_id] = _Merged(at, ad_at, unread)
    if not merged:
        return
    adapt = connection.ops.adapt_datetimefield_value
    values: list[object] = []
    for conversation_id, change in merged.items():
        values += [conversation_id, adapt(change.at), adapt(change.ad_at), change.unread]
    now = adapt(timezone.now())
    row = _ROW_TYPED if connection.vendor == "postgresql" else _ROW
    sql = _SPOKE.format(rows=", ".join([row] * len(merged)))
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, Conversation.Status.OPEN, now])


_ROW = "(%s, %s, %s, %s)"
# PostgreSQL types a VALUES list from its literals: parameters need their type.
_ROW_TYPED = "(%s::bigint, %s::timestamptz, %s::timestamptz, %s::integer)"
_SPOKE = """
    WITH spoke (id, at, ad_at, unread) AS (VALUES {rows})
    UPDATE inbox_conversation SET
        status = %s,
        updated_at = %s,
        last_customer_message_at = CASE WHEN last_customer_message_at IS NULL
            OR last_customer_message_at < spoke.at THEN spoke.at
            ELSE last_customer_message_at END,
        last_message_at = CASE WHEN last_message_at IS NULL
            OR last_message_at < spoke.at THEN spoke.at ELSE last_message_at END,
        ad_message_at = COALESCE(spoke.ad_at, ad_message_at),
        unread_count = unread_count + spoke.unread
    FROM spoke
    WHERE inbox_conversation.id = spoke.id
"""
