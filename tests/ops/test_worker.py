"""``pagedesk worker``: process workers ingest and stop cleanly; periodic jobs are
enqueued once per minute however many workers run their scheduler."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.utils.module_loading import autodiscover_modules

from pagedesk.inbox.models import Conversation, InboundEvent, Message
from pagedesk.ops.worker import SingleScheduler, claim_key
from tests.inbox import bodies as b
from tests.inbox.conftest import Pages
from tests.ops.processes import child_pids, is_running, pagedesk_env, running, wait_for

CUSTOMERS = [f"73000000000000{n:02d}" for n in range(4)]
PER_CUSTOMER = 10


def queued_names(huey: Any) -> list[str]:
    names = []
    while huey.pending_count():
        names.append(huey.dequeue().name.rsplit(".", 1)[-1])
    return sorted(names)


def test_two_schedulers_enqueue_each_minutes_periodic_jobs_once(task_queue: Any) -> None:
    autodiscover_modules("tasks")  # every periodic job registered, as in a worker
    first = SingleScheduler(task_queue, None, interval=1, periodic=True)
    second = SingleScheduler(task_queue, None, interval=1, periodic=True)
    quarter = datetime(2026, 11, 26, 12, 15)  # every-minute sweepers + the 15-minute purge
    for scheduler in (first, second, first):
        scheduler.enqueue_periodic_tasks(quarter)
    assert queued_names(task_queue) == ["purge_live_events", "sweep_ingestion", "sweep_outbox"]

    next_minute = datetime(2026, 11, 26, 12, 16)
    second.enqueue_periodic_tasks(next_minute)
    first.enqueue_periodic_tasks(next_minute)
    assert queued_names(task_queue) == ["sweep_ingestion", "sweep_outbox"]

    # Claims do not pile up in the queue storage: each new one removes a settled one.
    later = datetime(2026, 11, 26, 12, 25)
    first.enqueue_periodic_tasks(later)
    assert task_queue.get(claim_key(quarter), peek=True) is None
    assert task_queue.get(claim_key(later), peek=True) is not None


def test_process_workers_ingest_in_order_and_stop_cleanly(
    pages: Pages, pagedesk_server: str, task_queue: Any, tmp_path: Path
) -> None:
    for n in range(PER_CUSTOMER):
        events = [b.text(psid, f"#{n:02d}", b.T0 + n * 10 + i) for i, psid in enumerate(CUSTOMERS)]
        b.post(pagedesk_server, b.envelope(*events))
    total = len(CUSTOMERS) * PER_CUSTOMER

    with running(
        ["worker", "--processes", "2"], env=pagedesk_env(), log=tmp_path / "worker.log"
    ) as worker:
        assert wait_for(lambda: len(child_pids(worker.proc.pid)) >= 3, timeout=30), worker.log()
        children = child_pids(worker.proc.pid)  # the scheduler and two worker processes
        assert wait_for(lambda: Message.objects.count() >= total, timeout=60), worker.log()
        assert wait_for(
            lambda: not InboundEvent.objects.filter(state="pending").exists(), timeout=30
        )
        assert worker.stop() == 0, worker.log()
    assert wait_for(lambda: not any(is_running(pid) for pid in children), timeout=10)

    assert Message.objects.count() == total
    for conversation in Conversation.objects.all():
        expected = [f"#{n:02d}" for n in range(PER_CUSTOMER)]
        assert list(conversation.messages.values_list("text", flat=True)) == expected
    # The whole log: its tail may be a job cut short by the immediate stop (a
    # KeyboardInterrupt traceback from a profile fetch, say), which pushed the
    # start-up line out of log()'s last 4,000 characters once in CI.
    assert "2 processes, periodic jobs on" in worker.log_path.read_text(errors="replace")


def test_an_idle_embedded_worker_is_woken_by_an_enqueue(
    pages: Pages, pagedesk_server: str, task_queue: Any, tmp_path: Path
) -> None:
    """The first message after a quiet spell: the edge's enqueue wakes the worker
    (a datagram), rather than it waiting for its next look at the SQLite queue."""
    if not hasattr(task_queue.storage, "waits"):
        pytest.skip("the embedded queue only (Redis workers block on the queue itself)")
    b.post(pagedesk_server, b.envelope(b.text(CUSTOMERS[0], "hello", b.T0)))
    with running(["worker"], env=pagedesk_env(), log=tmp_path / "worker.log") as worker:
        assert wait_for(lambda: Message.objects.count() == 1, timeout=30), worker.log()
        delays = []
        for n in range(1, 4):
            time.sleep(1.5)  # quiet: a polling worker would be at its longest interval
            posted = time.monotonic()
            b.post(pagedesk_server, b.envelope(b.text(CUSTOMERS[0], f"#{n}", b.T0 + n)))
            assert wait_for(lambda n=n: Message.objects.count() == n + 1, timeout=10)
            delays.append(time.monotonic() - posted)
    # Polling once a second, the median would be about half a second.
    assert sorted(delays)[1] < 0.3, delays
