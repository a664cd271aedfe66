"""The batching writer behind the webhook log, on its own."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pagedesk.edge.group_commit import GroupCommit


async def test_concurrent_items_share_batches_and_get_their_own_results() -> None:
    batches: list[list[int]] = []
    release = threading.Event()

    def write(items: list[int]) -> list[int]:
        release.wait(5)  # hold the first batch so the others queue up behind it
        batches.append(items)
        return [item * 10 for item in items]

    writer: GroupCommit[int, int] = GroupCommit(write, name="test-writer")
    tasks = [asyncio.create_task(writer.submit(n)) for n in range(50)]
    await asyncio.sleep(0.05)
    release.set()
    assert await asyncio.gather(*tasks) == [n * 10 for n in range(50)]
    assert len(batches) < 50
    assert sorted(n for batch in batches for n in batch) == list(range(50))


async def test_batches_are_capped() -> None:
    sizes: list[int] = []

    def write(items: list[int]) -> list[int]:
        sizes.append(len(items))
        return items

    writer: GroupCommit[int, int] = GroupCommit(write, name="test-writer", max_batch=4)
    await asyncio.gather(*(writer.submit(n) for n in range(20)))
    assert max(sizes) <= 4
    assert sum(sizes) == 20


async def test_a_failed_write_fails_its_batch_and_the_writer_carries_on() -> None:
    fail = True

    def write(items: list[str]) -> list[str]:
        if fail:
            raise OSError("disk full")
        return items

    writer: GroupCommit[str, str] = GroupCommit(write, name="test-writer")
    with pytest.raises(OSError, match="disk full"):
        await writer.submit("a")
    fail = False
    assert await writer.submit("b") == "b"


async def test_a_wrong_number_of_results_is_an_error_not_a_hang() -> None:
    writer: GroupCommit[int, int] = GroupCommit(lambda items: [], name="test-writer")
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        await asyncio.wait_for(writer.submit(1), 5)


async def test_a_waiter_cancelled_before_its_batch_is_not_written() -> None:
    written: list[str] = []
    release = threading.Event()

    def write(items: list[str]) -> list[str]:
        release.wait(5)
        written.extend(items)
        return items

    writer: GroupCommit[str, str] = GroupCommit(write, name="test-writer")
    first = asyncio.create_task(writer.submit("first"))
    await asyncio.sleep(0.05)  # "first" is being written
    gone = asyncio.create_task(writer.submit("gone"))
    await asyncio.sleep(0.01)
    gone.cancel()
    release.set()
    assert await first == "first"
    assert await writer.submit("next") == "next"
    assert written == ["first", "next"]
