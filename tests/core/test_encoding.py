"""Canonical encodings and fixed-point numbers."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from petsuite.core.encoding import (
    FixedPoint,
    canonical_json,
    decode_parts,
    encode_parts,
    i2osp,
    os2ip,
)
from petsuite.core.errors import InvalidInput


@given(st.lists(st.binary(max_size=64), max_size=10))
def test_parts_round_trip(parts: list[bytes]) -> None:
    assert decode_parts(encode_parts(parts)) == parts


def test_parts_are_injective_across_boundaries() -> None:
    assert encode_parts([b"ab", b"c"]) != encode_parts([b"a", b"bc"])
    assert encode_parts([b""]) != encode_parts([])


def test_parts_reject_truncation_and_non_bytes() -> None:
    data = encode_parts([b"hello"])
    with pytest.raises(InvalidInput):
        decode_parts(data[:-1])
    with pytest.raises(InvalidInput):
        decode_parts(data[:3])
    with pytest.raises(InvalidInput):
        encode_parts(["text"])  # type: ignore[list-item]


def test_i2osp() -> None:
    assert i2osp(258, 2) == b"\x01\x02"
    assert os2ip(b"\x01\x02") == 258
    with pytest.raises(InvalidInput):
        i2osp(256, 1)
    with pytest.raises(InvalidInput):
        i2osp(-1, 4)


def test_canonical_json() -> None:
    assert canonical_json({"b": 1, "a": [1, 2]}) == b'{"a":[1,2],"b":1}'
    with pytest.raises(InvalidInput):
        canonical_json({"x": math.nan})
    with pytest.raises(InvalidInput):
        canonical_json({"x": object()})


@given(st.integers(min_value=-(2**40) + 1, max_value=2**40 - 1))
def test_fixed_point_integers_exact(n: int) -> None:
    fp = FixedPoint(frac_bits=16, int_bits=40)
    assert fp.decode_exact(fp.encode(n)) == n


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_fixed_point_precision(x: float) -> None:
    fp = FixedPoint(frac_bits=20, int_bits=21)
    assert abs(fp.decode(fp.encode(x)) - x) <= 2.0**-21


def test_fixed_point_range_and_bad_values() -> None:
    fp = FixedPoint(frac_bits=8, int_bits=8)
    assert fp.encode(255.99) == round(255.99 * 256)
    with pytest.raises(InvalidInput):
        fp.encode(256)
    with pytest.raises(InvalidInput):
        fp.encode(math.inf)
    with pytest.raises(InvalidInput):
        fp.encode(math.nan)
    with pytest.raises(InvalidInput):
        fp.encode(True)
    with pytest.raises(InvalidInput):
        fp.decode(1 << 16)
    with pytest.raises(InvalidInput):
        FixedPoint(frac_bits=-1, int_bits=3)
    assert fp.encode(Fraction(1, 3)) == round(Fraction(256, 3))
