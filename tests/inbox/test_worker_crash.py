"""A worker SIGKILLed in the middle of ingestion loses and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from pagedesk.inbox.models import Conversation, InboundEvent, Message
from tests.inbox import bodies as b
from tests.inbox.conftest import Pages

CUSTOMERS = [f"72000000000000{n:02d}" for n in range(6)]
PER_CUSTOMER = 50


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user, host, port = (
        db.get("USER") or "postgres",
        db.get("HOST") or "127.0.0.1",
        db.get("PORT") or 5432,
    )
    return f"postgresql://{user}@{host}:{port}/{db['NAME']}"


def _start_worker() -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=_database_url(),
        PAGEDESK_DATA_DIR=str(settings.DATA_DIR),  # same SQLite queue file as this test
        PAGEDESK_GRAPH_URL="http://127.0.0.1:9",  # profile fetches fail fast, offline
    )
    return subprocess.Popen(
        [sys.executable, "-m", "pagedesk.cli", "worker", "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_sigkill_mid_ingest_loses_and_duplicates_nothing(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    total = len(CUSTOMERS) * PER_CUSTOMER
    for n in range(PER_CUSTOMER):  # one POST per round, one event per customer
        events = [b.text(psid, f"#{n:03d}", b.T0 + n * 10 + i) for i, psid in enumerate(CUSTOMERS)]
        b.post(pagedesk_server, b.envelope(*events))

    worker = _start_worker()
    try:
        assert _wait_for(lambda: Message.objects.count() >= total // 5, timeout=60)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        stored_at_kill = Message.objects.count()
        assert stored_at_kill < total, "the worker finished before it could be killed"

        worker = _start_worker()  # its start-up sweep picks up what the dead one held
        assert _wait_for(lambda: Message.objects.count() >= total, timeout=120), (
            f"only {Message.objects.count()} of {total} messages after restart"
        )
        assert _wait_for(
            lambda: not InboundEvent.objects.filter(state="pending").exists(), timeout=30
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()

    assert Message.objects.count() == total
    assert Message.objects.values("mid").distinct().count() == total
    assert not InboundEvent.objects.filter(state="dead").exists()
    for conversation in Conversation.objects.all():
        expected = [f"#{n:03d}" for n in range(PER_CUSTOMER)]
        assert list(conversation.messages.values_list("text", flat=True)) == expected
        assert conversation.unread_count == PER_CUSTOMER
