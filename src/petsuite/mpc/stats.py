"""Secure statistics recipes over any :class:`~petsuite.mpc.engine.Engine`.

:func:`run_statistic` is what every compute party runs; input clients of the delegated model play
:func:`client_steps` instead. The flow, identical on every compute party:

1. Inputs, for each input party in the given order (both steps of one owner before the next
   owner's): ``[rows, count, W]`` (``public_input``: its row count, which is public, its own
   number of out-of-range values, counted locally, and the range width ``W`` it proves
   against), then one ``input`` holding its encoded columns followed by the proof bits of its
   first chunk of rows (step 2). Here ``s = x - lower`` and ``W = upper - lower`` (fixed-point
   encoded; for a histogram each count, with ``lower = 0`` and ``W = rows``), ``k =
   W.bit_length()``, and the proof bits of a value are the ``k`` bits ``b_i`` of ``s`` and the
   ``k`` bits ``c_i`` of ``W - s``. A non-zero count (the path of an honest owner with a typo;
   such an owner sends its columns only) or a ``W`` other than the declared one (an owner using
   other bounds; its proof inputs are consumed unchecked) marks the owner as rejected.
2. Bounds check, in rounds over chunks of rows (at most :data:`PROOF_CHUNK` proof elements per
   owner and round, so memory does not grow with the row count): in round ``r`` every owner with
   a chunk ``r >= 1`` inputs its proof bits (in owner order), then the compute parties form the
   values that are zero for an honest owner: ``b·(b - 1)`` for every bit (one ``mul`` for all
   owners), ``s - Σ 2^i b_i`` and ``(W - s) - Σ 2^i c_i`` per value (linear), and in round 0 of
   a histogram ``Σ counts - rows``. They toss a coin (every compute party inputs 5 random words,
   the sum is opened: uniform if one party is honest, and fixed after the round's inputs),
   expand it with SHAKE-256 (``expand_seed``) into :data:`RANGE_CHECKS` = 40 random subsets per
   owner, and open only the 40 subset sums per owner (``circuits.subset_sums``). Any non-zero sum
   marks the owner as failed; its later chunks are consumed but not checked. An input client's
   later steps thus follow one round of work apart (rounds are small), and a compute party lost
   before its coin turn is skipped (threshold continuation of the Shamir engine).

   Why this proves ``lower <= x <= upper``: ``b·(b - 1) = 0`` forces ``b`` in {0, 1} in F_p (a
   field) and in Z_2^64 (of two consecutive integers one is odd, so the other must be divisible by
   2^64). Then ``S = Σ 2^i b_i`` and ``C = Σ 2^i c_i`` are integers in ``[0, 2^k)``, and
   ``S + C ≡ W`` (modulus M); as ``0 <= S + C < 2^(k+1) <= M + 1 <= W + M``, in fact
   ``S + C = W`` over the integers, so ``0 <= S <= W`` and ``x ≡ lower + S`` lies in
   ``[lower, upper]``. The width check ``k + 1 <= engine.value_bits`` guarantees
   ``2^(k+1) <= M + 1`` for either engine (``InvalidInput`` before any message otherwise).
   Soundness: a non-zero value survives one random subset sum with probability at most 1/2 (the
   sums with and without it differ), in any ring; 40 independent subsets give ``2**-40`` per
   chunk, for F_p and Z_2^64 alike (a single random coefficient would give ``1/p`` in F_p but
   only 1/2 in Z_2^64, e.g. for a "bit" of 2^63, so one rule fits both engines: ``m = 40``
   always). Each round is opened before the next one's coin, so the first round in which an
   owner cheats catches it except with probability ``2**-40`` (for each cheating owner).
   Honest owners reveal nothing beyond the count (every opened sum is 0, the coin is independent
   of the data). A malicious owner that announced 0 but cheated reveals some subset sums of
   its own bit relations (about its own input only) before it is named. On the Shamir engine
   (semi-honest) this guards against wrong *inputs*; a deviating compute party is outside its
   threat model. On SPDZ2k, every opening is MAC-checked first, so a cheating server cannot make
   an honest owner fail without a ``CHECK_FAILED`` abort.

   After the last round, if any owner was rejected or failed, every compute party raises
   :class:`InvalidInput` naming them (the same on every party) and nothing else is released.
   Cost per value and column: ``2k`` input words and ``2k`` multiplications (versus about 360
   for two 61-bit ``ltz`` on the Shamir engine; k is 17 for a range of 100,000 at integer
   precision, 33 at ``frac_bits=16``), plus 40 subset sums (linear) over ``2k + 2`` values.
3. The statistic is computed inside MPC, optional DP noise is added inside MPC, and only then is
   the result opened (to ``output_to``), followed by output sanity checks
   (``ProtocolAbort(CHECK_FAILED)`` if the opened value is impossible for in-range inputs).

What each statistic reveals to the output parties, besides the row counts of every input party
(and, to every compute party, the out-of-range count of an owner that announces a non-zero one):

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
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, overload

import numpy as np

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort, UnsupportedParameter
from petsuite.core.rng import RandomSource, expand_seed, resolve
from petsuite.dp.mechanisms import DiscreteGaussian
from petsuite.mpc import circuits, compare
from petsuite.mpc.engine import Engine, IntArray, Shared
from petsuite.mpc.fixedpoint import MAX_FRAC_BITS, decode_scalar, encode, encode_scalar

__all__ = [
    "ENCODE_VALUE_BITS",
    "PROOF_CHUNK",
    "RANGE_CHECKS",
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
#: Random subset sums opened per range-proof chunk: a cheat survives with probability
#: ``2**-RANGE_CHECKS`` on any engine (a multiple of 8: one byte of coin per 8 sums).
RANGE_CHECKS = 40
#: Most proof bits (elements of one ``input``) per range-proof chunk; bounds memory.
PROOF_CHUNK = 1 << 17
_COIN_BITS = 256
_COIN_LABEL = b"petsuite/mpc/stats/range-proof"


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


_Step = tuple[Literal["public", "input"], IntArray]
#: An announced range width must lie in ``[0, _MAX_WIDTH)`` (keeps every derived size sane).
_MAX_WIDTH = 1 << 62


def _range_of(spec: StatisticSpec, rows: int) -> tuple[int, int]:
    """``(lower, W)`` of every encoded input value: ``lower <= x <= lower + W``."""
    if spec.statistic is Statistic.HISTOGRAM:
        return 0, rows  # per-category counts of one owner lie in [0, rows]
    lo = encode_scalar(spec.lower, spec.frac_bits, value_bits=ENCODE_VALUE_BITS)
    hi = encode_scalar(spec.upper, spec.frac_bits, value_bits=ENCODE_VALUE_BITS)
    return lo, hi - lo


def _violations(arrays: Sequence[IntArray], lo: int, width: int) -> int:
    """The owner's own count of values outside ``[lo, lo + width]`` (checked locally)."""
    return sum(int(np.count_nonzero((a < lo) | (a - lo > width))) for a in arrays)


