"""Vectorised arithmetic modulo 2**128 on pairs of numpy ``uint64`` arrays.

An element vector is a :data:`U128` pair ``(hi, lo)`` of equal-length ``uint64`` arrays standing for
``hi * 2**64 + lo``. No operation mutates its arguments; results may be read-only views
(:func:`random`, :func:`from_bytes`), so copy before changing one in place. Products
of two 64-bit words are formed from 32-bit limbs (numpy has no 128-bit integer); numpy's ``uint64``
array arithmetic wraps modulo ``2**64``, which the carries below rely on. All work is done on arrays
(never numpy scalars, whose overflow warns).

This module is plain arithmetic: it holds no secrets, does no I/O and is not constant time (nothing
here branches on data, but numpy gives no timing guarantee). It is the ring of shares and MACs of
:mod:`petsuite.mpc.spdz2k` (k = 64 value bits, s = 64 security bits).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from petsuite.core.errors import InvalidInput
from petsuite.core.rng import RandomSource, resolve

__all__ = [
    "MOD",
    "U128",
    "add",
    "concat",
    "equal",
    "from_bytes",
    "from_int64",
    "from_ints",
    "from_u64",
    "mul",
    "mul_int",
    "mul_int64",
    "mul_u64",
    "mul_wide_u64",
    "neg",
    "random",
    "shl",
    "shr",
    "sub",
    "sum",
    "take",
    "to_bytes",
    "to_int64",
    "to_ints",
    "to_u64",
    "zeros",
]

#: The modulus.
MOD = 1 << 128

U64 = npt.NDArray[np.uint64]
#: A vector of elements of Z_2^128 as ``(hi, lo)`` 64-bit limbs.
U128 = tuple[U64, U64]

_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_MASK64 = (1 << 64) - 1


def _u64(a: npt.ArrayLike) -> U64:
    return np.asarray(a, dtype=np.uint64)


def zeros(n: int) -> U128:
    """``n`` zeros."""
    return np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint64)


def from_u64(lo: U64) -> U128:
    """Zero-extend 64-bit words."""
    lo = _u64(lo).copy()
    return np.zeros(lo.shape, dtype=np.uint64), lo


def from_int64(values: npt.NDArray[np.int64]) -> U128:
    """Signed 64-bit values, sign-extended to 128 bits (``x mod 2**128``)."""
    v = np.asarray(values, dtype=np.int64)
    lo = v.view(np.uint64).copy()
    hi = np.where(v < 0, np.uint64(_MASK64), np.uint64(0)).astype(np.uint64)
    return hi, lo


def to_u64(a: U128) -> U64:
    """The low 64 bits."""
    return a[1].copy()


def to_int64(a: U128) -> npt.NDArray[np.int64]:
    """The low 64 bits read as signed values (k = 64: the value in Z_2^64, signed)."""
    return a[1].view(np.int64).copy()


def from_ints(values: Iterable[int]) -> U128:
    """Python integers reduced mod 2**128 (any sign)."""
    vals = [int(v) % MOD for v in values]
    hi = np.array([v >> 64 for v in vals], dtype=np.uint64)
    lo = np.array([v & _MASK64 for v in vals], dtype=np.uint64)
    return hi, lo


def to_ints(a: U128) -> list[int]:
    """Elements as Python integers in ``[0, 2**128)``."""
    return [(int(h) << 64) | int(lo) for h, lo in zip(a[0].tolist(), a[1].tolist(), strict=True)]


def random(n: int, rng: RandomSource | None = None) -> U128:
    """``n`` uniform elements from ``rng`` (the OS CSPRNG by default)."""
    if n < 0:
        raise InvalidInput("cannot draw a negative number of elements")
    words = np.frombuffer(resolve(rng).random_bytes(16 * n), dtype="<u8")
    words = words.astype(np.uint64, copy=False)  # read-only views of one buffer
    return words[:n], words[n:]


def add(a: U128, b: U128) -> U128:
    """``a + b``."""
    lo = a[1] + b[1]
    carry = (lo < a[1]).astype(np.uint64)
    return a[0] + b[0] + carry, lo


def sub(a: U128, b: U128) -> U128:
    """``a - b``."""
    lo = a[1] - b[1]
    borrow = (a[1] < b[1]).astype(np.uint64)
    return a[0] - b[0] - borrow, lo


def neg(a: U128) -> U128:
    """``-a``."""
    return sub(_zeros_like(a), a)


def _zeros_like(a: U128) -> U128:
    return np.zeros_like(a[0]), np.zeros_like(a[1])


def mul_wide_u64(a: U64, b: U64) -> U128:
    """The full 128-bit products of 64-bit words (no reduction needed)."""
    a0 = a & _M32
    a1 = a >> _S32
    b0 = b & _M32
    b1 = b >> _S32
    p00 = a0 * b0
    p01 = a0 * b1
    p10 = a1 * b0
    p11 = a1 * b1
    mid = (p00 >> _S32) + (p01 & _M32) + (p10 & _M32)  # < 3 * 2**32
    lo = (p00 & _M32) | (mid << _S32)
    hi = p11 + (p01 >> _S32) + (p10 >> _S32) + (mid >> _S32)
    return hi, lo


def mul(a: U128, b: U128) -> U128:
    """``a * b`` (element-wise, or with one side of length 1 broadcast)."""
    hi, lo = mul_wide_u64(a[1], b[1])
    hi = hi + a[0] * b[1] + a[1] * b[0]  # cross terms mod 2**64
    return hi, lo


def mul_u64(a: U128, c: U64) -> U128:
    """``a * c`` for unsigned 64-bit words ``c`` (zero-extended)."""
    c = _u64(c)
    hi, lo = mul_wide_u64(a[1], c)
    return hi + a[0] * c, lo


def mul_int64(a: U128, c: npt.NDArray[np.int64]) -> U128:
    """``a * c`` for signed 64-bit ``c`` (sign-extended to 128 bits)."""
    return mul(a, from_int64(np.asarray(c, dtype=np.int64)))


def mul_int(a: U128, c: int) -> U128:
    """``a * c`` for one Python integer ``c`` (reduced mod 2**128)."""
    c %= MOD
    ch = np.array([c >> 64], dtype=np.uint64)
    cl = np.array([c & _MASK64], dtype=np.uint64)
    return mul(a, (ch, cl))


def shl(a: U128, k: int) -> U128:
    """``a * 2**k`` (left shift, bits above 2**128 dropped)."""
    if k < 0:
        raise InvalidInput("shift must be non-negative")
    if k == 0:
        return a[0].copy(), a[1].copy()
    if k >= 128:
        return _zeros_like(a)
    if k >= 64:
        return a[1] << np.uint64(k - 64), np.zeros_like(a[1])
    s = np.uint64(k)
    return (a[0] << s) | (a[1] >> np.uint64(64 - k)), a[1] << s


def shr(a: U128, k: int) -> U128:
    """Logical right shift ``floor(a / 2**k)`` of the unsigned representative."""
    if k < 0:
        raise InvalidInput("shift must be non-negative")
    if k == 0:
        return a[0].copy(), a[1].copy()
    if k >= 128:
        return _zeros_like(a)
    if k >= 64:
        return np.zeros_like(a[0]), a[0] >> np.uint64(k - 64)
    s = np.uint64(k)
    return a[0] >> s, (a[1] >> s) | (a[0] << np.uint64(64 - k))


def sum(a: U128) -> U128:
    """The total of all elements as a length-1 vector."""
    total = 0
    step = 1 << 30  # 32-bit halves of up to 2**30 words sum exactly in uint64
    for start in range(0, a[1].shape[0], step):
        lo = a[1][start : start + step]
        s0 = int(np.sum(lo & _M32, dtype=np.uint64))
        s1 = int(np.sum(lo >> _S32, dtype=np.uint64))
        sh = int(np.sum(a[0][start : start + step], dtype=np.uint64))
        total += s0 + (s1 << 32) + (sh << 64)
    return from_ints([total % MOD])


def take(a: U128, index: npt.NDArray[np.intp] | slice) -> U128:
    """The elements selected by ``index`` (copied)."""
    return np.array(a[0][index], dtype=np.uint64), np.array(a[1][index], dtype=np.uint64)


def concat(parts: Sequence[U128]) -> U128:
    """The concatenation of ``parts``."""
    if not parts:
        return zeros(0)
    return (
        np.concatenate([p[0] for p in parts]).astype(np.uint64, copy=False),
        np.concatenate([p[1] for p in parts]).astype(np.uint64, copy=False),
    )


def equal(a: U128, b: U128) -> bool:
    """Whether every element of ``a`` equals the one of ``b``."""
    return bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))


def to_bytes(a: U128) -> bytes:
    """Little-endian encoding, 16 bytes per element (all ``hi`` words, then all ``lo`` words)."""
    return (
        np.ascontiguousarray(a[0], dtype="<u8").tobytes()
        + np.ascontiguousarray(a[1], dtype="<u8").tobytes()
    )


def from_bytes(data: bytes, n: int) -> U128:
    """Inverse of :func:`to_bytes` for exactly ``n`` elements; a wrong length -> InvalidInput."""
    if len(data) != 16 * n:
        raise InvalidInput(f"expected {16 * n} bytes for {n} ring elements, got {len(data)}")
    words = np.frombuffer(data, dtype="<u8").astype(np.uint64, copy=False)
    return words[:n], words[n:]
