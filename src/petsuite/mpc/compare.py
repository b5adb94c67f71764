"""Comparisons on shared values, generic over any :class:`~petsuite.mpc.engine.Engine`.

Everything reduces to the engine's ``ltz`` (less than zero) and ``mul``; results are shared 0/1
values and nothing is opened. ``bits`` bounds the magnitude of the differences involved:
``|a - b| < 2**(bits - 1)`` (at most the engine's ``compare_bits``).
"""

from __future__ import annotations

from petsuite.core.errors import InvalidInput
from petsuite.mpc.engine import Engine, Shared

__all__ = ["eq", "lt", "maximum", "minimum", "select"]


def _check_bits(engine: Engine, bits: int) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= engine.compare_bits:
        raise InvalidInput(f"bits must be in [1, {engine.compare_bits}] for this engine")


async def lt(engine: Engine, a: Shared, b: Shared, bits: int) -> Shared:
    """``[a < b]`` element-wise, for ``|a - b| < 2**(bits - 1)``."""
    _check_bits(engine, bits)
    return await engine.ltz(engine.sub(a, b), bits=bits)


async def eq(engine: Engine, a: Shared, b: Shared, bits: int) -> Shared:
    """``[a = b]`` element-wise as ``1 - [a < b] - [b < a]`` (both comparisons in one batch)."""
    _check_bits(engine, bits)
    n = a.size
    d = engine.sub(a, b)
    both = await engine.ltz(engine.concat([d, engine.neg(d)]), bits=bits)
    less = engine.add(engine.take(both, slice(0, n)), engine.take(both, slice(n, 2 * n)))
    return engine.add_public(engine.neg(less), 1)


async def select(engine: Engine, cond: Shared, if_one: Shared, if_zero: Shared) -> Shared:
    """``cond ? if_one : if_zero`` for a shared bit ``cond`` (one multiplication)."""
    diff = engine.sub(if_one, if_zero)
    return engine.add(if_zero, await engine.mul(cond, diff))


async def _tournament(engine: Engine, a: Shared, bits: int, *, want_min: bool) -> Shared:
    _check_bits(engine, bits)
    if a.size < 1:
        raise InvalidInput("cannot take the minimum or maximum of no values")
    cur = a
    while cur.size > 1:
        half = cur.size // 2
        x = engine.take(cur, slice(0, half))
        y = engine.take(cur, slice(half, 2 * half))
        x_lt_y = await engine.ltz(engine.sub(x, y), bits=bits)
        if want_min:
            best = await select(engine, x_lt_y, x, y)
        else:
            best = await select(engine, x_lt_y, y, x)
        if cur.size % 2:
            best = engine.concat([best, engine.take(cur, slice(2 * half, cur.size))])
        cur = best
    return cur


async def minimum(engine: Engine, a: Shared, bits: int) -> Shared:
    """The smallest element of ``a`` (size-1 sharing) by a tournament: ``ceil(log2 n)`` rounds
    of one vectorised comparison and one multiplication; ``|a_i - a_j| < 2**(bits - 1)``."""
    return await _tournament(engine, a, bits, want_min=True)


async def maximum(engine: Engine, a: Shared, bits: int) -> Shared:
    """The largest element of ``a`` (size-1 sharing); see :func:`minimum`."""
    return await _tournament(engine, a, bits, want_min=False)
