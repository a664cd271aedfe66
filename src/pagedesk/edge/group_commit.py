"""Group commit: many concurrent requests, one writer thread, one transaction per batch.

Each request hands its item to :meth:`GroupCommit.submit` and waits. One thread
writes whatever has queued up since its previous write in a single call (one
transaction), then wakes every waiter (or hands each the batch's error). Under load, batches
grow by themselves while a write is in progress; when idle, an item is written
at once, alone. There is no batching timer, and nothing is answered before its
batch is written. After ``linger`` seconds without work the thread calls
``on_idle`` (to release its database connection, say) and keeps waiting.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
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
        self._pending: list[tuple[T, Future[None]]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    async def submit(self, item: T) -> None:
        """Queue ``item`` for the next batch; return once that batch is written."""
        future: Future[None] = Future()
        with self._wake:
            self._pending.append((item, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._wake.notify()
        await asyncio.wrap_future(future)

    def _run(self) -> None:
        busy = False
        while True:
            with self._wake:
                if not self._pending:
                    self._wake.wait(self._linger if busy else None)
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
            if not batch:
                if busy:
                    busy = False
                    self._idle()
                continue
            busy = True
            # A waiter cancelled before now is dropped (nobody will be told it was
            # written); once running, a future can no longer be cancelled.
            batch = [(item, f) for item, f in batch if f.set_running_or_notify_cancel()]
            if batch:
                self._write_batch(batch)

    def _write_batch(self, batch: list[tuple[T, Future[None]]]) -> None:
        try:
            self._write([item for item, _ in batch])
        except Exception as exc:
            for _, future in batch:
                future.set_exception(exc)
        else:
            for _, future in batch:
                future.set_result(None)

    def _idle(self) -> None:
        try:
            self._on_idle()
        except Exception:
            log.exception("%s: idle hook failed", self._name)
