"""Fault: PostgreSQL restarts while webhooks are arriving and being processed.

A private cluster (never the shared server other tests use) backs ``pagedesk web``
and ``pagedesk worker``. The sandbox keeps customers writing; mid-traffic the
cluster is stopped (``pg_ctl stop -m fast``: every connection is cut), left down for
a moment and started again. Deliveries refused meanwhile (503) are retried by the
sandbox, others wait for a pooled connection until the server is back; both
processes must carry on by themselves, and every message must end up in the inbox
exactly once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests.faults.harness import (
    Database,
    Web,
    connect_page,
    inbound_tally,
    pagedesk_env,
    private_postgres,
    run_cli,
    running,
    sandbox,
    wait_for,
    worker,
)

ROUNDS = 12
PER_ROUND = 5
DOWN_SECONDS = 3.0
HELD_MS = 1000  # a webhook answered this late waited for the database


def test_postgres_restart_mid_traffic_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    started = time.monotonic()
    with private_postgres() as cluster, sandbox(customers=3) as box:
        db = Database(cluster.url)
        env = pagedesk_env(
            DATABASE_URL=cluster.url,
            REDIS_URL=None,  # the embedded queue, in this test's own data dir
            PAGEDESK_DATA_DIR=str(tmp_path / "data"),
            PAGEDESK_GRAPH_URL=box.url,
        )
        run_cli(env, "manage", "migrate", "--verbosity", "0")
        connect_page(env, box)
        web, ingest = Web(env, tmp_path), worker(env, tmp_path)
        with running(web, ingest):
            web.start()
            ingest.start()
            box.subscribe(web.url)
            box.configure(retry_max_attempts=20, retry_initial_delay=0.1, timeout_seconds=5)

            sent: list[str] = []

            def traffic() -> None:
                for n in range(ROUNDS):
                    for psid in box.psids:
                        text = f"round {n:02d} from {psid[-4:]}"
                        box.customer_writes(psid, text, count=PER_ROUND)
                        sent.extend(f"{text} #{k}" for k in range(1, PER_ROUND + 1))
                    time.sleep(0.4)

            customers = threading.Thread(target=traffic)
            customers.start()
            try:
                wait_for(lambda: len(db.inbound_texts()) >= 30, 60, "traffic to flow")
                cluster.stop("fast")
                time.sleep(DOWN_SECONDS)
                cluster.start()
                restarted_at = time.monotonic()
            finally:
                customers.join(timeout=60)
            box.flush(timeout=60)
            wait_for(
                lambda: set(sent) <= set(db.inbound_texts()) and db.pending_work() == 0,
                90,
                "every message processed after the restart",
            )
            recovered_in = time.monotonic() - restarted_at
            assert web.alive and ingest.alive, "a process died with the database"
            # One traceback for the outage (another per 30 s of it), not one per job.
            worker_log = ingest.log_path.read_text(errors="replace")
            assert worker_log.count("Traceback") <= 2, worker_log[-3000:]
            assert (web.starts, ingest.starts) == (1, 1)
        deliveries = box.deliveries()
        refused = sum(1 for d in deliveries if d["attempts"] > 1)
        # A delivery may also wait out the outage for a pooled connection (at most the
        # pool's timeout, under Meta's 5 s) and be stored once the server is back.
        held = sum(
            1
            for d in deliveries
            if d["attempts"] == 1 and d["attempt_log"][0]["duration_ms"] >= HELD_MS
        )
        tally = inbound_tally(
            "PostgreSQL restart",
            "private postgresql + embedded queue",
            sent,
            db,
            started,
            note=(
                f"down {DOWN_SECONDS:.0f} s; {refused} deliveries refused and retried by the "
                f"sandbox, {held} held until the server was back; all processed "
                f"{recovered_in:.1f} s after the restart"
            ),
        )
    tally.record()
    assert all(d["delivered"] for d in deliveries)
    assert refused + held > 0, "no delivery met the outage"
    assert (tally.duplicates, tally.lost) == (0, 0)
    assert tally.processed == len(sent) == ROUNDS * PER_ROUND * 3
