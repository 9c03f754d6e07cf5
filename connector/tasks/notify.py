"""New-data notification: inotify on the WAL directories where Linux offers it.

Every change in a watched ``wal/`` directory (an append, a new segment, a
meta file renamed into place, a deleted segment) calls ``on_change``.  Where
inotify is unavailable the watcher reports so and the runtime relies on its
scan timer alone, polling every ``idle_scan_delay_ms``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import select
import threading
from typing import Callable, Iterable

__all__ = ["InotifyWatcher", "inotify_available"]

log = logging.getLogger(__name__)

# <sys/inotify.h>
IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_WATCH_MASK = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE

_libc: ctypes.CDLL | None = None


def _load_libc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        if name is None:
            return None
        try:
            libc = ctypes.CDLL(name, use_errno=True)
            libc.inotify_init1  # noqa: B018 - raises AttributeError where inotify is missing
        except (OSError, AttributeError):
            return None
        _libc = libc
    return _libc


def inotify_available() -> bool:
    return _load_libc() is not None


class InotifyWatcher(threading.Thread):
    """Watch directories with inotify and call ``on_change`` (at most once per read of events)."""

    def __init__(self, directories: Iterable[str], on_change: Callable[[], object]) -> None:
        super().__init__(name="wal-inotify", daemon=True)
        libc = _load_libc()
        if libc is None:
            raise OSError("inotify is not available on this system")
        self._libc = libc
        self._on_change = on_change
        self._fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, f"inotify_init1 failed: {os.strerror(code)}")
        for directory in directories:
            handle = libc.inotify_add_watch(self._fd, os.fsencode(directory), _WATCH_MASK)
            if handle < 0:
                code = ctypes.get_errno()
                os.close(self._fd)
                raise OSError(code, f"inotify_add_watch({directory}) failed: {os.strerror(code)}")
        self._stop_requested = threading.Event()

    def request_stop(self) -> None:
        self._stop_requested.set()

    def run(self) -> None:
        try:
            while not self._stop_requested.is_set():
                readable, _, _ = select.select([self._fd], [], [], 0.2)
                if not readable:
                    continue
                try:
                    while os.read(self._fd, 65536):
                        pass
                except BlockingIOError:
                    pass
                except OSError as err:
                    if err.errno != errno.EAGAIN:
                        raise
                self._on_change()
        finally:
            os.close(self._fd)
