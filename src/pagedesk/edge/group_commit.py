"""Group commit: many concurrent requests, one writer thread, one transaction per batch.

Each request hands its item to :meth:`GroupCommit.submit` and waits. One thread
writes whatever has queued up since its previous write in a single call (one
transaction), then wakes the waiters with one call per event loop (or hands
each the batch's error). Under load, batches grow by themselves while a write
is in progress; when idle, an item is written at once, alone. There is no
batching timer, and nobody is woken before their batch is written. After
``linger`` seconds without work the thread calls ``on_idle`` (to release its
database connection, say) and waits on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
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
        on_idle: Callable[[], None] = lambda: None,
    ) -> None:
        self._write = write
        self._name = name
        self._max_batch = max_batch
        self._linger = linger
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
        while True:
            with self._wake:
                if not self._pending:
                    self._wake.wait(self._linger if busy else None)
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
            # A waiter already gone (cancelled) is dropped: nobody would be told.
            batch = [waiter for waiter in batch if not waiter[2].cancelled()]
            if batch:
                busy = True
                self._write_batch(batch)
            elif busy:
                busy = False
                self._idle()

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
