"""Group commit: many concurrent requests, one writer thread, one transaction per batch.

Each request hands its item to :meth:`GroupCommit.submit` and waits. One thread
writes whatever has queued up since its previous write in a single call (one
transaction), then wakes the waiters with one call per event loop (or hands
each the batch's error). Under load, batches grow by themselves while a write
is in progress; when idle, an item is written at once, alone. The one wait on
purpose: right after a batch of several, the writer gives their clients up to
``gather`` seconds (1 ms) to come back, so that it does not write the first to
return alone and the rest after it. Nobody is woken before their batch is
written. After ``linger`` seconds without work the thread calls ``on_idle`` (to
release its database connection, say) and waits on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import suppress
from typing import Generic, TypeAlias, TypeVar

T = TypeVar("T")
_Waiter: TypeAlias = tuple[T, asyncio.AbstractEventLoop, "asyncio.Future[None]"]
log = logging.getLogger(__name__)


class GroupCommit(Generic[T]):
    def __init__(
        self,
        write: Callable[[list[T]], None],
        *,
        name: str,
        max_batch: int = 256,
        linger: float = 0.05,
        gather: float = 0.001,
        on_idle: Callable[[], None] = lambda: None,
    ) -> None:
        self._write = write
        self._name = name
        self._max_batch = max_batch
        self._linger = linger
        self._gather_seconds = gather
        self._on_idle = on_idle
        self._pending: list[_Waiter[T]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    async def submit(self, item: T) -> None:
        """Queue ``item`` for the next batch; return once that batch is written."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._wake:
            self._pending.append((item, loop, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._wake.notify()
        await future

    def _run(self) -> None:
        busy = False
        last = 0  # the previous batch's size
        while True:
            with self._wake:
                if not self._pending:
                    self._wake.wait(self._linger if busy else None)
                if last > 1:
                    self._gather(last)
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
            last = len(batch)
            # A waiter already gone (cancelled) is dropped: nobody would be told.
            batch = [waiter for waiter in batch if not waiter[2].cancelled()]
            if batch:
                busy = True
                self._write_batch(batch)
            elif busy:
                busy = False
                self._idle()

    def _gather(self, expected: int) -> None:
        """Wait a moment (``gather`` seconds at most) for as many items as last time.

        Right after a batch is written its waiters' clients come back with their next
        items. Without this the first of them was written alone, the rest waiting
        behind that write: half the batches held one item (webhooks at 32
        connections). Called holding ``_wake``.
        """
        deadline = time.monotonic() + self._gather_seconds
        while len(self._pending) < expected:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._wake.wait(left)

    def _write_batch(self, batch: list[_Waiter[T]]) -> None:
        error: Exception | None = None
        try:
            self._write([item for item, _, _ in batch])
        except Exception as exc:
            error = exc
        # One wake-up per event loop and batch, not one per waiter.
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = defaultdict(list)
        for _, loop, future in batch:
            by_loop[loop].append(future)
        for loop, futures in by_loop.items():
            with suppress(RuntimeError):  # a closed loop: nobody is waiting any more
                loop.call_soon_threadsafe(_settle, futures, error)

    def _idle(self) -> None:
        try:
            self._on_idle()
        except Exception:
            log.exception("%s: idle hook failed", self._name)


def _settle(futures: list[asyncio.Future[None]], error: Exception | None) -> None:
    for future in futures:
        if future.done():  # cancelled meanwhile
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
