"""Bitwise circuits over shared bits, generic over any :class:`~petsuite.mpc.engine.Engine`.

Shared bits are laid out bit-major in one :class:`Shared`: for ``k`` bits of ``n`` numbers, block
``i`` (elements ``i*n .. (i+1)*n - 1``) holds bit ``i`` (least significant first) of every number.
Public bit matrices have shape ``(k, n)`` with the same order. The circuits use only ``mul``,
``add``, ``sub``, ``add_public``, ``mul_public``, ``take`` and ``concat``, so they work for the
Shamir engine over F_p and the SPDZ2k engine over Z_2^64 alike, and reveal nothing (they open no
value). Every level is one ``mul`` call over a whole vector: the depth is ``ceil(log2 k)`` rounds.
:func:`subset_sums` (random subset sums for batched zero tests) is linear and local.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from petsuite.core.errors import InvalidInput
from petsuite.mpc.engine import Engine, IntArray, Shared

__all__ = [
    "bits_to_value",
    "bitwise_compare",
    "bitwise_lt",
    "prefix_and",
    "prefix_or",
    "public_bits",
    "subset_sums",
    "xor",
]


def public_bits(values: npt.NDArray[np.uint64], k: int) -> IntArray:
    """The ``k`` low bits of non-negative words as a ``(k, n)`` 0/1 matrix, least significant first."""
    arr = np.asarray(values, dtype=np.uint64).reshape(-1)
    shifts = np.arange(k, dtype=np.uint64)[:, None]
    return ((arr[None, :] >> shifts) & np.uint64(1)).astype(np.int64)


def _blocks(n: int, which: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """Element indices of the given blocks (each of length ``n``), block after block."""
    return (which[:, None] * n + np.arange(n, dtype=np.intp)[None, :]).reshape(-1)


def _check_layout(c_bits: IntArray, r_bits: Shared) -> tuple[int, int]:
    c = np.asarray(c_bits)
    if c.ndim != 2 or c.shape[0] < 1:
        raise InvalidInput("public bits must have shape (k, n) with k >= 1")
    k, n = c.shape
    if r_bits.size != k * n:
        raise InvalidInput(f"shared bits must hold k*n = {k * n} elements, got {r_bits.size}")
    if c.size and (int(c.min()) < 0 or int(c.max()) > 1):
        raise InvalidInput("public bits must be 0 or 1")
    return k, n


async def _compare(
    engine: Engine, c_bits: IntArray, r_bits: Shared, *, want_eq: bool
) -> tuple[Shared, Shared | None]:
    k, n = _check_layout(c_bits, r_bits)
    c = np.asarray(c_bits, dtype=np.int64).reshape(-1)
    # Leaves: lt_i = [c_i < r_i] = (1 - c_i) r_i; eq_i = [c_i = r_i] = (2 c_i - 1) r_i + 1 - c_i.
    lt = engine.mul_public(r_bits, 1 - c)
    eq = engine.add_public(engine.mul_public(r_bits, 2 * c - 1), 1 - c)
    g = k
    while g > 1:
        pairs = g // 2
        lo = _blocks(n, np.arange(0, 2 * pairs, 2, dtype=np.intp))
        hi = _blocks(n, np.arange(1, 2 * pairs, 2, dtype=np.intp))
        lt_lo, lt_hi = engine.take(lt, lo), engine.take(lt, hi)
        eq_lo, eq_hi = engine.take(eq, lo), engine.take(eq, hi)
        rest = _blocks(n, np.arange(2 * pairs, g, dtype=np.intp))
        last = g == 2 and not want_eq
        if last:
            lt = engine.add(lt_hi, await engine.mul(eq_hi, lt_lo))
            return lt, None
        # (lt, eq) of a pair (hi, lo) = (lt_hi + eq_hi lt_lo, eq_hi eq_lo): one mul call.
        prod = await engine.mul(engine.concat([eq_hi, eq_hi]), engine.concat([lt_lo, eq_lo]))
        m = pairs * n
        new_lt = engine.add(lt_hi, engine.take(prod, slice(0, m)))
        new_eq = engine.take(prod, slice(m, 2 * m))
        if rest.size:
            new_lt = engine.concat([new_lt, engine.take(lt, rest)])
            new_eq = engine.concat([new_eq, engine.take(eq, rest)])
        lt, eq = new_lt, new_eq
        g = pairs + (g - 2 * pairs)
    return lt, (eq if want_eq else None)


async def bitwise_lt(engine: Engine, c_bits: IntArray, r_bits: Shared) -> Shared:
    """``[c < r]`` for public ``k``-bit numbers ``c`` and shared ``k``-bit numbers ``r``.

    ``2k - 3`` multiplications per number in ``ceil(log2 k)`` rounds (a (lt, eq) merge tree).
    """
    lt, _ = await _compare(engine, c_bits, r_bits, want_eq=False)
    return lt


async def bitwise_compare(
    engine: Engine, c_bits: IntArray, r_bits: Shared
) -> tuple[Shared, Shared]:
    """``([c < r], [c = r])`` for public ``c`` and shared ``r`` bits (``2k - 2`` mults each)."""
    lt, eq = await _compare(engine, c_bits, r_bits, want_eq=True)
    if eq is None:  # pragma: no cover - want_eq=True always returns eq
        raise InvalidInput("internal: equality not computed")
    return lt, eq


async def xor(engine: Engine, a: Shared, b: Shared) -> Shared:
    """``a XOR b`` of shared bits: ``a + b - 2ab`` (one multiplication)."""
    ab = await engine.mul(a, b)
    return engine.sub(engine.add(a, b), engine.mul_public(ab, 2))


def bits_to_value(engine: Engine, bits: Shared, k: int) -> Shared:
    """``sum_i 2**i b_i`` from ``k`` shared bit blocks (linear, no communication)."""
    if k < 1 or bits.size % k:
        raise InvalidInput("bit vector length must be a multiple of k")
    n = bits.size // k
    acc = engine.take(bits, slice((k - 1) * n, k * n))
    for i in range(k - 2, -1, -1):
        acc = engine.add(engine.add(acc, acc), engine.take(bits, slice(i * n, (i + 1) * n)))
    return acc


async def _prefix(engine: Engine, bits: Shared, k: int, *, use_or: bool) -> Shared:
    """Sklansky prefix tree: ``out_i = x_0 op ... op x_i`` over blocks, ceil(log2 k) rounds."""
    if k < 1 or bits.size % k:
        raise InvalidInput("bit vector length must be a multiple of k")
    n = bits.size // k
    blocks = [engine.take(bits, slice(i * n, (i + 1) * n)) for i in range(k)]
    span = 1
    while span < k:
        left: list[Shared] = []
        right: list[Shared] = []
        targets: list[int] = []
        for start in range(0, k, 2 * span):
            pivot = start + span - 1
            for j in range(start + span, min(start + 2 * span, k)):
                left.append(blocks[pivot])
                right.append(blocks[j])
                targets.append(j)
        if targets:
            x = engine.concat(left)
            y = engine.concat(right)
            xy = await engine.mul(x, y)
            combined = engine.sub(engine.add(x, y), xy) if use_or else xy
            for pos, j in enumerate(targets):
                blocks[j] = engine.take(combined, slice(pos * n, (pos + 1) * n))
        span *= 2
    return engine.concat(blocks)


async def prefix_or(engine: Engine, bits: Shared, k: int) -> Shared:
    """Prefix OR over ``k`` bit blocks (``out_i = b_0 or ... or b_i``) in ceil(log2 k) rounds.

    Reverse the block order first for an OR from the most significant bit.
    """
    return await _prefix(engine, bits, k, use_or=True)


async def prefix_and(engine: Engine, bits: Shared, k: int) -> Shared:
    """Prefix AND over ``k`` bit blocks (``out_i = b_0 and ... and b_i``) in ceil(log2 k) rounds."""
    return await _prefix(engine, bits, k, use_or=False)


def subset_sums(
    engine: Engine, values: Shared, patterns: npt.NDArray[np.uint8], *, bits: int = 4
) -> Shared:
    """``bits * blocks`` subset sums of ``values``, selected by the bits of public ``patterns``.

    ``patterns`` has shape ``(blocks, n)`` for ``n = values.size`` and entries below
    ``2**bits``; sum ``bits * b + l`` adds up the ``values[j]`` for which bit ``l`` of
    ``patterns[b, j]`` is set. Linear (no communication).

    With uniformly random patterns (drawn after ``values`` were fixed) this is a zero test: if
    some ``values[j] != 0``, each sum is 0 with probability at most 1/2, independently (the sums
    with and without ``values[j]`` differ), so all sums vanish with probability at most
    ``2**-(bits * blocks)``, in any ring, Z_2^64 included. Cost per block: one gather of
    ``values`` sorted by pattern and ``2**bits`` bucket totals (a few passes over ``values``
    and ``2**bits`` engine calls; ``bits = 4`` balances the two).
    """
    pats = np.asarray(patterns)
    if not 1 <= bits <= 8:
        raise InvalidInput("bits must be in [1, 8]")
    if pats.ndim != 2 or pats.dtype != np.uint8 or pats.shape[1] != values.size:
        raise InvalidInput(f"patterns must be uint8 of shape (blocks, {values.size})")
    if pats.size and int(pats.max()) >= 1 << bits:
        raise InvalidInput(f"patterns must be below 2**{bits}")
    zero = engine.public(np.zeros(1, dtype=np.int64))
    keys = np.arange(1 << bits)
    masks = [np.flatnonzero((keys >> bit) & 1) for bit in range(bits)]
    out: list[Shared] = []
    for row in pats:
        order = np.argsort(row, kind="stable")
        ends = np.cumsum(np.bincount(row, minlength=1 << bits))
        ordered = engine.take(values, order)
        buckets: list[Shared] = []
        start = 0
        for end in ends.tolist():
            buckets.append(
                engine.sum(engine.take(ordered, slice(start, end))) if end > start else zero
            )
            start = end
        totals = engine.concat(buckets)
        out.extend(engine.sum(engine.take(totals, mask)) for mask in masks)
    return engine.concat(out)
