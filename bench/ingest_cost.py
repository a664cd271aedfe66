"""What the worker spends per ingested message event: CPU time and SQL statements.

Measured in this process, on a scratch SQLite data dir, through the real job
(``ingest_webhook`` taken off the embedded Huey queue and executed), so the
numbers repeat on a busy machine far better than a latency benchmark does:

1. one at a time: a delivery with one message to a known conversation is queued,
   then the queue is run (the worker keeping up);
2. a backlog: ``--backlog`` deliveries are queued first, then the queue is run
   (the worker catching up). The edge queues one job per span of the rows of a
   group commit; ``--edge-batch`` sets how many rows each of those held.

    python bench/ingest_cost.py                 # 300 one at a time, a backlog of 1,000
    python bench/ingest_cost.py --postgres postgresql://postgres@127.0.0.1:5432/postgres

With ``--postgres`` the data goes to a scratch database on that server (created,
then dropped; the queue stays a SQLite file in a scratch folder), and the CPU of
the database server's backend is reported beside the worker's.

The web process is stood in for by an open connection to the database: a worker
closing the last connection would checkpoint the WAL each time, which a real
installation never sees.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1] / "src"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300, help="deliveries one at a time")
    parser.add_argument("--backlog", type=int, default=1000, help="deliveries queued at once")
    parser.add_argument(
        "--edge-batch",
        type=int,
        default=4,
        help="backlog rows the edge stored per group commit (it queues a job per span of a batch)",
    )
    parser.add_argument("--postgres", metavar="URL", help="measure on this PostgreSQL server")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="pagedesk-cost-"))
        for name in ("DATABASE_URL", "REDIS_URL"):
            os.environ.pop(name, None)
        os.environ |= {
            "PAGEDESK_DATA_DIR": data_dir,
            "PAGEDESK_SECRET_KEY": "ingest-cost-bench-secret-key",
            "DJANGO_SETTINGS_MODULE": "pagedesk.settings",
            "PAGEDESK_GRAPH_URL": "http://127.0.0.1:9",  # nothing leaves loopback
        }
        if args.postgres:
            import fanout

            fanout.BENCH_DB = "pagedesk_cost_bench"
            os.environ["DATABASE_URL"] = stack.enter_context(fanout.scratch_postgres(args.postgres))
        measure(args.events, args.backlog, args.edge_batch)
    return 0


def measure(events: int, backlog: int, edge_batch: int) -> None:
    import django

    django.setup()
    import fanout  # the same workspace, page and customers as the fan-out benchmark
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from huey.contrib.djhuey import HUEY

    from pagedesk.core.models import RawWebhook
    from pagedesk.edge.jobs import enqueue_ingestion
    from pagedesk.inbox.models import Message

    call_command("migrate", interactive=False, verbosity=0)
    with contextlib.redirect_stdout(io.StringIO()):
        fanout.prepare()
    on_sqlite = connection.vendor == "sqlite"
    database = settings.DATABASES["default"]["NAME"] if on_sqlite else ":memory:"
    web_stand_in = sqlite3.connect(database)
    web_stand_in.execute("SELECT 1").fetchall()
    numbers = itertools.count()

    def store_delivery() -> int:
        body = fanout.webhook_body("cost", next(numbers))
        row = RawWebhook.objects.create(
            status=RawWebhook.Status.ACCEPTED,
            signature_valid=True,
            page_ids=fanout.PAGE_ID,
            body=body,
            body_size=len(body),
        )
        return int(row.pk)

    def queue_delivery() -> None:
        enqueue_ingestion([store_delivery()])

    server_cpu = [0.0]

    def run_queue() -> float:
        started = time.process_time()
        server_started = backend_cpu()
        while (task := HUEY.dequeue()) is not None:
            HUEY.execute(task)
        server_cpu[0] = backend_cpu() - server_started
        return time.process_time() - started

    def backend_cpu() -> float:
        """CPU seconds of the scratch database's PostgreSQL backends (0 on SQLite).

        All of them: jobs take their connection from the pool, so which backend
        serves the next one is the pool's choice.
        """
        if on_sqlite:
            return 0.0
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:  # not among the statements counted
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            return sum(fanout.cpu_seconds(pid) for (pid,) in cursor.fetchall())

    for _ in range(fanout.CUSTOMERS):  # every conversation exists from here on
        queue_delivery()
        run_queue()
    spent = 0.0
    for _ in range(events):
        queue_delivery()
        spent += run_queue()
    queue_delivery()
    with CaptureQueriesContext(connection) as statements:
        run_queue()
    stored = [store_delivery() for _ in range(backlog)]
    for start in range(0, backlog, edge_batch):  # as the edge queues them: a batch at a time
        enqueue_ingestion(stored[start : start + edge_batch])
    caught_up = run_queue()
    assert Message.objects.count() == fanout.CUSTOMERS + events + 1 + backlog
    web_stand_in.close()
    server = f" (+ {server_cpu[0] / backlog * 1000:.2f} ms in PostgreSQL)" if not on_sqlite else ""
    print(
        f"{connection.vendor}: one at a time: {spent / events * 1000:.2f} ms CPU and "
        f"{len(statements)} SQL statements per message event; a backlog of {backlog:,} "
        f"(stored {edge_batch} at a time): "
        f"{caught_up / backlog * 1000:.2f} ms CPU per event{server}"
    )


if __name__ == "__main__":
    sys.exit(main())
