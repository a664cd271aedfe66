"""Fault: the disk under the SQLite data dir fills up.

The data dir (SQLite database, job queue) sits on a small tmpfs; a filler file then
takes every free byte. Webhooks that cannot be stored must be refused with an error
(so Meta retries them), with one clear line in the log, nothing half-written; and once
space returns, the retried deliveries are stored and processed exactly once.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pagedesk.messenger.signature import sign_body
from tests.faults.harness import (
    Database,
    Sandbox,
    Web,
    connect_page,
    inbound_tally,
    pagedesk_env,
    run_cli,
    running,
    sandbox,
    wait_for,
    worker,
)

DISK_MB = 48
BIG_BODY_TEXT = 700_000  # characters of message text: a body well under the 1 MiB limit


@contextlib.contextmanager
def small_disk(where: Path) -> Iterator[Path]:
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0755", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk``; returns the filler to delete later."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def big_body(box: Sandbox, n: int) -> bytes:
    event = {
        "sender": {"id": box.psids[0]},
        "recipient": {"id": box.page_id},
        "timestamp": 1_780_000_000_000 + n,
        "message": {"mid": f"m_fault_disk_{n:03d}", "text": f"big {n:03d} " + "x" * BIG_BODY_TEXT},
    }
    entry = {"id": box.page_id, "time": 1_780_000_000_000, "messaging": [event]}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


def test_disk_full_refuses_webhooks_clearly_and_recovers(tmp_path: Path) -> None:
    started = time.monotonic()
    with small_disk(tmp_path / "disk") as disk, sandbox(customers=2) as box:
        db = Database(f"sqlite:///{disk / 'pagedesk.sqlite3'}")
        env = pagedesk_env(
            PAGEDESK_DATA_DIR=str(disk),
            DATABASE_URL=None,
            REDIS_URL=None,
            PAGEDESK_GRAPH_URL=box.url,
        )
        run_cli(env, "manage", "migrate", "--verbosity", "0")
        connect_page(env, box)
        web, ingest = Web(env, tmp_path), worker(env, tmp_path)
        with running(web, ingest):
            web.start()
            ingest.start()
            box.subscribe(web.url)
            box.configure(retry_max_attempts=20, retry_initial_delay=0.2, timeout_seconds=5)
            box.customer_writes(box.psids[0], "before", count=5)
            box.flush()
            wait_for(lambda: len(db.inbound_texts()) == 5, 60, "messages before the disk fills")

            filler = fill(disk)
            client = httpx.Client(base_url=web.url, timeout=30)
            answers: dict[int, int] = {}
            for n in range(20):  # big bodies outgrow whatever room SQLite has left
                body = big_body(box, n)
                headers = {"X-Hub-Signature-256": sign_body(body, box.app_secret)}
                answers[n] = client.post("/webhooks/messenger", content=body, headers=headers)
                answers[n] = answers[n].status_code
                if answers[n] != 200:
                    break
            refused = [n for n, status in answers.items() if status != 200]
            assert refused, f"nothing was refused on a full disk: {answers}"
            assert {answers[n] for n in refused} == {503}, answers
            box.customer_writes(box.psids[1], "while full", count=5)  # Meta keeps trying
            time.sleep(1.0)
            assert web.alive and ingest.alive

            full_log = web.log()
            problems = [line for line in full_log.splitlines() if "could not store" in line]
            assert problems, full_log[-3000:]
            assert "disk is full" in problems[0], problems[0]
            assert "Traceback" not in full_log, "a clear line, not a traceback"

            # Nothing half-written: what was answered 200 is whole, the rest absent.
            stored = db.stored_mids()
            for n, status in answers.items():
                assert (f"m_fault_disk_{n:03d}" in stored) == (status == 200)
            assert db.rows("PRAGMA integrity_check") == [("ok",)]

            filler.unlink()  # space returns
            for n in refused:  # the sender retries what was refused
                body = big_body(box, n)
                headers = {"X-Hub-Signature-256": sign_body(body, box.app_secret)}
                response = client.post("/webhooks/messenger", content=body, headers=headers)
                assert response.status_code == 200
            client.close()
            box.flush(timeout=60)
            sent = [f"before #{k}" for k in range(1, 6)] + [f"while full #{k}" for k in range(1, 6)]
            big = {f"big {n:03d} " + "x" * BIG_BODY_TEXT for n in answers}
            wait_for(
                lambda: set(sent) | big <= set(db.inbound_texts()) and db.pending_work() == 0,
                90,
                "every message processed once space returned",
            )
            assert web.alive and ingest.alive
            deliveries = box.deliveries()
            assert all(d["delivered"] for d in deliveries)
            retried = sum(1 for d in deliveries if d["attempts"] > 1)
            tally = inbound_tally(
                "disk full (SQLite)",
                "sqlite on a full tmpfs + embedded queue",
                sent + sorted(big),
                db,
                started,
                note=(
                    f"{len(refused)} big POST(s) answered 503, {retried} sandbox deliveries "
                    f"retried; log: {problems[0].split(': ', 1)[-1][:120]}"
                ),
            )
    tally.record()
    assert (tally.duplicates, tally.lost) == (0, 0)
