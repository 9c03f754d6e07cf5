"""A task's input queue: WAL entries and markers between the scanner and the sink step.

The scanner puts items in WAL order; the task's sink step takes them out in
the same order.  The queue is bounded by items and by bytes, so a task whose
Kafka side is slow stops taking WAL data instead of growing without limit.
``put`` never blocks: a full queue rejects the item, and the scanner seeks
its reader back so the entry is read again later.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from connector.errors import ConnectorError
from connector.wal._format import HEAD_SIZE, WalEntry

__all__ = ["GapMarker", "HaltMarker", "HandOffMarker", "InputQueue", "QueueItem"]


@dataclass(frozen=True, slots=True)
class GapMarker:
    """Versions ``first_missing``..``last_missing`` were skipped; publishing goes on at ``last_missing + 1``."""

    first_missing: int
    last_missing: int
    reason: str


@dataclass(frozen=True, slots=True)
class HandOffMarker:
    """A fill-history task finished ``from_version``..``to_version``; the live task takes over."""

    from_version: int
    to_version: int


@dataclass(frozen=True, slots=True)
class HaltMarker:
    """The scanner met an error at ``version``: publish what came before, then halt the task."""

    error: ConnectorError
    version: int


QueueItem = WalEntry | GapMarker | HandOffMarker | HaltMarker


def item_size(item: QueueItem) -> int:
    """Return the bytes an item counts against the queue's byte bound."""
    if isinstance(item, WalEntry):
        return HEAD_SIZE + item.body_len
    return 0


class InputQueue:
    """A bounded FIFO of queue items, safe to share between the scanner and a sink thread.

    An item larger than ``max_bytes`` is still accepted when the queue is
    empty, so one oversized entry cannot block its task for ever.
    """

    def __init__(self, *, max_items: int, max_bytes: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._items: deque[QueueItem] = deque()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def is_full(self) -> bool:
        with self._lock:
            return len(self._items) >= self.max_items or self._bytes >= self.max_bytes

    def put(self, item: QueueItem) -> bool:
        """Append ``item`` and return True, or return False when it does not fit."""
        size = item_size(item)
        with self._lock:
            if self._items:
                if len(self._items) >= self.max_items or self._bytes + size > self.max_bytes:
                    return False
            self._items.append(item)
            self._bytes += size
            return True

    def force_put(self, item: QueueItem) -> None:
        """Append ``item`` even when the queue is full (for markers that must not wait)."""
        with self._lock:
            self._items.append(item)
            self._bytes += item_size(item)

    def drop_from(self, version: int) -> int:
        """Remove every WAL entry of ``version`` or later; return how many were removed."""
        with self._lock:
            kept = deque(item for item in self._items
                         if not (isinstance(item, WalEntry) and item.version >= version))
            dropped = len(self._items) - len(kept)
            self._items = kept
            self._bytes = sum(item_size(item) for item in kept)
            return dropped

    def take(self, max_items: int) -> list[QueueItem]:
        """Remove and return up to ``max_items`` items from the front."""
        with self._lock:
            taken = []
            while self._items and len(taken) < max_items:
                item = self._items.popleft()
                self._bytes -= item_size(item)
                taken.append(item)
            return taken

    def peek(self) -> QueueItem | None:
        with self._lock:
            return self._items[0] if self._items else None

    def clear(self) -> int:
        """Drop every item; return how many there were."""
        with self._lock:
            count = len(self._items)
            self._items.clear()
            self._bytes = 0
            return count
