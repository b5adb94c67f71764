"""multiscalar_mul: equal to the naive loop, inline and split over the pool; edge cases."""

from __future__ import annotations

import pytest

from petsuite.core.errors import InvalidInput
from petsuite.core.rng import DeterministicRandom
from petsuite.primitives.group import (
    MSM_PARALLEL_THRESHOLD,
    Point,
    Scalar,
    multiscalar_mul,
)

pytestmark = pytest.mark.usefixtures("worker_pool")


def _rng(tag: bytes) -> DeterministicRandom:
    return DeterministicRandom(tag.ljust(32, b"."), insecure_for_testing=True)


def _points(n: int) -> list[Point]:
    return [Point.hash_to_group(i.to_bytes(4, "big"), b"test-msm") for i in range(n)]


def _naive(scalars: list[Scalar], points: list[Point]) -> Point:
    acc = Point.identity()
    for s, p in zip(scalars, points, strict=True):
        acc = acc + s * p
    return acc


@pytest.mark.parametrize("n", [1, 2, 3, 7, MSM_PARALLEL_THRESHOLD - 1, MSM_PARALLEL_THRESHOLD, 61])
def test_matches_naive_loop(n: int) -> None:
    rng = _rng(b"msm-%d" % n)
    scalars = [Scalar.random(rng) for _ in range(n)]
    points = _points(n)
    assert multiscalar_mul(scalars, points) == _naive(scalars, points)


@pytest.mark.parametrize("backend", ["process", "thread"])
def test_split_equals_inline(backend: str) -> None:
    rng = _rng(b"split")
    scalars = [Scalar.random(rng) for _ in range(9)]
    points = _points(9)
    inline = multiscalar_mul(scalars, points, parallel_threshold=1000)
    split = multiscalar_mul(
        scalars,
        points,
        parallel_threshold=1,
        workers=3,
        backend=backend,  # type: ignore[arg-type]
    )
    assert split == inline == _naive(scalars, points)


def test_empty_is_identity() -> None:
    assert multiscalar_mul([], []).is_identity()
    assert multiscalar_mul([], [], parallel_threshold=1, workers=2).is_identity()


def test_identity_results_and_terms() -> None:
    p = _points(1)[0]
    s = Scalar.from_int(12345)
    # s*P + (-s)*P cancels, inline and split.
    assert multiscalar_mul([s, -s], [p, p]).is_identity()
    assert multiscalar_mul([s, -s], [p, p], parallel_threshold=1, workers=2).is_identity()
    # zero scalars and identity points contribute nothing
    zero = Scalar.from_int(0)
    assert multiscalar_mul([zero, s], [p, p]) == s * p
    assert multiscalar_mul([s, s], [Point.identity(), p]) == s * p
    assert multiscalar_mul([zero], [p]).is_identity()
    # a split where one whole chunk is the identity
    assert (
        multiscalar_mul([zero, zero, s, s], [p, p, p, p], parallel_threshold=1, workers=2)
        == Scalar.from_int(2) * s * p
    )


def test_small_scalars() -> None:
    p, q = _points(2)
    got = multiscalar_mul([Scalar.from_int(1), Scalar.from_int(2)], [p, q])
    assert got == p + q + q


def test_rejects_bad_arguments() -> None:
    p = _points(1)[0]
    s = Scalar.from_int(1)
    with pytest.raises(InvalidInput):
        multiscalar_mul([s], [])
    with pytest.raises(InvalidInput):
        multiscalar_mul([1], [p])  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        multiscalar_mul([s], [p.to_bytes()])  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        multiscalar_mul([s], [p], parallel_threshold=0)
    with pytest.raises(InvalidInput):
        multiscalar_mul([s], [p], backend="gpu")  # type: ignore[arg-type]
