"""Generic comparisons and bitwise circuits, run on the Shamir engine."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from petsuite.core.errors import InvalidInput
from petsuite.mpc import circuits, compare
from petsuite.mpc.shamir import ShamirEngine
from tests.mpc.helpers import engines, ok, rng, run_all

I64 = np.int64


def _values(seed: int, size: int, bound: int) -> np.ndarray:
    raw = np.frombuffer(rng(seed).random_bytes(8 * size), dtype=np.uint64)
    return (raw % np.uint64(2 * bound + 1)).astype(np.int64) - bound


def test_bitwise_lt_and_compare_exhaustive_4_bits() -> None:
    pairs = list(itertools.product(range(16), range(16)))
    c = np.array([p[0] for p in pairs], dtype=np.uint64)
    r = np.array([p[1] for p in pairs], dtype=I64)
    r_bits = circuits.public_bits(r.astype(np.uint64), 4)

    async def party(e: ShamirEngine) -> tuple[np.ndarray, ...]:
        shared = await e.input("P1", r_bits.reshape(-1) if e.me == "P1" else None, r_bits.size)
        lt = await circuits.bitwise_lt(e, circuits.public_bits(c, 4), shared)
        lt2, eq = await circuits.bitwise_compare(e, circuits.public_bits(c, 4), shared)
        value = circuits.bits_to_value(e, shared, 4)
        outs = [await e.open(v) for v in (lt, lt2, eq, value)]
        return tuple(o for o in outs if o is not None)

    lt, lt2, eq, value = ok(run_all(engines(3, 1)[1], party))[0]
    assert lt.tolist() == [int(a < b) for a, b in pairs]
    assert lt2.tolist() == lt.tolist()
    assert eq.tolist() == [int(a == b) for a, b in pairs]
    assert value.tolist() == r.tolist()


@pytest.mark.parametrize("k", [1, 2, 5, 8])
def test_prefix_or_and(k: int) -> None:
    combos = np.array(list(itertools.product([0, 1], repeat=k)), dtype=I64)  # (2**k, k)
    bits = combos.T.reshape(-1)  # bit-major

    async def party(e: ShamirEngine) -> tuple[np.ndarray, np.ndarray]:
        shared = await e.input("P0", bits if e.me == "P0" else None, bits.size)
        por = await e.open(await circuits.prefix_or(e, shared, k))
        pand = await e.open(await circuits.prefix_and(e, shared, k))
        assert por is not None and pand is not None
        return por, pand

    por, pand = ok(run_all(engines(3, 1)[1], party))[0]
    assert por.reshape(k, -1).T.tolist() == np.maximum.accumulate(combos, axis=1).tolist()
    assert pand.reshape(k, -1).T.tolist() == np.minimum.accumulate(combos, axis=1).tolist()


def test_lt_eq_signed_and_edges() -> None:
    a = _values(1, 120, 1 << 40)
    b = _values(2, 120, 1 << 40)
    a[:6] = [0, -1, 5, -7, 1 << 40, -(1 << 40)]
    b[:6] = [0, -1, -5, 7, -(1 << 40), -(1 << 40)]
    b[6:20] = a[6:20]

    async def party(e: ShamirEngine) -> tuple[np.ndarray, np.ndarray]:
        x = await e.input("P0", a if e.me == "P0" else None, a.size)
        y = await e.input("P1", b if e.me == "P1" else None, b.size)
        lt = await e.open(await compare.lt(e, x, y, 43))
        eq = await e.open(await compare.eq(e, x, y, 43))
        assert lt is not None and eq is not None
        return lt, eq

    lt, eq = ok(run_all(engines(3, 1)[1], party))[0]
    assert lt.tolist() == (a < b).astype(I64).tolist()
    assert eq.tolist() == (a == b).astype(I64).tolist()


@pytest.mark.parametrize("size", [1, 2, 7, 64])
def test_min_max_tournament(size: int) -> None:
    a = _values(size, size, 1 << 30)

    async def party(e: ShamirEngine) -> tuple[int, int, int]:
        x = await e.input("P2", a if e.me == "P2" else None, size)
        lo = await e.open(await compare.minimum(e, x, 32))
        hi = await e.open(await compare.maximum(e, x, 32))
        sel = await e.open(
            await compare.select(
                e,
                e.public(np.array([1, 0], dtype=I64)),
                e.public(np.array([3, 3], dtype=I64)),
                e.public(np.array([-9, -9], dtype=I64)),
            )
        )
        assert lo is not None and hi is not None and sel is not None
        return int(lo[0]), int(hi[0]), int(sel[0] * 10 + sel[1])

    lo, hi, sel = ok(run_all(engines(3, 1)[1], party))[0]
    assert (lo, hi) == (int(a.min()), int(a.max()))
    assert sel == 21  # [3, -9] -> 30 - 9


def test_parameter_checks() -> None:
    async def party(e: ShamirEngine) -> None:
        x = e.public(np.array([1], dtype=I64))
        with pytest.raises(InvalidInput):
            await compare.lt(e, x, x, 62)
        with pytest.raises(InvalidInput):
            await compare.minimum(e, e.public(np.zeros(0, dtype=I64)), 8)
        with pytest.raises(InvalidInput):
            await circuits.bitwise_lt(e, np.zeros((3, 2), dtype=I64), x)

    ok(run_all(engines(3, 1)[1], party))
