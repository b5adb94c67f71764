"""F_p (p = 2**61 - 1) and Z_2^64 vector arithmetic against Python integers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from petsuite.core.errors import InvalidInput
from petsuite.core.rng import DeterministicRandom
from petsuite.mpc.field import (
    HALF,
    P,
    f_add,
    f_decode,
    f_encode,
    f_inv,
    f_mul,
    f_neg,
    f_pow,
    f_random,
    f_sub,
    f_sum,
    r_decode,
    r_encode,
    r_random,
)

elements = st.lists(st.integers(0, P - 1), min_size=1, max_size=40)
EDGES = [0, 1, 2, P - 1, P - 2, HALF, HALF + 1, (1 << 32) - 1, 1 << 32, (1 << 60) + 12345]


def _rng(tag: int = 0) -> DeterministicRandom:
    return DeterministicRandom(bytes([tag]) * 32, insecure_for_testing=True)


def _arr(xs: list[int]) -> np.ndarray:
    return np.array(xs, dtype=np.uint64)


@settings(max_examples=200, deadline=None)
@given(elements, elements)
def test_ops_match_python_ints(xs: list[int], ys: list[int]) -> None:
    n = min(len(xs), len(ys))
    a, b = _arr(xs[:n]), _arr(ys[:n])
    assert [int(v) for v in f_add(a, b)] == [
        (x + y) % P for x, y in zip(xs[:n], ys[:n], strict=True)
    ]
    assert [int(v) for v in f_sub(a, b)] == [
        (x - y) % P for x, y in zip(xs[:n], ys[:n], strict=True)
    ]
    assert [int(v) for v in f_mul(a, b)] == [x * y % P for x, y in zip(xs[:n], ys[:n], strict=True)]
    assert [int(v) for v in f_neg(a)] == [(-x) % P for x in xs[:n]]


def test_edges_all_pairs() -> None:
    a = _arr([x for x in EDGES for _ in EDGES])
    b = _arr([y for _ in EDGES for y in EDGES])
    expect = [x * y % P for x in EDGES for y in EDGES]
    assert [int(v) for v in f_mul(a, b)] == expect
    assert [int(v) for v in f_add(a, b)] == [(x + y) % P for x in EDGES for y in EDGES]
    assert [int(v) for v in f_sub(a, b)] == [(x - y) % P for x in EDGES for y in EDGES]


@settings(max_examples=50, deadline=None)
@given(elements, st.integers(0, P - 1))
def test_scalar_broadcast(xs: list[int], k: int) -> None:
    a = _arr(xs)
    assert [int(v) for v in f_mul(a, np.uint64(k))] == [x * k % P for x in xs]
    assert [int(v) for v in f_mul(np.uint64(k), a)] == [x * k % P for x in xs]


def test_large_vector_crosses_chunks() -> None:
    a = f_random(70_001, _rng(1))
    b = f_random(70_001, _rng(2))
    got = f_mul(a, b)
    idx = np.arange(0, 70_001, 997)
    assert all(int(got[i]) == int(a[i]) * int(b[i]) % P for i in idx)
    assert int(got[-1]) == int(a[-1]) * int(b[-1]) % P


def test_sum_pow_inv() -> None:
    a = _arr([P - 1] * 9 + [5])
    assert int(f_sum(a)[()]) == (9 * (P - 1) + 5) % P
    m = _arr([[P - 1, 1], [P - 1, 2], [3, P - 3]])
    assert [int(v) for v in f_sum(m, axis=0)] == [(2 * (P - 1) + 3) % P, 0]
    assert [int(v) for v in f_pow(_arr([3, 0, P - 1]), 5)] == [243, 0, P - 1]
    assert int(f_pow(_arr([7]), P - 1)[0]) == 1
    assert f_inv(3) * 3 % P == 1
    with pytest.raises(InvalidInput):
        f_inv(P)
    with pytest.raises(InvalidInput):
        f_pow(_arr([2]), -1)


def test_random_is_reduced_and_varied() -> None:
    r = f_random(10_000, _rng(3))
    assert r.dtype == np.uint64 and int(r.max()) < P
    assert len(set(r.tolist())) == 10_000
    small = f_random(5000, _rng(4), modulus=11)
    counts = np.bincount(small.astype(np.int64), minlength=11)
    assert counts.min() > 300  # expected 454 each
    with pytest.raises(InvalidInput):
        f_random(-1)
    with pytest.raises(InvalidInput):
        f_random(3, modulus=1)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-HALF, HALF), min_size=1, max_size=30))
def test_signed_encoding_round_trip(xs: list[int]) -> None:
    enc = f_encode(np.array(xs, dtype=np.int64))
    assert [int(v) for v in enc] == [x % P for x in xs]
    assert f_decode(enc).tolist() == xs


def test_signed_encoding_rejects_out_of_range() -> None:
    with pytest.raises(InvalidInput):
        f_encode(np.array([HALF + 1], dtype=np.int64))
    with pytest.raises(InvalidInput):
        f_encode(np.array([-HALF - 1], dtype=np.int64))
    assert f_decode(_arr([HALF, HALF + 1])).tolist() == [HALF, -HALF]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-(1 << 63), (1 << 63) - 1), min_size=1, max_size=20))
def test_ring_round_trip_and_wraparound(xs: list[int]) -> None:
    enc = r_encode(np.array(xs, dtype=np.int64))
    assert [int(v) for v in enc] == [x % (1 << 64) for x in xs]
    assert r_decode(enc).tolist() == xs
    doubled = enc + enc
    assert [int(v) for v in doubled] == [2 * x % (1 << 64) for x in xs]
    assert r_random(4, _rng(5)).dtype == np.uint64
