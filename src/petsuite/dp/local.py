"""Local differential privacy: every device randomises its own value before it sends anything.

Threat model
------------
The server (the "aggregator") is *not* trusted. Each device runs a randomiser on its own value and
sends only the randomised report; every report on its own is ε-locally differentially private, so
the server, anyone who breaks into it, and anyone who reads the reports in transit learn about any
one person no more than ε allows, whatever else they know. There is no trusted curator and no
privacy budget to keep centrally, but each device must count its own ε across repeated reports
(ε adds up over reports about the same value). What it costs: the noise is added n times instead of
once, so the error of a count grows like √n (and of a mean like 1/√n) with constants far larger
than central DP's: local DP needs many more people to be useful.

What is here
------------
*Frequency oracles* over the domain ``{0, …, d−1}`` (Wang, Blocki, Li and Jha, "Locally
Differentially Private Protocols for Frequency Estimation", USENIX Security 2017):

* GRR, generalised randomised response: keep the value with probability p = e^ε/(e^ε+d−1), else
  send one of the other d−1 values uniformly. Report: one value.
* OUE, optimised unary encoding: a d-bit vector; the value's bit is 1 with probability p = 1/2,
  every other bit with probability q = 1/(e^ε+1). Report: d bits (``np.packbits`` order).
* OLH, optimised local hashing: hash the value into [0, g), g = round(e^ε+1), with a fresh per-user
  hash key, then GRR over g. Report: the 16-byte key and one value in [0, g).

:func:`choose_frequency_oracle` picks the one with the lowest variance (the rule is in its
docstring). Counts are estimated without bias (no clipping, no renormalisation; estimates can be
negative or exceed n), with the exact closed-form variance of a pure protocol (Wang et al. 2017,
Theorem 2, including the count-dependent term) and normal-approximation confidence intervals.

*Means* of a bounded number, :class:`BoundedMean`: Duchi, Jordan and Wainwright's one-dimensional
mechanism (JASA 2018) and the piecewise mechanism of Wang et al. ("Collecting and Analyzing
Multidimensional Data with Local Differential Privacy", ICDE 2019).

Randomness and precision
------------------------
All randomness comes from :mod:`petsuite.core.rng`. A Bernoulli draw with probability p compares a
uniform 64-bit integer U with an integer threshold T: ``U < T`` happens with probability exactly
T/2^64. Fixed thresholds are computed in 60-digit decimal arithmetic, T = ⌊p·2^64⌋ or ⌈p·2^64⌉, so
|T/2^64 − p| < 2^-64, and always rounded in the direction that can only lower the privacy loss;
each one is then checked against e^ε, so every randomiser here is ε-LDP for the ε asked for, not
ε + 2^-64. The realised loss (``realised_epsilon``) is below ε by at most 2^-64/min(p, 1−p)
relative: under 10^-9 for every d and ε accepted, and equal to ε in double precision for moderate
ε. The estimators and their variances use the realised probabilities T/2^64, so they stay exactly
unbiased. Vectorised draws compare U byte by byte, most significant first, and stop at the first
byte that differs: the same event as ``U < T``, using about one random byte per draw.

The continuous mechanisms are sampled on a fixed grid so that the set of possible reports never
depends on the input (floating-point samplers that skip this can leak the input through the low
bits of their output; Mironov, CCS 2012). The piecewise mechanism runs on 2^32 cells: see
:class:`BoundedMean`.
"""

from __future__ import annotations

import decimal
import enum
import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from statistics import NormalDist
from typing import Literal, SupportsIndex, TypeAlias, overload

import numpy as np
from numpy.typing import NDArray

from petsuite.core.errors import InvalidInput, UnsupportedParameter
from petsuite.core.rng import RandomSource, random_below, random_bits, resolve

__all__ = [
    "MAX_DOMAIN_SIZE",
    "MAX_EPSILON",
    "OLH_SEED_BYTES",
    "PIECEWISE_CELLS",
    "BoundedMean",
    "FrequencyEstimate",
    "FrequencyOracle",
    "GRRReport",
    "MeanEstimate",
    "MeanReport",
    "OLHReport",
    "OUEReport",
    "OracleKind",
    "Report",
    "ReportBatch",
    "choose_frequency_oracle",
    "olh_hash",
    "simulate_reports",
]

#: Largest ε accepted. Local DP deployments use single digits; above 20 the randomisers barely
#: randomise, and OLH's hash range e^ε+1 would outgrow 32 bits.
MAX_EPSILON = 20.0
#: Largest domain size: values travel as unsigned 32-bit integers (and OLH hashes 32-bit inputs).
MAX_DOMAIN_SIZE = 1 << 32
#: Length of an OLH report's per-user hash key.
OLH_SEED_BYTES = 16
#: Number of output cells of the discretised piecewise mechanism (reports are 32-bit integers).
PIECEWISE_CELLS = 1 << 32

_TWO64 = 1 << 64
_OLH_BLOCK = 1 << 15  # users per block of OLH aggregation: its arrays stay in the L2 cache
_OUE_SIM_BITS = 1 << 24  # unpacked OUE bits simulated at a time (16 MiB)
_DEC = decimal.Context(prec=60)


class OracleKind(enum.StrEnum):
    """The three frequency oracles of Wang et al. (2017)."""

    GRR = "grr"
    OUE = "oue"
    OLH = "olh"


# --------------------------------------------------------------------------------------------
# Reports: what a device sends
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GRRReport:
    """A GRR report: one value in ``[0, d)``, the true one with probability p only."""

    value: int


@dataclass(frozen=True, slots=True)
class OUEReport:
    """An OUE report: ``ceil(d/8)`` bytes, bit v of the vector is bit ``7 − v % 8`` of byte ``v // 8``
    (``np.packbits`` order); padding bits are zero."""

    bits: bytes


@dataclass(frozen=True, slots=True)
class OLHReport:
    """An OLH report: the device's fresh hash key and a GRR-randomised hash in ``[0, g)``."""

    seed: bytes
    value: int


Report: TypeAlias = GRRReport | OUEReport | OLHReport


