"""Worker pools for batch operations: spread independent jobs over the machine's cores.

One ``spawn``-context process pool per worker count is created on first use and reused (starting
one costs 0.1-0.4 s); it is shut down at interpreter exit, and before a non-daemonic
multiprocessing child exits (multiprocessing joins a child's children before ``atexit`` runs, so
without that the child would hang). A daemonic process may not start processes of its own: there
jobs run on threads, which help wherever the work releases the GIL (libsodium, GMP's list powmod).
A pool whose worker died (out of memory, a signal) is replaced once.

Jobs are zero-argument callables that pickle (module-level functions wrapped in
:func:`functools.partial`); results come back in job order, so the first failing job's error is the
one raised.
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.util
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Literal, TypeVar

from petsuite.core.errors import InvalidInput

__all__ = ["Backend", "cpu_workers", "process_pool", "run_jobs", "shutdown_pools"]

Backend = Literal["process", "thread"]
_T = TypeVar("_T")

_POOLS: dict[int, ProcessPoolExecutor] = {}
_POOL_PID: list[int] = [0]


def cpu_workers(workers: int | None = None, *, maximum: int | None = None) -> int:
    """``workers`` validated, or the number of cores this process may use (capped at ``maximum``)."""
    if workers is None:
        try:
            count = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            count = os.cpu_count() or 1
        return max(1, count if maximum is None else min(maximum, count))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidInput("workers must be a positive int")
    if maximum is not None and workers > maximum:
        raise InvalidInput(f"workers must lie in [1, {maximum}]")
    return workers


def process_pool(workers: int) -> ProcessPoolExecutor:
    """The shared pool with ``workers`` processes, created on first use (spawn context).

    Lock-free: ``dict.setdefault`` is atomic, and a pool that loses the race has started no process
    yet (workers start on the first submit), so it is shut down for free.
    """
    if _POOL_PID[0] != os.getpid():
        _POOLS.clear()  # first use, or inherited through fork: those workers are the parent's
        _POOL_PID[0] = os.getpid()
    pool = _POOLS.get(workers)
    if pool is None:
        candidate = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )
        pool = _POOLS.setdefault(workers, candidate)
        if pool is candidate:
            atexit.unregister(shutdown_pools)  # register once however many pools exist
            atexit.register(shutdown_pools)
            # The priority must be above 10, or the pool's own queue finaliser runs first and the
            # shutdown hangs.
            multiprocessing.util.Finalize(None, shutdown_pools, exitpriority=100)
        else:
            candidate.shutdown(wait=False)
    return pool


def _drop_pool(workers: int, pool: ProcessPoolExecutor) -> None:
    if _POOLS.get(workers) is pool:
        _POOLS.pop(workers, None)
    pool.shutdown(wait=False, cancel_futures=True)


def shutdown_pools() -> None:
    """Stop this process's worker processes (also registered at exit; safe to call any time)."""
    owned = _POOL_PID[0] == os.getpid()
    pools = list(_POOLS.values()) if owned else []
    _POOLS.clear()
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


def run_jobs(jobs: Sequence[Callable[[], list[_T]]], *, backend: Backend, workers: int) -> list[_T]:
    """Run every job on ``backend`` with ``workers`` workers; the results, concatenated in order."""
    if backend not in ("process", "thread"):
        raise InvalidInput(f"backend must be 'process' or 'thread', not {backend!r}")

    def submit_all(executor: Executor) -> list[_T]:
        futures: list[Future[list[_T]]] = [executor.submit(job) for job in jobs]
        out: list[_T] = []
        try:
            for fut in futures:  # in order: the first failing job's error is the one raised
                out.extend(fut.result())
        finally:
            for fut in futures:
                fut.cancel()
        return out

    if backend == "thread" or multiprocessing.current_process().daemon:
        with ThreadPoolExecutor(max_workers=workers) as threads:
            return submit_all(threads)
    pool = process_pool(workers)
    try:
        return submit_all(pool)
    except BrokenProcessPool:
        _drop_pool(workers, pool)  # a worker died: retry once on a fresh pool
    return submit_all(process_pool(workers))
