"""Shared worker pools: order, backends, validation."""

from __future__ import annotations

import functools

import pytest

from petsuite.core import parallel
from petsuite.core.errors import InvalidInput


def _square_range(lo: int, hi: int) -> list[int]:
    return [i * i for i in range(lo, hi)]


def _fail(lo: int, hi: int) -> list[int]:
    raise InvalidInput(f"job {lo}-{hi} failed")


@pytest.mark.parametrize("backend", ["thread", "process"])
def test_results_come_back_in_job_order(backend: parallel.Backend) -> None:
    jobs = [functools.partial(_square_range, lo, lo + 10) for lo in range(0, 100, 10)]
    assert parallel.run_jobs(jobs, backend=backend, workers=2) == [i * i for i in range(100)]
    parallel.shutdown_pools()


def test_first_failing_job_is_reported() -> None:
    jobs = [functools.partial(_square_range, 0, 3), functools.partial(_fail, 3, 6),
            functools.partial(_fail, 6, 9)]  # fmt: skip
    with pytest.raises(InvalidInput, match="3-6"):
        parallel.run_jobs(jobs, backend="thread", workers=2)


def test_validation() -> None:
    assert parallel.cpu_workers() >= 1
    assert parallel.cpu_workers(3) == 3
    assert parallel.cpu_workers(None, maximum=1) == 1
    for bad in (0, -1, True, 2.5):
        with pytest.raises(InvalidInput):
            parallel.cpu_workers(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        parallel.cpu_workers(9, maximum=8)
    with pytest.raises(InvalidInput):
        parallel.run_jobs([], backend="fork", workers=1)  # type: ignore[arg-type]
