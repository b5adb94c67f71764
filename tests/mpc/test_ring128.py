"""Z_2^128 limb arithmetic against Python integers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from petsuite.core.errors import InvalidInput
from petsuite.core.rng import DeterministicRandom
from petsuite.mpc import ring128 as r

MOD = 1 << 128
U128_INTS = st.integers(min_value=0, max_value=MOD - 1)
EDGE = [
    0,
    1,
    2,
    (1 << 32) - 1,
    1 << 32,
    (1 << 64) - 1,
    1 << 64,
    (1 << 64) + 1,
    MOD - 1,
    MOD - 2,
    (1 << 127),
    (1 << 127) - 1,
    0xFFFFFFFF_00000000_FFFFFFFF_00000000,
]
VEC = st.lists(st.one_of(U128_INTS, st.sampled_from(EDGE)), min_size=1, max_size=20)
I64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)


def _pairs(draw_a: list[int], draw_b: list[int]) -> tuple[list[int], list[int]]:
    n = min(len(draw_a), len(draw_b))
    return draw_a[:n], draw_b[:n]


@settings(max_examples=300, deadline=None)
@given(VEC, VEC)
def test_add_sub_mul_match_python(xs: list[int], ys: list[int]) -> None:
    xs, ys = _pairs(xs, ys)
    a, b = r.from_ints(xs), r.from_ints(ys)
    assert r.to_ints(r.add(a, b)) == [(x + y) % MOD for x, y in zip(xs, ys, strict=True)]
    assert r.to_ints(r.sub(a, b)) == [(x - y) % MOD for x, y in zip(xs, ys, strict=True)]
    assert r.to_ints(r.mul(a, b)) == [(x * y) % MOD for x, y in zip(xs, ys, strict=True)]
    assert r.to_ints(r.neg(a)) == [(-x) % MOD for x in xs]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, (1 << 64) - 1), min_size=1, max_size=20))
def test_wide_u64_product(xs: list[int]) -> None:
    ys = list(reversed(xs))
    a = np.array(xs, dtype=np.uint64)
    b = np.array(ys, dtype=np.uint64)
    assert r.to_ints(r.mul_wide_u64(a, b)) == [x * y for x, y in zip(xs, ys, strict=True)]
    assert r.to_ints(r.mul_u64(r.from_ints(xs), b)) == [
        (x * y) % MOD for x, y in zip(xs, ys, strict=True)
    ]


@settings(max_examples=300, deadline=None)
@given(VEC, st.lists(I64, min_size=1, max_size=20), I64)
def test_mul_by_public_signed(xs: list[int], cs: list[int], c: int) -> None:
    n = min(len(xs), len(cs))
    xs, cs = xs[:n], cs[:n]
    a = r.from_ints(xs)
    out = r.mul_int64(a, np.array(cs, dtype=np.int64))
    assert r.to_ints(out) == [(x * k) % MOD for x, k in zip(xs, cs, strict=True)]
    assert r.to_ints(r.mul_int(a, c)) == [(x * c) % MOD for x in xs]
    assert r.to_ints(r.mul_int(a, c * 3 + (1 << 100))) == [
        (x * (c * 3 + (1 << 100))) % MOD for x in xs
    ]


@settings(max_examples=200, deadline=None)
@given(VEC, st.integers(0, 130))
def test_shifts(xs: list[int], k: int) -> None:
    a = r.from_ints(xs)
    assert r.to_ints(r.shl(a, k)) == [(x << k) % MOD for x in xs]
    assert r.to_ints(r.shr(a, k)) == [x >> k for x in xs]


@settings(max_examples=200, deadline=None)
@given(st.lists(I64, min_size=0, max_size=20))
def test_int64_conversions(vs: list[int]) -> None:
    arr = np.array(vs, dtype=np.int64)
    a = r.from_int64(arr)
    assert r.to_ints(a) == [v % MOD for v in vs]
    assert r.to_int64(a).tolist() == vs
    assert r.to_u64(a).tolist() == [v % (1 << 64) for v in vs]
    # k = 64: the value is the low 64 bits, whatever the upper bits hold
    noisy = r.add(a, r.shl(r.from_ints([12345] * len(vs)), 64))
    assert r.to_int64(noisy).tolist() == vs


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(U128_INTS, st.sampled_from(EDGE)), min_size=0, max_size=50))
def test_sum_and_bytes(xs: list[int]) -> None:
    a = r.from_ints(xs)
    assert r.to_ints(r.sum(a)) == [sum(xs) % MOD]
    assert r.to_ints(r.from_bytes(r.to_bytes(a), len(xs))) == xs
    assert r.equal(r.concat([a, a]), r.from_ints(xs + xs))
    if xs:
        idx = np.arange(len(xs))[::-1].astype(np.intp)
        assert r.to_ints(r.take(a, idx)) == list(reversed(xs))


def test_sum_of_many_max_values() -> None:
    n = 100_000
    a = (np.full(n, 2**64 - 1, dtype=np.uint64), np.full(n, 2**64 - 1, dtype=np.uint64))
    assert r.to_ints(r.sum(a)) == [(n * (MOD - 1)) % MOD]


def test_random_is_uniform_looking_and_reproducible() -> None:
    rng1 = DeterministicRandom(b"r" * 32, insecure_for_testing=True)
    rng2 = DeterministicRandom(b"r" * 32, insecure_for_testing=True)
    a = r.random(1000, rng1)
    assert r.equal(a, r.random(1000, rng2))
    ints = r.to_ints(a)
    assert len(set(ints)) == 1000
    top = sum(1 for v in ints if v >> 127)
    assert 400 < top < 600  # the top bit is set about half the time


def test_operations_do_not_mutate_inputs() -> None:
    a = r.from_ints([5, MOD - 1])
    b = r.from_ints([7, 3])
    before = (a[0].copy(), a[1].copy())
    for out in (r.add(a, b), r.sub(a, b), r.mul(a, b), r.neg(a), r.shl(a, 3), r.shr(a, 70)):
        assert out[0] is not a[0] and out[1] is not a[1]
    assert r.equal(a, before)


def test_errors() -> None:
    with pytest.raises(InvalidInput):
        r.from_bytes(b"\x00" * 15, 1)
    with pytest.raises(InvalidInput):
        r.shl(r.zeros(1), -1)
    with pytest.raises(InvalidInput):
        r.shr(r.zeros(1), -1)
    with pytest.raises(InvalidInput):
        r.random(-1)
