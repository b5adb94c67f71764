"""Secret sharing of whole vectors: additive over Z_2^64 and F_p, and Shamir t-of-n over F_p.

* Additive: ``n`` shares summing to the secret; any ``n - 1`` of them are uniformly random, so a
  coalition missing one share learns nothing.
* Shamir: share ``i`` (party ``i`` at evaluation point ``i``, ``1 <= i <= n``) is ``f(i)`` for a
  polynomial ``f`` of degree ``t`` with ``f(0)`` the secret and uniform other coefficients. Any
  ``t`` shares are jointly uniform (the secret is perfectly hidden); any ``t + 1`` reconstruct it.

These are raw primitives (they take the ``modulus`` as a parameter so tests can enumerate a small
field); engines use them with p = 2**61 - 1. Every function works on a whole vector at once:
shares are arrays of shape ``(n, size)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from petsuite.core.errors import InvalidInput
from petsuite.core.rng import RandomSource
from petsuite.mpc.field import P, U64Array, f_add, f_mul, f_random, f_sub, f_sum, r_random

__all__ = [
    "additive_reconstruct_field",
    "additive_reconstruct_ring",
    "additive_share_field",
    "additive_share_ring",
    "lagrange_at_zero",
    "lagrange_coefficients",
    "shamir_reconstruct",
    "shamir_share",
]


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidInput("number of shares must be a positive integer")


def _mod_ops(modulus: int) -> None:
    if not 2 <= modulus <= P:
        raise InvalidInput("modulus must be a prime in [2, 2**61 - 1]")


def _as_elements(secret: U64Array, modulus: int) -> U64Array:
    arr = np.asarray(secret, dtype=np.uint64)
    if arr.ndim != 1:
        raise InvalidInput("secrets must be a 1-D vector of field elements")
    if arr.size and int(arr.max()) >= modulus:
        raise InvalidInput("secret is not a reduced field element")
    return arr


def _add(a: U64Array, b: U64Array, modulus: int) -> U64Array:
    if modulus == P:
        return f_add(a, b)
    return ((a + b) % np.uint64(modulus)).astype(np.uint64)


def _sub(a: U64Array, b: U64Array, modulus: int) -> U64Array:
    if modulus == P:
        return f_sub(a, b)
    m = np.uint64(modulus)
    return ((a + (m - b)) % m).astype(np.uint64)


def _mul(a: U64Array, b: U64Array | np.uint64, modulus: int) -> U64Array:
    if modulus == P:
        return f_mul(a, b)
    if modulus >= 1 << 32:
        raise InvalidInput("small-field arithmetic supports moduli below 2**32 or p = 2**61 - 1")
    return ((np.asarray(a, dtype=np.uint64) * b) % np.uint64(modulus)).astype(np.uint64)


# ---------------------------------------------------------------------------------- additive


def additive_share_ring(secret: U64Array, n: int, rng: RandomSource | None = None) -> U64Array:
    """``n`` additive shares over Z_2^64 of each element of ``secret``: shape ``(n, size)``."""
    _check_n(n)
    arr = np.asarray(secret, dtype=np.uint64)
    if arr.ndim != 1:
        raise InvalidInput("secrets must be a 1-D vector")
    shares = np.empty((n, arr.size), dtype=np.uint64)
    if n > 1:
        shares[1:] = r_random((n - 1) * arr.size, rng).reshape(n - 1, arr.size)
    shares[0] = arr - shares[1:].sum(axis=0, dtype=np.uint64)
    return shares


def additive_reconstruct_ring(shares: U64Array) -> U64Array:
    """The sum over Z_2^64 of shares of shape ``(n, size)``."""
    arr = np.asarray(shares, dtype=np.uint64)
    if arr.ndim != 2:
        raise InvalidInput("shares must have shape (n, size)")
    total: U64Array = arr.sum(axis=0, dtype=np.uint64)
    return total


def additive_share_field(
    secret: U64Array, n: int, rng: RandomSource | None = None, *, modulus: int = P
) -> U64Array:
    """``n`` additive shares over F_modulus of each element of ``secret``: shape ``(n, size)``."""
    _check_n(n)
    _mod_ops(modulus)
    arr = _as_elements(secret, modulus)
    shares = np.empty((n, arr.size), dtype=np.uint64)
    acc = np.zeros(arr.size, dtype=np.uint64)
    for i in range(1, n):
        shares[i] = f_random(arr.size, rng, modulus=modulus)
        acc = _add(acc, shares[i], modulus)
    shares[0] = _sub(arr, acc, modulus)
    return shares


def additive_reconstruct_field(shares: U64Array, *, modulus: int = P) -> U64Array:
    """The sum over F_modulus of shares of shape ``(n, size)``."""
    _mod_ops(modulus)
    arr = np.asarray(shares, dtype=np.uint64)
    if arr.ndim != 2:
        raise InvalidInput("shares must have shape (n, size)")
    if modulus == P:
        return f_sum(arr, axis=0)
    acc = np.zeros(arr.shape[1], dtype=np.uint64)
    for row in arr:
        acc = _add(acc, row, modulus)
    return acc


# ---------------------------------------------------------------------------------- Shamir


def shamir_share(
    secret: U64Array,
    n: int,
    t: int,
    rng: RandomSource | None = None,
    *,
    modulus: int = P,
    points: Sequence[int] | None = None,
) -> U64Array:
    """Shamir shares of each element of ``secret`` for a degree-``t`` polynomial: ``(n, size)``.

    Row ``i`` is the evaluation at ``points[i]`` (default ``i + 1``). Needs ``0 <= t < n`` and
    distinct non-zero points below ``modulus``.
    """
    _check_n(n)
    _mod_ops(modulus)
    if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < n:
        raise InvalidInput("threshold t must satisfy 0 <= t < n")
    xs = list(range(1, n + 1)) if points is None else [int(x) for x in points]
    if len(xs) != n or len(set(xs)) != n or any(not 0 < x < modulus for x in xs):
        raise InvalidInput("evaluation points must be n distinct non-zero field elements")
    arr = _as_elements(secret, modulus)
    coeffs = f_random(t * arr.size, rng, modulus=modulus).reshape(t, arr.size)
    shares = np.empty((n, arr.size), dtype=np.uint64)
    for i, x in enumerate(xs):
        # Horner: ((c_t x + c_{t-1}) x + ... + c_1) x + secret
        if t == 0:
            shares[i] = arr
            continue
        acc = coeffs[t - 1]
        for k in range(t - 2, -1, -1):
            acc = _add(_mul(acc, np.uint64(x), modulus), coeffs[k], modulus)
        shares[i] = _add(_mul(acc, np.uint64(x), modulus), arr, modulus)
    return shares


def lagrange_coefficients(points: Sequence[int], at: int = 0, *, modulus: int = P) -> list[int]:
    """Coefficients ``l_i`` with ``f(at) = sum_i l_i f(points[i])`` for deg f < len(points)."""
    _mod_ops(modulus)
    xs = [int(x) % modulus for x in points]
    if not xs or len(set(xs)) != len(xs):
        raise InvalidInput("interpolation points must be distinct and non-empty")
    out = []
    for i, xi in enumerate(xs):
        num, den = 1, 1
        for j, xj in enumerate(xs):
            if j != i:
                num = num * (at - xj) % modulus
                den = den * (xi - xj) % modulus
        out.append(num * pow(den, modulus - 2, modulus) % modulus)
    return out


def lagrange_at_zero(points: Sequence[int], *, modulus: int = P) -> list[int]:
    """Coefficients ``l_i`` with ``f(0) = sum_i l_i f(points[i])``."""
    return lagrange_coefficients(points, 0, modulus=modulus)


def shamir_reconstruct(shares: U64Array, points: Sequence[int], *, modulus: int = P) -> U64Array:
    """The secrets from shares of shape ``(k, size)`` at ``points`` (``k >= t + 1``)."""
    arr = np.asarray(shares, dtype=np.uint64)
    if arr.ndim != 2 or arr.shape[0] != len(points):
        raise InvalidInput("shares must have shape (len(points), size)")
    coeffs = lagrange_at_zero(points, modulus=modulus)
    acc = np.zeros(arr.shape[1], dtype=np.uint64)
    for row, lam in zip(arr, coeffs, strict=True):
        acc = _add(acc, _mul(row, np.uint64(lam), modulus), modulus)
    return acc
