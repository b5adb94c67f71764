"""Secure statistics recipes over any :class:`~petsuite.mpc.engine.Engine`.

:func:`run_statistic` is what every compute party runs; input clients of the delegated model play
:func:`client_steps` instead. The flow, identical on every compute party:

1. For each input party in the given order: its row count (``public_input``: row counts are
   public), then its encoded columns (``input``).
2. Bounds check inside MPC: ``ltz`` of ``x - lower`` and ``upper - x`` for every value; only the
   number of out-of-range values per input party is opened. Any violation raises
   :class:`InvalidInput` naming the party(ies), on every compute party, and nothing else is
   released. (Histogram inputs are per-category counts: each must lie in ``[0, rows]`` and their
   total, opened as a difference that is 0 for an honest party, must equal ``rows``.)
3. The statistic is computed inside MPC, optional DP noise is added inside MPC, and only then is
   the result opened (to ``output_to``), followed by output sanity checks
   (``ProtocolAbort(CHECK_FAILED)`` if the opened value is impossible for in-range inputs).

What each statistic reveals to the output parties, besides the row counts of every input party:

* ``sum``, ``mean``: the total Σx (the mean is Σx / N computed in the clear; N is public).
* ``variance`` (population variance, Σ(x - x̄)² / N): only one number, nothing beyond the
  variance. Values are centred on the midpoint ``c`` of the declared bounds (``d = x - c``) to keep
  squares small. When ``N²·((upper - lower)/2)²`` fits the engine's value range at ``frac_bits``
  precision, ``Q = N·Σd² - (Σd)² = N²·variance`` is opened (exact). Otherwise the mean is
  computed inside MPC (``m = trunc(Σd·round(2**k/N), k)``) and ``Q = Σd² - Σd·m ≈ N·variance``
  is opened (error at most ``N·D·(N·D/2**(k+1) + 2)`` in units of ``2**-2f'``); if even
  ``N·((upper - lower)/2)²`` overflows, the centred values are first truncated to fewer
  fractional bits ``f'`` (an error states it when even integer precision does not fit).
* ``weighted_mean``: Σw and Σw·(x - c) (so the total weight as well as the weighted mean).
* ``linear_regression``: the sufficient statistics N, Σdx, Σdy, Σdx², Σdx·dy of the centred
  values (equivalently Σx, Σy, Σx², Σxy); slope and intercept are solved in the clear.
* ``min``, ``max``: the extreme value only (tournament of secure comparisons).
* ``histogram``: the per-category counts only.

DP noise (:class:`NoiseSpec`, ``sum``, ``mean`` and ``histogram`` only): every live compute party
inputs its own discrete Gaussian noise (``petsuite.dp.mechanisms.DiscreteGaussian``, exact
sampler) with σ² = Δ²/(2ρ), and the shares are added before opening. Any single honest party's
noise gives ρ-zCDP, so the release is protected against a coalition of all compute parties but
one; the total noise variance is (number of compute parties)·σ². Because row counts are public,
neighbouring datasets differ by replacing one row: Δ = (upper - lower)·2**frac_bits for a sum
(in fixed-point units) and Δ = √2 for a histogram. The noisy value skips the range sanity check.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort, UnsupportedParameter
from petsuite.core.rng import RandomSource
from petsuite.dp.mechanisms import DiscreteGaussian
from petsuite.mpc import compare
from petsuite.mpc.engine import Engine, IntArray, Shared
from petsuite.mpc.fixedpoint import MAX_FRAC_BITS, decode_scalar, encode, encode_scalar

__all__ = [
    "ENCODE_VALUE_BITS",
    "NoiseSpec",
    "PartyInput",
    "Statistic",
    "StatisticResult",
    "StatisticSpec",
    "client_steps",
    "encode_input",
    "run_statistic",
]

#: Encoded inputs must satisfy ``|x| < 2**(ENCODE_VALUE_BITS - 1)`` (fits every engine).
ENCODE_VALUE_BITS = 60
#: Largest row count one input party may declare.
MAX_ROWS = 1 << 32


class Statistic(enum.StrEnum):
    """The statistics :func:`run_statistic` computes."""

    SUM = "sum"
    MEAN = "mean"
    VARIANCE = "variance"
    WEIGHTED_MEAN = "weighted_mean"
    HISTOGRAM = "histogram"
    MIN = "min"
    MAX = "max"
    LINEAR_REGRESSION = "linear_regression"


@dataclass(frozen=True)
class StatisticSpec:
    """What to compute, the declared bounds of every input value, and the fixed-point precision.

    ``lower``/``upper`` bound every input value (weights, x and y too); values outside are
    detected inside the computation. ``frac_bits`` is the fixed-point precision (0 for integer
    data). ``categories`` lists the histogram's labels (histogram only).
    """

    statistic: Statistic
    lower: float
    upper: float
    frac_bits: int = 16
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "statistic", Statistic(self.statistic))
        except ValueError as exc:
            raise InvalidInput(f"unknown statistic {self.statistic!r}") from exc
        for name in ("lower", "upper"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(f"{name} must be a number")
            if not math.isfinite(value):
                raise InvalidInput(f"{name} must be finite")
        if self.lower > self.upper:
            raise InvalidInput("lower must not exceed upper")
        fb = self.frac_bits
        if isinstance(fb, bool) or not isinstance(fb, int) or not 0 <= fb <= MAX_FRAC_BITS:
            raise InvalidInput(f"frac_bits must be an integer in [0, {MAX_FRAC_BITS}]")
        cats = tuple(self.categories)
        object.__setattr__(self, "categories", cats)
        if self.statistic is Statistic.HISTOGRAM:
            if not cats or any(not isinstance(c, str) for c in cats) or len(set(cats)) != len(cats):
                raise InvalidInput("a histogram needs distinct string categories")
        elif cats:
            raise InvalidInput("categories are only for a histogram")
        if self.statistic is not Statistic.HISTOGRAM:
            for name in ("lower", "upper"):
                encode_scalar(float(getattr(self, name)), fb, value_bits=ENCODE_VALUE_BITS)

    def columns(self) -> int:
        """Number of input columns: 2 for weighted_mean (value, weight) and linear_regression
        (x, y), else 1."""
        if self.statistic in (Statistic.WEIGHTED_MEAN, Statistic.LINEAR_REGRESSION):
            return 2
        return 1


@dataclass(frozen=True)
class PartyInput:
    """One input party's own column(s): numbers, or category labels for a histogram."""

    columns: tuple[Sequence[float] | Sequence[str], ...]


