"""Fault: Redis (the job queue and the live fan-out) goes away and comes back empty.

A private ``redis-server`` (no persistence, never the shared one) carries pagedesk's
queue and live wake-ups. Mid-traffic it is stopped: whatever was queued in it is
gone. While it is down, webhooks must still be answered 200 and stored (the database
row is the truth), and an agent's live stream must keep working (it polls the event
log). When Redis is back, new work flows at once and the sweeper re-enqueues what was
stored meanwhile: every message is processed exactly once, and announced live.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from tests.faults.harness import (
    Database,
    Web,
    connect_page,
    inbound_tally,
    pagedesk_env,
    private_redis,
    run_cli,
    running,
    sandbox,
    wait_for,
    worker,
)
from tests.live.sse_client import SSEClient

PER_CUSTOMER = 10


class LiveFollower(threading.Thread):
    """An integration following the workspace's live stream, reconnecting as a browser
    would, noting every message announced."""

    def __init__(self, url: str, workspace: int, token: str) -> None:
        super().__init__(daemon=True)
        self.url, self.workspace, self.token = url, workspace, token
        self.message_ids: set[int] = set()
        self.reconnects = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        last_id: str | None = None
        while not self.stopping.is_set():
            try:
                with SSEClient(
                    self.url, workspace=self.workspace, token=self.token, last_event_id=last_id
                ) as stream:
                    while not self.stopping.is_set():
                        message = stream.next_message(timeout=0.5)
                        if message is None:
                            if stream.ended:
                                break
                            continue
                        last_id = message.id or last_id
                        if message.event == "message.created" and message.data:
                            self.message_ids.add(json.loads(message.data)["message_id"])
            except (OSError, EOFError, ValueError):
                pass
            self.reconnects += 1
            time.sleep(0.2)


def test_redis_down_stores_everything_and_processes_it_once_when_back(
    shared_db: str, backend: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    db = Database(shared_db)
    with private_redis(tmp_path) as redis, sandbox(customers=3) as box:
        env = pagedesk_env(DATABASE_URL=shared_db, REDIS_URL=redis.url, PAGEDESK_GRAPH_URL=box.url)
        workspace = connect_page(env, box)
        token = run_cli(env, "token", "create", "--workspace", "acme").strip()
        web, ingest = Web(env, tmp_path), worker(env, tmp_path)
        sent: list[str] = []

        def customers_write(phase: str) -> None:
            for psid in box.psids:
                box.customer_writes(psid, f"{phase} {psid[-4:]}", count=PER_CUSTOMER)
                sent.extend(f"{phase} {psid[-4:]} #{k}" for k in range(1, PER_CUSTOMER + 1))
            box.flush(timeout=60)

        def processed(phase: str) -> bool:
            done = set(db.inbound_texts())
            return all(text in done for text in sent if text.startswith(phase))

        with running(web, ingest):
            web.start()
            ingest.start()
            box.subscribe(web.url)
            box.configure(retry_max_attempts=20, retry_initial_delay=0.1)
            follower = LiveFollower(web.url, workspace, token)
            follower.start()
            try:
                customers_write("before")
                wait_for(lambda: processed("before"), 60, "messages before the outage")

                redis.stop()
                down_at = time.monotonic()
                customers_write("during")
                deliveries = box.deliveries()
                assert all(d["delivered"] and d["attempts"] == 1 for d in deliveries), (
                    "a webhook was refused while only Redis was down"
                )
                stored = db.stored_mids()
                assert len(stored) == len(sent), "a webhook answered 200 was not stored"
                assert web.alive and ingest.alive

                redis.start()  # same port, empty: the queued jobs are gone
                customers_write("after")
                wait_for(lambda: processed("after"), 60, "new messages once Redis is back")
                wait_for(
                    lambda: processed("during") and db.pending_work() == 0,
                    100,  # the sweeper runs once a minute
                    "messages stored during the outage, re-enqueued by the sweeper",
                )
                recovered_in = time.monotonic() - down_at
                inbound_ids = {
                    row[0] for row in db.rows("SELECT id FROM inbox_message WHERE direction = 'in'")
                }
                wait_for(
                    lambda: inbound_ids <= follower.message_ids, 30, "every message announced live"
                )
            finally:
                follower.stopping.set()
                follower.join(timeout=10)
            assert web.alive and ingest.alive
            assert (web.starts, ingest.starts) == (1, 1)
        tally = inbound_tally(
            "Redis down and restarted empty",
            backend.replace("redis", "private redis").replace("embedded queue", "private redis"),
            sent,
            db,
            started,
            note=(
                f"{PER_CUSTOMER * 3} webhooks stored while Redis was down, all processed "
                f"{recovered_in:.0f} s after it went down; {len(inbound_ids)} of "
                f"{len(inbound_ids)} announced on the live stream"
            ),
        )
    tally.record()
    assert (tally.duplicates, tally.lost) == (0, 0)
    assert tally.processed == len(sent)
