"""Fault: ``pagedesk web`` is SIGKILLed while webhooks are being POSTed to it.

Two senders post at the same time: the sandbox (Meta's delivery loop, retrying a
failed POST with backoff) and a client posting signed bodies from several threads,
retrying until it gets a 200 as Meta would. Mid-traffic the web process is killed
with requests in flight and started again on the same port. Every body answered 200
must already be stored; the rest are retried by their sender, and every message ends
up in the inbox exactly once.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from pagedesk.messenger.signature import sign_body
from tests.faults.harness import (
    Database,
    Sandbox,
    Web,
    connect_page,
    inbound_tally,
    pagedesk_env,
    running,
    sandbox,
    wait_for,
    worker,
)

CLIENT_BODIES = 240
CLIENT_THREADS = 8
SANDBOX_MESSAGES = 60
T0 = 1_780_000_000_000


class RetryingClient:
    """Posts signed webhook bodies until each is answered 200, noting what happened."""

    def __init__(self, web: Web, box: Sandbox) -> None:
        self.url = f"{web.url}/webhooks/messenger"
        self.box = box
        self.answered: list[str] = []  # mids whose body got a 200
        self.failures: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.timestamps = itertools.count(T0)

    def body(self, n: int) -> tuple[str, bytes]:
        mid = f"m_fault_web_{n:04d}"
        event = {
            "sender": {"id": self.box.psids[n % len(self.box.psids)]},
            "recipient": {"id": self.box.page_id},
            "timestamp": next(self.timestamps),
            "message": {"mid": mid, "text": f"client {n:04d}"},
        }
        envelope = {
            "object": "page",
            "entry": [{"id": self.box.page_id, "time": T0, "messaging": [event]}],
        }
        return mid, json.dumps(envelope, separators=(",", ":")).encode()

    def post_until_answered(self, n: int, *, slow_start: threading.Event | None = None) -> None:
        """``slow_start``: send the first attempt's body in pieces, setting the event once
        the request is under way (so a kill can land in the middle of it)."""
        mid, body = self.body(n)
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign_body(body, self.box.app_secret),
        }
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            content: bytes | Iterator[bytes] = body
            if slow_start is not None and not slow_start.is_set():
                content = _in_pieces(body, slow_start)
            try:
                response = httpx.post(self.url, content=content, headers=headers, timeout=5)
            except httpx.HTTPError as exc:
                with self.lock:
                    self.failures[type(exc).__name__] += 1
                time.sleep(0.1)
                continue
            if response.status_code == 200:
                with self.lock:
                    self.answered.append(mid)
                return
            with self.lock:
                self.failures[f"HTTP {response.status_code}"] += 1
            time.sleep(0.1)
        raise AssertionError(f"{mid} was never answered 200")


def _in_pieces(body: bytes, started: threading.Event) -> Iterator[bytes]:
    half = len(body) // 2
    yield body[:half]
    started.set()
    time.sleep(1.0)
    yield body[half:]


def test_web_killed_mid_request_stores_every_answered_webhook_once(
    shared_db: str, backend: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    db = Database(shared_db)
    with sandbox(customers=3) as box:
        env = pagedesk_env(DATABASE_URL=shared_db, PAGEDESK_GRAPH_URL=box.url)
        connect_page(env, box)
        web, ingest = Web(env, tmp_path), worker(env, tmp_path)
        with running(web, ingest):
            web.start()
            ingest.start()
            box.subscribe(web.url)
            box.configure(retry_max_attempts=20, retry_initial_delay=0.1, timeout_seconds=5)
            client = RetryingClient(web, box)
            with ThreadPoolExecutor(CLIENT_THREADS) as pool, ThreadPoolExecutor(1) as slow_lane:
                posted = [pool.submit(client.post_until_answered, n) for n in range(CLIENT_BODIES)]
                wait_for(lambda: len(client.answered) >= CLIENT_BODIES // 3, 60, "a third answered")
                # Meta starts a burst, and one POST is half-way through its body ...
                for psid in box.psids:
                    box.customer_writes(psid, f"sandbox {psid[-4:]}", count=SANDBOX_MESSAGES // 3)
                cut = threading.Event()
                posted.append(
                    slow_lane.submit(client.post_until_answered, CLIENT_BODIES, slow_start=cut)
                )
                assert cut.wait(10)
                web.kill()  # ... when the web process dies
                answered_before_kill = list(client.answered)
                time.sleep(0.5)  # senders meet a closed port for a moment
                web.start()
                # Everything answered before the kill is already in the database.
                stored = db.stored_mids()
                assert not [mid for mid in answered_before_kill if mid not in stored]
                for future in posted:
                    future.result()
            box.flush(timeout=60)
            sent = [f"client {n:04d}" for n in range(CLIENT_BODIES + 1)] + [
                f"sandbox {psid[-4:]} #{k}"
                for psid in box.psids
                for k in range(1, SANDBOX_MESSAGES // 3 + 1)
            ]
            wait_for(
                lambda: set(sent) <= set(db.inbound_texts()) and db.pending_work() == 0,
                90,
                "every message processed",
            )
        deliveries = box.deliveries()
    unanswered = sum(client.failures.values())
    cut_mid_request = unanswered - client.failures["ConnectError"]
    retried_by_sandbox = sum(1 for d in deliveries if d["attempts"] > 1)
    tally = inbound_tally(
        "web SIGKILL mid-request",
        backend,
        sent,
        db,
        started,
        note=(
            f"{unanswered} client posts unanswered and retried "
            f"({', '.join(f'{k} x{v}' for k, v in sorted(client.failures.items()))}); "
            f"{retried_by_sandbox} sandbox deliveries retried"
        ),
    )
    tally.record()
    assert all(d["delivered"] for d in deliveries)
    assert cut_mid_request > 0, "the kill should have cut requests in flight"
    assert retried_by_sandbox > 0, "the sandbox should have had to retry"
    assert (tally.duplicates, tally.lost) == (0, 0)
    assert tally.processed == len(sent)
