"""Wall-clock time with an adjustable offset, so tests can jump hours or days ahead."""

from __future__ import annotations

import time


class Clock:
    """Real time plus ``offset`` seconds. Time keeps flowing; ``advance`` jumps it."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def now(self) -> float:
        return time.time() + self.offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def set(self, epoch_seconds: float) -> None:
        self.offset = epoch_seconds - time.time()
