"""Appending deliveries to the raw webhook log, then handing accepted ones to the worker.

Runs in the edge's writer thread (see :mod:`pagedesk.edge.group_commit`): a batch
of deliveries is one multi-row ``INSERT`` in one transaction, on a connection
kept while batches follow each other. It is plain SQL through Django's
connection because the ORM's per-object work cost four times the insert itself.
On PostgreSQL the rows travel as one JSON parameter (bodies hex-encoded), as in
:mod:`pagedesk.core.inserts`: the driver parses a statement for its placeholders
in Python, and a ``VALUES`` list of a hundred rows cost it 30 µs a row.
Ingestion is enqueued only after the commit; if the queue is down the rows are
still safe, because the ingestion sweeper re-enqueues accepted rows never split.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from pagedesk.core.models import RawWebhook
from pagedesk.edge.counters import COUNTERS
from pagedesk.edge.jobs import enqueue_ingestion
from pagedesk.edge.write_turns import write_turn
from pagedesk.messenger.storable import storable

log = logging.getLogger(__name__)

Status = RawWebhook.Status
SIGNED = frozenset({Status.ACCEPTED, Status.MALFORMED, Status.UNKNOWN_PAGE})
# The columns each row sets; every other column gets its model default.
_SET = ("received_at", "status", "signature_valid", "page_ids", "body", "body_size", "error")


@dataclass(frozen=True)
class Delivery:
    """A POST's body and the verdict on it, ready to be stored."""

    body: bytes
    status: str
    page_ids: tuple[str, ...] = ()
    error: str = ""


def append(deliveries: list[Delivery]) -> None:
    """Store ``deliveries`` in one transaction, then enqueue the accepted ones' ingestion."""
    sql, params = _statement(deliveries)
    try:
        with _transaction(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            accepted = [pk for pk, status in cursor.fetchall() if status == Status.ACCEPTED]
    except Exception:
        connection.close()  # whatever went wrong, the next batch starts on a new connection
        raise
    if accepted:
        try:
            enqueue_ingestion(sorted(accepted))
        except Exception:
            COUNTERS["enqueue_failed"] += len(accepted)
            log.exception("could not enqueue webhooks %s; the sweeper will", accepted)


@contextmanager
def _transaction() -> Iterator[None]:
    """PostgreSQL: none of its own. The one ``INSERT`` is a transaction by itself
    (autocommit), committed when the driver returns: one round trip, not three
    (``BEGIN``, ``INSERT``, ``COMMIT``), each of which waited for the thread to get
    the interpreter back. SQLite: its write turn, then ``BEGIN``."""
    if connection.vendor == "postgresql" and connection.get_autocommit():
        yield
        return
    with write_turn(), transaction.atomic():
        yield


def _statement(deliveries: list[Delivery]) -> tuple[str, list[object]]:
    received_at = connection.ops.adapt_datetimefield_value(timezone.now())
    defaults = list(_defaults().values())
    # In the order of _SET after received_at: status, signed, page ids, body, size, error.
    rows = [
        (
            d.status,
            d.status in SIGNED,
            storable(",".join(d.page_ids))[:1024],
            d.body,
            len(d.body),
            storable(d.error),
        )
        for d in deliveries
    ]
    if connection.vendor == "postgresql":
        document = [(s, signed, pages, body.hex(), n, e) for s, signed, pages, body, n, e in rows]
        return _json_insert_sql(), [received_at, *defaults, json.dumps(document)]
    params = [value for row in rows for value in (received_at, *row, *defaults)]
    return _insert_sql(len(deliveries)), params


@cache
def _defaults() -> dict[str, object]:
    """The other columns and their model defaults, ready for the database."""
    return {
        field.column: field.get_db_prep_save(field.get_default(), connection)
        for field in RawWebhook._meta.concrete_fields
        if not field.primary_key and field.name not in _SET
    }


@cache
def _insert_sql(rows: int) -> str:
    meta, quote = RawWebhook._meta, connection.ops.quote_name
    columns = [meta.get_field(name).column for name in _SET] + list(_defaults())
    table, names = quote(meta.db_table), ", ".join(map(quote, columns))
    rows_sql = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * rows)
    returning = f"{quote(meta.pk.column)}, {quote(meta.get_field('status').column)}"
    # Names come from the model (quoted); every value is a parameter.
    return f"INSERT INTO {table} ({names}) VALUES {rows_sql} RETURNING {returning}"  # noqa: S608


@cache
def _json_insert_sql() -> str:
    """PostgreSQL: each row of the batch is a JSON array, ``[status, signed, page_ids,
    body as hex, body size, error]``; the time and the defaults are parameters.

    ``jsonb``, because ``->>`` on ``json`` parses the element's text again for each
    field: a batch of 32 took the server 1.1 ms instead of 0.27 ms."""
    meta, quote = RawWebhook._meta, connection.ops.quote_name
    columns = [meta.get_field(name).column for name in _SET] + list(_defaults())
    values = ["%s", "r->>0", "(r->>1)::boolean", "r->>2", "decode(r->>3, 'hex')", "(r->>4)::int"]
    values += ["r->>5"] + ["%s"] * len(_defaults())
    table, names = quote(meta.db_table), ", ".join(map(quote, columns))
    returning = f"{quote(meta.pk.column)}, {quote(meta.get_field('status').column)}"
    # Names come from the model (quoted); every value is a parameter or the document's.
    return (
        f"INSERT INTO {table} ({names}) SELECT {', '.join(values)} "  # noqa: S608
        f"FROM jsonb_array_elements(%s::jsonb) AS r RETURNING {returning}"
    )


def release_connection() -> None:
    """Once the writer has been idle a moment: Django's usual connection hygiene.

    The edge bypasses Django's request cycle, so this stands in for its
    end-of-request clean-up (``CONN_MAX_AGE``, health checks). Not after every
    batch: closing SQLite's last connection checkpoints the WAL, a cost a busy
    writer should not pay per batch.
    """
    close_old_connections()
