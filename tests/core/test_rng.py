"""The randomness module."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from petsuite.core.errors import InvalidInput, UnsupportedParameter
from petsuite.core.rng import (
    DeterministicRandom,
    RandomSource,
    SystemRandom,
    expand_seed,
    random_below,
    random_bits,
    resolve,
)

SEED = bytes(range(32))


def test_system_random_is_default() -> None:
    assert isinstance(resolve(None), SystemRandom)
    src = DeterministicRandom(SEED, insecure_for_testing=True)
    assert resolve(src) is src
    assert isinstance(src, RandomSource)


def test_system_random_returns_requested_length_and_varies() -> None:
    rng = SystemRandom()
    a, b = rng.random_bytes(32), rng.random_bytes(32)
    assert len(a) == 32
    assert a != b  # equal with probability 2^-256
    with pytest.raises(InvalidInput):
        rng.random_bytes(-1)


def test_deterministic_requires_explicit_opt_in_and_full_seed() -> None:
    with pytest.raises(UnsupportedParameter):
        DeterministicRandom(SEED)
    with pytest.raises(InvalidInput):
        DeterministicRandom(b"short", insecure_for_testing=True)


def test_deterministic_is_reproducible_and_advances() -> None:
    a = DeterministicRandom(SEED, insecure_for_testing=True)
    b = DeterministicRandom(SEED, insecure_for_testing=True)
    first = a.random_bytes(40)
    assert first == b.random_bytes(40)
    assert a.random_bytes(40) != first
    assert "hidden" in repr(a)


def test_expand_seed_separates_labels() -> None:
    x = expand_seed(SEED, 64, label=b"mask/0")
    assert len(x) == 64
    assert x != expand_seed(SEED, 64, label=b"mask/1")
    assert x == expand_seed(SEED, 64, label=b"mask/0")
    with pytest.raises(InvalidInput):
        expand_seed(SEED[:16], 8, label=b"x")


@given(st.integers(min_value=1, max_value=2**300))
def test_random_below_in_range(n: int) -> None:
    assert 0 <= random_below(n) < n


def test_random_bits_range() -> None:
    assert random_bits(0) == 0
    for k in (1, 7, 8, 9, 255):
        assert 0 <= random_bits(k) < 2**k
    with pytest.raises(InvalidInput):
        random_bits(-1)
    with pytest.raises(InvalidInput):
        random_below(0)


def test_random_below_is_unbiased() -> None:
    """Chi-square test over 6 buckets; false-failure probability below 1e-6."""
    n, draws = 6, 60_000
    rng = DeterministicRandom(SEED, insecure_for_testing=True)
    counts = [0] * n
    for _ in range(draws):
        counts[random_below(n, rng)] += 1
    expected = draws / n
    chi2 = sum((c - expected) ** 2 / expected for c in counts)
    # chi-square with 5 degrees of freedom: P(X > 37.0) < 1e-6.
    assert chi2 < 37.0
    assert math.isfinite(chi2)
