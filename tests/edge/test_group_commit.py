"""The batching writer behind the webhook log, on its own."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from pagedesk.edge.group_commit import GroupCommit


async def test_concurrent_items_share_batches_and_all_are_written_before_return() -> None:
    batches: list[list[int]] = []
    release = threading.Event()

    def write(items: list[int]) -> None:
        release.wait(5)  # hold the first batch so the others queue up behind it
        batches.append(items)

    writer: GroupCommit[int] = GroupCommit(write, name="test-writer")
    tasks = [asyncio.create_task(writer.submit(n)) for n in range(50)]
    await asyncio.sleep(0.05)
    release.set()
    for n, task in enumerate(tasks):
        await task
        assert any(n in batch for batch in batches)  # written before submit returned
    assert len(batches) < 50
    assert sorted(n for batch in batches for n in batch) == list(range(50))


async def test_batches_are_capped() -> None:
    sizes: list[int] = []
    writer: GroupCommit[int] = GroupCommit(
        lambda items: sizes.append(len(items)), name="test-writer", max_batch=4
    )
    await asyncio.gather(*(writer.submit(n) for n in range(20)))
    assert max(sizes) <= 4
    assert sum(sizes) == 20


async def test_a_failed_write_fails_its_batch_and_the_writer_carries_on() -> None:
    fail = True

    def write(items: list[str]) -> None:
        if fail:
            raise OSError("disk full")

    writer: GroupCommit[str] = GroupCommit(write, name="test-writer")
    with pytest.raises(OSError, match="disk full"):
        await writer.submit("a")
    fail = False
    await asyncio.wait_for(writer.submit("b"), 5)


async def test_a_waiter_cancelled_before_its_batch_is_not_written() -> None:
    written: list[str] = []
    release = threading.Event()

    def write(items: list[str]) -> None:
        release.wait(5)
        written.extend(items)

    writer: GroupCommit[str] = GroupCommit(write, name="test-writer")
    first = asyncio.create_task(writer.submit("first"))
    await asyncio.sleep(0.05)  # "first" is being written
    gone = asyncio.create_task(writer.submit("gone"))
    await asyncio.sleep(0.01)
    gone.cancel()
    release.set()
    await first
    await writer.submit("next")
    assert written == ["first", "next"]


async def test_the_idle_hook_runs_once_the_writer_has_nothing_to_do() -> None:
    idle = threading.Event()
    writer: GroupCommit[int] = GroupCommit(
        lambda items: None, name="test-writer", linger=0.01, on_idle=idle.set
    )
    await writer.submit(1)
    assert await asyncio.to_thread(idle.wait, 5)


async def test_clients_coming_back_after_a_batch_are_written_together() -> None:
    """20 clients, each sending its next item when the last is written (as Meta's
    connections and a load generator do): after a batch, the writer waits a moment
    for them instead of writing the first to return alone, then the rest."""
    sizes: list[int] = []

    def write(items: list[int]) -> None:
        time.sleep(0.003)  # a commit
        sizes.append(len(items))

    # A long window, so that a busy test machine cannot make the clients miss it.
    writer: GroupCommit[int] = GroupCommit(write, name="test-writer", gather=0.05)

    async def client(n: int) -> None:
        for item in range(5):
            await writer.submit(n * 10 + item)

    await asyncio.gather(*(client(n) for n in range(20)))
    assert sum(sizes) == 100
    assert len(sizes) <= 7, sizes  # about one batch per round of the 20 clients
