"""Vectorised arithmetic on numpy ``uint64`` arrays: the prime field F_p, p = 2**61 - 1, and Z_2^64.

F_p elements are held reduced in ``[0, p)``. Multiplication splits operands into 32-bit limbs so
that every partial product fits in 64 bits, then reduces with the Mersenne identity
``2**61 ≡ 1 (mod p)``. Signed integers map to F_p as ``x mod p`` and back as ``x`` if
``x <= (p - 1) / 2`` else ``x - p``. Z_2^64 is native ``uint64`` wraparound; signed values map
to it by two's complement. These are raw primitives: no secrets are checked or hidden here.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from petsuite.core.errors import InvalidInput
from petsuite.core.rng import RandomSource, resolve

__all__ = [
    "HALF",
    "P",
    "U64Array",
    "f_add",
    "f_decode",
    "f_encode",
    "f_inv",
    "f_mul",
    "f_neg",
    "f_pow",
    "f_random",
    "f_sub",
    "f_sum",
    "r_decode",
    "r_encode",
    "r_random",
]

U64Array = npt.NDArray[np.uint64]

#: The Mersenne prime 2**61 - 1.
P = (1 << 61) - 1
#: (p - 1) / 2: the largest non-negative signed value.
HALF = (P - 1) // 2

_P = np.uint64(P)
_S61 = np.uint64(61)
_S32 = np.uint64(32)
_S29 = np.uint64(29)
_S3 = np.uint64(3)
_M32 = np.uint64(0xFFFFFFFF)
_M29 = np.uint64((1 << 29) - 1)
_CHUNK = 1 << 14


def _reduce_once(x: U64Array) -> U64Array:
    """``x mod p`` for ``x < 2**62`` (one Mersenne fold and a conditional subtraction)."""
    arr = np.atleast_1d(np.asarray(x, dtype=np.uint64))
    y = (arr & _P) + (arr >> _S61)
    # array (not scalar) arithmetic: the wrap of y - p below p is intended and silent
    return np.minimum(y, y - _P).reshape(np.shape(x))


def _pair(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[U64Array, U64Array, tuple[int, ...]]:
    x, y = np.broadcast_arrays(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64))
    shape = x.shape
    return np.ascontiguousarray(x).reshape(-1), np.ascontiguousarray(y).reshape(-1), shape


def _cond_sub_p(o: U64Array, mask: U64Array) -> None:
    """In place: ``o -= p`` where ``o >= p`` (for ``o < 2**63``), branch-free.

    ``o - p`` wraps to a huge value exactly when ``o < p``, so the minimum picks the right one.
    """
    np.subtract(o, _P, out=mask)
    np.minimum(o, mask, out=o)


def f_add(a: npt.ArrayLike, b: npt.ArrayLike) -> U64Array:
    """``a + b mod p`` element-wise for reduced operands (broadcasting like numpy)."""
    x_flat, y_flat, shape = _pair(a, b)
    n = x_flat.size
    out = np.empty(n, dtype=np.uint64)
    mask = np.empty(min(_CHUNK, max(n, 1)), dtype=np.uint64)
    for i in range(0, n, _CHUNK):
        o = out[i : i + _CHUNK]
        np.add(x_flat[i : i + _CHUNK], y_flat[i : i + _CHUNK], out=o)
        _cond_sub_p(o, mask[: o.size])
    return out.reshape(shape)


def f_sub(a: npt.ArrayLike, b: npt.ArrayLike) -> U64Array:
    """``a - b mod p`` element-wise for reduced operands (broadcasting like numpy)."""
    x_flat, y_flat, shape = _pair(a, b)
    n = x_flat.size
    out = np.empty(n, dtype=np.uint64)
    mask = np.empty(min(_CHUNK, max(n, 1)), dtype=np.uint64)
    for i in range(0, n, _CHUNK):
        o = out[i : i + _CHUNK]
        np.subtract(_P, y_flat[i : i + _CHUNK], out=o)
        o += x_flat[i : i + _CHUNK]
        _cond_sub_p(o, mask[: o.size])
    return out.reshape(shape)


def f_neg(a: npt.ArrayLike) -> U64Array:
    """``-a mod p`` element-wise for reduced operands."""
    return f_sub(np.zeros(1, dtype=np.uint64), a)


def f_mul(a: npt.ArrayLike, b: npt.ArrayLike) -> U64Array:
    """``a * b mod p`` element-wise for reduced operands (broadcasting like numpy).

    32-bit limbs keep every partial product below 2**64; ``2**64 ≡ 8`` and ``2**61 ≡ 1`` fold the
    result back. Works on cache-sized chunks with preallocated buffers (about 20x faster than
    whole-array temporaries on large vectors).
    """
    a_arr = np.asarray(a, dtype=np.uint64)
    b_arr = np.asarray(b, dtype=np.uint64)
    if b_arr.size == 1 and a_arr.size != 1:
        return _mul_scalar(a_arr, int(b_arr.reshape(-1)[0]))
    if a_arr.size == 1 and b_arr.size != 1:
        return _mul_scalar(b_arr, int(a_arr.reshape(-1)[0]))
    x_flat, y_flat, shape = _pair(a_arr, b_arr)
    n = x_flat.size
    out = np.empty(n, dtype=np.uint64)
    c = min(_CHUNK, max(n, 1))
    t_al, t_ah, t_bl, t_bh, t_s = (np.empty(c, dtype=np.uint64) for _ in range(5))
    mask = np.empty(c, dtype=np.uint64)
    for i in range(0, n, c):
        x = x_flat[i : i + c]
        y = y_flat[i : i + c]
        m = x.size
        al, ah, bl, bh, s = t_al[:m], t_ah[:m], t_bl[:m], t_bh[:m], t_s[:m]
        o = out[i : i + m]
        np.bitwise_and(x, _M32, out=al)
        np.right_shift(x, _S32, out=ah)
        np.bitwise_and(y, _M32, out=bl)
        np.right_shift(y, _S32, out=bh)
        np.multiply(al, bh, out=s)
        np.multiply(ah, bl, out=o)
        s += o  # mid = a_lo*b_hi + a_hi*b_lo < 2**62
        np.multiply(ah, bh, out=ah)  # hh < 2**58, weight 2**64 ≡ 8
        np.multiply(al, bl, out=al)  # ll < 2**64
        _fold(al, ah, s, tmp=bh, o=o, mask=mask[:m])
    return out.reshape(shape)


def _fold(
    ll: U64Array,
    hh: U64Array,
    mid: U64Array,
    *,
    tmp: U64Array,
    o: U64Array,
    mask: U64Array,
) -> None:
    """``o = hh * 2**64 + mid * 2**32 + ll mod p`` (clobbers the inputs)."""
    np.left_shift(hh, _S3, out=hh)
    # mid * 2**32 = (mid >> 29) * 2**61 + (mid & (2**29 - 1)) * 2**32
    np.right_shift(mid, _S29, out=tmp)
    hh += tmp
    np.bitwise_and(mid, _M29, out=mid)
    np.left_shift(mid, _S32, out=mid)
    hh += mid
    np.right_shift(ll, _S61, out=tmp)
    hh += tmp
    np.bitwise_and(ll, _P, out=ll)
    hh += ll  # < 2**63
    np.right_shift(hh, _S61, out=tmp)
    np.bitwise_and(hh, _P, out=o)
    o += tmp  # <= p + 3
    _cond_sub_p(o, mask)


def _mul_scalar(a: U64Array, k: int) -> U64Array:
    """``a * k mod p`` for a reduced public scalar ``k``."""
    if not 0 <= k < P:
        raise InvalidInput("scalar is not a reduced field element")
    shape = a.shape
    x_flat = np.ascontiguousarray(a).reshape(-1)
    n = x_flat.size
    out = np.empty(n, dtype=np.uint64)
    k_lo = np.uint64(k & 0xFFFFFFFF)
    k_hi = np.uint64(k >> 32)
    c = min(_CHUNK, max(n, 1))
    t_al, t_ah, t_s, t_tmp = (np.empty(c, dtype=np.uint64) for _ in range(4))
    mask = np.empty(c, dtype=np.uint64)
    for i in range(0, n, c):
        x = x_flat[i : i + c]
        m = x.size
        al, ah, s, tmp = t_al[:m], t_ah[:m], t_s[:m], t_tmp[:m]
        o = out[i : i + m]
        np.bitwise_and(x, _M32, out=al)
        np.right_shift(x, _S32, out=ah)
        np.multiply(al, k_hi, out=s)
        np.multiply(ah, k_lo, out=tmp)
        s += tmp
        np.multiply(ah, k_hi, out=ah)
        np.multiply(al, k_lo, out=al)
        _fold(al, ah, s, tmp=tmp, o=o, mask=mask[:m])
    return out.reshape(shape)


#: Rows summed at once by :func:`f_sum`: 2**30 low halves (< 2**32 each) stay below 2**62.
_SUM_ROWS = 1 << 30
_LOW32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


def f_sum(a: U64Array, axis: int | None = None) -> U64Array:
    """Sum of reduced elements mod p along ``axis``.

    Each element is split into 32-bit halves that numpy sums natively without overflow (at most
    ``2**30`` rows at a time); the two half-sums are then recombined mod p.
    """
    arr = np.asarray(a, dtype=np.uint64)
    if axis is None:
        arr = arr.reshape(-1)
        axis = 0
    arr = np.moveaxis(arr, axis, 0)
    total = np.zeros(arr.shape[1:], dtype=np.uint64)
    for start in range(0, arr.shape[0], _SUM_ROWS):
        part = arr[start : start + _SUM_ROWS]
        low = _reduce_once((part & _LOW32).sum(axis=0, dtype=np.uint64))
        high = (part >> _S32).sum(axis=0, dtype=np.uint64)  # < 2**59 < p
        chunk = f_add(f_mul(high, np.uint64(1 << 32)), low)
        total = f_add(total, chunk).reshape(total.shape)
    return total


def f_pow(a: U64Array, e: int) -> U64Array:
    """``a ** e mod p`` element-wise for a public exponent ``e >= 0``."""
    if e < 0:
        raise InvalidInput("exponent must be non-negative")
    base = np.asarray(a, dtype=np.uint64).copy()
    result = np.ones_like(base)
    while e:
        if e & 1:
            result = f_mul(result, base)
        e >>= 1
        if e:
            base = f_mul(base, base)
    return result


def f_inv(x: int) -> int:
    """The inverse of a public non-zero scalar mod p."""
    x %= P
    if x == 0:
        raise InvalidInput("zero has no inverse mod p")
    return pow(x, P - 2, P)


def f_random(n: int, rng: RandomSource | None = None, *, modulus: int = P) -> U64Array:
    """``n`` uniform elements of ``[0, modulus)`` by rejection from random bytes (no bias)."""
    if n < 0:
        raise InvalidInput("count must be non-negative")
    if not 2 <= modulus <= P:
        raise InvalidInput("modulus must be in [2, 2**61 - 1]")
    src = resolve(rng)
    bits = (modulus - 1).bit_length()
    mask = np.uint64((1 << bits) - 1)
    bound = np.uint64(modulus)
    out = np.frombuffer(src.random_bytes(8 * n), dtype=np.uint64) & mask
    bad = np.flatnonzero(out >= bound)
    while bad.size:  # rare for p = 2**61 - 1 (probability 2**-61 per element)
        words = np.frombuffer(src.random_bytes(8 * bad.size), dtype=np.uint64) & mask
        out[bad] = words
        bad = bad[words >= bound]
    return out


def f_encode(values: npt.ArrayLike, *, modulus: int = P) -> U64Array:
    """Signed integers ``|x| <= (modulus - 1) / 2`` as field elements ``x mod modulus``."""
    arr = np.asarray(values, dtype=np.int64)
    half = (modulus - 1) // 2
    if arr.size and (int(arr.max()) > half or int(arr.min()) < -half):
        raise InvalidInput(f"values must lie in [-{half}, {half}] to be encoded mod {modulus}")
    m = np.int64(modulus)
    return np.where(arr < 0, arr + m, arr).astype(np.uint64)


def f_decode(x: U64Array, *, modulus: int = P) -> npt.NDArray[np.int64]:
    """Field elements as signed integers: ``x`` if ``x <= (modulus - 1) / 2`` else ``x - modulus``."""
    arr = np.asarray(x, dtype=np.uint64)
    half = np.uint64((modulus - 1) // 2)
    signed = arr.astype(np.int64)
    return np.where(arr > half, signed - np.int64(modulus), signed)


def r_encode(values: npt.ArrayLike) -> U64Array:
    """Signed 64-bit integers as elements of Z_2^64 (two's complement)."""
    return np.asarray(values, dtype=np.int64).view(np.uint64)


def r_decode(x: U64Array) -> npt.NDArray[np.int64]:
    """Elements of Z_2^64 as signed 64-bit integers (two's complement)."""
    return np.asarray(x, dtype=np.uint64).view(np.int64)


def r_random(n: int, rng: RandomSource | None = None) -> U64Array:
    """``n`` uniform elements of Z_2^64."""
    if n < 0:
        raise InvalidInput("count must be non-negative")
    return np.frombuffer(resolve(rng).random_bytes(8 * n), dtype=np.uint64).copy()