@dataclass(frozen=True)
class NoiseSpec:
    """Optional DP noise added inside MPC before opening, for a ``rho``-zCDP release.

    Every compute party adds its own discrete Gaussian noise calibrated to the full ``rho``, so
    the release is protected even against a coalition of all compute parties but one.
    """

    rho: float

    def __post_init__(self) -> None:
        if not (isinstance(self.rho, int | float) and 0 < float(self.rho) < float("inf")):
            raise InvalidInput("NoiseSpec.rho must be a positive finite number")


@dataclass(frozen=True)
class StatisticResult:
    """The released statistic: a float, ``(slope, intercept)``, or histogram counts."""

    statistic: Statistic
    value: float | tuple[float, ...] | dict[str, int]
    count: int
    per_party_rows: dict[str, int]
    noise: NoiseSpec | None


# ------------------------------------------------------------------------------ input side


def encode_input(spec: StatisticSpec, data: PartyInput) -> list[IntArray]:
    """Validate one party's input and encode it: the arrays it will secret-share, in order.

    Numeric columns become fixed-point integers at ``spec.frac_bits`` (NaN, infinities and
    values beyond the encodable range raise :class:`InvalidInput`; values outside
    ``[lower, upper]`` are *not* rejected here: the bounds check inside MPC catches them without
    revealing them). A histogram column of labels becomes the party's count per category (an
    unknown label raises :class:`InvalidInput` before any protocol step).
    """
    if not isinstance(data, PartyInput):
        raise InvalidInput("input must be a PartyInput")
    cols = tuple(data.columns)
    if len(cols) != spec.columns():
        raise InvalidInput(
            f"{spec.statistic.value} needs {spec.columns()} column(s), got {len(cols)}"
        )
    lengths = {len(c) for c in cols}
    if len(lengths) != 1:
        raise InvalidInput("all columns must have the same number of rows")
    rows = lengths.pop()
    if rows > MAX_ROWS:
        raise InvalidInput(f"at most {MAX_ROWS} rows per party")
    if spec.statistic is Statistic.HISTOGRAM:
        index = {c: i for i, c in enumerate(spec.categories)}
        counts = np.zeros(len(spec.categories), dtype=np.int64)
        for row, label in enumerate(cols[0]):
            if not isinstance(label, str) or label not in index:
                raise InvalidInput(f"row {row}: label is not one of the declared categories")
            counts[index[label]] += 1
        return [counts]
    out = []
    for col in cols:
        if any(isinstance(v, str | bytes | bool) for v in col):
            raise InvalidInput("numeric columns must hold numbers")
        try:
            numbers = [float(v) for v in col]
        except (TypeError, ValueError) as exc:
            raise InvalidInput("numeric columns must hold numbers") from exc
        out.append(encode(numbers, spec.frac_bits, value_bits=ENCODE_VALUE_BITS))
    return out


