"""Secure statistics recipes on the Shamir engine against numpy, plus every failure path."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Collection, Sequence

import numpy as np
import pytest

from petsuite.core.errors import (
    AbortReason,
    InvalidInput,
    ProtocolAbort,
    UnsupportedParameter,
)
from petsuite.mpc.engine import IntArray, Shared, encode_u64
from petsuite.mpc.fixedpoint import decode, encode
from petsuite.mpc.memory import memory_networks
from petsuite.mpc.shamir import ShamirEngine
from petsuite.mpc.stats import (
    NoiseSpec,
    PartyInput,
    Statistic,
    StatisticResult,
    StatisticSpec,
    client_steps,
    encode_input,
    run_statistic,
)
from tests.mpc.helpers import engines, names, rng, run_all


def _run(
    spec: StatisticSpec,
    data: dict[str, PartyInput],
    *,
    n: int = 3,
    t: int = 1,
    noise: NoiseSpec | None = None,
    output_to: Collection[str] | None = None,
    engs: Sequence[ShamirEngine] | None = None,
) -> list[StatisticResult | BaseException | None]:
    if engs is None:
        engs = engines(n, t)[1]
    owners = list(data)

    async def party(e: ShamirEngine) -> StatisticResult | None:
        return await run_statistic(
            e,
            spec,
            input_parties=owners,
            my_input=data.get(e.me),
            noise=noise,
            rng=rng(7) if noise else None,
            output_to=output_to,
        )

    return run_all(list(engs), party)


def _ok(results: list[StatisticResult | BaseException | None]) -> StatisticResult:
    for r in results:
        if isinstance(r, BaseException):
            raise r
    first = results[0]
    assert isinstance(first, StatisticResult)
    assert all(r == first for r in results)
    return first


def _columns(seed: int, rows: Sequence[int], lo: float, hi: float, cols: int = 1) -> list[list]:
    out = []
    for i, r in enumerate(rows):
        raw = np.frombuffer(rng(seed + i).random_bytes(8 * r * cols), dtype=np.uint64)
        vals = lo + (hi - lo) * (raw.astype(np.float64) / 2.0**64)
        out.append([list(vals[j * r : (j + 1) * r]) for j in range(cols)])
    return out


def _data(cols: list[list]) -> dict[str, PartyInput]:
    return {f"P{i}": PartyInput(tuple(c)) for i, c in enumerate(cols)}


def test_guidance_example_mean_exact() -> None:
    data = {
        "P0": PartyInput(([10000.0],)),
        "P1": PartyInput(([15000.0],)),
        "P2": PartyInput(([20000.0],)),
    }
    res = _ok(_run(StatisticSpec(Statistic.MEAN, 0, 50000), data))
    assert res.value == 15000.0
    assert res.count == 3
    assert res.per_party_rows == {"P0": 1, "P1": 1, "P2": 1}
    assert res.noise is None


@pytest.mark.parametrize("statistic", [Statistic.SUM, Statistic.MEAN, Statistic.VARIANCE])
def test_moments_match_numpy(statistic: Statistic) -> None:
    f = 16
    cols = _columns(10, [40, 25, 35], -500.0, 1500.0)
    spec = StatisticSpec(statistic, -500, 1500, frac_bits=f)
    res = _ok(_run(spec, _data(cols)))
    x = np.concatenate([c[0] for c in cols])
    xq = decode(encode(x, f), f)  # what the parties actually share
    n = x.size
    assert res.count == n
    if statistic is Statistic.SUM:
        assert res.value == pytest.approx(float(xq.sum()), abs=1e-9)
        assert abs(res.value - x.sum()) <= n * 2.0 ** -(f + 1)  # type: ignore[operator]
    elif statistic is Statistic.MEAN:
        assert abs(res.value - x.mean()) <= 2.0 ** -(f + 1)  # type: ignore[operator]
    else:
        # working precision f' >= f - shift; per-value error <= 2**-f' (trunc) + 2**-(f+1)
        assert isinstance(res.value, float)
        assert res.value >= 0
        assert abs(res.value - float(np.var(x))) <= 4 * 1000 * 2.0**-6
        assert res.value == pytest.approx(float(np.var(x)), rel=1e-3)


def test_variance_many_rows_wide_range_uses_secure_mean() -> None:
    """N²·range² overflows 60 bits here, so the mean is computed inside MPC (Q ≈ N·variance)."""
    cols = _columns(60, [400, 300, 500], 10000.0, 20000.0)
    res = _ok(_run(StatisticSpec(Statistic.VARIANCE, 0, 50000, frac_bits=16), _data(cols)))
    x = np.concatenate([c[0] for c in cols])
    # error bound (module docstring): |mean - centre| * 2 units of the working precision
    # (f' = 9 fractional bits here), i.e. 10000 * 2 * 2**-9 ~ 39 on a variance of ~8.1e6
    assert res.value == pytest.approx(float(np.var(x)), abs=2 * 10000 * 2.0**-9)


def test_variance_full_precision_small_range() -> None:
    cols = _columns(20, [10, 10, 10], 0.0, 4.0)
    res = _ok(_run(StatisticSpec(Statistic.VARIANCE, 0, 4, frac_bits=16), _data(cols)))
    xq = decode(encode(np.concatenate([c[0] for c in cols]), 16), 16)
    assert res.value == pytest.approx(float(np.var(xq)), abs=1e-9)  # exact: no truncation


def test_weighted_mean_and_regression_match_numpy() -> None:
    f = 16
    cols = _columns(30, [20, 30, 15], 0.5, 10.0, cols=2)
    x = np.concatenate([c[0] for c in cols])
    w = np.concatenate([c[1] for c in cols])
    wm = _ok(_run(StatisticSpec(Statistic.WEIGHTED_MEAN, 0, 10, frac_bits=f), _data(cols)))
    assert wm.value == pytest.approx(float(np.average(x, weights=w)), abs=1e-4)

    y = [[c[0], [2.5 * v - 1.0 + 0.1 * math.sin(17 * v) for v in c[0]]] for c in cols]
    ys = np.concatenate([c[1] for c in y])
    lr = _ok(_run(StatisticSpec(Statistic.LINEAR_REGRESSION, -5, 30, frac_bits=f), _data(y)))
    slope, intercept = np.polyfit(x, ys, 1)
    assert isinstance(lr.value, tuple)
    assert lr.value[0] == pytest.approx(slope, abs=1e-3)
    assert lr.value[1] == pytest.approx(intercept, abs=1e-3)


@pytest.mark.parametrize("statistic", [Statistic.MIN, Statistic.MAX])
def test_min_max_exact_on_encoded_values(statistic: Statistic) -> None:
    cols = _columns(40, [9, 1, 6], -100.0, 100.0)
    cols[1][0][0] = -100.0 if statistic is Statistic.MIN else 100.0  # an edge value
    res = _ok(_run(StatisticSpec(statistic, -100, 100, frac_bits=8), _data(cols)))
    xq = decode(encode(np.concatenate([c[0] for c in cols]), 8), 8)
    assert res.value == (float(xq.min()) if statistic is Statistic.MIN else float(xq.max()))


def test_histogram_counts_and_zero_rows() -> None:
    spec = StatisticSpec(Statistic.HISTOGRAM, 0, 0, categories=("a", "b", "c"))
    data = {
        "P0": PartyInput((["a", "b", "a", "a"],)),
        "P1": PartyInput(([],)),
        "P2": PartyInput((["c", "b"],)),
    }
    res = _ok(_run(spec, data))
    assert res.value == {"a": 3, "b": 2, "c": 1}
    assert res.count == 6 and res.per_party_rows == {"P0": 4, "P1": 0, "P2": 2}


def test_integer_data_and_output_to_subset() -> None:
    data = {"P1": PartyInput(([3, 4, 5],)), "P2": PartyInput(([-7],))}
    results = _run(StatisticSpec(Statistic.SUM, -10, 10, frac_bits=0), data, output_to=["P2"])
    assert results[0] is None and results[1] is None
    assert isinstance(results[2], StatisticResult) and results[2].value == 5.0


def test_bounds_violation_names_the_party_and_releases_nothing() -> None:
    data = {
        "P0": PartyInput(([1.0, 2.0],)),
        "P1": PartyInput(([3.0, 10.5],)),  # 10.5 > upper
        "P2": PartyInput(([-0.25],)),  # < lower
    }
    results = _run(StatisticSpec(Statistic.MEAN, 0, 10), data)
    for r in results:
        assert isinstance(r, InvalidInput) and not isinstance(r, UnsupportedParameter)
        assert "P1" in str(r) and "P2" in str(r) and "P0" not in str(r)
        assert "10.5" not in str(r)


def test_bounds_violation_in_weights_and_histogram_counts() -> None:
    data = {"P0": PartyInput(([1.0], [11.0])), "P1": PartyInput(([2.0], [1.0]))}
    for r in _run(StatisticSpec(Statistic.WEIGHTED_MEAN, 0, 10), data):
        assert isinstance(r, InvalidInput) and "P0" in str(r) and "P1" not in str(r)

    # a cheating owner inputs counts that do not add up to its declared rows
    spec = StatisticSpec(Statistic.HISTOGRAM, 0, 0, categories=("a", "b"))
    parties = names(3)
    nets = memory_networks(parties)
    engs = [
        (_CheatingInput if p == "P0" else ShamirEngine)(
            nets[p], parties=parties, threshold=1, rng=rng(i)
        )
        for i, p in enumerate(parties)
    ]
    for r in _run(spec, {"P0": PartyInput((["a"],))}, engs=engs):
        assert isinstance(r, InvalidInput) and "P0" in str(r)


class _CheatingInput(ShamirEngine):
    """Shares [1, 1] as its histogram counts whatever its data (declared rows: 1)."""

    async def input(self, owner: str, values: IntArray | None, size: int) -> Shared:
        if owner == self.me and values is not None:
            values = np.ones_like(values)
        return await super().input(owner, values, size)


class _DiesAfterValidation(ShamirEngine):
    """Runs the input phase and the bounds check (with one chunk per owner: two top-level
    openings, the coin and the subset sums), then dies at its next interactive step; with
    ``die_after = 1`` it dies in the middle of the bounds check instead."""

    opened = 0
    depth = 0
    die_after = 2

    def _maybe_die(self) -> None:
        if self.depth == 0 and self.opened >= self.die_after:
            self._net.disconnect()  # type: ignore[attr-defined]
            raise ProtocolAbort(AbortReason.PEER_CLOSED, "simulated death")

    async def open(self, a: Shared, *, to: Collection[str] | None = None) -> IntArray | None:
        self._maybe_die()
        if self.depth == 0:
            self.opened += 1
        return await super().open(a, to=to)

    async def mul(self, a: Shared, b: Shared) -> Shared:
        self._maybe_die()
        return await super().mul(a, b)

    async def ltz(self, a: Shared, *, bits: int) -> Shared:
        self._maybe_die()
        self.depth += 1
        try:
            return await super().ltz(a, bits=bits)
        finally:
            self.depth -= 1

    async def trunc(self, a: Shared, bits: int) -> Shared:
        self._maybe_die()
        self.depth += 1
        try:
            return await super().trunc(a, bits)
        finally:
            self.depth -= 1


def _with_victim(n: int, t: int, victim: str, die_after: int = 2) -> list[ShamirEngine]:
    parties = names(n)
    nets = memory_networks(parties, timeout_s=2.0)
    engs: list[ShamirEngine] = []
    for i, p in enumerate(parties):
        cls = _DiesAfterValidation if p == victim else ShamirEngine
        engs.append(cls(nets[p], parties=parties, threshold=t, rng=rng(50 + i)))
        if p == victim:
            engs[-1].die_after = die_after  # type: ignore[attr-defined]
    return engs


@pytest.mark.parametrize("die_after", [1, 2])
def test_party_lost_after_input_n4_t1(die_after: int) -> None:
    """The victim dies after the bounds check (2) or in it, at the subset-sum opening (1)."""
    data = {p: PartyInput(([float(i + 1)],)) for i, p in enumerate(names(4))}
    for statistic, expected in ((Statistic.SUM, 10.0), (Statistic.VARIANCE, 1.25)):
        engs = _with_victim(4, 1, "P3", die_after)
        results = _run(StatisticSpec(statistic, 0, 8), data, engs=engs)
        assert isinstance(results[3], ProtocolAbort)
        for r in results[:3]:
            # linear work needs t + 1 = 2 parties; multiplication 2t + 1 = 3: both continue
            assert isinstance(r, StatisticResult) and r.value == pytest.approx(expected)


def test_party_lost_after_input_n5_t2() -> None:
    data = {p: PartyInput(([float(i + 1)],)) for i, p in enumerate(names(5))}
    results = _run(StatisticSpec(Statistic.SUM, 0, 8), data, engs=_with_victim(5, 2, "P4"))
    for r in results[:4]:
        assert isinstance(r, StatisticResult) and r.value == 15.0
    results = _run(StatisticSpec(Statistic.VARIANCE, 0, 8), data, engs=_with_victim(5, 2, "P4"))
    for r in results[:4]:  # multiplication needs 2t + 1 = 5 live parties
        assert isinstance(r, ProtocolAbort), r
        assert r.reason in (AbortReason.PEER_CLOSED, AbortReason.TIMEOUT) and r.peer == "P4"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (encode_u64(np.array([-5], dtype=np.int64).view(np.uint64)), AbortReason.MALFORMED),
        (b"\x01\x02\x03", AbortReason.MALFORMED),
    ],
)
def test_malformed_row_count_aborts(payload: bytes, reason: AbortReason) -> None:
    nets, engs = engines(3, 1)
    spec = StatisticSpec(Statistic.SUM, 0, 10)

    async def main() -> list[object]:
        for peer in ("P1", "P2"):
            nets["P0"].send_raw(peer, "shamir/public/1", payload)
        return list(
            await asyncio.gather(
                *(
                    run_statistic(e, spec, input_parties=["P0", "P1"], my_input=None)
                    if e.me == "P2"
                    else run_statistic(
                        e, spec, input_parties=["P0", "P1"], my_input=PartyInput(([1.0],))
                    )
                    for e in engs[1:]
                ),
                return_exceptions=True,
            )
        )

    for r in asyncio.run(main()):
        assert isinstance(r, ProtocolAbort) and r.reason is reason and r.peer == "P0"


class _LyingOpen(ShamirEngine):
    """Returns an impossible value from the final top-level opening (after the bounds check's
    coin and subset-sum openings), to exercise the output sanity checks."""

    opens = 0
    depth = 0

    async def open(self, a: Shared, *, to: Collection[str] | None = None) -> IntArray | None:
        out = await super().open(a, to=to)
        if self.depth == 0:
            self.opens += 1
            if self.opens == 3 and out is not None:
                return out - np.int64(1 << 40)
        return out

    async def ltz(self, a: Shared, *, bits: int) -> Shared:
        self.depth += 1
        try:
            return await super().ltz(a, bits=bits)
        finally:
            self.depth -= 1

    async def trunc(self, a: Shared, bits: int) -> Shared:
        self.depth += 1
        try:
            return await super().trunc(a, bits)
        finally:
            self.depth -= 1


@pytest.mark.parametrize("statistic", [Statistic.MEAN, Statistic.VARIANCE, Statistic.MAX])
def test_output_sanity_checks(statistic: Statistic) -> None:
    parties = names(3)
    nets = memory_networks(parties)
    engs = [
        _LyingOpen(nets[p], parties=parties, threshold=1, rng=rng(i)) for i, p in enumerate(parties)
    ]
    data = {"P0": PartyInput(([1.0, 2.0],)), "P1": PartyInput(([3.0],))}
    for r in _run(StatisticSpec(statistic, 0, 10), data, engs=engs):
        assert isinstance(r, ProtocolAbort) and r.reason is AbortReason.CHECK_FAILED


def test_dp_noise_sum_and_histogram() -> None:
    data = {"P0": PartyInput(([100.0] * 5,)), "P1": PartyInput(([200.0] * 5,))}
    spec = StatisticSpec(Statistic.SUM, 0, 1000, frac_bits=0)
    noise = NoiseSpec(rho=0.5)
    res = _ok(_run(spec, data, noise=noise))
    # sigma^2 = 1000^2 / (2 * 0.5) per party, 3 parties: sd ~ 1732; 8 sd bound
    assert res.noise == noise
    assert res.value != 1500.0 and abs(res.value - 1500.0) < 8 * 1732  # type: ignore[operator]

    hspec = StatisticSpec(Statistic.HISTOGRAM, 0, 0, categories=("x", "y"))
    hres = _ok(_run(hspec, {"P0": PartyInput((["x"] * 50,))}, noise=NoiseSpec(rho=2.0)))
    assert isinstance(hres.value, dict) and abs(hres.value["x"] - 50) < 20

    for r in _run(StatisticSpec(Statistic.VARIANCE, 0, 10), data, noise=noise):
        assert isinstance(r, UnsupportedParameter)


def test_local_validation_before_any_protocol_step() -> None:
    spec = StatisticSpec(Statistic.HISTOGRAM, 0, 0, categories=("a", "b"))
    with pytest.raises(InvalidInput, match="categories"):
        encode_input(spec, PartyInput((["a", "zzz"],)))
    assert encode_input(spec, PartyInput((["b", "b", "a"],)))[0].tolist() == [1, 2]
    num = StatisticSpec(Statistic.WEIGHTED_MEAN, 0, 10, frac_bits=4)
    with pytest.raises(InvalidInput, match="column"):
        encode_input(num, PartyInput(([1.0],)))
    with pytest.raises(InvalidInput, match="same number"):
        encode_input(num, PartyInput(([1.0], [1.0, 2.0])))
    with pytest.raises(InvalidInput, match="finite"):
        encode_input(num, PartyInput(([math.nan], [1.0])))
    with pytest.raises(InvalidInput):
        encode_input(num, PartyInput((["1"], [1.0])))
    steps = client_steps(num, PartyInput(([1.0, 2.5], [3.0, 0.0])))
    assert [kind for kind, _ in steps] == ["public", "input"]
    # [rows, out-of-range count, W = 10 * 2**4]; then both columns and the proof bits (k = 8):
    # per column the bits of x - lower, then those of W - (x - lower), bit-major
    assert steps[0][1].tolist() == [2, 0, 160]
    bits = [[(v >> i) & 1 for i in range(8) for v in vals] for vals in ([16, 40], [144, 120])]
    bits += [[(v >> i) & 1 for i in range(8) for v in vals] for vals in ([48, 0], [112, 160])]
    assert steps[1][1].tolist() == [16, 40, 48, 0, *bits[0], *bits[1], *bits[2], *bits[3]]
    hsteps = client_steps(spec, PartyInput((["a"],)))  # counts [1, 0] in [0, rows = 1]
    assert [(k, a.tolist()) for k, a in hsteps] == [
        ("public", [1, 0, 1]),
        ("input", [1, 0, 1, 0, 0, 1]),
    ]
    # an owner with an out-of-range value announces it and sends its columns only
    bad = client_steps(num, PartyInput(([1.0, 12.0], [3.0, -1.0])))
    assert [(k, a.tolist()) for k, a in bad] == [
        ("public", [2, 2, 160]),
        ("input", [16, 192, 48, -16]),
    ]


def test_spec_validation() -> None:
    with pytest.raises(InvalidInput):
        StatisticSpec(Statistic.MEAN, 10, 0)
    with pytest.raises(InvalidInput):
        StatisticSpec(Statistic.MEAN, 0, math.inf)
    with pytest.raises(InvalidInput):
        StatisticSpec(Statistic.MEAN, 0, 1, frac_bits=99)
    with pytest.raises(InvalidInput):
        StatisticSpec(Statistic.HISTOGRAM, 0, 0)
    with pytest.raises(InvalidInput):
        StatisticSpec(Statistic.MEAN, 0, 1, categories=("a",))
    with pytest.raises(InvalidInput):
        StatisticSpec("median", 0, 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        StatisticSpec(Statistic.MEAN, 0, 1e30)
    with pytest.raises(InvalidInput):
        NoiseSpec(rho=0)
    assert StatisticSpec("mean", 0, 1).statistic is Statistic.MEAN  # type: ignore[arg-type]
    assert StatisticSpec(Statistic.LINEAR_REGRESSION, 0, 1).columns() == 2


def test_overflowing_configuration_is_refused() -> None:
    with pytest.raises(InvalidInput, match="value range"):
        StatisticSpec(Statistic.VARIANCE, -1e9, 1e9, frac_bits=30)
    data = {"P0": PartyInput(([1.0] * 4,))}
    for r in _run(StatisticSpec(Statistic.VARIANCE, -(2.0**29), 2.0**29, frac_bits=0), data):
        assert isinstance(r, InvalidInput) and "narrow the bounds" in str(r)
    big = {"P0": PartyInput(([1.0] * 300,))}
    for r in _run(StatisticSpec(Statistic.SUM, 0, 2.0**35, frac_bits=16), big):
        assert isinstance(r, InvalidInput) and "overflows" in str(r)


def test_caller_errors_raise_before_any_message() -> None:
    _, engs = engines(3, 1)
    spec = StatisticSpec(Statistic.SUM, 0, 10)

    async def main() -> None:
        with pytest.raises(InvalidInput):
            await run_statistic(engs[0], spec, input_parties=["P0"], my_input=None)
        with pytest.raises(InvalidInput):
            await run_statistic(engs[0], spec, input_parties=["P1"], my_input=PartyInput(([1],)))
        with pytest.raises(InvalidInput):
            await run_statistic(engs[0], spec, input_parties=["P0", "P0"], my_input=None)
        with pytest.raises(InvalidInput):
            await run_statistic(
                engs[1], spec, input_parties=["P0"], my_input=None, output_to=["nobody"]
            )

    asyncio.run(main())
