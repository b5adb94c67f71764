"""Exact noise samplers and selection mechanisms for differential privacy.

Threat model
------------
A release made with these mechanisms reveals the true statistic plus noise (or, for selection, one
candidate index). The guarantee is against an adversary who sees every release and knows every
record but one. Neighbouring datasets differ by **adding or removing one record**; the caller
states how far one record can move the statistic (its *sensitivity*) and must enforce that bound
(clamp values, cap each person's contributions) before calling.

Why exact sampling
------------------
Textbook Laplace noise computed with floating point leaks the secret through the pattern of
representable outputs (Mironov 2012, "On significance of the least significant bits for
differential privacy"). Every sampler here follows Canonne, Kamath and Steinke (2020), "The
Discrete Gaussian for Differential Privacy", Algorithms 1–3: parameters are exact rationals, all
arithmetic is on Python integers, and the only randomness is uniform integers drawn by rejection
from the injected ``rng`` (the OS CSPRNG by default). Outputs are integers, so the statistic must be
integer-valued (counts, or sums of values on a fixed integer grid).

Residual leakage: the running time of a draw depends on the value drawn (as in the paper); these
pure-Python samplers make no constant-time claim, so do not expose per-draw timings to an
adversary.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from petsuite.core.errors import InvalidInput, UnsupportedParameter
from petsuite.core.rng import RandomSource, random_below, resolve
from petsuite.dp.accounting import PrivacyLoss, zcdp_to_approx_epsilon

__all__ = [
    "DiscreteGaussian",
    "DiscreteLaplace",
    "discrete_gaussian_many",
    "discrete_laplace_many",
    "permute_and_flip",
    "private_quantile",
    "sample_bernoulli",
    "sample_bernoulli_exp",
    "sample_discrete_gaussian",
    "sample_discrete_laplace",
]

#: Largest numerator or denominator, in bits, accepted for a rational parameter.
_MAX_BITS = 2048
#: Bounds on a Laplace scale and on a Gaussian variance outside which a request is absurd.
_MIN_SCALE = Fraction(1, 2**40)
_MAX_SCALE = Fraction(2**64)
_MIN_SIGMA_SQ = Fraction(1, 2**80)
_MAX_SIGMA_SQ = Fraction(2**128)
#: Most samples one call may draw, and most candidates a selection may weigh.
_MAX_SAMPLES = 10**7
_MAX_CANDIDATES = 2**20
#: ``for_epsilon`` / ``for_rho`` widen the exact scale by at most this factor to find a short rational.
_SLACK = Fraction(1, 10**10)
#: Bytes pulled from the source at a time by the samplers' bit pool.
_REFILL_BYTES = 32
#: Discrete Gaussian reports sum the pmf directly up to this sigma, and use Euler–Maclaurin above.
_DIRECT_SIGMA_MAX = 4096.0


# --------------------------------------------------------------------------------------------
# validation helpers


def _to_fraction(value: object, name: str) -> Fraction:
    """``value`` as an exact rational (a float converts exactly, with no rounding)."""
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be a number, not a bool")
    if isinstance(value, Fraction):
        result = value
    elif isinstance(value, int):
        result = Fraction(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{name} must be finite")
        result = Fraction(value)
    else:
        raise InvalidInput(f"{name} must be an int, float or Fraction")
    if result.numerator.bit_length() > _MAX_BITS or result.denominator.bit_length() > _MAX_BITS:
        raise UnsupportedParameter(f"{name} has an absurdly long exact representation")
    return result


def _positive(value: object, name: str) -> Fraction:
    result = _to_fraction(value, name)
    if result <= 0:
        raise InvalidInput(f"{name} must be positive")
    return result


def _check_count(n: object, name: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise InvalidInput(f"{name} must be an int")
    if n < 0:
        raise InvalidInput(f"{name} must be non-negative")
    if n > _MAX_SAMPLES:
        raise UnsupportedParameter(f"{name} exceeds {_MAX_SAMPLES}")
    return n


def _check_scale(scale: object) -> Fraction:
    result = _positive(scale, "scale")
    if not _MIN_SCALE <= result <= _MAX_SCALE:
        raise UnsupportedParameter("scale is outside [2^-40, 2^64]")
    return result


def _check_sigma_sq(sigma_sq: object) -> Fraction:
    result = _positive(sigma_sq, "sigma_sq")
    if not _MIN_SIGMA_SQ <= result <= _MAX_SIGMA_SQ:
        raise UnsupportedParameter("sigma_sq is outside [2^-80, 2^128]")
    return result


def _check_alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float):
        raise InvalidInput("alpha must be a float")
    a = float(alpha)
    if not 0 < a < 1:
        raise InvalidInput("alpha must lie strictly between 0 and 1")
    return a


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise InvalidInput("k must be an int")
    if k < 0:
        raise InvalidInput("k must be non-negative")
    return k


def _float_up(x: Fraction) -> float:
    """The smallest float that is at least ``x`` (privacy costs are rounded up, never down)."""
    f = float(x)
    if Fraction(f) < x:
        f = math.nextafter(f, math.inf)
    return f


def _simplest_between(lo: Fraction, hi: Fraction) -> Fraction:
    """The rational with the smallest denominator in ``[lo, hi]`` (``0 < lo <= hi``).

    Continued-fraction descent; the interval's width at least doubles every two levels, so the
    depth is logarithmic in ``lo / (hi - lo)``.
    """
    whole = lo.numerator // lo.denominator
    if whole == lo:
        return Fraction(whole)
    if whole + 1 <= hi:
        return Fraction(whole + 1)
    return whole + 1 / _simplest_between(1 / (hi - whole), 1 / (lo - whole))


# --------------------------------------------------------------------------------------------
# integer-only sampling core


class _Bits:
    """A buffered stream of uniform bits from one :class:`RandomSource`.

    ``below(n)`` is the same rejection sampler as :func:`petsuite.core.rng.random_below` (no modulo
    bias) but draws exactly ``ceil(log2 n)`` bits from a pool refilled ``_REFILL_BYTES`` at a time,
    which saves a call into the source per trial.
    """

    __slots__ = ("_avail", "_pool", "_rng")

    def __init__(self, rng: RandomSource | None) -> None:
        self._rng = resolve(rng)
        self._pool = 0
        self._avail = 0

    def bits(self, k: int) -> int:
        if k > self._avail:
            nbytes = max(_REFILL_BYTES, (k - self._avail + 7) // 8)
            fresh = self._rng.random_bytes(nbytes)
            if len(fresh) != nbytes:
                raise InvalidInput("random source returned the wrong number of bytes")
            self._pool = (self._pool << (8 * nbytes)) | int.from_bytes(fresh, "big")
            self._avail += 8 * nbytes
        self._avail -= k
        value = self._pool >> self._avail
        self._pool &= (1 << self._avail) - 1
        return value

    def below(self, n: int) -> int:
        k = (n - 1).bit_length()
        while True:
            value = self.bits(k)
            if value < n:
                return value


def _bern_exp_small(num: int, den: int, bits: _Bits) -> bool:
    """Bernoulli(exp(-num/den)) for ``0 <= num <= den`` (Algorithm 1, γ ≤ 1 branch)."""
    k = 1
    # A ~ Bernoulli(γ/k) is "a uniform integer below den·k is below num".
    while bits.below(den * k) < num:
        k += 1
    return k & 1 == 1


def _bern_exp(num: int, den: int, bits: _Bits) -> bool:
    """Bernoulli(exp(-num/den)) for any ``num >= 0`` (Algorithm 1)."""
    whole, rest = divmod(num, den)
    for _ in range(whole):
        if not _bern_exp_small(1, 1, bits):
            return False
    return _bern_exp_small(rest, den, bits)


def _dlap(t: int, s: int, bits: _Bits) -> int:
    """Discrete Laplace with scale ``t/s``: P[x] ∝ exp(-|x|·s/t) (Algorithm 2)."""
    while True:
        u = bits.below(t)
        if not _bern_exp_small(u, t, bits):
            continue
        v = 0
        while _bern_exp_small(1, 1, bits):
            v += 1
        y = (u + t * v) // s
        negative = bits.bits(1)
        if negative and y == 0:
            continue
        return -y if negative else y


def _dgauss(n: int, d: int, bits: _Bits) -> int:
    """Discrete Gaussian with σ² = n/d: P[x] ∝ exp(-x²/(2σ²)) (Algorithm 3)."""
    t = math.isqrt(n // d) + 1  # floor(σ) + 1, exactly
    # Accept y with probability exp(-(|y| - σ²/t)² / (2σ²)) = exp(-(|y|·d·t - n)² / (2·n·d·t²)).
    dt = d * t
    gamma_den = 2 * n * dt * t
    while True:
        y = _dlap(t, 1, bits)
        a = abs(y) * dt - n
        if _bern_exp(a * a, gamma_den, bits):
            return y


# --------------------------------------------------------------------------------------------
# public samplers


def sample_bernoulli(p: Fraction, rng: RandomSource | None = None) -> bool:
    """Exact Bernoulli(p) for a rational ``0 <= p <= 1``: ``random_below(den) < num``."""
    prob = _to_fraction(p, "p")
    if not 0 <= prob <= 1:
        raise InvalidInput("p must lie in [0, 1]")
    return random_below(prob.denominator, rng) < prob.numerator


def sample_bernoulli_exp(gamma: Fraction, rng: RandomSource | None = None) -> bool:
    """Exact Bernoulli(exp(-γ)) for a rational ``γ >= 0`` (Canonne–Kamath–Steinke, Algorithm 1).

    No exponential is ever evaluated: the coin is built from uniform integers, so the output
    distribution is exactly ``P[True] = exp(-γ)``.
    """
    g = _to_fraction(gamma, "gamma")
    if g < 0:
        raise InvalidInput("gamma must be non-negative")
    return _bern_exp(g.numerator, g.denominator, _Bits(rng))


def sample_discrete_laplace(scale: Fraction | float, rng: RandomSource | None = None) -> int:
    """One exact draw with ``P[x] ∝ exp(-|x|/scale)`` over the integers (Algorithm 2).

    Added to an integer statistic of L1 sensitivity Δ it gives (Δ/scale)-DP.
    """
    sc = _check_scale(scale)
    return _dlap(sc.numerator, sc.denominator, _Bits(rng))


def discrete_laplace_many(
    scale: Fraction | float, n: int, rng: RandomSource | None = None
) -> list[int]:
    """``n`` independent draws of :func:`sample_discrete_laplace`."""
    sc = _check_scale(scale)
    count = _check_count(n)
    bits = _Bits(rng)
    t, s = sc.numerator, sc.denominator
    return [_dlap(t, s, bits) for _ in range(count)]


def sample_discrete_gaussian(sigma_sq: Fraction | float, rng: RandomSource | None = None) -> int:
    """One exact draw with ``P[x] ∝ exp(-x²/(2σ²))`` over the integers (Algorithm 3).

    Added to an integer statistic of L2 sensitivity Δ it gives Δ²/(2σ²)-zCDP.
    """
    var = _check_sigma_sq(sigma_sq)
    return _dgauss(var.numerator, var.denominator, _Bits(rng))


def discrete_gaussian_many(
    sigma_sq: Fraction | float, n: int, rng: RandomSource | None = None
) -> list[int]:
    """``n`` independent draws of :func:`sample_discrete_gaussian`."""
    var = _check_sigma_sq(sigma_sq)
    count = _check_count(n)
    bits = _Bits(rng)
    num, den = var.numerator, var.denominator
    return [_dgauss(num, den, bits) for _ in range(count)]


# --------------------------------------------------------------------------------------------
# discrete Gaussian reporting helpers (floats; never used to draw noise)


@lru_cache(maxsize=4)
def _gauss_weights(sigma_sq: float) -> tuple[float, ...]:
    """``exp(-x²/(2σ²))`` for x = 0, 1, … until it underflows to zero (x > 38.7σ)."""
    sigma = math.sqrt(sigma_sq)
    last = math.ceil(39.0 * sigma) + 2
    return tuple(math.exp(-(x * x) / (2.0 * sigma_sq)) for x in range(last + 1))


def _gauss_upper_sum(sigma_sq: float, a: int) -> float:
    """``Σ_{x >= a} exp(-x²/(2σ²))`` for σ above the direct range (Euler–Maclaurin, a >= 0).

    Terms through the third derivative are kept; the remainder is below 1e-12 of the sum for
    σ > 4096.
    """
    sigma = math.sqrt(sigma_sq)
    fa = math.exp(-(a * a) / (2.0 * sigma_sq))
    integral = math.sqrt(math.pi / 2.0) * sigma * math.erfc(a / (sigma * math.sqrt(2.0)))
    s4 = sigma_sq * sigma_sq
    correction = 0.5 + a / (12.0 * sigma_sq) + (3.0 * a / s4 - a**3 / (s4 * sigma_sq)) / 720.0
    return integral + fa * correction


def _gauss_tail(sigma_sq: float, k: int) -> float:
    """``P[|X| > k]`` for the discrete Gaussian with variance parameter σ²."""
    if math.sqrt(sigma_sq) <= _DIRECT_SIGMA_MAX:
        w = _gauss_weights(sigma_sq)
        total = w[0] + 2.0 * math.fsum(w[1:])
        if k + 1 >= len(w):
            return 0.0
        return 2.0 * math.fsum(w[k + 1 :]) / total
    # Poisson summation: Σ_x exp(-x²/2σ²) = √(2π)σ(1 + 2Σ_j exp(-2π²σ²j²)), the sum < 1e-300 here.
    total = math.sqrt(2.0 * math.pi * sigma_sq)
    return min(1.0, 2.0 * _gauss_upper_sum(sigma_sq, k + 1) / total)


def _smallest_k(tail_at: Callable[[int], float], start_hi: int, alpha: float) -> int:
    """Smallest ``k >= 0`` with ``tail_at(k) <= alpha`` for a non-increasing ``tail_at``."""
    hi = max(start_hi, 1)
    while tail_at(hi) > alpha:
        hi *= 2
    lo = -1  # tail_at(-1) = 1 > alpha by convention
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if tail_at(mid) <= alpha:
            hi = mid
        else:
            lo = mid
    return hi


# --------------------------------------------------------------------------------------------
# mechanisms users hold


@dataclass(frozen=True, slots=True)
class DiscreteLaplace:
    """The discrete Laplace mechanism, ``P[x] = (1-q)/(1+q) · q^|x|`` with ``q = exp(-1/scale)``.

    Added to an integer statistic whose value moves by at most Δ (L1) when one record is added or
    removed, the release is pure (Δ/scale)-DP. The scale is an exact rational.
    """

    scale: Fraction

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", _check_scale(self.scale))

    @classmethod
    def for_epsilon(
        cls, epsilon: float | Fraction, l1_sensitivity: int | Fraction
    ) -> DiscreteLaplace:
        """The mechanism for ε-DP at L1 sensitivity Δ.

        The scale is the rational with the smallest denominator in ``[Δ/ε, Δ/ε·(1 + 1e-10)]``
        (a float ε is taken at its exact binary value), so the actual ``ε' = Δ/scale`` satisfies
        ``ε(1 - 1e-10) <= ε' <= ε``: never above the request, and within 1e-9 relative of it.
        For example ``for_epsilon(0.1, 1)`` gives scale exactly 10.
        """
        eps = _positive(epsilon, "epsilon")
        sens = _positive(l1_sensitivity, "l1_sensitivity")
        exact = sens / eps
        return cls(_simplest_between(exact, exact * (1 + _SLACK)))

    def sample(self, rng: RandomSource | None = None) -> int:
        """One exact draw."""
        return _dlap(self.scale.numerator, self.scale.denominator, _Bits(rng))

    def sample_many(self, n: int, rng: RandomSource | None = None) -> list[int]:
        """``n`` independent exact draws."""
        return discrete_laplace_many(self.scale, n, rng)

    def epsilon(self, l1_sensitivity: int | Fraction) -> Fraction:
        """The exact ε = Δ/scale."""
        return _positive(l1_sensitivity, "l1_sensitivity") / self.scale

    def privacy_loss(self, l1_sensitivity: int | Fraction) -> PrivacyLoss:
        """``ε = Δ/scale``, ``δ = 0``, ``ρ = ε²/2`` (each rounded up to a float)."""
        eps = self.epsilon(l1_sensitivity)
        return PrivacyLoss(epsilon=_float_up(eps), delta=0.0, rho=_float_up(eps * eps / 2))

    def _q_terms(self) -> tuple[float, float]:
        inv = 1.0 / float(self.scale)
        return math.exp(-inv), -math.expm1(-inv)  # q and 1 - q

    def std(self) -> float:
        """Standard deviation, ``√(2q)/(1-q)``."""
        q, one_minus_q = self._q_terms()
        return math.sqrt(2.0 * q) / one_minus_q

    def _tail(self, k: int) -> float:
        """``P[|X| > k] = P[|X| >= k+1] = 2 e^{-(k+1)/t} / (1 + e^{-1/t})``."""
        if k < 0:
            return 1.0
        t = float(self.scale)
        return 2.0 * math.exp(-(k + 1) / t) / (1.0 + math.exp(-1.0 / t))

    def coverage(self, k: int) -> float:
        """``P[|X| <= k]`` from the closed form."""
        return 1.0 - self._tail(_check_k(k))

    def interval_half_width(self, alpha: float) -> int:
        """Smallest integer ``k`` with ``P[|X| <= k] >= 1 - alpha`` (tested as ``P[|X| > k] <= alpha``).

        ``[release - k, release + k]`` then covers the true value with probability ≥ 1 - alpha.
        """
        a = _check_alpha(alpha)
        q, _ = self._q_terms()
        guess = math.ceil(float(self.scale) * math.log(2.0 / (a * (1.0 + q))))
        return _smallest_k(self._tail, max(guess, 1), a)


@dataclass(frozen=True, slots=True)
class DiscreteGaussian:
    """The discrete Gaussian mechanism, ``P[x] ∝ exp(-x²/(2σ²))`` over the integers.

    Added to an integer statistic whose value moves by at most Δ in L2 norm when one record is
    added or removed, the release is ρ-zCDP with ``ρ = Δ²/(2σ²)`` (Canonne–Kamath–Steinke 2020,
    Theorem 4). ``sigma_sq`` is an exact rational.
    """

    sigma_sq: Fraction

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma_sq", _check_sigma_sq(self.sigma_sq))

    @classmethod
    def for_rho(cls, rho: float | Fraction, l2_sensitivity: int | Fraction) -> DiscreteGaussian:
        """The mechanism for ρ-zCDP at L2 sensitivity Δ.

        ``sigma_sq`` is the rational with the smallest denominator in
        ``[Δ²/(2ρ), Δ²/(2ρ)·(1 + 1e-10)]``, so the actual ρ is at most the request and within 1e-9
        relative of it.
        """
        r = _positive(rho, "rho")
        sens = _positive(l2_sensitivity, "l2_sensitivity")
        exact = sens * sens / (2 * r)
        return cls(_simplest_between(exact, exact * (1 + _SLACK)))

    def sample(self, rng: RandomSource | None = None) -> int:
        """One exact draw."""
        return _dgauss(self.sigma_sq.numerator, self.sigma_sq.denominator, _Bits(rng))

    def sample_many(self, n: int, rng: RandomSource | None = None) -> list[int]:
        """``n`` independent exact draws."""
        return discrete_gaussian_many(self.sigma_sq, n, rng)

    def rho(self, l2_sensitivity: int | Fraction) -> Fraction:
        """The exact ρ = Δ²/(2σ²)."""
        sens = _positive(l2_sensitivity, "l2_sensitivity")
        return sens * sens / (2 * self.sigma_sq)

    def privacy_loss(
        self, l2_sensitivity: int | Fraction, delta: float | None = None
    ) -> PrivacyLoss:
        """ρ (rounded up); with ``delta`` also ε from the tight zCDP → (ε, δ) conversion.

        Without ``delta`` the loss has ``epsilon = inf``: a zCDP-only cost.
        """
        rho = _float_up(self.rho(l2_sensitivity))
        if delta is None:
            return PrivacyLoss(epsilon=math.inf, delta=0.0, rho=rho)
        return PrivacyLoss(epsilon=zcdp_to_approx_epsilon(rho, delta), delta=delta, rho=rho)

    def std(self) -> float:
        """Standard deviation from the exact pmf (it is slightly below σ for small σ)."""
        var = float(self.sigma_sq)
        if math.sqrt(var) > _DIRECT_SIGMA_MAX:
            return math.sqrt(var)  # Poisson summation: equal to σ to double precision
        w = _gauss_weights(var)
        total = w[0] + 2.0 * math.fsum(w[1:])
        second = 2.0 * math.fsum(x * x * wx for x, wx in enumerate(w))
        return math.sqrt(second / total)

    def coverage(self, k: int) -> float:
        """``P[|X| <= k]`` from the normalised pmf."""
        return 1.0 - _gauss_tail(float(self.sigma_sq), _check_k(k))

    def interval_half_width(self, alpha: float) -> int:
        """Smallest integer ``k`` with ``P[|X| <= k] >= 1 - alpha`` (tested as ``P[|X| > k] <= alpha``)."""
        a = _check_alpha(alpha)
        var = float(self.sigma_sq)

        def tail(k: int) -> float:
            return 1.0 if k < 0 else _gauss_tail(var, k)

        return _smallest_k(tail, math.ceil(6.0 * math.sqrt(var)) + 1, a)


# --------------------------------------------------------------------------------------------
# selection


def permute_and_flip(
    scores: Sequence[int],
    epsilon: Fraction | float,
    sensitivity: int,
    rng: RandomSource | None = None,
) -> int:
    """ε-DP choice of a high-scoring index (McKenna and Sheldon 2020, "Permute-and-Flip").

    Visits the candidates in a uniformly random order and stops at candidate ``r`` with
    probability ``exp(-ε·(max(scores) - scores[r]) / (2Δ))``; the best candidate always stops it.
    ``sensitivity`` Δ bounds how much any one score moves when one record is added or removed.
    The coin flips are exact (:func:`sample_bernoulli_exp` with rational arguments). The output
    is the index only; it never dominates the exponential mechanism in error.
    """
    eps = _positive(epsilon, "epsilon")
    if isinstance(sensitivity, bool) or not isinstance(sensitivity, int):
        raise InvalidInput("sensitivity must be an int")
    if sensitivity <= 0:
        raise InvalidInput("sensitivity must be positive")
    values = list(scores)
    if not values:
        raise InvalidInput("scores must not be empty")
    if len(values) > _MAX_CANDIDATES:
        raise UnsupportedParameter(f"more than {_MAX_CANDIDATES} candidates")
    for s in values:
        if isinstance(s, bool) or not isinstance(s, int):
            raise InvalidInput("scores must be ints")
    best = max(values)
    num, den = eps.numerator, 2 * eps.denominator * sensitivity
    bits = _Bits(rng)
    remaining = list(range(len(values)))
    while True:  # ends: the best candidate stops the walk with probability 1
        j = bits.below(len(remaining))
        r = remaining[j]
        remaining[j] = remaining[-1]
        remaining.pop()
        if _bern_exp(num * (best - values[r]), den, bits):
            return r


def private_quantile(  # noqa: PLR0917 - positional order is the published signature
    sorted_values: Sequence[int],
    q: Fraction,
    lower: int,
    upper: int,
    epsilon: Fraction | float,
    rng: RandomSource | None = None,
    *,
    candidates: int = 1024,
) -> int:
    """ε-DP estimate of the ``q``-quantile of integer data, chosen from a fixed grid.

    The grid is every integer in ``[lower, upper]`` when there are at most ``candidates`` of them,
    else ``candidates`` evenly spaced integers including both ends; it depends only on the public
    bounds. Each grid point ``c`` scores ``-|#{v < c} - q·n|`` and :func:`permute_and_flip` picks
    one. Adding or removing one record moves every score by at most 1 (sensitivity 1), so the
    release is ε-DP under add/remove-one-record neighbours **provided** each person contributes at
    most one value: the caller must cap contributions and clamp values into ``[lower, upper]``
    (and the bounds must not be derived from the data).

    Parameters
    ----------
    sorted_values:
        The data, sorted ascending.
    q:
        The quantile, a rational in ``[0, 1]`` (``Fraction(1, 2)`` for the median).
    """
    if isinstance(candidates, bool) or not isinstance(candidates, int):
        raise InvalidInput("candidates must be an int")
    if candidates < 1:
        raise InvalidInput("candidates must be positive")
    if candidates > _MAX_CANDIDATES:
        raise UnsupportedParameter(f"more than {_MAX_CANDIDATES} candidates")
    for name, bound in (("lower", lower), ("upper", upper)):
        if isinstance(bound, bool) or not isinstance(bound, int):
            raise InvalidInput(f"{name} must be an int")
    if lower > upper:
        raise InvalidInput("lower must not exceed upper")
    quant = _to_fraction(q, "q")
    if not 0 <= quant <= 1:
        raise InvalidInput("q must lie in [0, 1]")
    eps = _positive(epsilon, "epsilon")
    data = list(sorted_values)
    previous: int | None = None
    for v in data:
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidInput("values must be ints")
        if previous is not None and v < previous:
            raise InvalidInput("values must be sorted ascending")
        previous = v

    span = upper - lower
    if span + 1 <= candidates:
        grid = list(range(lower, upper + 1))
    else:
        grid = [lower + (i * span) // (candidates - 1) for i in range(candidates)]
    # Scores in integer units of 1/den, where q = num/den: -|den·#{v < c} - num·n|, sensitivity den.
    num, den = quant.numerator, quant.denominator
    target = num * len(data)
    scores = [-abs(den * bisect_left(data, c) - target) for c in grid]
    return grid[permute_and_flip(scores, eps, den, rng)]
