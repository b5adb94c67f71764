"""Privacy accounting: what a release costs, and what several releases cost together.

Three currencies, all of which a :class:`PrivacyLoss` can carry at once:

* pure ε-DP (``epsilon`` with ``delta == 0``);
* approximate (ε, δ)-DP;
* zero-concentrated DP, ρ-zCDP (``rho``), which composes by addition and converts tightly to
  (ε, δ) (Canonne, Kamath and Steinke 2020).

A budget in the ledger is kept in one currency and charges the matching component of each loss.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from petsuite.core.errors import InvalidInput

__all__ = [
    "PrivacyLoss",
    "approx_from_zcdp",
    "compose",
    "pure_to_zcdp",
    "zcdp_to_approx_delta",
    "zcdp_to_approx_epsilon",
]


@dataclass(frozen=True, slots=True)
class PrivacyLoss:
    """The privacy cost of one release (or of several, composed).

    Parameters
    ----------
    epsilon, delta:
        The (ε, δ)-DP guarantee. ``delta == 0`` means pure ε-DP. ``math.inf`` for ε means the
        release has no (ε, δ) guarantee of its own (a zCDP-only cost before conversion).
    rho:
        The ρ-zCDP guarantee; ``math.inf`` when the release has none (for example an (ε, δ)
        mechanism with δ > 0 that is not zCDP).
    """

    epsilon: float
    delta: float = 0.0
    rho: float = math.inf

    def __post_init__(self) -> None:
        for name in ("epsilon", "delta", "rho"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(f"{name} must be a number")
            if math.isnan(value) or value < 0:
                raise InvalidInput(f"{name} must be non-negative")
        if self.delta >= 1:
            raise InvalidInput("delta must be below 1")

    @property
    def is_pure(self) -> bool:
        return self.delta == 0 and math.isfinite(self.epsilon)

    def to_dict(self) -> dict[str, float | None]:
        """JSON-friendly form for audit entries (infinite components as ``None``)."""
        return {
            "epsilon": self.epsilon if math.isfinite(self.epsilon) else None,
            "delta": self.delta,
            "rho": self.rho if math.isfinite(self.rho) else None,
        }


# --------------------------------------------------------------------------------------------
# composition and conversions


def _round_up(x: Fraction) -> float:
    """The smallest float that is at least ``x``: accounting rounds costs up, never down."""
    f = float(x)
    if Fraction(f) < x:
        f = math.nextafter(f, math.inf)
    return f


def _non_negative(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{name} must be a number")
    f = float(value)
    if math.isnan(f) or f < 0:
        raise InvalidInput(f"{name} must be non-negative")
    return f


def _sum_up(values: list[float]) -> float:
    """Exact sum of non-negative floats, rounded up (``inf`` if any term is infinite)."""
    if any(math.isinf(v) for v in values):
        return math.inf
    return _round_up(sum((Fraction(v) for v in values), Fraction(0)))


def compose(losses: Iterable[PrivacyLoss]) -> PrivacyLoss:
    """Basic sequential composition: ε, δ and ρ each add up.

    Each component is summed exactly and rounded up to a float. An empty iterable costs nothing.
    Raises :class:`InvalidInput` when the deltas sum to 1 or more (no guarantee is left).
    """
    items = list(losses)
    for loss in items:
        if not isinstance(loss, PrivacyLoss):
            raise InvalidInput("compose takes PrivacyLoss values")
    delta = _sum_up([loss.delta for loss in items])
    if delta >= 1:
        raise InvalidInput("the composed delta reaches 1: the releases keep no guarantee")
    return PrivacyLoss(
        epsilon=_sum_up([loss.epsilon for loss in items]),
        delta=delta,
        rho=_sum_up([loss.rho for loss in items]),
    )


def pure_to_zcdp(epsilon: float) -> float:
    """ρ = ε²/2: an ε-DP mechanism is (ε²/2)-zCDP (Bun and Steinke 2016), rounded up."""
    eps = _non_negative(epsilon, "epsilon")
    if math.isinf(eps):
        return math.inf
    return _round_up(Fraction(eps) ** 2 / 2)


def _log_delta_at(rho: float, eps: float, u: float) -> float:
    """``log`` of the CKS bound at α = 1 + u:  (α−1)(αρ−ε) − log(α−1) + α·log(1 − 1/α).

    Rewritten with ``log(1 − 1/α) = log u − log1p(u)`` to stay accurate when α is close to 1.
    """
    return u * ((1.0 + u) * rho - eps) + u * math.log(u) - (1.0 + u) * math.log1p(u)


def _log_delta(rho: float, eps: float) -> float:
    """``log δ(ε)`` for ρ-zCDP, minimised over α > 1 (ρ > 0 and ε finite).

    The exponent is convex in α, with derivative ``ρ(2α − 1) − ε + log(1 − 1/α)``, which is
    increasing; its root is found by bisection on ``log(α − 1)``. Any α gives a valid δ, so the
    result is an upper bound up to float rounding however the search ends.
    """

    def slope(v: float) -> float:
        u = math.exp(v)
        return rho * (1.0 + 2.0 * u) - eps + math.log(u) - math.log1p(u)

    lo, hi = -1.0, 1.0
    while slope(lo) >= 0:
        if lo < -700.0:
            return 0.0  # the minimum sits at α → 1, where the bound is δ = 1 (log δ = 0)
        lo *= 2.0
    while slope(hi) <= 0:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if slope(mid) < 0:
            lo = mid
        else:
            hi = mid
    best = min(_log_delta_at(rho, eps, math.exp(lo)), _log_delta_at(rho, eps, math.exp(hi)))
    return min(best, 0.0)


def zcdp_to_approx_delta(rho: float, epsilon: float) -> float:
    """The δ at which ρ-zCDP implies (ε, δ)-DP, by the tight conversion.

    Canonne, Kamath and Steinke (2020), Corollary 13:
    ``δ = inf_{α>1} exp((α−1)(αρ−ε)) / (α−1) · (1 − 1/α)^α``; never above the simple bound
    ``exp(−(ε−ρ)²/(4ρ))`` (for ε ≥ ρ), and at most 1.
    """
    r = _non_negative(rho, "rho")
    eps = _non_negative(epsilon, "epsilon")
    if r == 0 or math.isinf(eps):
        return 0.0
    if math.isinf(r):
        return 1.0
    tight = math.exp(_log_delta(r, eps))
    simple = math.exp(-((eps - r) ** 2) / (4.0 * r)) if eps >= r else 1.0
    return min(tight, simple, 1.0)


def zcdp_to_approx_epsilon(rho: float, delta: float) -> float:
    """The smallest ε at which ρ-zCDP implies (ε, δ)-DP, by the tight conversion.

    Solves ``zcdp_to_approx_delta(ρ, ε) = δ`` for ε by bisection (δ decreases in ε) and returns
    the upper end of the final bracket, so the δ at the returned ε never exceeds the request
    (up to float rounding in evaluating the bound, ~1e-14 relative). The result is never above
    the simple bound ``ρ + 2√(ρ·log(1/δ))``. ``delta == 0`` gives ``inf`` unless ρ = 0.
    """
    r = _non_negative(rho, "rho")
    d = _non_negative(delta, "delta")
    if d >= 1:
        raise InvalidInput("delta must be below 1")
    if r == 0:
        return 0.0
    if math.isinf(r) or d == 0:
        return math.inf
    log_target = math.log(d)
    simple = r + 2.0 * math.sqrt(r * -log_target)
    if _log_delta(r, 0.0) <= log_target:
        return 0.0
    lo, hi = 0.0, simple
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi) or hi - lo <= 1e-16 * hi:
            break
        if _log_delta(r, mid) <= log_target:
            hi = mid
        else:
            lo = mid
    return min(hi, simple)


def approx_from_zcdp(rho: float, delta: float) -> PrivacyLoss:
    """A ρ-zCDP cost with its (ε, δ) guarantee filled in by :func:`zcdp_to_approx_epsilon`."""
    eps = zcdp_to_approx_epsilon(rho, delta)
    return PrivacyLoss(epsilon=eps, delta=float(delta), rho=float(rho))