def client_steps(
    spec: StatisticSpec, data: PartyInput
) -> list[tuple[Literal["public", "input"], IntArray]]:
    """The ``public_input``/``input`` calls :func:`run_statistic` makes with this party as owner.

    In order: its row count (public), then each encoded array (secret-shared). An input client
    of the delegated model plays these with ``spdz2k.provide_public``/``provide_input``.
    """
    arrays = encode_input(spec, data)
    rows = len(data.columns[0])
    steps: list[tuple[Literal["public", "input"], IntArray]] = [
        ("public", np.array([rows], dtype=np.int64))
    ]
    steps.extend(("input", a) for a in arrays)
    return steps


# ------------------------------------------------------------------------------ recipes


@dataclass(frozen=True)
class _Inputs:
    """Every input party's sharings, after the row counts were exchanged."""

    rows: dict[str, int]
    columns: list[list[Shared]]  # columns[j][i]: column j of input party i


def _abort_check(what: str) -> ProtocolAbort:
    return ProtocolAbort(AbortReason.CHECK_FAILED, f"output sanity check failed: {what}")


def _bits_for(magnitude: int) -> int:
    """Smallest ``bits`` with ``magnitude < 2**(bits - 1)``."""
    return int(magnitude).bit_length() + 1


async def _gather_inputs(
    engine: Engine,
    spec: StatisticSpec,
    input_parties: Sequence[str],
    mine: tuple[int, list[IntArray]] | None,
) -> _Inputs:
    """Row counts (public) and shared columns of every input party, owner after owner."""
    histogram = spec.statistic is Statistic.HISTOGRAM
    rows: dict[str, int] = {}
    columns: list[list[Shared]] = [[] for _ in range(spec.columns())]
    for owner in input_parties:
        own = owner == engine.me
        if own and mine is None:
            raise InvalidInput("this party is an input party but has no input")
        declared = np.array([mine[0]], dtype=np.int64) if own and mine is not None else None
        count = int((await engine.public_input(owner, declared, 1))[0])
        if not 0 <= count <= MAX_ROWS:
            raise ProtocolAbort(AbortReason.MALFORMED, "impossible row count", peer=owner)
        rows[owner] = count
        size = len(spec.categories) if histogram else count
        for j in range(spec.columns()):
            values = mine[1][j] if own and mine is not None else None
            columns[j].append(await engine.input(owner, values, size))
    return _Inputs(rows, columns)