def _chunks(size: int, columns: int, bits: int) -> list[tuple[int, int]]:
    """Row ranges of the range-proof chunks (``2 * bits * columns`` proof elements per row, at
    most :data:`PROOF_CHUNK` per chunk)."""
    step = max(1, PROOF_CHUNK // max(1, 2 * bits * columns))
    return [(i, min(i + step, size)) for i in range(0, size, step)]


def _proof_bits(arrays: Sequence[IntArray], lo: int, width: int, start: int, end: int) -> IntArray:
    """An honest owner's proof input for rows ``start:end``: per column, the ``k`` bits of
    ``s = x - lo`` then the ``k`` bits of ``width - s`` (bit-major, least significant first)."""
    k = width.bit_length()
    parts: list[IntArray] = [np.zeros(0, dtype=np.int64)]
    for a in arrays:
        s = (a[start:end] - lo).astype(np.uint64)
        parts.append(circuits.public_bits(s, k).reshape(-1))
        parts.append(circuits.public_bits(np.uint64(width) - s, k).reshape(-1))
    return np.concatenate(parts)


class _ClientSteps(Sequence[_Step]):
    """The steps of :func:`client_steps`; proof chunks are built only when reached (memory)."""

    def __init__(
        self, head: _Step, arrays: list[IntArray], lo: int, width: int, *, prove: bool
    ) -> None:
        self._head = head
        self._arrays = arrays
        self._lo = lo
        self._width = width
        size = arrays[0].size if arrays else 0
        self._chunks = _chunks(size, len(arrays), width.bit_length()) if prove else []
        self._later = self._chunks[1:] if width else []  # no bits to send when W = 0

    def __len__(self) -> int:
        return 2 + len(self._later)

    @overload
    def __getitem__(self, index: int) -> _Step: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[_Step]: ...

    def __getitem__(self, index: int | slice) -> _Step | Sequence[_Step]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("step index out of range")
        if index == 0:
            return self._head
        if index == 1:  # the columns and the first proof chunk, in one input
            parts = [np.zeros(0, dtype=np.int64), *self._arrays]
            if self._chunks and self._width:
                parts.append(_proof_bits(self._arrays, self._lo, self._width, *self._chunks[0]))
            return "input", np.concatenate(parts)
        start, end = self._later[index - 2]
        return "input", _proof_bits(self._arrays, self._lo, self._width, start, end)

    def __iter__(self) -> Iterator[_Step]:
        for i in range(len(self)):
            yield self[i]


def client_steps(spec: StatisticSpec, data: PartyInput) -> Sequence[_Step]:
    """The ``public_input``/``input`` calls :func:`run_statistic` makes with this party as owner.

    In order: ``[rows, count, W]`` (public: its row count, its own number of out-of-range
    values and the range width it proves against); its encoded columns followed by the proof
    bits of its first chunk of rows (one ``input``); then, when the count is 0, one ``input`` per
    further chunk (the bits of ``x - lower`` and of ``upper - x``, see the module docstring).
    An input client of the delegated model plays these with ``spdz2k.provide_public``/
    ``provide_input``. Proof chunks are computed lazily while iterating, so memory stays bounded
    for millions of rows.
    """
    arrays = encode_input(spec, data)
    rows = len(data.columns[0])
    lo, width = _range_of(spec, rows)
    bad = _violations(arrays, lo, width)
    head: _Step = ("public", np.array([rows, bad, width], dtype=np.int64))
    return _ClientSteps(head, arrays, lo, width, prove=bad == 0)


# ------------------------------------------------------------------------------ recipes


@dataclass(frozen=True)
class _Inputs:
    """Every input party's sharings, after the row counts were exchanged and the bounds checked."""

    rows: dict[str, int]
    columns: list[list[Shared]]  # columns[j][i]: column j of input party i
    announced: list[str]  # owners that announced out-of-range values (or other bounds)
    failed: list[str]  # owners whose range proof failed


@dataclass
class _Owner:
    """One input party during the input phase and the bounds check."""

    name: str
    rows: int
    lo: int
    width: int  # the width its proof uses: the announced one
    columns: list[Shared]
    chunks: list[tuple[int, int]]
    arrays: list[IntArray] | None  # this party's own encoded columns, else None
    announced: bool  # out-of-range values or other bounds announced: not checked further
    first_bits: Shared | None = None
    failed: bool = False


def _abort_check(what: str) -> ProtocolAbort:
    return ProtocolAbort(AbortReason.CHECK_FAILED, f"output sanity check failed: {what}")


def _bits_for(magnitude: int) -> int:
    """Smallest ``bits`` with ``magnitude < 2**(bits - 1)``."""
    return int(magnitude).bit_length() + 1


async def _coin(engine: Engine, compute: Sequence[str], rng: RandomSource | None) -> bytes:
    """A joint random seed: every compute party inputs random words, the sum is opened.

    Each party's words carry ``value_bits - 2`` uniform bits, enough of them for 256 bits; the
    opened sum (a bijective image of any one honest party's words, given the others') has at
    least that min-entropy, and no party sees another's words before fixing its own (they are
    secret-shared). A party that is lost before its turn (closed or silent, on every survivor
    alike) is skipped, so a threshold engine goes on without it.
    """
    width = engine.value_bits - 2
    count = -(-_COIN_BITS // width)
    total: Shared | None = None
    skipped: list[ProtocolAbort] = []
    for party in compute:
        words = None
        if party == engine.me:
            raw = np.frombuffer(resolve(rng).random_bytes(8 * count), dtype=np.uint64)
            words = (raw >> np.uint64(64 - width)).astype(np.int64)
        try:
            share = await engine.input(party, words, count)
        except ProtocolAbort as exc:
            lost = exc.reason in (AbortReason.PEER_CLOSED, AbortReason.TIMEOUT)
            if party == engine.me or exc.peer != party or not lost:
                raise
            skipped.append(exc)
            continue
        total = share if total is None else engine.add(total, share)
    if total is None:  # pragma: no cover - this party's own words are always there
        raise InvalidInput("internal: no coin contribution")
    try:
        opened = await engine.open(total)
    except ProtocolAbort:
        if skipped:  # an engine without threshold continuation: report the lost party
            raise skipped[0] from None
        raise
    if opened is None:  # pragma: no cover - an opening to all parties returns a value
        raise InvalidInput("internal: coin not opened")
    return np.ascontiguousarray(opened, dtype="<i8").tobytes()


async def _check_round(
    engine: Engine,
    batch: Sequence[tuple[_Owner, Shared | None]],
    chunk: int,
    *,
    histogram: bool,
    compute: Sequence[str],
    rng: RandomSource | None,
) -> None:
    """Check chunk ``chunk`` of every owner in ``batch`` (module docstring, step 2b): one
    ``mul`` for all bits, one coin, :data:`RANGE_CHECKS` subset sums per owner in one ``open``;
    marks the owners whose sums are not all zero as failed."""
    with_bits = [bits for _, bits in batch if bits is not None]
    products: Shared | None = None
    if with_bits:
        every = engine.concat(with_bits)
        products = await engine.mul(every, engine.add_public(every, -1))  # b·(b - 1)
        del every
    zs: list[Shared] = []
    offset = 0
    for owner, bits in batch:
        start, end = owner.chunks[chunk]
        c = end - start
        k = owner.width.bit_length()
        zeros: list[Shared] = []
        if bits is not None and products is not None:
            zeros.append(engine.take(products, slice(offset, offset + bits.size)))
            offset += bits.size
        for j, col in enumerate(owner.columns):
            s = engine.add_public(engine.take(col, slice(start, end)), -owner.lo)
            rest = engine.add_public(engine.neg(s), owner.width)  # W - s
            if bits is not None:
                base = 2 * j * k * c
                low = engine.take(bits, slice(base, base + k * c))
                high = engine.take(bits, slice(base + k * c, base + 2 * k * c))
                s = engine.sub(s, circuits.bits_to_value(engine, low, k))
                rest = engine.sub(rest, circuits.bits_to_value(engine, high, k))
            zeros.extend((s, rest))
        if histogram and chunk == 0:  # the counts add up to the declared rows
            zeros.append(engine.add_public(engine.sum(owner.columns[0]), -owner.rows))
        zs.append(engine.concat(zeros))
    del products
    seed = await _coin(engine, compute, rng)
    per_value = RANGE_CHECKS // 8  # bytes of coin per value: one bit per subset
    stream = expand_seed(seed, per_value * sum(z.size for z in zs), label=_COIN_LABEL)
    sums: list[Shared] = []
    pos = 0
    for z in zs:
        raw = np.frombuffer(stream, dtype=np.uint8, count=per_value * z.size, offset=pos)
        pos += per_value * z.size
        table = raw.reshape(z.size, per_value).T  # byte b of every value
        nibbles = np.concatenate([table & np.uint8(15), table >> np.uint8(4)])
        sums.append(circuits.subset_sums(engine, z, nibbles, bits=4))
    opened = await engine.open(engine.concat(sums))
    if opened is None:  # pragma: no cover - an opening to all parties returns a value
        raise InvalidInput("internal: range check not opened")
    for i, (owner, _) in enumerate(batch):
        if np.any(opened[i * RANGE_CHECKS : (i + 1) * RANGE_CHECKS]):
            owner.failed = True


async def _gather_inputs(
    engine: Engine,
    spec: StatisticSpec,
    input_parties: Sequence[str],
    mine: tuple[int, list[IntArray]] | None,
    *,
    compute: Sequence[str],
    rng: RandomSource | None,
) -> _Inputs:
    """Row counts, shared columns and the bounds check of every input party (module docstring,
    steps 1 and 2): first each owner's announcement and one ``input`` (columns and first proof
    chunk), then the checks, round by round over the owners' chunks."""
    histogram = spec.statistic is Statistic.HISTOGRAM
    ncols = spec.columns()
    owners: list[_Owner] = []
    for name in input_parties:
        own = name == engine.me
        if own and mine is None:
            raise InvalidInput("this party is an input party but has no input")
        arrays = mine[1] if own and mine is not None else None
        claim = None
        if arrays is not None and mine is not None:
            my_lo, my_width = _range_of(spec, mine[0])
            bad = _violations(arrays, my_lo, my_width)
            claim = np.array([mine[0], bad, my_width], dtype=np.int64)
        count, bad, claimed = (int(v) for v in await engine.public_input(name, claim, 3))
        if not 0 <= count <= MAX_ROWS:
            raise ProtocolAbort(AbortReason.MALFORMED, "impossible row count", peer=name)
        if not 0 <= claimed < _MAX_WIDTH:
            raise ProtocolAbort(AbortReason.MALFORMED, "impossible range width", peer=name)
        lo, width = _range_of(spec, count)
        size = len(spec.categories) if histogram else count
        k = claimed.bit_length()
        chunks = _chunks(size, ncols, k) if bad == 0 else []
        first = 2 * k * (chunks[0][1] - chunks[0][0]) * ncols if chunks else 0
        values = None
        if arrays is not None:
            parts = [np.zeros(0, dtype=np.int64), *arrays]
            if first:
                parts.append(_proof_bits(arrays, lo, width, *chunks[0]))
            values = np.concatenate(parts)
        shared = await engine.input(name, values, ncols * size + first)
        owner = _Owner(
            name=name,
            rows=count,
            lo=lo,
            width=claimed,
            columns=[engine.take(shared, slice(j * size, (j + 1) * size)) for j in range(ncols)],
            chunks=chunks,
            arrays=arrays,
            announced=bad != 0 or claimed != width,
        )
        if first:
            owner.first_bits = engine.take(shared, slice(ncols * size, ncols * size + first))
        del shared
        owners.append(owner)
    for chunk in range(max((len(o.chunks) for o in owners), default=0)):
        batch: list[tuple[_Owner, Shared | None]] = []
        for owner in owners:
            if chunk >= len(owner.chunks):
                continue
            bits, owner.first_bits = owner.first_bits, None
            start, end = owner.chunks[chunk]
            n_bits = 2 * owner.width.bit_length() * (end - start) * ncols
            if chunk and n_bits:  # later chunks: the owner inputs their proof bits now
                words = None
                if owner.arrays is not None:
                    words = _proof_bits(owner.arrays, owner.lo, owner.width, start, end)
                bits = await engine.input(owner.name, words, n_bits)
            if not (owner.announced or owner.failed):  # others: inputs consumed, not checked
                batch.append((owner, bits))
        if batch:
            await _check_round(engine, batch, chunk, histogram=histogram, compute=compute, rng=rng)
    return _Inputs(
        rows={o.name: o.rows for o in owners},
        columns=[[o.columns[j] for o in owners] for j in range(ncols)],
        announced=[o.name for o in owners if o.announced],
        failed=[o.name for o in owners if o.failed],
    )


def _reject(spec: StatisticSpec, inputs: _Inputs) -> InvalidInput:
    """The error every compute party raises when an owner broke (or did not prove) the bounds."""
    histogram = spec.statistic is Statistic.HISTOGRAM
    what = "histogram counts" if histogram else f"[{spec.lower}, {spec.upper}]"
    bad = [o for o in inputs.rows if o in inputs.announced or o in inputs.failed]
    detail = ""
    if inputs.failed:
        detail = f" (range proof failed: {', '.join(inputs.failed)})"
    return InvalidInput(
        f"input of party {', '.join(bad)} is outside the declared bounds {what}{detail}; "
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
        Randomness for the noise and for this party's words of the bounds check's coin tosses
        (default: the OS CSPRNG).
    output_to:
        Compute parties that learn the result (default: all); others get ``None``.

    Raises
    ------
    InvalidInput
        Bad local input (before any protocol step), or an input party's values are out of bounds
        (announced by it, or its range proof failed; on every party, naming it; nothing
        released).
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

    f = spec.frac_bits
    lo = hi = 0
    if spec.statistic is not Statistic.HISTOGRAM:
        lo = encode_scalar(spec.lower, f, value_bits=ENCODE_VALUE_BITS)
        hi = encode_scalar(spec.upper, f, value_bits=ENCODE_VALUE_BITS)
        # comparisons (min/max) and the range proof (2**(k+1) <= modulus + 1) need this
        if (
            hi - lo >= 1 << (engine.compare_bits - 1)
            or (hi - lo).bit_length() + 1 > engine.value_bits
        ):
            raise InvalidInput("the declared range is too wide for this engine")

    compute = tuple(engine.parties)  # fixed now: every party runs the same coin tosses
    inputs = await _gather_inputs(engine, spec, owners, mine, compute=compute, rng=rng)
    if inputs.announced or inputs.failed:
        raise _reject(spec, inputs)
    n = sum(inputs.rows.values())
    if n == 0 and spec.statistic not in (Statistic.SUM, Statistic.HISTOGRAM):
        raise InvalidInput(f"{spec.statistic.value} needs at least one input row")
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
