"""Bitwise circuits over shared bits, generic over any :class:`~petsuite.mpc.engine.Engine`.

Shared bits are laid out bit-major in one :class:`Shared`: for ``k`` bits of ``n`` numbers, block
``i`` (elements ``i*n .. (i+1)*n - 1``) holds bit ``i`` (least significant first) of every number.
Public bit matrices have shape ``(k, n)`` with the same order. The circuits use only ``mul``,
``add``, ``sub``, ``add_public``, ``mul_public``, ``take`` and ``concat``, so they work for the
Shamir engine over F_p and the SPDZ2k engine over Z_2^64 alike, and reveal nothing (they open no
value). Every level is one ``mul`` call over a whole vector: the depth is ``ceil(log2 k)`` rounds.
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