@dataclass(frozen=True, slots=True, eq=False)
class ReportBatch:
    """Many frequency-oracle reports as numpy arrays, the form the server aggregates fast.

    ``values`` (GRR, OLH): integers, shape ``(n,)``. ``bits`` (OUE): ``uint8``, shape
    ``(n, ceil(d/8))``, rows packed as by ``np.packbits(..., axis=1)``. ``seeds`` (OLH): ``uint8``,
    shape ``(n, 16)``. The arrays hold randomised reports only, never a raw value.
    """

    kind: OracleKind
    values: NDArray[np.int64] | None = None
    bits: NDArray[np.uint8] | None = None
    seeds: NDArray[np.uint8] | None = None

    def __len__(self) -> int:
        if self.kind is OracleKind.OUE:
            return 0 if self.bits is None else int(self.bits.shape[0])
        return 0 if self.values is None else int(self.values.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class FrequencyEstimate:
    """Estimated count of every value of the domain, with variances and confidence intervals.

    ``counts`` are unbiased (they may be negative or exceed ``n``: rounding or clipping them would
    bias them). ``variance`` is the closed form of Wang et al. (2017, Theorem 2),
    ``n·q*(1−q*)/(p*−q*)² + c·(1−p*−q*)/(p*−q*)``, with the unknown true count ``c`` replaced by the
    estimate clipped to ``[0, n]`` (only inside the variance). ``lower``/``upper`` are the
    ``1 − alpha`` normal-approximation intervals ``counts ± z·√variance``.
    """

    n: int
    counts: NDArray[np.float64]
    variance: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    alpha: float

    @property
    def frequencies(self) -> NDArray[np.float64]:
        """Estimated counts divided by the number of reports."""
        out: NDArray[np.float64] = self.counts / self.n
        return out


@dataclass(frozen=True, slots=True)
class MeanReport:
    """A bounded-mean report: a cell in ``[0, 2^32)`` (piecewise) or a bit (Duchi et al.)."""

    value: int


@dataclass(frozen=True, slots=True)
class MeanEstimate:
    """An unbiased mean estimate with its estimated variance and a ``1 − alpha`` interval.

    ``variance`` is the sample variance of the decoded reports over n: in expectation the local-DP
    noise variance of the mean plus the spread of the true values divided by n, so it is exact for the
    mean of a population the devices are drawn from and conservative for the mean of these devices.
    """

    mean: float
    variance: float
    interval: tuple[float, float]
    n: int
    alpha: float


# --------------------------------------------------------------------------------------------
# Exact thresholds and vectorised draws
# --------------------------------------------------------------------------------------------


def _check_epsilon(epsilon: float) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float):
        raise InvalidInput("epsilon must be a number")
    eps = float(epsilon)
    if not math.isfinite(eps) or eps <= 0:
        raise InvalidInput("epsilon must be a finite number above zero")
    if eps > MAX_EPSILON:
        raise UnsupportedParameter(f"epsilon above {MAX_EPSILON} gives next to no protection")
    return eps


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise InvalidInput("alpha must be a number strictly between 0 and 1")
    return float(alpha)


def _exp(epsilon: float) -> decimal.Decimal:
    """e^ε to 60 significant digits (ε is a binary float, so ``Decimal(ε)`` is exact)."""
    return _DEC.exp(decimal.Decimal(epsilon))


def _scale64(p: decimal.Decimal, rounding: str) -> int:
    return int(_DEC.multiply(p, decimal.Decimal(_TWO64)).to_integral_value(rounding=rounding))


def _le_exp(num: int, den: int, e: decimal.Decimal) -> bool:
    """Whether ``num / den ≤ e`` (integers against a 60-digit e^ε)."""
    return decimal.Decimal(num) <= _DEC.multiply(e, decimal.Decimal(den))


def _keep_threshold(k: int, e: decimal.Decimal) -> int:
    """GRR over k values: T ≈ 2^64·e^ε/(e^ε+k−1), rounded down until (k−1)·T/(2^64−T) ≤ e^ε."""
    t = _scale64(_DEC.divide(e, _DEC.add(e, k - 1)), decimal.ROUND_FLOOR)
    while not _le_exp((k - 1) * t, _TWO64 - t, e):
        t -= 1
    if (k - 1) * t <= _TWO64 - t:  # p ≤ q: ε is too small for 64-bit probabilities
        raise UnsupportedParameter("epsilon is too small to randomise with 64-bit probabilities")
    return t


def _ln_ratio(num: int, den: int) -> float:
    """ln(num/den) to double precision."""
    return float(_DEC.ln(_DEC.divide(decimal.Decimal(num), decimal.Decimal(den))))


def _bernoulli(threshold: int, rng: RandomSource) -> bool:
    """True with probability exactly ``threshold / 2^64``."""
    return random_bits(64, rng) < threshold


def _bernoulli_const(threshold: int, size: int, rng: RandomSource) -> NDArray[np.bool_]:
    """``size`` draws of ``U < threshold``, U uniform on 64 bits, compared byte by byte."""
    if threshold >= _TWO64:
        return np.ones(size, dtype=np.bool_)
    if threshold <= 0 or size == 0:
        return np.zeros(size, dtype=np.bool_)
    tb = threshold.to_bytes(8, "big")
    u = np.frombuffer(rng.random_bytes(size), dtype=np.uint8)
    out: NDArray[np.bool_] = u < tb[0]
    pending = np.flatnonzero(u == tb[0])
    for k in range(1, 8):
        if pending.size == 0:
            break
        u = np.frombuffer(rng.random_bytes(pending.size), dtype=np.uint8)
        out[pending[u < tb[k]]] = True
        pending = pending[u == tb[k]]
    return out


