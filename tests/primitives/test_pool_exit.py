"""A process that used the shared worker pool exits promptly, even as a non-daemonic child."""

from __future__ import annotations

import multiprocessing

import pytest


def _child() -> None:
    from petsuite.primitives.group import Point, Scalar, raw_batch_scalar_mult

    points = [Point.hash_to_group(bytes([i]), b"dst").to_bytes() for i in range(64)]
    raw_batch_scalar_mult(points, Scalar.random(), parallel_threshold=8, workers=2)


@pytest.mark.timeout(90)
def test_non_daemonic_child_exits() -> None:
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_child, daemon=False)
    proc.start()
    proc.join(timeout=60)
    alive = proc.is_alive()
    if alive:
        proc.kill()
        proc.join(5)
    assert not alive and proc.exitcode == 0
