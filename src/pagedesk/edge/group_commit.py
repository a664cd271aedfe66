"""Group commit: many concurrent requests, one writer thread, one transaction per batch.

Each request hands its item to :meth:`GroupCommit.submit` and waits. One thread
writes whatever has queued up since its previous write in a single call (one
transaction), then wakes every waiter with its own result. Under load, batches
grow by themselves while a write is in progress; when idle, an item is written
at once, alone. There is no timer and nothing is answered before its batch is
written.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(
        self, write: Callable[[list[T]], list[R]], *, name: str, max_batch: int = 256
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[T, Future[R]]] = []
        self._draining = False
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def submit(self, item: T) -> R:
        """Queue ``item`` for the next batch; return its result once that batch is written."""
        future: Future[R] = Future()
        with self._lock:
            self._pending.append((item, future))
            start, self._draining = not self._draining, True
        if start:
            self._executor.submit(self._drain)
        return await asyncio.wrap_future(future)

    def _drain(self) -> None:
        while True:
            with self._lock:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                if not batch:
                    self._draining = False
                    return
            # A waiter cancelled before now is dropped (nobody will be told it was
            # written); once running, a future can no longer be cancelled.
            batch = [(item, f) for item, f in batch if f.set_running_or_notify_cancel()]
            if not batch:
                continue
            try:
                results = self._write([item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{len(results)} results for {len(batch)} items")
            except Exception as exc:
                for _, future in batch:
                    future.set_exception(exc)
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    future.set_result(result)
