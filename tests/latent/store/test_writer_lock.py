"""The per-collection writer lock: exclusive across processes, re-entrant, and never self-deadlocking
when Ctrl-C lands between taking and releasing it (a hang `latent index` once showed under load)."""

from __future__ import annotations

import multiprocessing
import signal
import time

from latent.store.locks import WriterLock


def _try_lock(path: str, result) -> None:
    import fcntl
    import os

    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result.value = 1
    except BlockingIOError:
        result.value = 0
    finally:
        os.close(fd)


def other_process_can_lock(path) -> bool:
    result = multiprocessing.get_context("spawn").Value("i", -1)
    proc = multiprocessing.get_context("spawn").Process(target=_try_lock, args=(str(path), result))
    proc.start()
    proc.join(30)
    return result.value == 1


def test_exclusive_across_processes_and_reentrant(tmp_path):
    lock = WriterLock(tmp_path / "c.lock")
    with lock.hold():
        with lock.hold():  # re-entrant in one thread
            assert not other_process_can_lock(lock.path)
        assert not other_process_can_lock(lock.path)
    assert other_process_can_lock(lock.path)


def test_interrupted_release_does_not_deadlock_the_next_hold(tmp_path):
    lock = WriterLock(tmp_path / "c.lock")
    held = lock.hold()
    held.__enter__()
    lock._depth = 0  # as if Ctrl-C struck in `finally` after the count dropped, before the unlock ran

    def give_up(*_):
        raise TimeoutError("holding the lock again blocked on this process's own lock")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(10)
    try:
        with lock.hold():  # the same thread takes it again, as `latent index` did after Ctrl-C
            pass
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert other_process_can_lock(lock.path)  # and it was released afterwards
    lock.close()


def test_close_releases_and_hold_reopens(tmp_path):
    lock = WriterLock(tmp_path / "c.lock")
    with lock.hold():
        pass
    lock.close()
    start = time.monotonic()
    with lock.hold():
        assert not other_process_can_lock(lock.path)
    assert time.monotonic() - start < 30
