"""Appending deliveries to the raw webhook log, then handing accepted ones to the worker.

Runs in the edge's writer thread (see :mod:`pagedesk.edge.group_commit`): a batch
of deliveries is one multi-row ``INSERT`` in one transaction, on a connection
kept while batches follow each other. It is plain SQL through Django's
connection because the ORM's per-object work cost four times the insert itself.
Ingestion is enqueued only after the commit; if the queue is down the rows are
still safe, because the ingestion sweeper re-enqueues accepted rows never split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from pagedesk.core.models import RawWebhook
from pagedesk.edge.counters import COUNTERS
from pagedesk.edge.jobs import enqueue_ingestion
from pagedesk.edge.write_turns import write_turn

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
    received_at = connection.ops.adapt_datetimefield_value(timezone.now())
    defaults = list(_defaults().values())
    params: list[object] = []
    for d in deliveries:
        page_ids = ",".join(d.page_ids)[:1024]
        signed = d.status in SIGNED
        params += [received_at, d.status, signed, page_ids, d.body, len(d.body), d.error]
        params += defaults
    try:
        with write_turn(), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_insert_sql(len(deliveries)), params)
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


def release_connection() -> None:
    """Once the writer has been idle a moment: Django's usual connection hygiene.

    The edge bypasses Django's request cycle, so this stands in for its
    end-of-request clean-up (``CONN_MAX_AGE``, health checks). Not after every
    batch: closing SQLite's last connection checkpoints the WAL, a cost a busy
    writer should not pay per batch.
    """
    close_old_connections()
