"""Thread limits for FAISS's OpenMP: the thread count is per calling thread, so it is set in each one."""

from __future__ import annotations

import threading

_local = threading.local()


def limit_faiss_threads(threads: int) -> None:
    """Cap the OpenMP threads FAISS uses for calls made from the current thread (repeat calls are free).

    FAISS spreads even a one-query search over an OpenMP team whose threads spin-wait on each other
    when requests run concurrently or the machine is busy (measured on two busy cores: 16 ms instead of
    8 µs per query). A server already runs requests in parallel, so each call gets few threads. OpenMP
    keeps this setting per thread: setting it once in the main thread does not reach worker threads.
    """
    if getattr(_local, "faiss", None) == threads:
        return
    import faiss

    faiss.omp_set_num_threads(threads)
    _local.faiss = threads
