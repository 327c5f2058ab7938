"""Locks: one writer per collection across processes (flock), many readers within a process (RW lock)."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WriterLock:
    """An exclusive advisory file lock; the kernel drops it if the holder dies (kill -9 included).

    The lock file is opened once and kept open: flock locks belong to an open file description, so
    re-locking through the same descriptor never blocks, whereas a second descriptor in this very process
    would wait forever on the first. That matters when Ctrl-C lands between acquiring and releasing.
    """

    def __init__(self, path: Path):
        self.path = path
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def _descriptor(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        return self._fd

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread_lock:
            fd = self._descriptor()
            if self._depth == 0:
                fcntl.flock(fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file (releasing the lock if held); the next `hold` reopens it."""
        with self._thread_lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd, self._depth = None, 0

    def __del__(self) -> None:
        if self._fd is not None:
            os.close(self._fd)


class ReadWriteLock:
    """Many concurrent searches, or one index mutation: readers never see a half-applied change."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._readers:
                self._cond.wait()
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()
