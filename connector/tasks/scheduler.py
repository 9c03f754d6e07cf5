"""Delayed calls on one thread, with an injectable clock.

The scanner schedules its passes here; ``run`` executes the due calls on the
calling thread, one at a time, until it is stopped.  Tests use
``ManualScheduler``, whose time moves only when the test advances it.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Callable, Protocol

__all__ = ["ManualScheduler", "Scheduler", "ThreadScheduler"]


class Scheduler(Protocol):
    def call_later(self, delay_s: float, callback: Callable[[], object]) -> None: ...

    def now(self) -> float: ...


class ThreadScheduler:
    """Run delayed callbacks on the thread that calls ``run``."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Callable[[], object]]] = []
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._stopped = False

    def now(self) -> float:
        return self._clock()

    def call_later(self, delay_s: float, callback: Callable[[], object]) -> None:
        with self._condition:
            heapq.heappush(self._heap, (self._clock() + max(delay_s, 0.0), next(self._sequence), callback))
            self._condition.notify()

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def run(self) -> None:
        """Execute callbacks as they fall due until ``stop`` is called."""
        while True:
            with self._condition:
                while not self._stopped:
                    if self._heap:
                        wait = self._heap[0][0] - self._clock()
                        if wait <= 0:
                            break
                        self._condition.wait(wait)
                    else:
                        self._condition.wait()
                if self._stopped:
                    return
                _, _, callback = heapq.heappop(self._heap)
            callback()


class ManualScheduler:
    """A scheduler for tests: time is a number the test advances with ``advance``."""

    def __init__(self, start: float = 0.0) -> None:
        self.time = start
        self._heap: list[tuple[float, int, Callable[[], object]]] = []
        self._sequence = itertools.count()

    def now(self) -> float:
        return self.time

    def call_later(self, delay_s: float, callback: Callable[[], object]) -> None:
        heapq.heappush(self._heap, (self.time + max(delay_s, 0.0), next(self._sequence), callback))

    @property
    def pending(self) -> list[float]:
        """Due times of the scheduled calls, earliest first."""
        return sorted(due for due, _, _ in self._heap)

    def run_due(self) -> int:
        """Run every call due at the current time (including ones they schedule for now); return the count."""
        count = 0
        while self._heap and self._heap[0][0] <= self.time:
            _, _, callback = heapq.heappop(self._heap)
            callback()
            count += 1
        return count

    def advance(self, seconds: float) -> int:
        """Move time forward, running each call when its due time is reached; return the count."""
        target = self.time + seconds
        count = 0
        while self._heap and self._heap[0][0] <= target:
            self.time = max(self.time, self._heap[0][0])
            count += self.run_due()
        self.time = target
        return count + self.run_due()
