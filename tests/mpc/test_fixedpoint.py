"""Fixed-point encoding: precision, range checks, rejection of NaN and infinities."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from petsuite.core.errors import InvalidInput
from petsuite.mpc.fixedpoint import decode, decode_scalar, encode, encode_scalar, max_abs


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=20),
    st.integers(0, 30),
)
def test_round_trip_error_bounded(xs: list[float], f: int) -> None:
    enc = encode(xs, f)
    back = decode(enc, f)
    assert np.all(np.abs(back - np.array(xs)) <= 2.0 ** -(f + 1) + 1e-9 * np.abs(xs))


def test_exact_values() -> None:
    assert encode([1.5, -2.25, 0.0], 2).tolist() == [6, -9, 0]
    assert encode_scalar(10000, 16) == 10000 << 16
    assert decode_scalar(10000 << 16, 16) == 10000.0
    assert decode_scalar((1 << 60) + 1, 0) == float((1 << 60) + 1)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_rejected(bad: float) -> None:
    with pytest.raises(InvalidInput, match="finite"):
        encode([1.0, bad], 16)


def test_range_check_names_the_range() -> None:
    limit = max_abs(40)
    assert encode([limit], 0, value_bits=40).tolist() == [limit]
    with pytest.raises(InvalidInput, match=r"2\*\*39"):
        encode([limit + 1], 0, value_bits=40)
    with pytest.raises(InvalidInput, match="exceeds the value range"):
        encode([1e30], 16)
    with pytest.raises(InvalidInput):
        encode([-(2.0**50)], 16, value_bits=60)


def test_parameters_validated() -> None:
    with pytest.raises(InvalidInput):
        encode([1.0], -1)
    with pytest.raises(InvalidInput):
        encode([1.0], 41)
    with pytest.raises(InvalidInput):
        encode([1.0], 16, value_bits=65)
    with pytest.raises(InvalidInput):
        encode(["x"], 16)  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        encode([[1.0, 2.0]], 16)  # type: ignore[list-item]
