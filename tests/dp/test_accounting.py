"""Privacy accounting: composition and the zCDP ↔ (ε, δ) conversions, with exact numbers."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from petsuite.core.errors import InvalidInput
from petsuite.dp.accounting import (
    PrivacyLoss,
    approx_from_zcdp,
    compose,
    pure_to_zcdp,
    zcdp_to_approx_delta,
    zcdp_to_approx_epsilon,
)


def up(x: Fraction) -> float:
    """The smallest float at or above ``x``."""
    f = float(x)
    return f if Fraction(f) >= x else math.nextafter(f, math.inf)


def simple_bound(rho: float, delta: float) -> float:
    return rho + 2 * math.sqrt(rho * math.log(1 / delta))


# Reference values, computed independently with mpmath 1.3.0 at 60 significant digits: the
# stationarity condition ρ(2α − 1) − ε + log(1 − 1/α) = 0 of the CKS 2020 (Corollary 13) exponent
# (α−1)(αρ−ε) − log(α−1) + α·log(1 − 1/α) was solved for α with mpmath.findroot (anderson
# solver), and the resulting log δ(ε) = log δ was solved for ε the same way. ρ and δ were taken as
# the decimal strings shown (not their float images; the difference is ~1e-17 relative).
EPSILON_REFERENCE = [
    # (rho, delta, epsilon)
    (0.5, 1e-6, 5.221534444530169044220961),
    (0.1, 1e-5, 1.91423883200359779853142),
    (1.0, 1e-5, 7.077196695806339758621907),
    (1e-4, 1e-9, 0.07436279311413624480744233),
    (10.0, 1e-3, 25.0887264906946380332074),
]
DELTA_REFERENCE = [
    # (rho, epsilon, delta), same method
    (0.5, 2.5, 0.0186688241734892607478045),
    (0.1, 2.5, 1.615572626374010929582609e-8),
    (1.0, 2.5, 0.1504970783643108159503694),
    (10.0, 2.5, 0.9994499429483347682393196),
]


@pytest.mark.parametrize(("rho", "delta", "expected"), EPSILON_REFERENCE)
def test_tight_epsilon_matches_high_precision_reference(
    rho: float, delta: float, expected: float
) -> None:
    eps = zcdp_to_approx_epsilon(rho, delta)
    assert eps == pytest.approx(expected, rel=1e-9)
    assert eps < simple_bound(rho, delta)


def test_headline_numbers() -> None:
    # ρ = 0.5, δ = 1e-6: tight ε ≈ 5.2215 against the simple bound 0.5 + 2√(0.5·ln 1e6) ≈ 5.7565.
    assert zcdp_to_approx_epsilon(0.5, 1e-6) == pytest.approx(5.221534444530169, rel=1e-9)
    assert simple_bound(0.5, 1e-6) == pytest.approx(5.756521769756932, rel=1e-12)
    # ρ = 0.1, δ = 1e-5: tight ε ≈ 1.9142 against the simple bound ≈ 2.2460.
    assert zcdp_to_approx_epsilon(0.1, 1e-5) == pytest.approx(1.914238832003598, rel=1e-9)
    assert simple_bound(0.1, 1e-5) == pytest.approx(2.2459660262893473, rel=1e-12)


@pytest.mark.parametrize(("rho", "epsilon", "expected"), DELTA_REFERENCE)
def test_tight_delta_matches_high_precision_reference(
    rho: float, epsilon: float, expected: float
) -> None:
    assert zcdp_to_approx_delta(rho, epsilon) == pytest.approx(expected, rel=1e-9)


@settings(max_examples=150, deadline=None)
@given(
    rho=st.floats(min_value=1e-8, max_value=100.0),
    delta=st.floats(min_value=1e-15, max_value=0.5),
)
def test_conversion_properties(rho: float, delta: float) -> None:
    eps = zcdp_to_approx_epsilon(rho, delta)
    assert 0 <= eps <= simple_bound(rho, delta)
    # The δ at the returned ε is the request (the returned ε is the upper end of the bracket).
    assert zcdp_to_approx_delta(rho, eps) <= delta * (1 + 1e-9)
    if eps > 0:
        assert zcdp_to_approx_delta(rho, eps * (1 - 1e-6)) > delta
    # δ never exceeds the simple bound exp(-(ε-ρ)²/(4ρ)).
    e2 = rho + 1.0
    assert zcdp_to_approx_delta(rho, e2) <= math.exp(-1.0 / (4 * rho)) * (1 + 1e-12)


def test_conversion_monotone() -> None:
    deltas = [zcdp_to_approx_delta(0.5, e) for e in (0.5, 1.0, 2.0, 4.0, 8.0)]
    assert deltas == sorted(deltas, reverse=True)
    epsilons = [zcdp_to_approx_epsilon(r, 1e-6) for r in (0.01, 0.1, 1.0, 10.0)]
    assert epsilons == sorted(epsilons)


def test_conversion_edge_cases() -> None:
    assert zcdp_to_approx_epsilon(0.0, 1e-6) == 0.0
    assert zcdp_to_approx_epsilon(0.5, 0.0) == math.inf
    assert zcdp_to_approx_epsilon(math.inf, 1e-6) == math.inf
    assert zcdp_to_approx_delta(0.0, 1.0) == 0.0
    assert zcdp_to_approx_delta(0.5, math.inf) == 0.0
    assert zcdp_to_approx_delta(math.inf, 1.0) == 1.0
    assert zcdp_to_approx_delta(1e-12, 0.0) <= 1.0
    # Large δ with tiny ρ: ε = 0 already suffices.
    assert zcdp_to_approx_epsilon(1e-9, 0.5) == 0.0


@pytest.mark.parametrize(
    "args",
    [(-0.1, 1e-6), (math.nan, 1e-6), (0.5, -1e-6), (0.5, 1.0), (0.5, 2.0), (0.5, math.nan)],
)
def test_epsilon_conversion_rejects(args: tuple[float, float]) -> None:
    with pytest.raises(InvalidInput):
        zcdp_to_approx_epsilon(*args)


@settings(max_examples=50, deadline=None)
@given(bad=st.one_of(st.floats(max_value=-1e-300), st.just(math.nan), st.booleans(), st.text()))
def test_bad_inputs_rejected(bad: object) -> None:
    with pytest.raises(InvalidInput):
        pure_to_zcdp(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        zcdp_to_approx_delta(bad, 1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        zcdp_to_approx_delta(0.5, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        approx_from_zcdp(bad, 1e-6)  # type: ignore[arg-type]


def test_approx_from_zcdp() -> None:
    loss = approx_from_zcdp(0.5, 1e-6)
    assert loss.rho == 0.5
    assert loss.delta == 1e-6
    assert loss.epsilon == zcdp_to_approx_epsilon(0.5, 1e-6)
    assert not loss.is_pure


def test_pure_to_zcdp() -> None:
    assert pure_to_zcdp(1.0) == 0.5
    assert pure_to_zcdp(2.0) == 2.0
    assert pure_to_zcdp(0.0) == 0.0
    assert pure_to_zcdp(math.inf) == math.inf
    # ε = 0.1 is not exactly 1/10: ρ is the exact square of the float, halved, rounded up.
    assert pure_to_zcdp(0.1) == up(Fraction(0.1) ** 2 / 2)
    assert Fraction(pure_to_zcdp(0.1)) >= Fraction(0.1) ** 2 / 2


def test_compose_sums_exactly() -> None:
    a = PrivacyLoss(epsilon=0.5, delta=1e-6, rho=0.125)
    b = PrivacyLoss(epsilon=0.25, delta=0.0, rho=0.03125)
    assert compose([a, b]) == PrivacyLoss(epsilon=0.75, delta=1e-6, rho=0.15625)
    assert compose([]) == PrivacyLoss(epsilon=0.0, delta=0.0, rho=0.0)
    assert compose(iter([a])) == a
    # 0.1 + 0.2: the exact sum of the two floats, rounded up (never below the true total).
    c = compose([PrivacyLoss(epsilon=0.1, rho=0.005), PrivacyLoss(epsilon=0.2, rho=0.02)])
    assert c.epsilon == up(Fraction(0.1) + Fraction(0.2))
    assert c.rho == up(Fraction(0.005) + Fraction(0.02))
    ten = compose([PrivacyLoss(epsilon=0.1, delta=0.0, rho=0.005)] * 10)
    assert Fraction(ten.epsilon) >= 10 * Fraction(0.1)
    assert ten.epsilon == pytest.approx(1.0, rel=1e-15)


def test_compose_infinities_and_limits() -> None:
    zcdp_only = PrivacyLoss(epsilon=math.inf, delta=0.0, rho=0.5)
    pure = PrivacyLoss(epsilon=1.0)  # rho defaults to inf: no zCDP statement
    both = compose([zcdp_only, pure])
    assert both.epsilon == math.inf
    assert both.rho == math.inf
    assert compose([zcdp_only, zcdp_only]).rho == 1.0
    with pytest.raises(InvalidInput):
        compose([PrivacyLoss(epsilon=1.0, delta=0.6)] * 2)
    with pytest.raises(InvalidInput):
        compose([1.0])  # type: ignore[list-item]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.builds(
            PrivacyLoss,
            epsilon=st.floats(min_value=0, max_value=10),
            delta=st.floats(min_value=0, max_value=1e-3),
            rho=st.floats(min_value=0, max_value=10),
        ),
        max_size=20,
    )
)
def test_compose_never_undercounts(losses: list[PrivacyLoss]) -> None:
    total = compose(losses)
    assert Fraction(total.epsilon) >= sum((Fraction(x.epsilon) for x in losses), Fraction(0))
    assert Fraction(total.delta) >= sum((Fraction(x.delta) for x in losses), Fraction(0))
    assert Fraction(total.rho) >= sum((Fraction(x.rho) for x in losses), Fraction(0))
    assert total.epsilon == pytest.approx(math.fsum(x.epsilon for x in losses), rel=1e-15, abs=0)
