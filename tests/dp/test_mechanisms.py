"""Exact DP samplers and selection mechanisms.

Statistical tests and their false-failure probability
-----------------------------------------------------
Every statistical check below is a two-sided bound that a correct sampler violates with
probability at most ``FAIL = 1e-9``: exact binomial quantiles (per pmf bucket, per coin
frequency), Bernstein's inequality (second moments of clamped draws) and Chernoff bounds from the
exact or sub-Gaussian moment generating function (means). The module makes fewer than 200 such
checks, so by the union bound a correct implementation fails this file with probability below
200 × 1e-9 = 2e-7 < 1e-6 (over the choice of seeds; with the fixed seeds the run is reproducible).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from petsuite.core.errors import InvalidInput, UnsupportedParameter
from petsuite.core.rng import DeterministicRandom
from petsuite.dp import mechanisms
from petsuite.dp.accounting import PrivacyLoss
from petsuite.dp.mechanisms import (
    DiscreteGaussian,
    DiscreteLaplace,
    discrete_gaussian_many,
    discrete_laplace_many,
    permute_and_flip,
    private_quantile,
    sample_bernoulli,
    sample_bernoulli_exp,
    sample_discrete_gaussian,
    sample_discrete_laplace,
)

FAIL = 1e-9
N = 20_000
N_PMF = 60_000


def rng(label: int) -> DeterministicRandom:
    return DeterministicRandom(bytes([label]) * 32, insecure_for_testing=True)


# ------------------------------------------------------------------------------------------
# statistical helpers


def binomial_bounds(n: int, p: float, fail: float = FAIL) -> tuple[int, int]:
    """``lo, hi`` with ``P[X < lo] <= fail/2`` and ``P[X > hi] <= fail/2`` for ``X ~ Bin(n, p)``.

    The pmf is computed from its mode outwards by the exact term ratio until the terms fall below
    1e-30 with a ratio below 1/2; the binomial is log-concave, so the ratio keeps falling and the
    mass left out beyond that point is at most the last term, which is counted into the tail.
    """
    if p <= 0.0:
        return 0, 0
    if p >= 1.0:
        return n, n
    odds = p / (1.0 - p)
    mode = min(n, math.floor((n + 1) * p))
    log_mode = (
        math.lgamma(n + 1)
        - math.lgamma(mode + 1)
        - math.lgamma(n - mode + 1)
        + mode * math.log(p)
        + (n - mode) * math.log1p(-p)
    )
    pmf = {mode: math.exp(log_mode)}
    rest_hi = rest_lo = 0.0
    k, term = mode, pmf[mode]
    while k < n:
        ratio = (n - k) / (k + 1) * odds
        term *= ratio
        k += 1
        pmf[k] = term
        if term < 1e-30 and ratio < 0.5:
            rest_hi = term
            break
    top = k
    k, term = mode, pmf[mode]
    while k > 0:
        ratio = k / (n - k + 1) / odds
        term *= ratio
        k -= 1
        pmf[k] = term
        if term < 1e-30 and ratio < 0.5:
            rest_lo = term
            break
    bottom = k
    lo, acc = bottom, rest_lo
    while acc + pmf[lo] <= fail / 2:
        acc += pmf[lo]
        lo += 1
    hi, acc = top, rest_hi
    while acc + pmf[hi] <= fail / 2:
        acc += pmf[hi]
        hi -= 1
    return lo, hi


def check_frequency(hits: int, n: int, p: float) -> None:
    lo, hi = binomial_bounds(n, p)
    assert lo <= hits <= hi, (hits, n, p, lo, hi)


def bernstein_half_width(variance: float, bound: float, n: int, fail: float = FAIL) -> float:
    """``t`` with ``P[|mean - E| >= t] <= fail`` for ``n`` draws with ``|W - E W| <= bound``."""
    log_term = math.log(2.0 / fail)
    a = 2.0 * bound * log_term / 3.0
    return (a + math.sqrt(a * a + 8.0 * n * log_term * variance)) / (2.0 * n)


def check_pmf(draws: list[int], pmf: Callable[[int], float], inner: int, width: int = 1) -> None:
    """Buckets ``[s, s + width)`` for ``s`` in ``-inner, -inner + width, …, <= inner``, plus both
    tails, each against exact binomial bounds. ``pmf`` must be symmetric about 0."""
    counts = Counter(draws)
    n = len(draws)
    edges = list(range(-inner, inner + 1, width))
    for start in edges:
        p = math.fsum(pmf(x) for x in range(start, start + width))
        hits = sum(counts[x] for x in range(start, start + width))
        check_frequency(hits, n, p)

    def upper_tail(e: int) -> float:  # P[X >= e] for e >= 1, by symmetry
        return max(0.0, (1.0 - math.fsum(pmf(x) for x in range(1 - e, e))) / 2.0)

    end = edges[-1] + width
    check_frequency(sum(c for x, c in counts.items() if x < edges[0]), n, upper_tail(inner + 1))
    check_frequency(sum(c for x, c in counts.items() if x >= end), n, upper_tail(end))


def check_clamped_second_moment(
    draws: list[int], pmf: Callable[[int], float], support: int, clamp: int
) -> None:
    """Mean of ``min(X², C)`` against its exact expectation (Bernstein, bounded by C)."""
    cap = clamp * clamp
    xs = range(-support, support + 1)
    mass = math.fsum(pmf(x) for x in xs)
    expected = math.fsum(min(x * x, cap) * pmf(x) for x in xs) + (1.0 - mass) * cap
    fourth = math.fsum(min(x * x, cap) ** 2 * pmf(x) for x in xs) + (1.0 - mass) * cap * cap
    variance = fourth - expected * expected
    observed = math.fsum(min(x * x, cap) for x in draws) / len(draws)
    t = bernstein_half_width(variance, cap, len(draws))
    assert abs(observed - expected) <= t, (observed, expected, t)


def laplace_pmf(scale: Fraction) -> Callable[[int], float]:
    q = math.exp(-1.0 / float(scale))
    c = (1.0 - q) / (1.0 + q)
    return lambda x: c * q ** abs(x)


def gaussian_pmf(sigma_sq: Fraction) -> Callable[[int], float]:
    var = float(sigma_sq)
    reach = math.ceil(40 * math.sqrt(var)) + 2
    total = math.fsum(math.exp(-x * x / (2 * var)) for x in range(-reach, reach + 1))
    return lambda x: math.exp(-x * x / (2 * var)) / total


# ------------------------------------------------------------------------------------------
# Bernoulli coins


def test_bernoulli_exp_edge_cases() -> None:
    r = rng(1)
    assert all(sample_bernoulli_exp(Fraction(0), r) for _ in range(200))
    assert sample_bernoulli(Fraction(1), r) is True
    assert sample_bernoulli(Fraction(0), r) is False
    # exp(-400) ≈ 2e-174: never True in a handful of tries.
    assert not any(sample_bernoulli_exp(Fraction(400), r) for _ in range(50))


@pytest.mark.parametrize("gamma", [Fraction(1, 3), Fraction(1), Fraction(5, 2), Fraction(7, 100)])
def test_bernoulli_exp_frequency(gamma: Fraction) -> None:
    r = rng(2)
    hits = sum(sample_bernoulli_exp(gamma, r) for _ in range(N))
    check_frequency(hits, N, math.exp(-float(gamma)))


def test_bernoulli_frequency() -> None:
    r = rng(3)
    hits = sum(sample_bernoulli(Fraction(2, 7), r) for _ in range(N))
    check_frequency(hits, N, 2 / 7)


# ------------------------------------------------------------------------------------------
# discrete Laplace


@pytest.mark.parametrize(
    ("scale", "inner", "width"),
    [(Fraction(5, 3), 8, 1), (Fraction(1, 2), 3, 1), (Fraction(1), 5, 1), (Fraction(40), 120, 20)],
)
def test_discrete_laplace_pmf(scale: Fraction, inner: int, width: int) -> None:
    draws = discrete_laplace_many(scale, N_PMF, rng(4))
    check_pmf(draws, laplace_pmf(scale), inner, width)


def test_discrete_laplace_mean_and_variance() -> None:
    scale = Fraction(2)
    draws = DiscreteLaplace(scale).sample_many(N, rng(5))
    pmf = laplace_pmf(scale)
    # Mean: Chernoff with the exact MGF M(λ) = (1-q)² / ((1-q e^λ)(1-q e^-λ)), |λ| < 1/scale;
    # P[|mean| >= a] <= 2 min_λ exp(N (log M(λ) - λ a)), minimised on a grid (any λ is valid).
    q = math.exp(-1.0 / float(scale))

    def log_mgf(lam: float) -> float:
        return 2 * math.log1p(-q) - math.log1p(-q * math.exp(lam)) - math.log1p(-q * math.exp(-lam))

    def tail_bound(a: float) -> float:
        grid = [i / 1000 * (0.999 / float(scale)) for i in range(1, 1000)]
        return 2 * math.exp(min(N * (log_mgf(lam) - lam * a) for lam in grid))

    a = 0.01
    while tail_bound(a) > FAIL:
        a *= 1.05
    mean = math.fsum(draws) / N
    assert abs(mean) <= a, (mean, a)
    assert a < 0.15  # the bound is informative: std of the mean is about 0.02
    check_clamped_second_moment(draws, pmf, support=400, clamp=15)
    # The exact variance 2q/(1-q)² matches std().
    assert DiscreteLaplace(scale).std() == pytest.approx(math.sqrt(2 * q) / (1 - q), rel=1e-12)


def test_discrete_laplace_is_reproducible_and_consistent() -> None:
    scale = Fraction(7, 2)
    a = discrete_laplace_many(scale, 50, rng(6))
    b = DiscreteLaplace(scale).sample_many(50, rng(6))
    r = rng(6)
    c = [sample_discrete_laplace(scale, r) for _ in range(3)]
    assert a == b
    assert all(isinstance(x, int) for x in a)
    assert len(c) == 3
    assert discrete_laplace_many(scale, 0, rng(6)) == []
    assert isinstance(DiscreteLaplace(scale).sample(), int)  # OS CSPRNG path


def test_laplace_accounting_is_exact() -> None:
    mech = DiscreteLaplace(Fraction(10))
    assert mech.privacy_loss(1) == PrivacyLoss(epsilon=0.1, delta=0.0, rho=0.005)
    assert mech.epsilon(3) == Fraction(3, 10)
    # 3/10 is not a float: the reported ε is the smallest float at or above it.
    loss = mech.privacy_loss(3)
    assert Fraction(loss.epsilon) >= Fraction(3, 10)
    assert Fraction(math.nextafter(loss.epsilon, 0)) < Fraction(3, 10)
    assert Fraction(loss.rho) >= Fraction(9, 200)
    assert loss.delta == 0.0
    assert loss.is_pure


def test_for_epsilon_examples() -> None:
    assert DiscreteLaplace.for_epsilon(0.1, 1).scale == 10
    assert DiscreteLaplace.for_epsilon(1.0, 1).scale == 1
    assert DiscreteLaplace.for_epsilon(Fraction(1, 3), 2).scale == 6
    assert DiscreteLaplace.for_epsilon(0.5, Fraction(3, 2)).scale == 3
    assert DiscreteLaplace.for_epsilon(0.1, 1).privacy_loss(1).epsilon == 0.1
    assert DiscreteGaussian.for_rho(0.5, 1).sigma_sq == 1
    assert DiscreteGaussian.for_rho(Fraction(1, 8), 2).sigma_sq == 16


@settings(max_examples=200, deadline=None)
@given(
    epsilon=st.floats(min_value=1e-6, max_value=1e3),
    sensitivity=st.one_of(
        st.integers(min_value=1, max_value=10**6),
        st.fractions(min_value=Fraction(1, 1000), max_value=1000, max_denominator=1000).filter(
            lambda f: f > 0
        ),
    ),
)
def test_for_epsilon_never_exceeds_request(epsilon: float, sensitivity: int | Fraction) -> None:
    mech = DiscreteLaplace.for_epsilon(epsilon, sensitivity)
    actual = Fraction(sensitivity) / mech.scale
    assert actual <= Fraction(epsilon)
    assert actual >= Fraction(epsilon) * (1 - Fraction(1, 10**9))
    assert mech.privacy_loss(sensitivity).epsilon <= epsilon


@settings(max_examples=200, deadline=None)
@given(
    rho=st.floats(min_value=1e-6, max_value=1e3),
    sensitivity=st.integers(min_value=1, max_value=1000),
)
def test_for_rho_never_exceeds_request(rho: float, sensitivity: int) -> None:
    mech = DiscreteGaussian.for_rho(rho, sensitivity)
    actual = mech.rho(sensitivity)
    assert actual <= Fraction(rho)
    assert actual >= Fraction(rho) * (1 - Fraction(1, 10**9))
    assert mech.privacy_loss(sensitivity).rho <= rho


def test_laplace_interval_half_width_scale_one() -> None:
    mech = DiscreteLaplace(Fraction(1))
    assert mech.interval_half_width(0.05) == 3
    assert mech.coverage(3) == 1 - 2 * math.exp(-4) / (1 + math.exp(-1))
    assert mech.coverage(3) >= 0.95 > mech.coverage(2)
    assert mech.coverage(0) == pytest.approx((1 - math.exp(-1)) / (1 + math.exp(-1)), rel=1e-15)


@pytest.mark.parametrize("scale", [Fraction(1, 3), Fraction(1), Fraction(25, 2), Fraction(10**6)])
@pytest.mark.parametrize("alpha", [0.5, 0.05, 1e-6])
def test_laplace_interval_is_smallest(scale: Fraction, alpha: float) -> None:
    mech = DiscreteLaplace(scale)
    k = mech.interval_half_width(alpha)
    pmf = laplace_pmf(scale)
    assert mech.coverage(k) >= 1 - alpha
    if k > 0:
        assert mech.coverage(k - 1) < 1 - alpha
    if k < 50:  # the closed form agrees with summing the pmf
        assert mech.coverage(k) == pytest.approx(math.fsum(pmf(x) for x in range(-k, k + 1)))


# ------------------------------------------------------------------------------------------
# discrete Gaussian


@pytest.mark.parametrize(
    ("sigma_sq", "inner", "width"),
    [
        (Fraction(1), 4, 1),
        (Fraction(1, 5), 2, 1),
        (Fraction(9, 2), 8, 1),
        (Fraction(10**4), 400, 50),
    ],
)
def test_discrete_gaussian_pmf(sigma_sq: Fraction, inner: int, width: int) -> None:
    draws = discrete_gaussian_many(sigma_sq, N_PMF, rng(7))
    check_pmf(draws, gaussian_pmf(sigma_sq), inner, width)


def test_discrete_gaussian_mean_and_variance() -> None:
    sigma_sq = Fraction(4)
    mech = DiscreteGaussian(sigma_sq)
    draws = mech.sample_many(N, rng(8))
    # Mean: the discrete Gaussian is σ²-sub-Gaussian (Canonne–Kamath–Steinke 2020, Cor. 9), so
    # P[|mean| >= a] <= 2 exp(-N a² / (2σ²)); solve for FAIL.
    a = math.sqrt(2 * float(sigma_sq) * math.log(2 / FAIL) / N)
    assert abs(math.fsum(draws) / N) <= a
    pmf = gaussian_pmf(sigma_sq)
    check_clamped_second_moment(draws, pmf, support=100, clamp=12)
    exact_var = math.fsum(x * x * pmf(x) for x in range(-100, 101))
    assert mech.std() == pytest.approx(math.sqrt(exact_var), rel=1e-12)


def test_discrete_gaussian_reproducible() -> None:
    r = rng(9)
    a = [sample_discrete_gaussian(Fraction(3), r) for _ in range(5)]
    r = rng(9)
    b = [DiscreteGaussian(Fraction(3)).sample(r) for _ in range(5)]
    assert len(a) == len(b) == 5
    assert discrete_gaussian_many(Fraction(3), 20, rng(9)) == DiscreteGaussian(
        Fraction(3)
    ).sample_many(20, rng(9))
    assert isinstance(sample_discrete_gaussian(Fraction(1, 10**9)), int)


def test_gaussian_accounting() -> None:
    mech = DiscreteGaussian(Fraction(1))
    loss = mech.privacy_loss(1)
    assert loss == PrivacyLoss(epsilon=math.inf, delta=0.0, rho=0.5)
    assert mech.rho(3) == Fraction(9, 2)
    with_delta = mech.privacy_loss(1, delta=1e-6)
    assert with_delta.rho == 0.5
    assert with_delta.delta == 1e-6
    # Reference from test_accounting (mpmath, 60 digits).
    assert with_delta.epsilon == pytest.approx(5.221534444530169044, rel=1e-9)
    assert DiscreteGaussian(Fraction(1, 2)).privacy_loss(Fraction(1, 2)).rho == 0.25


def test_gaussian_std_and_intervals() -> None:
    # σ² = 1: the discrete Gaussian's variance is slightly below σ² (CKS 2020, Prop. 19).
    std1 = DiscreteGaussian(Fraction(1)).std()
    assert 0.9999 < std1 < 1.0
    assert DiscreteGaussian(Fraction(10**4)).std() == pytest.approx(100.0, rel=1e-12)
    assert DiscreteGaussian(Fraction(10**10)).std() == 10**5
    mech = DiscreteGaussian(Fraction(10**4))
    k = mech.interval_half_width(0.05)
    assert k == 196  # the continuous 97.5% point is 195.996σ/100
    assert mech.coverage(k) >= 0.95 > mech.coverage(k - 1)


@pytest.mark.parametrize("sigma_sq", [Fraction(1, 4), Fraction(1), Fraction(50), Fraction(10**6)])
@pytest.mark.parametrize("alpha", [0.3, 0.05, 1e-4])
def test_gaussian_interval_is_smallest(sigma_sq: Fraction, alpha: float) -> None:
    mech = DiscreteGaussian(sigma_sq)
    k = mech.interval_half_width(alpha)
    assert mech.coverage(k) >= 1 - alpha
    if k > 0:
        assert mech.coverage(k - 1) < 1 - alpha
    if sigma_sq <= 50:
        pmf = gaussian_pmf(sigma_sq)
        assert mech.coverage(k) == pytest.approx(math.fsum(pmf(x) for x in range(-k, k + 1)))


def test_gaussian_tail_formulas_agree_at_the_switch() -> None:
    # Direct summation and Euler–Maclaurin agree where both are valid.
    var = 3000.0**2
    w = [math.exp(-(x * x) / (2 * var)) for x in range(0, 200_000)]
    for k in (0, 1000, 3000, 6000, 12000):
        direct = math.fsum(w[k + 1 :])
        assert mechanisms._gauss_upper_sum(var, k + 1) == pytest.approx(direct, rel=1e-10)


# ------------------------------------------------------------------------------------------
# permute-and-flip and quantiles


def pf_exact(scores: list[int], epsilon: Fraction, sensitivity: int) -> list[float]:
    """Exact output distribution of permute-and-flip by enumerating every order."""
    best = max(scores)
    p = [math.exp(-float(epsilon) * (best - s) / (2 * sensitivity)) for s in scores]
    out = [0.0] * len(scores)
    orders = list(itertools.permutations(range(len(scores))))
    for order in orders:
        survive = 1.0
        for r in order:
            out[r] += survive * p[r] / len(orders)
            survive *= 1 - p[r]
    return out


def test_permute_and_flip_two_candidates() -> None:
    eps = Fraction(1)
    r = rng(10)
    picks = [permute_and_flip([3, 0], eps, 1, r) for _ in range(N)]
    # The best is returned if it is visited first, or if the other is first and its coin fails:
    # P[best] = 1/2 + 1/2·(1 - e^{-ε·3/2}) = 1 - e^{-3/2}/2.
    p_best = 1 - math.exp(-1.5) / 2
    assert pf_exact([3, 0], eps, 1)[0] == pytest.approx(p_best, rel=1e-15)
    check_frequency(picks.count(0), N, p_best)
    picks = [permute_and_flip([0, 3], eps, 1, r) for _ in range(N)]
    check_frequency(picks.count(1), N, p_best)


def test_permute_and_flip_three_candidates() -> None:
    scores, eps, sens = [5, 3, 0], Fraction(1, 2), 1
    exact = pf_exact(scores, eps, sens)
    r = rng(11)
    picks = Counter(permute_and_flip(scores, eps, sens, r) for _ in range(N))
    for i, p in enumerate(exact):
        check_frequency(picks[i], N, p)


def test_permute_and_flip_edge_cases() -> None:
    assert permute_and_flip([7], Fraction(1), 1) == 0
    r = rng(12)
    # Ties: each of the two best is equally likely, and a far-worse one never wins in practice.
    picks = Counter(permute_and_flip([10, 10, -(10**6)], Fraction(1), 1, r) for _ in range(2000))
    assert picks[2] == 0
    check_frequency(picks[0], 2000, 0.5)


def test_private_quantile_near_median() -> None:
    values = list(range(1001))  # true median 500
    r = rng(13)
    # P&F returns a candidate with score gap g with probability at most e^{-εg/2}; with ε = 10 all
    # candidates at least 10.5 from the median together have probability < 2·Σ_{k≥10} e^{-5k} < 1e-20.
    for _ in range(20):
        assert abs(private_quantile(values, Fraction(1, 2), 0, 1000, Fraction(10), r) - 500) <= 10
    # Quartile, with a coarse grid over a wider range (grid step ≈ 10^4/1023).
    spread = [10 * v for v in values]  # 0..10000, first quartile 2500
    est = private_quantile(spread, Fraction(1, 4), 0, 10_000, Fraction(10), r)
    assert abs(est - 2500) <= 150
    est = private_quantile(spread, Fraction(1, 4), 0, 10_000, 20.0, r, candidates=11)
    assert est in range(0, 10_001, 1000)
    assert private_quantile([], Fraction(1, 2), 5, 5, Fraction(1), r) == 5


# ------------------------------------------------------------------------------------------
# validation

bad_positive = st.one_of(
    st.floats(max_value=0.0),
    st.just(math.nan),
    st.just(math.inf),
    st.integers(max_value=0),
    st.fractions(max_value=0),
)


@settings(max_examples=60, deadline=None)
@given(bad=bad_positive)
def test_bad_privacy_parameters_rejected(bad: float | int | Fraction) -> None:
    with pytest.raises(InvalidInput):
        DiscreteLaplace.for_epsilon(bad, 1)
    with pytest.raises(InvalidInput):
        DiscreteLaplace.for_epsilon(1.0, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        DiscreteGaussian.for_rho(bad, 1)
    with pytest.raises(InvalidInput):
        DiscreteGaussian.for_rho(1.0, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        DiscreteLaplace(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        DiscreteGaussian(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        sample_discrete_laplace(bad)
    with pytest.raises(InvalidInput):
        discrete_gaussian_many(bad, 3)
    with pytest.raises(InvalidInput):
        permute_and_flip([1, 2], bad, 1)
    with pytest.raises(InvalidInput):
        private_quantile([1, 2], Fraction(1, 2), 0, 10, bad)
    with pytest.raises(InvalidInput):
        DiscreteLaplace(Fraction(1)).privacy_loss(bad)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(bad=st.integers(max_value=0))
def test_bad_sensitivity_and_counts_rejected(bad: int) -> None:
    with pytest.raises(InvalidInput):
        permute_and_flip([1, 2], Fraction(1), bad)
    with pytest.raises(InvalidInput):
        private_quantile([1], Fraction(1, 2), 0, 10, Fraction(1), candidates=bad)
    if bad < 0:
        with pytest.raises(InvalidInput):
            discrete_laplace_many(Fraction(1), bad)
        with pytest.raises(InvalidInput):
            DiscreteLaplace(Fraction(1)).coverage(bad)
        with pytest.raises(InvalidInput):
            sample_bernoulli_exp(Fraction(bad))


@settings(max_examples=40, deadline=None)
@given(alpha=st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0), st.just(math.nan)))
def test_bad_alpha_rejected(alpha: float) -> None:
    with pytest.raises(InvalidInput):
        DiscreteLaplace(Fraction(1)).interval_half_width(alpha)
    with pytest.raises(InvalidInput):
        DiscreteGaussian(Fraction(1)).interval_half_width(alpha)


def test_wrong_types_and_shapes_rejected() -> None:
    with pytest.raises(InvalidInput):
        DiscreteLaplace.for_epsilon(True, 1)
    with pytest.raises(InvalidInput):
        DiscreteLaplace.for_epsilon("1", 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        sample_bernoulli(Fraction(3, 2))
    with pytest.raises(InvalidInput):
        sample_bernoulli(Fraction(-1, 2))
    with pytest.raises(InvalidInput):
        permute_and_flip([], Fraction(1), 1)
    with pytest.raises(InvalidInput):
        permute_and_flip([1.5, 2], Fraction(1), 1)  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        permute_and_flip([1, 2], Fraction(1), True)
    with pytest.raises(InvalidInput):
        private_quantile([3, 1, 2], Fraction(1, 2), 0, 10, Fraction(1))  # not sorted
    with pytest.raises(InvalidInput):
        private_quantile([1, 2], Fraction(3, 2), 0, 10, Fraction(1))
    with pytest.raises(InvalidInput):
        private_quantile([1, 2], Fraction(1, 2), 10, 0, Fraction(1))
    with pytest.raises(InvalidInput):
        private_quantile([1, 2], Fraction(1, 2), 0.0, 10, Fraction(1))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        DiscreteGaussian(Fraction(1)).coverage(-1)


def test_absurd_sizes_unsupported() -> None:
    with pytest.raises(UnsupportedParameter):
        discrete_laplace_many(Fraction(1), 10**8)
    with pytest.raises(UnsupportedParameter):
        DiscreteLaplace(Fraction(2**70))
    with pytest.raises(UnsupportedParameter):
        DiscreteLaplace.for_epsilon(1e-30, 1)
    with pytest.raises(UnsupportedParameter):
        DiscreteLaplace.for_epsilon(1e30, 1)
    with pytest.raises(UnsupportedParameter):
        DiscreteGaussian(Fraction(2**200))
    with pytest.raises(UnsupportedParameter):
        sample_bernoulli_exp(Fraction(1, 2**5000))
    with pytest.raises(UnsupportedParameter):
        private_quantile([1], Fraction(1, 2), 0, 10, Fraction(1), candidates=2**21)
    with pytest.raises(UnsupportedParameter):
        permute_and_flip([0] * (2**20 + 1), Fraction(1), 1)