async def _bounds_check(
    engine: Engine, spec: StatisticSpec, inputs: _Inputs, input_parties: Sequence[str]
) -> None:
    """Open only the number of out-of-range values per input party; raise if any."""
    histogram = spec.statistic is Statistic.HISTOGRAM
    owners = list(input_parties)
    segments: list[Shared] = []
    lows: list[IntArray] = []
    highs: list[IntArray] = []
    seg_party: list[int] = []
    for i, owner in enumerate(owners):
        for col in inputs.columns:
            segments.append(col[i])
            seg_party.append(i)
            if histogram:
                lo, hi = 0, inputs.rows[owner]
            else:
                lo = encode_scalar(spec.lower, spec.frac_bits, value_bits=ENCODE_VALUE_BITS)
                hi = encode_scalar(spec.upper, spec.frac_bits, value_bits=ENCODE_VALUE_BITS)
            lows.append(np.full(col[i].size, lo, dtype=np.int64))
            highs.append(np.full(col[i].size, hi, dtype=np.int64))
    total = sum(seg.size for seg in segments)
    violations: list[Shared] = [engine.public(np.zeros(1, dtype=np.int64)) for _ in owners]
    if total:
        x = engine.concat(segments)
        low = np.concatenate(lows)
        high = np.concatenate(highs)
        below = engine.add_public(x, -low)  # x - lower  (negative when x < lower)
        above = engine.add_public(engine.neg(x), high)  # upper - x
        neg = await engine.ltz(engine.concat([below, above]), bits=engine.compare_bits)
        flags = engine.add(
            engine.take(neg, slice(0, total)), engine.take(neg, slice(total, 2 * total))
        )
        start = 0
        for seg, i in zip(segments, seg_party, strict=True):
            part = engine.sum(engine.take(flags, slice(start, start + seg.size)))
            violations[i] = engine.add(violations[i], part)
            start += seg.size
    opened_parts = [engine.concat(violations)]
    if histogram:
        # Each histogram's counts must add up to the declared rows: 0 for an honest party.
        diffs = [
            engine.add_public(engine.sum(inputs.columns[0][i]), -inputs.rows[o])
            for i, o in enumerate(owners)
        ]
        opened_parts.append(engine.concat(diffs))
    opened = await engine.open(engine.concat(opened_parts))
    if opened is None:  # pragma: no cover - an opening to all parties returns a value
        raise InvalidInput("internal: bounds check not opened")
    bad = [o for i, o in enumerate(owners) if int(opened[i]) != 0]
    if histogram:
        bad += [
            o for i, o in enumerate(owners) if int(opened[len(owners) + i]) != 0 and o not in bad
        ]
    if bad:
        what = "histogram counts" if histogram else f"[{spec.lower}, {spec.upper}]"
        raise InvalidInput(
            f"input of party {', '.join(bad)} is outside the declared bounds {what}; "
            "no result was released"
        )


async def _add_noise(
    engine: Engine, value: Shared, sigma_sq: Fraction, rng: RandomSource | None
) -> Shared:
    """Every live compute party inputs its own discrete Gaussian noise; the shares are added."""
    mech = DiscreteGaussian(sigma_sq)
    for party in engine.parties:
        noise = None
        if party == engine.me:
            noise = np.array(mech.sample_many(value.size, rng), dtype=np.int64)
        value = engine.add(value, await engine.input(party, noise, value.size))
    return value


def _noise_sigma_sq(spec: StatisticSpec, noise: NoiseSpec) -> Fraction:
    rho = Fraction(noise.rho)
    if spec.statistic is Statistic.HISTOGRAM:
        return Fraction(2) / (2 * rho)  # Δ² = 2 (replace one row: one count -1, one +1)
    lo = encode_scalar(spec.lower, spec.frac_bits, value_bits=ENCODE_VALUE_BITS)
    hi = encode_scalar(spec.upper, spec.frac_bits, value_bits=ENCODE_VALUE_BITS)
    delta = max(hi - lo, 1)
    return Fraction(delta * delta) / (2 * rho)


