"""Additive and Shamir sharing: reconstruction from every qualified subset, exact privacy."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from petsuite.core.errors import InvalidInput
from petsuite.core.rng import DeterministicRandom
from petsuite.mpc.field import P, f_random
from petsuite.mpc.sharing import (
    additive_reconstruct_field,
    additive_reconstruct_ring,
    additive_share_field,
    additive_share_ring,
    lagrange_at_zero,
    lagrange_coefficients,
    shamir_reconstruct,
    shamir_share,
)


def _rng(tag: int = 0) -> DeterministicRandom:
    return DeterministicRandom(bytes([tag]) * 32, insecure_for_testing=True)


class ScriptedRandom:
    """Returns exactly the given 64-bit words (little endian), to enumerate polynomials."""

    def __init__(self, words: np.ndarray) -> None:
        self._data = np.asarray(words, dtype="<u8").tobytes()
        self._pos = 0

    def random_bytes(self, n: int) -> bytes:
        out = self._data[self._pos : self._pos + n]
        if len(out) != n:
            raise AssertionError("script exhausted")
        self._pos += n
        return out


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, (1 << 64) - 1), min_size=1, max_size=10), st.integers(1, 6))
def test_additive_ring_round_trip(xs: list[int], n: int) -> None:
    secret = np.array(xs, dtype=np.uint64)
    shares = additive_share_ring(secret, n, _rng(n))
    assert shares.shape == (n, len(xs))
    assert additive_reconstruct_ring(shares).tolist() == xs


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, P - 1), min_size=1, max_size=10), st.integers(1, 6))
def test_additive_field_round_trip(xs: list[int], n: int) -> None:
    secret = np.array(xs, dtype=np.uint64)
    shares = additive_share_field(secret, n, _rng(n))
    assert int(shares.max()) < P
    assert additive_reconstruct_field(shares).tolist() == xs
    small = additive_share_field(np.array([3, 10], dtype=np.uint64), n, _rng(1), modulus=11)
    assert additive_reconstruct_field(small, modulus=11).tolist() == [3, 10]


@pytest.mark.parametrize(("n", "t"), [(3, 1), (5, 2), (7, 3), (4, 1)])
def test_shamir_every_qualified_subset_reconstructs(n: int, t: int) -> None:
    secret = f_random(50, _rng(n))
    shares = shamir_share(secret, n, t, _rng(t))
    for k in range(t + 1, n + 1):
        for subset in itertools.combinations(range(n), k):
            got = shamir_reconstruct(shares[list(subset)], [i + 1 for i in subset])
            assert np.array_equal(got, secret)
    # t shares are not enough: interpolating them as if the degree were t - 1 gives garbage
    wrong = shamir_reconstruct(shares[:t], list(range(1, t + 1)))
    assert not np.array_equal(wrong, secret)


def test_shamir_custom_points_and_small_field() -> None:
    secret = np.array([0, 5, 10], dtype=np.uint64)
    shares = shamir_share(secret, 3, 1, _rng(2), modulus=11, points=[2, 5, 7])
    assert shamir_reconstruct(shares[[0, 2]], [2, 7], modulus=11).tolist() == [0, 5, 10]


@pytest.mark.parametrize(("n", "t"), [(3, 1), (4, 2), (5, 2)])
def test_shamir_t_shares_exactly_uniform_small_field(n: int, t: int) -> None:
    """Enumerate every random polynomial over F_11: any t shares take each of the 11**t values
    exactly once, for every secret, so their distribution does not depend on the secret."""
    q = 11
    combos = q**t
    digits = np.array([[(j // q**k) % q for j in range(combos)] for k in range(t)], dtype=np.uint64)
    distributions = []
    for s in (0, 7):
        secret = np.full(combos, s, dtype=np.uint64)
        shares = shamir_share(secret, n, t, ScriptedRandom(digits.reshape(-1)), modulus=q)
        assert (
            shamir_reconstruct(shares[: t + 1], list(range(1, t + 2)), modulus=q).tolist()
            == [s] * combos
        )
        per_subset = {}
        for subset in itertools.combinations(range(n), t):
            seen = Counter(tuple(int(shares[i, j]) for i in subset) for j in range(combos))
            assert len(seen) == combos and set(seen.values()) == {1}
            per_subset[subset] = seen
        distributions.append(per_subset)
    assert distributions[0] == distributions[1]


def test_shamir_share_chi_square_real_field() -> None:
    """One share of a fixed secret is uniform on F_p: chi-square over 16 bins (15 dof); the
    bound 60 is exceeded with probability far below 1e-6 for uniform shares."""
    draws = 32_000
    for s in (0, 123456789):
        shares = shamir_share(np.full(draws, s, dtype=np.uint64), 3, 1, _rng(s % 251))
        for row in shares:
            bins = np.bincount((row >> np.uint64(57)).astype(np.int64), minlength=16)
            expected = draws / 16
            chi2 = float(((bins - expected) ** 2 / expected).sum())
            assert chi2 < 60.0


def test_lagrange() -> None:
    lam = lagrange_at_zero([1, 2, 3])
    assert lam == [3, P - 3, 1]
    assert lagrange_coefficients([1, 2], at=3) == [P - 1, 2]
    assert lagrange_at_zero([1, 2], modulus=11) == [2, 10]
    with pytest.raises(InvalidInput):
        lagrange_at_zero([1, 1])


def test_share_parameter_validation() -> None:
    s = np.array([1], dtype=np.uint64)
    with pytest.raises(InvalidInput):
        shamir_share(s, 3, 3)
    with pytest.raises(InvalidInput):
        shamir_share(s, 3, 1, points=[1, 1, 2])
    with pytest.raises(InvalidInput):
        shamir_share(np.array([P], dtype=np.uint64), 3, 1)
    with pytest.raises(InvalidInput):
        additive_share_ring(s, 0)
    with pytest.raises(InvalidInput):
        shamir_reconstruct(np.zeros((2, 1), dtype=np.uint64), [1])
