"""Wall-clock time with an adjustable offset, so tests can jump hours or days ahead."""

from __future__ import annotations

import time


class Clock:
    """Real time plus ``offset`` seconds. Time keeps flowing; ``advance`` jumps it."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset
        self._last_tick_ms = 0

    def now(self) -> float:
        return time.time() + self.offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def tick_ms(self) -> int:
        """``now_ms``, but strictly greater than the previous tick: message timestamps
        never tie, even for many messages within one millisecond."""
        now = max(self.now_ms(), self._last_tick_ms + 1)
        self._last_tick_ms = now
        return now

    def advance(self, seconds: float) -> None:
        self._moved(self.offset + seconds)

    def set(self, epoch_seconds: float) -> None:
        self._moved(epoch_seconds - time.time())

    def reset(self) -> None:
        self._moved(0.0)

    def _moved(self, offset: float) -> None:
        if offset < self.offset:
            self._last_tick_ms = 0  # going back in time on purpose: ticks follow
        self.offset = offset