def _headroom(engine: Engine) -> int:
    """Intermediate results must stay below this magnitude (one bit of slack)."""
    return 1 << (engine.value_bits - 2)


def _working_shift(engine: Engine, spec: StatisticSpec, half_range: int, factor: int) -> int:
    """Fractional bits to drop so that ``factor * (half_range / 2**shift)**2`` fits."""
    limit = _headroom(engine)
    for shift in range(spec.frac_bits + 1):
        d = (half_range >> shift) + 1
        if factor * d * d < limit:
            return shift
    raise InvalidInput(
        f"{spec.statistic.value}: the declared range [{spec.lower}, {spec.upper}] with this many "
        f"rows overflows the engine's {engine.value_bits}-bit value range even at integer "
        "precision; narrow the bounds"
    )


async def _centred(engine: Engine, column: Shared, centre: int, shift: int) -> Shared:
    """``column - centre`` with ``shift`` fractional bits dropped (one batched truncation)."""
    d = engine.add_public(column, -centre)
    return await engine.trunc(d, shift) if shift else d


async def run_statistic(
    engine: Engine,
    spec: StatisticSpec,
    *,
    input_parties: Sequence[str],
    my_input: PartyInput | None,
    noise: NoiseSpec | None = None,
    rng: RandomSource | None = None,
    output_to: Collection[str] | None = None,
) -> StatisticResult | None:
    """Compute ``spec`` over the inputs of ``input_parties``; run by every compute party.

    Parameters
    ----------
    engine:
        This compute party's engine.
    spec:
        The statistic, declared bounds and precision (identical on every party).
    input_parties:
        Owners of the inputs, in the order all parties use; each supplies its row count and
        columns (compute parties via ``my_input``, delegated clients via :func:`client_steps`).
    my_input:
        This party's data if it is an input party, else ``None``.
    noise:
        Optional DP noise (sum, mean and histogram only).
    rng:
        Randomness for the noise (default: the OS CSPRNG).
    output_to:
        Compute parties that learn the result (default: all); others get ``None``.

    Raises
    ------
    InvalidInput
        Bad local input (before any protocol step), or an input party's values are out of bounds
        (on every party, naming it; nothing released).
    ProtocolAbort
        A peer failed or misbehaved, or an output sanity check failed (``CHECK_FAILED``).
    """
    if not isinstance(spec, StatisticSpec):
        raise InvalidInput("spec must be a StatisticSpec")
    owners = list(input_parties)
    if not owners or len(set(owners)) != len(owners):
        raise InvalidInput("input_parties must be distinct and non-empty")
    if noise is not None and spec.statistic not in (
        Statistic.SUM,
        Statistic.MEAN,
        Statistic.HISTOGRAM,
    ):
        raise UnsupportedParameter(f"DP noise is not offered for {spec.statistic.value}")
    mine: tuple[int, list[IntArray]] | None = None
    if engine.me in owners:
        if my_input is None:
            raise InvalidInput("this party is an input party but has no input")
        mine = (len(my_input.columns[0]) if my_input.columns else 0, encode_input(spec, my_input))
    elif my_input is not None:
        raise InvalidInput("this party is not an input party but was given input")
    recipients = None if output_to is None else list(output_to)
    if recipients is not None and not set(recipients) <= set(engine.parties):
        raise InvalidInput("output_to may only name compute parties")

    inputs = await _gather_inputs(engine, spec, owners, mine)
    n = sum(inputs.rows.values())
    if n == 0 and spec.statistic not in (Statistic.SUM, Statistic.HISTOGRAM):
        raise InvalidInput(f"{spec.statistic.value} needs at least one input row")
    f = spec.frac_bits
    lo = hi = 0
    if spec.statistic is not Statistic.HISTOGRAM:
        lo = encode_scalar(spec.lower, f, value_bits=ENCODE_VALUE_BITS)
        hi = encode_scalar(spec.upper, f, value_bits=ENCODE_VALUE_BITS)
        if hi - lo >= 1 << (engine.compare_bits - 1):
            raise InvalidInput("the declared range is too wide for this engine's comparisons")
    sigma_sq = None if noise is None else _noise_sigma_sq(spec, noise)
    noise_room = 0 if sigma_sq is None else 40 * math.isqrt(int(sigma_sq) + 1) * len(engine.parties)
    limit = _headroom(engine)
    if spec.statistic in (Statistic.SUM, Statistic.MEAN) and (
        n * max(abs(lo), abs(hi)) + noise_room >= limit
    ):
        raise InvalidInput(
            f"the sum of {n} values in [{spec.lower}, {spec.upper}] at frac_bits={f} overflows "
            f"the engine's {engine.value_bits}-bit value range"
        )

    stat = spec.statistic
    centre = (lo + hi) // 2
    half_range = max(hi - centre, centre - lo)
    # working precision of the product-based statistics, fixed before any data-dependent step
    shift = 0
    exact_variance = False
    if stat is Statistic.VARIANCE:
        exact_variance = n * n * (half_range + 1) ** 2 < limit
        if not exact_variance:
            shift = _working_shift(engine, spec, half_range, n)
    elif stat is Statistic.WEIGHTED_MEAN:
        shift = _working_shift(engine, spec, max(half_range, abs(lo), abs(hi)), n)
    elif stat is Statistic.LINEAR_REGRESSION:
        shift = _working_shift(engine, spec, half_range, n)

    await _bounds_check(engine, spec, inputs, owners)

    value: float | tuple[float, ...] | dict[str, int]
    if stat in (Statistic.SUM, Statistic.MEAN):
        total = engine.sum(engine.concat(inputs.columns[0]))
        if sigma_sq is not None:
            total = await _add_noise(engine, total, sigma_sq, rng)
        opened = await engine.open(total, to=recipients)
        if opened is None:
            return None
        s = int(opened[0])
        if sigma_sq is None and not n * lo <= s <= n * hi:
            raise _abort_check("sum outside n * [lower, upper]")
        value = decode_scalar(s, f) if stat is Statistic.SUM else decode_scalar(s, f) / n
    elif stat is Statistic.HISTOGRAM:
        counts = inputs.columns[0][0]
        for part in inputs.columns[0][1:]:
            counts = engine.add(counts, part)
        if sigma_sq is not None:
            counts = await _add_noise(engine, counts, sigma_sq, rng)
        opened = await engine.open(counts, to=recipients)
        if opened is None:
            return None
        if sigma_sq is None and (int(opened.min()) < 0 or int(opened.sum()) != n):
            raise _abort_check("histogram counts negative or not adding up to the rows")
        value = {c: int(v) for c, v in zip(spec.categories, opened, strict=True)}
    elif stat is Statistic.VARIANCE:
        d = await _centred(engine, engine.concat(inputs.columns[0]), centre, shift)
        s1 = engine.sum(d)
        dw = (half_range >> shift) + 1  # bound on |d|
        if exact_variance:
            # Q = N·Σd² - (Σd)² = N²·variance, exactly
            sq = await engine.mul(engine.concat([d, s1]), engine.concat([d, s1]))
            q = engine.sub(
                engine.mul_public(engine.sum(engine.take(sq, slice(0, n))), n),
                engine.take(sq, slice(n, n + 1)),
            )
            denominator, low, high = n * n, 0, n * n * dw * dw
        else:
            # Q = Σd² - Σd·m with m ≈ Σd / N computed inside MPC (multiply by round(2**k / N),
            # truncate k bits): Q ≈ N·variance, and no intermediate exceeds N·dw²
            k = engine.value_bits - 3 - dw.bit_length()
            m = await engine.trunc(engine.mul_public(s1, ((1 << k) + n // 2) // n), k)
            sq = await engine.mul(engine.concat([d, s1]), engine.concat([d, m]))
            q = engine.sub(
                engine.sum(engine.take(sq, slice(0, n))), engine.take(sq, slice(n, n + 1))
            )
            err = n * dw * ((n * dw >> (k + 1)) + 2)  # |Σd|·|m - Σd/N| bound
            denominator, low, high = n, -err, n * dw * dw + err
        opened = await engine.open(q, to=recipients)
        if opened is None:
            return None
        qv = int(opened[0])
        if not low <= qv <= high:
            raise _abort_check("variance negative or larger than the declared range allows")
        value = max(qv, 0) / denominator / 2.0 ** (2 * (f - shift))
    elif stat is Statistic.WEIGHTED_MEAN:
        both = engine.concat(
            [engine.add_public(engine.concat(inputs.columns[0]), -centre)] + inputs.columns[1]
        )
        if shift:
            both = await engine.trunc(both, shift)  # one batch for values and weights
        dx = engine.take(both, slice(0, n))
        w = engine.take(both, slice(n, 2 * n))
        wx = engine.sum(await engine.mul(w, dx))
        opened = await engine.open(engine.concat([wx, engine.sum(w)]), to=recipients)
        if opened is None:
            return None
        swx, sw = int(opened[0]), int(opened[1])
        if sw == 0:
            raise InvalidInput("the weights sum to zero: the weighted mean is undefined")
        value = decode_scalar(centre, f) + (swx / sw) / 2.0 ** (f - shift)
        slack = 2.0 ** -(f - shift) * 2
        if spec.lower >= 0 and not spec.lower - slack <= value <= spec.upper + slack:
            raise _abort_check("weighted mean outside [lower, upper] with non-negative weights")
    elif stat is Statistic.LINEAR_REGRESSION:
        both = await _centred(
            engine, engine.concat(inputs.columns[0] + inputs.columns[1]), centre, shift
        )
        dx = engine.take(both, slice(0, n))
        dy = engine.take(both, slice(n, 2 * n))
        prods = await engine.mul(engine.concat([dx, dx]), engine.concat([dx, dy]))
        sums = engine.concat(
            [
                engine.sum(dx),
                engine.sum(dy),
                engine.sum(engine.take(prods, slice(0, n))),
                engine.sum(engine.take(prods, slice(n, 2 * n))),
            ]
        )
        opened = await engine.open(sums, to=recipients)
        if opened is None:
            return None
        sx, sy, sxx, sxy = (int(v) for v in opened)
        sxx_c = n * sxx - sx * sx  # exact integers
        if sxx_c < 0:
            raise _abort_check("negative sum of squares")
        if sxx_c == 0:
            raise InvalidInput("x is constant: the regression slope is undefined")
        slope = (n * sxy - sx * sy) / sxx_c
        unit = 2.0 ** (f - shift)
        mean_x = decode_scalar(centre, f) + sx / n / unit
        mean_y = decode_scalar(centre, f) + sy / n / unit
        value = (slope, mean_y - slope * mean_x)
    else:  # MIN / MAX
        x = engine.concat(inputs.columns[0])
        bits = min(_bits_for(hi - lo), engine.compare_bits)
        if stat is Statistic.MIN:
            best = await compare.minimum(engine, x, bits)
        else:
            best = await compare.maximum(engine, x, bits)
        opened = await engine.open(best, to=recipients)
        if opened is None:
            return None
        v = int(opened[0])
        if not lo <= v <= hi:
            raise _abort_check("extreme value outside [lower, upper]")
        value = decode_scalar(v, f)
    return StatisticResult(
        statistic=stat,
        value=value,
        count=n,
        per_party_rows=dict(inputs.rows),
        noise=noise,
    )
