"""Fixed-point encoding of real numbers as signed integers for secure computation.

A real ``x`` with ``frac_bits = f`` is encoded as ``round(x * 2**f)``; the encoding must satisfy
``|round(x * 2**f)| < 2**(value_bits - 1)`` (the engine's value range) or :class:`InvalidInput`
names the range. NaN and infinities are rejected. The encoding error is at most ``2**-(f+1)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from petsuite.core.errors import InvalidInput

__all__ = ["MAX_FRAC_BITS", "decode", "decode_scalar", "encode", "encode_scalar", "max_abs"]

#: Largest supported precision: beyond this a float64 cannot carry the requested resolution.
MAX_FRAC_BITS = 40


def _check_frac_bits(frac_bits: int) -> None:
    if isinstance(frac_bits, bool) or not isinstance(frac_bits, int):
        raise InvalidInput("frac_bits must be an integer")
    if not 0 <= frac_bits <= MAX_FRAC_BITS:
        raise InvalidInput(f"frac_bits must be in [0, {MAX_FRAC_BITS}]")


def _check_value_bits(value_bits: int) -> None:
    if isinstance(value_bits, bool) or not isinstance(value_bits, int) or not 2 <= value_bits <= 64:
        raise InvalidInput("value_bits must be an integer in [2, 64]")


def max_abs(value_bits: int) -> int:
    """The largest magnitude an encoding may have: ``2**(value_bits - 1) - 1``."""
    _check_value_bits(value_bits)
    return (1 << (value_bits - 1)) - 1


def encode(
    values: Sequence[float] | npt.ArrayLike, frac_bits: int, *, value_bits: int = 61
) -> npt.NDArray[np.int64]:
    """Encode reals as ``round(x * 2**frac_bits)`` in ``int64``, checking range and finiteness."""
    _check_frac_bits(frac_bits)
    limit = max_abs(value_bits)
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("values must be numbers") from exc
    if arr.ndim > 1:
        raise InvalidInput("values must be a 1-D sequence")
    arr = arr.reshape(-1)
    if not np.isfinite(arr).all():
        raise InvalidInput("values must be finite (no NaN or infinity)")
    scaled = np.rint(np.ldexp(arr, frac_bits))
    # 2**63 is exactly representable; compare before converting so nothing wraps.
    bound = float(limit)
    if arr.size and (float(np.abs(scaled).max()) > bound):
        raise InvalidInput(
            f"a value's fixed-point encoding (frac_bits={frac_bits}) exceeds the value range "
            f"|x * 2**{frac_bits}| <= 2**{value_bits - 1} - 1, i.e. "
            f"|x| <= {math.ldexp(limit, -frac_bits):.6g}"
        )
    out = scaled.astype(np.int64)
    # float rounding at the very edge of the range: re-check in integers.
    if out.size and int(np.abs(out).max()) > limit:
        raise InvalidInput(f"a value's fixed-point encoding exceeds 2**{value_bits - 1} - 1")
    return out


def encode_scalar(value: float, frac_bits: int, *, value_bits: int = 61) -> int:
    """Encode one real (same rules as :func:`encode`)."""
    return int(encode([value], frac_bits, value_bits=value_bits)[0])


def decode(values: npt.ArrayLike, frac_bits: int) -> npt.NDArray[np.float64]:
    """Decode fixed-point integers to floats: ``x / 2**frac_bits``."""
    _check_frac_bits(frac_bits)
    return np.ldexp(np.asarray(values, dtype=np.int64).astype(np.float64), -frac_bits)


def decode_scalar(value: int, frac_bits: int) -> float:
    """Decode one fixed-point integer exactly rounded: ``value / 2**frac_bits``."""
    _check_frac_bits(frac_bits)
    return (
        math.ldexp(float(value), -frac_bits) if abs(value) < (1 << 53) else value / (1 << frac_bits)
    )
