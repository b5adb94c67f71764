"""Canonical byte encodings and fixed-point numbers.

* :func:`i2osp` / :func:`os2ip`: big-endian integer encodings of RFC 8017, used by the RFC 9380 and
  RFC 9497 constructions.
* :func:`encode_parts` / :func:`decode_parts`: an injective, canonical encoding of a list of byte
  strings (each prefixed with its length), for hashing statements and transcripts.
* :func:`canonical_json`: deterministic JSON for hashing structured records (audit entries).
* :class:`FixedPoint`: reals as integers scaled by ``2**frac_bits`` with an explicit range; values out of
  range, NaN and infinities raise :class:`~petsuite.core.errors.InvalidInput`, never wrap.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from petsuite.core.errors import InvalidInput

__all__ = [
    "FixedPoint",
    "canonical_json",
    "decode_parts",
    "encode_parts",
    "i2osp",
    "os2ip",
]


def i2osp(value: int, length: int) -> bytes:
    """Encode a non-negative integer as exactly ``length`` big-endian bytes (RFC 8017 I2OSP)."""
    if value < 0 or value >= 1 << (8 * length):
        raise InvalidInput(f"integer does not fit in {length} bytes")
    return value.to_bytes(length, "big")


def os2ip(data: bytes) -> int:
    """Decode big-endian bytes to a non-negative integer (RFC 8017 OS2IP)."""
    return int.from_bytes(data, "big")


_PART_LEN_BYTES = 8


def encode_parts(parts: Iterable[bytes]) -> bytes:
    """Concatenate byte strings, each prefixed with its 8-byte length. Injective and canonical."""
    out = bytearray()
    for part in parts:
        if not isinstance(part, bytes | bytearray | memoryview):
            raise InvalidInput(f"expected bytes, got {type(part).__name__}")
        out += i2osp(len(part), _PART_LEN_BYTES)
        out += part
    return bytes(out)


def decode_parts(data: bytes) -> list[bytes]:
    """Inverse of :func:`encode_parts`; rejects truncated or trailing data."""
    parts: list[bytes] = []
    i = 0
    while i < len(data):
        if i + _PART_LEN_BYTES > len(data):
            raise InvalidInput("truncated length prefix")
        n = os2ip(data[i : i + _PART_LEN_BYTES])
        i += _PART_LEN_BYTES
        if n > len(data) - i:
            raise InvalidInput("truncated part")
        parts.append(bytes(data[i : i + n]))
        i += n
    return parts


def canonical_json(value: Any) -> bytes:
    """Deterministic UTF-8 JSON: sorted keys, no whitespace, no NaN or infinities."""
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"value is not canonically JSON-encodable: {exc}") from exc


@dataclass(frozen=True, slots=True)
class FixedPoint:
    """Signed fixed-point encoding: ``x`` is stored as ``round(x * 2**frac_bits)``.

    Parameters
    ----------
    frac_bits:
        Bits after the binary point (precision ``2**-frac_bits``).
    int_bits:
        Bits before it; encodable values satisfy ``|x| < 2**int_bits``.
    """

    frac_bits: int
    int_bits: int

    def __post_init__(self) -> None:
        if self.frac_bits < 0 or self.int_bits < 0:
            raise InvalidInput("fixed-point bit counts must be non-negative")
        if self.frac_bits + self.int_bits > 4096:
            raise InvalidInput("fixed-point format wider than 4096 bits")

    @property
    def scale(self) -> int:
        return 1 << self.frac_bits

    @property
    def bound(self) -> int:
        """Exclusive bound on the absolute value of an encoded integer."""
        return 1 << (self.int_bits + self.frac_bits)

    def encode(self, x: float | int | Decimal | Fraction) -> int:
        """The scaled integer for ``x``, rounded to nearest (ties to even), range-checked."""
        if isinstance(x, bool):
            raise InvalidInput("booleans are not numbers here")
        if isinstance(x, float) and not math.isfinite(x):
            raise InvalidInput("cannot encode NaN or infinity")
        if isinstance(x, Decimal) and not x.is_finite():
            raise InvalidInput("cannot encode NaN or infinity")
        try:
            exact = Fraction(x)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"not a number: {x!r}") from exc
        scaled = round(exact * self.scale)
        if abs(scaled) >= self.bound:
            raise InvalidInput(f"value {x} outside fixed-point range ±2^{self.int_bits}")
        return scaled

    def encode_many(self, xs: Sequence[float | int | Decimal | Fraction]) -> list[int]:
        return [self.encode(x) for x in xs]

    def decode(self, n: int) -> float:
        """The real value of a scaled integer (range-checked)."""
        if abs(n) >= self.bound:
            raise InvalidInput("encoded value outside fixed-point range (overflow?)")
        return n / self.scale

    def decode_exact(self, n: int) -> Fraction:
        if abs(n) >= self.bound:
            raise InvalidInput("encoded value outside fixed-point range (overflow?)")
        return Fraction(n, self.scale)