def _bernoulli_each(thresholds: NDArray[np.uint64], rng: RandomSource) -> NDArray[np.bool_]:
    """One draw of ``U < thresholds[i]`` per element (thresholds below 2^64)."""
    size = int(thresholds.shape[0])
    if size == 0:
        return np.zeros(0, dtype=np.bool_)
    tb = thresholds.astype(">u8").view(np.uint8).reshape(size, 8)
    u = np.frombuffer(rng.random_bytes(size), dtype=np.uint8)
    out: NDArray[np.bool_] = u < tb[:, 0]
    pending = np.flatnonzero(u == tb[:, 0])
    for k in range(1, 8):
        if pending.size == 0:
            break
        u = np.frombuffer(rng.random_bytes(pending.size), dtype=np.uint8)
        t = tb[pending, k]
        out[pending[u < t]] = True
        pending = pending[u == t]
    return out


def _random_bits_array(size: int, rng: RandomSource) -> NDArray[np.bool_]:
    """``size`` fair coins."""
    if size == 0:
        return np.zeros(0, dtype=np.bool_)
    raw = np.frombuffer(rng.random_bytes((size + 7) // 8), dtype=np.uint8)
    out: NDArray[np.bool_] = np.unpackbits(raw)[:size].astype(np.bool_)
    return out


def _uniform_below_array(k: int, size: int, rng: RandomSource) -> NDArray[np.int64]:
    """``size`` uniform integers in ``[0, k)``, k ≤ 2^32, by rejection (no modulo bias)."""
    out = np.zeros(size, dtype=np.int64)
    if k <= 1 or size == 0:
        return out
    shift = 32 - (k - 1).bit_length()
    pending = np.arange(size)
    while pending.size:
        raw = np.frombuffer(rng.random_bytes(4 * pending.size), dtype=">u4")
        draw = raw.astype(np.int64) >> shift
        ok = draw < k
        out[pending[ok]] = draw[ok]
        pending = pending[~ok]
    return out


def _fraction_threshold(frac: float) -> int:
    """⌊frac·2^64⌋ for a float in ``[0, 1)``: exact, as ``ldexp`` only moves the exponent."""
    return math.floor(math.ldexp(frac, 64))


def _fraction_thresholds(frac: NDArray[np.float64]) -> NDArray[np.uint64]:
    out: NDArray[np.uint64] = np.floor(np.ldexp(frac, 64)).astype(np.uint64)
    return out


def _as_index(value: object, d: int) -> int:
    if isinstance(value, bool) or not isinstance(value, SupportsIndex):
        raise InvalidInput("a value must be an integer")
    try:
        v = operator.index(value)
    except TypeError:
        raise InvalidInput("a value must be an integer") from None
    if not 0 <= v < d:
        raise InvalidInput(f"value outside the domain [0, {d})")
    return v


def _as_value_array(values: object, d: int) -> NDArray[np.int64]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidInput("values must be a one-dimensional array")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInput("values must be integers")
    out = arr.astype(np.int64)
    if out.size and (int(out.min()) < 0 or int(out.max()) >= d):
        raise InvalidInput(f"value outside the domain [0, {d})")
    return out


# --------------------------------------------------------------------------------------------
# OLH's hash family
# --------------------------------------------------------------------------------------------


def olh_hash(seed: bytes, value: int, g: int) -> int:
    """OLH's per-user hash of ``value`` into ``[0, g)``, keyed by a 16-byte ``seed``.

    h = ((a·v + b) mod 2^64) >> 32 with (a, b) the seed's two little-endian 64-bit words: the
    multiply-add-shift family, strongly universal (pairwise independent and uniform) from 32-bit
    inputs to 32-bit outputs (Dietzfelbinger 1996; Thorup, "High Speed Hashing for Integers and
    Strings", 2015). It is then reduced to ``[0, g)`` by ``(h·g) >> 32``. For v ≠ v′ and a random
    seed, Pr[H(v) = H(v′)] = 1/g + δ with 0 ≤ δ < g·2^-64, which is all OLH's unbiasedness needs;
    privacy does not depend on the hash at all (it comes from the GRR step). A keyed cryptographic
    hash such as BLAKE2b would only be pseudo-random, and the server must evaluate the hash n·d times
    (10^9 for a million users and d = 1,024): about 0.7 µs per BLAKE2b call in Python, i.e. minutes,
    against about half a second here.
    """
    if len(seed) != OLH_SEED_BYTES:
        raise InvalidInput(f"an OLH seed is {OLH_SEED_BYTES} bytes")
    a = int.from_bytes(seed[:8], "little")
    b = int.from_bytes(seed[8:], "little")
    h = ((a * value + b) % _TWO64) >> 32
    return (h * g) >> 32


def _olh_hash_array(seeds: NDArray[np.uint8], values: NDArray[np.int64], g: int) -> NDArray[np.int64]:
    words = np.ascontiguousarray(seeds).view("<u8").reshape(-1, 2)
    x = words[:, 0] * values.astype(np.uint64)  # wraps modulo 2^64, as intended
    x += words[:, 1]
    x >>= np.uint64(32)
    x *= np.uint64(g)
    x >>= np.uint64(32)
    return x.astype(np.int64)


# --------------------------------------------------------------------------------------------
# Frequency oracles
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FrequencyOracle:
    """A local-DP frequency oracle: the device side (:meth:`randomise`) and the server side
    (:meth:`estimate`).

    Parameters
    ----------
    kind:
        GRR, OUE or OLH (Wang et al. 2017). :func:`choose_frequency_oracle` picks one for you.
    domain_size:
        d ≥ 2; values are the integers ``0 … d−1`` (map categories to integers first).
    epsilon:
        The local privacy loss of one report, 0 < ε ≤ :data:`MAX_EPSILON`.

    Each report is ε-LDP with respect to the device's value: whatever the server sees, any one value
    was at most e^ε times likelier than any other to produce it. A device that reports several
    times about the same value spends ε each time (ε adds up). Accuracy: the standard deviation of
    a count grows like √n (see :meth:`variance`).

    Attributes
    ----------
    report_range:
        The range the randomiser works on: d (GRR; OUE, one bit per value), g = round(e^ε+1) (OLH).
    p_star, q_star:
        The probability that a report "supports" the true value, and any other given value; the
        realised values T/2^64 (exact for GRR and OUE; OLH's q* is 1/g up to δ < g·2^-64).
    """

    kind: OracleKind
    domain_size: int
    epsilon: float
    report_range: int = field(init=False)
    keep_threshold: int = field(init=False, repr=False)
    flip_threshold: int = field(init=False, repr=False)
    p_star: float = field(init=False)
    q_star: float = field(init=False)

    def __post_init__(self) -> None:
        try:
            kind = OracleKind(self.kind)
        except ValueError:
            raise InvalidInput("kind must be 'grr', 'oue' or 'olh'") from None
        if isinstance(self.domain_size, bool) or not isinstance(self.domain_size, int):
            raise InvalidInput("domain_size must be an integer")
        if not 2 <= self.domain_size <= MAX_DOMAIN_SIZE:
            raise InvalidInput(f"domain_size must be between 2 and {MAX_DOMAIN_SIZE}")
        eps = _check_epsilon(self.epsilon)
        e = _exp(eps)
        d = self.domain_size
        flip = 0
        if kind is OracleKind.GRR:
            k = d
            keep = _keep_threshold(k, e)
            p = Fraction(keep, _TWO64)
            q = (1 - p) / (k - 1)
        elif kind is OracleKind.OLH:
            k = max(2, int(_DEC.add(e, decimal.Decimal("1.5")).to_integral_value(decimal.ROUND_FLOOR)))
            keep = _keep_threshold(k, e)
            p = Fraction(keep, _TWO64)
            q = Fraction(1, k)
        else:
            k = d
            keep = _TWO64 // 2  # the value's own bit is a fair coin: p = 1/2 exactly
            flip = _scale64(_DEC.divide(1, _DEC.add(e, 1)), decimal.ROUND_CEILING)
            while not _le_exp(_TWO64 - flip, flip, e):  # (1−q)/q ≤ e^ε: round q up
                flip += 1
            if flip >= _TWO64 // 2:
                raise UnsupportedParameter("epsilon is too small to randomise with 64-bit probabilities")
            p = Fraction(1, 2)
            q = Fraction(flip, _TWO64)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "epsilon", eps)
        object.__setattr__(self, "report_range", k)
        object.__setattr__(self, "keep_threshold", keep)
        object.__setattr__(self, "flip_threshold", flip)
        object.__setattr__(self, "p_star", float(p))
        object.__setattr__(self, "q_star", float(q))

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def grr(cls, domain_size: int, epsilon: float) -> FrequencyOracle:
        """Generalised randomised response; best when d < 3e^ε + 2."""
        return cls(OracleKind.GRR, domain_size, epsilon)

    @classmethod
    def oue(cls, domain_size: int, epsilon: float) -> FrequencyOracle:
        """Optimised unary encoding: lowest variance for large d; reports are d bits."""
        return cls(OracleKind.OUE, domain_size, epsilon)

    @classmethod
    def olh(cls, domain_size: int, epsilon: float) -> FrequencyOracle:
        """Optimised local hashing: OUE's variance (up to rounding g) with 17-to-20-byte reports."""
        return cls(OracleKind.OLH, domain_size, epsilon)

    # -- properties -------------------------------------------------------------------------

    @property
    def realised_epsilon(self) -> float:
        """The privacy loss the sampler actually achieves, from its integer thresholds; never above
        ``epsilon`` and below it by at most 2^-64/min(p, q) relative."""
        if self.kind is OracleKind.OUE:
            return _ln_ratio(_TWO64 - self.flip_threshold, self.flip_threshold)
        t = self.keep_threshold
        return _ln_ratio((self.report_range - 1) * t, _TWO64 - t)

    @property
    def report_bytes(self) -> int:
        """Bytes one report takes on the wire (values as the fewest whole bytes)."""
        if self.kind is OracleKind.OUE:
            return (self.domain_size + 7) // 8
        value_bytes = max(1, ((self.report_range - 1).bit_length() + 7) // 8)
        return value_bytes + (OLH_SEED_BYTES if self.kind is OracleKind.OLH else 0)

    def variance(self, n: int, true_count: float = 0.0) -> float:
        """Exact variance of one estimated count from ``n`` reports when the true count is given.

        ``n·q*(1−q*)/(p*−q*)² + true_count·(1−p*−q*)/(p*−q*)`` (Wang et al. 2017, Theorem 2). With
        ``true_count = 0`` this is the paper's headline figure: n(e^ε+d−2)/(e^ε−1)² for GRR and
        n·4e^ε/(e^ε−1)² for OUE (and for OLH when g = e^ε+1 exactly).
        """
        p, q = self.p_star, self.q_star
        return n * q * (1 - q) / (p - q) ** 2 + true_count * (1 - p - q) / (p - q)

    # -- device side ------------------------------------------------------------------------

    def randomise(self, value: int, rng: RandomSource | None = None) -> Report:
        """Randomise one value on the device; the result is all the device sends.

        Raises :class:`InvalidInput` when ``value`` is not an integer in ``[0, d)``.
        """
        d = self.domain_size
        x = _as_index(value, d)
        source = resolve(rng)
        if self.kind is OracleKind.GRR:
            return GRRReport(self._grr(x, d, source))
        if self.kind is OracleKind.OLH:
            seed = source.random_bytes(OLH_SEED_BYTES)
            h = olh_hash(seed, x, self.report_range)
            return OLHReport(seed, self._grr(h, self.report_range, source))
        bits = _bernoulli_const(self.flip_threshold, d, source)
        bits[x] = random_bits(1, source) == 1
        return OUEReport(np.packbits(bits).tobytes())

    def _grr(self, x: int, k: int, source: RandomSource) -> int:
        if _bernoulli(self.keep_threshold, source):
            return x
        other = random_below(k - 1, source)
        return other + (other >= x)

    def _grr_array(self, x: NDArray[np.int64], k: int, source: RandomSource) -> NDArray[np.int64]:
        keep = _bernoulli_const(self.keep_threshold, int(x.shape[0]), source)
        other = _uniform_below_array(k - 1, int(x.shape[0]), source)
        other += other >= x
        out: NDArray[np.int64] = np.where(keep, x, other)
        return out

    def randomise_array(self, values: NDArray[np.integer] | Iterable[int],
                        rng: RandomSource | None = None) -> ReportBatch:
        """Randomise many values at once (a simulation of many devices); same distribution as
        calling :meth:`randomise` on each."""
        d = self.domain_size
        x = _as_value_array(values if isinstance(values, np.ndarray) else list(values), d)
        source = resolve(rng)
        n = int(x.shape[0])
        if self.kind is OracleKind.GRR:
            return ReportBatch(self.kind, values=self._grr_array(x, d, source))
        if self.kind is OracleKind.OLH:
            seeds = np.frombuffer(source.random_bytes(OLH_SEED_BYTES * n), dtype=np.uint8)
            seeds = seeds.reshape(n, OLH_SEED_BYTES)
            h = _olh_hash_array(seeds, x, self.report_range)
            return ReportBatch(self.kind, values=self._grr_array(h, self.report_range, source),
                               seeds=seeds)
        packed = np.empty((n, (d + 7) // 8), dtype=np.uint8)
        rows = max(1, _OUE_SIM_BITS // d)
        for start in range(0, n, rows):
            xs = x[start:start + rows]
            c = int(xs.shape[0])
            bits = _bernoulli_const(self.flip_threshold, c * d, source).reshape(c, d)
            bits[np.arange(c), xs] = _random_bits_array(c, source)
            packed[start:start + c] = np.packbits(bits, axis=1)
        return ReportBatch(self.kind, bits=packed)

    # -- server side ------------------------------------------------------------------------

    def batch(self, reports: Iterable[Report]) -> ReportBatch:
        """Gather individual reports into a :class:`ReportBatch` (validating their shape)."""
        items = list(reports)
        if self.kind is OracleKind.GRR:
            if not all(isinstance(r, GRRReport) for r in items):
                raise InvalidInput("expected GRR reports")
            vals = [r.value for r in items if isinstance(r, GRRReport)]
            return ReportBatch(self.kind, values=_report_values(vals))
        if self.kind is OracleKind.OLH:
            olh = [r for r in items if isinstance(r, OLHReport)]
            if len(olh) != len(items):
                raise InvalidInput("expected OLH reports")
            if any(len(r.seed) != OLH_SEED_BYTES for r in olh):
                raise InvalidInput(f"an OLH seed is {OLH_SEED_BYTES} bytes")
            seeds = np.frombuffer(b"".join(r.seed for r in olh), dtype=np.uint8)
            return ReportBatch(self.kind, values=_report_values([r.value for r in olh]),
                               seeds=seeds.reshape(len(olh), OLH_SEED_BYTES))
        oue = [r for r in items if isinstance(r, OUEReport)]
        nb = (self.domain_size + 7) // 8
        if len(oue) != len(items) or any(len(r.bits) != nb for r in oue):
            raise InvalidInput(f"expected OUE reports of {nb} bytes")
        bits = np.frombuffer(b"".join(r.bits for r in oue), dtype=np.uint8)
        return ReportBatch(self.kind, bits=bits.reshape(len(oue), nb))

    def support_counts(self, batch: ReportBatch) -> NDArray[np.int64]:
        """For each value v, the number of reports that support v (the raw, biased counts).

        Fast paths: GRR ``np.bincount``; OUE per-column bit counts summed in ``uint8`` blocks of 255
        rows; OLH one pass over the domain per block of users, with the hash condition rewritten as
        one wrapping add and one comparison per (user, value).
        """
        if batch.kind is not self.kind:
            raise InvalidInput(f"expected a batch of {self.kind.value} reports")
        d = self.domain_size
        if self.kind is OracleKind.GRR:
            vals = _batch_values(batch, d)
            out: NDArray[np.int64] = np.bincount(vals, minlength=d).astype(np.int64)
            return out
        if self.kind is OracleKind.OUE:
            return _oue_counts(_batch_bits(batch, d), d)
        vals = _batch_values(batch, self.report_range)
        seeds = batch.seeds
        if seeds is None or seeds.dtype != np.uint8 or seeds.shape != (vals.shape[0], OLH_SEED_BYTES):
            raise InvalidInput(f"OLH seeds must be a uint8 array of shape (n, {OLH_SEED_BYTES})")
        return _olh_counts(seeds, vals, self.report_range, d)

    def estimate(self, reports: ReportBatch | Iterable[Report], *, alpha: float = 0.05
                 ) -> FrequencyEstimate:
        """Unbiased count of every value, its variance and a ``1 − alpha`` interval.

        The server sees only randomised reports. Raises :class:`InvalidInput` for malformed
        reports (wrong kind or shape, values out of range) or an empty batch.
        """
        a = _check_alpha(alpha)
        batch = reports if isinstance(reports, ReportBatch) else self.batch(reports)
        n = len(batch)
        if n == 0:
            raise InvalidInput("no reports to estimate from")
        support = self.support_counts(batch)
        p, q = self.p_star, self.q_star
        counts = np.asarray((support - n * q) / (p - q), dtype=np.float64)
        plug = np.clip(counts, 0.0, float(n))
        variance = n * q * (1 - q) / (p - q) ** 2 + plug * ((1 - p - q) / (p - q))
        half = NormalDist().inv_cdf(1 - a / 2) * np.sqrt(variance)
        for arr in (counts, variance, half):
            arr.setflags(write=False)
        lower, upper = counts - half, counts + half
        lower.setflags(write=False)
        upper.setflags(write=False)
        return FrequencyEstimate(n, counts, variance, lower, upper, a)


def _report_values(vals: list[int]) -> NDArray[np.int64]:
    if any(isinstance(v, bool) or not isinstance(v, int) for v in vals):
        raise InvalidInput("report values must be integers")
    try:
        return np.array(vals, dtype=np.int64)
    except OverflowError:
        raise InvalidInput("report value out of range") from None


def _batch_values(batch: ReportBatch, k: int) -> NDArray[np.int64]:
    vals = batch.values
    if vals is None or vals.ndim != 1 or (vals.size and not np.issubdtype(vals.dtype, np.integer)):
        raise InvalidInput("report values must be a one-dimensional integer array")
    out = vals.astype(np.int64, copy=False)
    if out.size and (int(out.min()) < 0 or int(out.max()) >= k):
        raise InvalidInput(f"report value outside [0, {k})")
    return out


def _batch_bits(batch: ReportBatch, d: int) -> NDArray[np.uint8]:
    bits = batch.bits
    nb = (d + 7) // 8
    if bits is None or bits.dtype != np.uint8 or bits.ndim != 2 or bits.shape[1] != nb:
        raise InvalidInput(f"OUE reports must be a uint8 array of shape (n, {nb})")
    if d % 8 and bits.shape[0] and np.any(bits[:, -1] & np.uint8((1 << (8 - d % 8)) - 1)):
        raise InvalidInput("OUE report has bits set beyond the domain")
    return bits


def _oue_counts(bits: NDArray[np.uint8], d: int) -> NDArray[np.int64]:
    block = 255  # a uint8 column sum of 255 bits cannot overflow
    total = np.zeros(bits.shape[1] * 8, dtype=np.int64)
    step = block * 64
    for start in range(0, int(bits.shape[0]), step):
        unpacked = np.unpackbits(bits[start:start + step], axis=1)
        whole = unpacked.shape[0] // block
        if whole:
            sums = unpacked[: whole * block].reshape(whole, block, -1).sum(axis=1, dtype=np.uint8)
            total += sums.sum(axis=0, dtype=np.int64)
        total += unpacked[whole * block:].sum(axis=0, dtype=np.int64)
    return total[:d]


def _olh_counts(seeds: NDArray[np.uint8], y: NDArray[np.int64], g: int, d: int) -> NDArray[np.int64]:
    # H(v) = y  ⇔  (a·v + b) mod 2^64 ∈ [lo·2^32, hi·2^32) with lo = ⌈y·2^32/g⌉, hi = ⌈(y+1)·2^32/g⌉
    #          ⇔  (a·v + b − lo·2^32) mod 2^64 < (hi − lo)·2^32: one add and one compare per value.
    words = np.ascontiguousarray(seeds).view("<u8").reshape(-1, 2)
    yy = y.astype(np.uint64)
    gg = np.uint64(g)
    lo = ((yy << np.uint64(32)) + (gg - np.uint64(1))) // gg
    hi = (((yy + np.uint64(1)) << np.uint64(32)) + (gg - np.uint64(1))) // gg
    width_all = (hi - lo) << np.uint64(32)
    start_all = words[:, 1] - (lo << np.uint64(32))
    step_all = np.ascontiguousarray(words[:, 0])  # contiguous: the inner loop is memory-bound
    counts = np.zeros(d, dtype=np.int64)
    n = int(y.shape[0])
    for s in range(0, n, _OLH_BLOCK):
        a = step_all[s:s + _OLH_BLOCK]
        x = start_all[s:s + _OLH_BLOCK].copy()
        width = width_all[s:s + _OLH_BLOCK]
        hit = np.empty(x.shape[0], dtype=np.bool_)
        for v in range(d):
            np.less(x, width, out=hit)
            counts[v] += np.count_nonzero(hit)
            x += a
    return counts


def choose_frequency_oracle(domain_size: int, epsilon: float, *, compact: bool = False
                            ) -> FrequencyOracle:
    """The frequency oracle with the lowest variance for ``domain_size`` and ``epsilon``.

    Rule (Wang et al. 2017, Section 5): GRR's variance per report is (e^ε+d−2)/(e^ε−1)² and OUE's
    is 4e^ε/(e^ε−1)², so GRR wins exactly when d < 3e^ε + 2. Otherwise OUE, which has the lowest
    variance of the three but sends d bits per report; with ``compact=True`` OLH instead, which
    sends 16 + ⌈log2 g / 8⌉ bytes for (nearly) the same variance, at the price of an O(n·d)
    hash evaluation on the server.
    """
    if isinstance(domain_size, bool) or not isinstance(domain_size, int):
        raise InvalidInput("domain_size must be an integer")
    eps = _check_epsilon(epsilon)
    if domain_size < 3 * math.exp(eps) + 2:
        return FrequencyOracle.grr(domain_size, eps)
    return FrequencyOracle.olh(domain_size, eps) if compact else FrequencyOracle.oue(domain_size, eps)


# --------------------------------------------------------------------------------------------
# Bounded means
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BoundedMean:
    """Local-DP mean of a number known to lie in ``[lower, upper]``.

    Parameters
    ----------
    lower, upper:
        Public bounds; each device clamps its value into them before randomising (the clamping
        is the only bias, and only for values outside the bounds).
    epsilon:
        Local privacy loss per report.
    mechanism:
        ``"piecewise"`` (Wang et al., ICDE 2019; lower variance for ε above about 1.29) or
        ``"duchi"`` (Duchi, Jordan and Wainwright 2018; one bit per report).

    Mechanisms, on t ∈ [−1, 1] (the value rescaled):

    * Duchi et al.: send a bit that is 1 with probability 1/2 + ρ·t/2, ρ = (e^ε−1)/(e^ε+1);
      decoded as ±1/ρ. Sampled as "with probability ρ a Bernoulli(f), f = (t+1)/2, else a fair
      coin", so whatever floating-point error f carries, Pr[1] stays within [(1−ρ)/2, (1+ρ)/2] and
      the bit is ε-LDP exactly. Per-report variance 1/ρ² − t².
    * piecewise, discretised: the output range is N = 2^32 cells; a window of m ≈ N/(e^{ε/2}+1)
      cells starts at cell j = f·(N−m), rounded up or down at random without bias; the report is a
      uniform cell of the window with probability P ≈ e^{ε/2}/(e^{ε/2}+1), else a uniform cell
      outside it. Every cell has probability P/m or (1−P)/(N−m), and P is set (rounded down) so
      that their ratio is at most e^ε: ε-LDP exactly, with no floating point in the sampler. Cell
      z decodes to 2(z + ½ − N/2)/(κ(N−m)), κ = P − (1−P)m/(N−m), which is unbiased for t; the
      variance is t²(1/κ − 1) + 4(κφ + D)/(κ²(N−m)²), φ ≤ ¼, which is the paper's
      t²/(e^{ε/2}−1) + (e^{ε/2}+3)/(3(e^{ε/2}−1)²) up to about 2^-32 relative.

    The only floating point on the device is the rescaling f = (x − lower)/(upper − lower), which
    changes the value by at most a few ulps; it cannot change the privacy guarantee.
    """

    lower: float
    upper: float
    epsilon: float
    mechanism: Literal["piecewise", "duchi"] = "piecewise"
    _window: int = field(init=False, repr=False)
    _threshold: int = field(init=False, repr=False)
    _kappa: float = field(init=False, repr=False)
    _grid_var: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("lower", "upper"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise InvalidInput(f"{name} must be a finite number")
            object.__setattr__(self, name, float(v))
        if not self.lower < self.upper:
            raise InvalidInput("lower must be below upper")
        if not math.isfinite(self.upper - self.lower):
            raise InvalidInput("the range upper − lower overflows")
        eps = _check_epsilon(self.epsilon)
        object.__setattr__(self, "epsilon", eps)
        e = _exp(eps)
        if self.mechanism == "duchi":
            t = _scale64(_DEC.divide(_DEC.subtract(e, 1), _DEC.add(e, 1)), decimal.ROUND_FLOOR)
            while not _le_exp(_TWO64 + t, _TWO64 - t, e):
                t -= 1
            if t <= 0:
                raise UnsupportedParameter("epsilon is too small to randomise with 64-bit probabilities")
            object.__setattr__(self, "_window", 0)
            object.__setattr__(self, "_threshold", t)
            object.__setattr__(self, "_kappa", float(Fraction(t, _TWO64)))
            object.__setattr__(self, "_grid_var", 0.0)
            return
        if self.mechanism != "piecewise":
            raise InvalidInput("mechanism must be 'piecewise' or 'duchi'")
        big_n = PIECEWISE_CELLS
        half = _DEC.exp(_DEC.divide(decimal.Decimal(eps), 2))
        m = int(_DEC.divide(big_n, _DEC.add(half, 1)).to_integral_value(decimal.ROUND_HALF_EVEN))
        m = min(max(m, 1), big_n - 1)
        em = _DEC.multiply(e, decimal.Decimal(m))
        t = _scale64(_DEC.divide(em, _DEC.add(em, big_n - m)), decimal.ROUND_FLOOR)
        while not _le_exp(t * (big_n - m), (_TWO64 - t) * m, e):
            t -= 1
        pc = Fraction(t, _TWO64)
        kappa = pc - (1 - pc) * Fraction(m, big_n - m)
        if kappa <= 0:
            raise UnsupportedParameter("epsilon is too small for the piecewise mechanism")
        d_const = pc * (m * m - 1) / 12 + (1 - pc) * Fraction(
            big_n * (big_n * big_n - 1) - m * (m * m - 1), 12 * (big_n - m))
        object.__setattr__(self, "_window", m)
        object.__setattr__(self, "_threshold", t)
        object.__setattr__(self, "_kappa", float(kappa))
        object.__setattr__(self, "_grid_var", float(4 * d_const / (kappa**2 * (big_n - m) ** 2)))

    # -- helpers ----------------------------------------------------------------------------

    def _fraction(self, x: float) -> float:
        if isinstance(x, bool) or not isinstance(x, int | float | np.floating | np.integer):
            raise InvalidInput("a value must be a number")
        xf = float(x)
        if not math.isfinite(xf):
            raise InvalidInput("a value must be finite (not NaN or infinite)")
        xc = min(max(xf, self.lower), self.upper)
        return (xc - self.lower) / (self.upper - self.lower)

    def _fractions(self, values: NDArray[np.floating] | Iterable[float]) -> NDArray[np.float64]:
        arr = np.asarray(values if isinstance(values, np.ndarray) else list(values))
        if arr.ndim != 1:
            raise InvalidInput("values must be a one-dimensional array")
        if arr.size and not (np.issubdtype(arr.dtype, np.floating)
                             or np.issubdtype(arr.dtype, np.integer)):
            raise InvalidInput("values must be numbers")
        xf = arr.astype(np.float64)
        if not np.all(np.isfinite(xf)):
            raise InvalidInput("values must be finite (not NaN or infinite)")
        out: NDArray[np.float64] = (np.clip(xf, self.lower, self.upper) - self.lower) / (
            self.upper - self.lower)
        return out

    @property
    def realised_epsilon(self) -> float:
        """The privacy loss the sampler actually achieves (the largest ratio of two inputs'
        probabilities of one report); never above ``epsilon``."""
        t = self._threshold
        if self.mechanism == "duchi":
            return _ln_ratio(_TWO64 + t, _TWO64 - t)
        m = self._window
        return _ln_ratio(t * (PIECEWISE_CELLS - m), (_TWO64 - t) * m)

    @property
    def report_bits(self) -> int:
        """Bits one report takes: 1 (Duchi et al.) or 32 (piecewise)."""
        return 1 if self.mechanism == "duchi" else 32

    # -- device side ------------------------------------------------------------------------

    def randomise(self, x: float, rng: RandomSource | None = None) -> MeanReport:
        """Clamp ``x`` into the bounds and randomise it; the report is all the device sends.

        Raises :class:`InvalidInput` for NaN, infinities and non-numbers.
        """
        f = self._fraction(x)
        source = resolve(rng)
        if self.mechanism == "duchi":
            if _bernoulli(self._threshold, source):
                bit = f >= 1.0 or _bernoulli(_fraction_threshold(f), source)
            else:
                bit = random_bits(1, source) == 1
            return MeanReport(int(bit))
        big_n, m = PIECEWISE_CELLS, self._window
        j_real = f * (big_n - m)
        j = math.floor(j_real)
        frac = j_real - j
        if frac > 0 and _bernoulli(_fraction_threshold(frac), source):
            j += 1
        if _bernoulli(self._threshold, source):
            return MeanReport(j + random_below(m, source))
        u = random_below(big_n - m, source)
        return MeanReport(u + m if u >= j else u)

    def randomise_array(self, values: NDArray[np.floating] | Iterable[float],
                        rng: RandomSource | None = None) -> NDArray[np.int64]:
        """Randomise many values (a simulation of many devices); same distribution as
        :meth:`randomise` on each. Returns the report values."""
        f = self._fractions(values)
        source = resolve(rng)
        n = int(f.shape[0])
        if self.mechanism == "duchi":
            informative = _bernoulli_const(self._threshold, n, source)
            ones = f >= 1.0
            follow = _bernoulli_each(_fraction_thresholds(np.where(ones, 0.0, f)), source) | ones
            coin = _random_bits_array(n, source)
            out: NDArray[np.int64] = np.where(informative, follow, coin).astype(np.int64)
            return out
        big_n, m = PIECEWISE_CELLS, self._window
        j_real = f * float(big_n - m)
        j0 = np.floor(j_real)
        up = _bernoulli_each(_fraction_thresholds(j_real - j0), source)
        j = j0.astype(np.int64) + up
        centre = _bernoulli_const(self._threshold, n, source)
        inside = j + _uniform_below_array(m, n, source)
        u = _uniform_below_array(big_n - m, n, source)
        outside = u + m * (u >= j)
        out = np.where(centre, inside, outside)
        return out

    # -- server side ------------------------------------------------------------------------

    def decode(self, reports: Iterable[MeanReport] | NDArray[np.integer]) -> NDArray[np.float64]:
        """Each report's unbiased estimate of its (clamped) value, in the original units."""
        if isinstance(reports, np.ndarray):
            arr = reports
        else:
            items = list(reports)
            if not all(isinstance(r, MeanReport) for r in items):
                raise InvalidInput("expected MeanReport objects")
            arr = _report_values([r.value for r in items])
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise InvalidInput("reports must be a one-dimensional integer array")
        z = arr.astype(np.int64)
        top = 2 if self.mechanism == "duchi" else PIECEWISE_CELLS
        if z.size and (int(z.min()) < 0 or int(z.max()) >= top):
            raise InvalidInput(f"report value outside [0, {top})")
        width = self.upper - self.lower
        centred: NDArray[np.float64]
        if self.mechanism == "duchi":
            centred = np.asarray((z - 0.5) / self._kappa, dtype=np.float64)
        else:
            big_n, m = PIECEWISE_CELLS, self._window
            centred = (z.astype(np.float64) + (0.5 - big_n / 2)) / (self._kappa * (big_n - m))
        out: NDArray[np.float64] = self.lower + width * (0.5 + centred)
        return out

    def estimate(self, reports: Iterable[MeanReport] | NDArray[np.integer], *,
                 alpha: float = 0.05) -> MeanEstimate:
        """Unbiased mean of the devices' (clamped) values, with variance and interval.

        Needs at least two reports (the variance is estimated from their spread).
        """
        a = _check_alpha(alpha)
        decoded = self.decode(reports)
        n = int(decoded.shape[0])
        if n < 2:
            raise InvalidInput("need at least two reports")
        mean = float(decoded.mean())
        variance = float(decoded.var(ddof=1)) / n
        half = NormalDist().inv_cdf(1 - a / 2) * math.sqrt(variance)
        return MeanEstimate(mean, variance, (mean - half, mean + half), n, a)

    # -- closed forms -----------------------------------------------------------------------

    def report_variance(self, x: float) -> float:
        """Exact variance of one decoded report when the device's value is ``x``."""
        return float(self._report_variances(np.array([self._fraction(x)]))[0])

    def variance_of_mean(self, values: NDArray[np.floating] | Iterable[float]) -> float:
        """Exact variance of :meth:`estimate`'s mean for these true (clamped) values."""
        var = self._report_variances(self._fractions(values))
        return float(var.sum()) / float(var.shape[0]) ** 2

    def _report_variances(self, f: NDArray[np.float64]) -> NDArray[np.float64]:
        t = 2.0 * f - 1.0
        scale = ((self.upper - self.lower) / 2) ** 2
        if self.mechanism == "duchi":
            out: NDArray[np.float64] = scale * (1.0 / self._kappa**2 - t * t)
            return out
        big_n, m = PIECEWISE_CELLS, self._window
        j_real = f * float(big_n - m)
        frac = j_real - np.floor(j_real)
        phi = frac * (1.0 - frac)
        k = self._kappa
        rounding = 4.0 * phi / (k * float(big_n - m) ** 2)
        out = scale * (t * t * (1.0 / k - 1.0) + self._grid_var + rounding)
        return out


# --------------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------------


@overload
def simulate_reports(oracle: FrequencyOracle, values: NDArray[np.integer] | Iterable[int],
                     rng: RandomSource | None = None) -> ReportBatch: ...


@overload
def simulate_reports(oracle: BoundedMean, values: NDArray[np.floating] | Iterable[float],
                     rng: RandomSource | None = None) -> NDArray[np.int64]: ...


def simulate_reports(oracle: FrequencyOracle | BoundedMean,
                     values: NDArray[np.integer] | NDArray[np.floating] | Iterable[float],
                     rng: RandomSource | None = None) -> ReportBatch | NDArray[np.int64]:
    """Simulate many devices: randomise every value, as each device would on its own.

    Vectorised with numpy on bytes from ``rng`` (the OS CSPRNG by default), so the CSPRNG stays the
    only source of randomness. For tests, examples and benchmarks; a real device calls
    ``randomise`` on its one value.
    """
    if isinstance(oracle, FrequencyOracle):
        return oracle.randomise_array(values, rng)  # type: ignore[arg-type]
    if isinstance(oracle, BoundedMean):
        return oracle.randomise_array(values, rng)
    raise InvalidInput("oracle must be a FrequencyOracle or a BoundedMean")
