"""Local differential privacy: frequency oracles and bounded means.

Statistical tests and their false-failure bound
-----------------------------------------------
Each statistical test repeats a simulation R times with a fixed :class:`DeterministicRandom` seed
(so it is reproducible; the bound below is what a fresh seed would fail with). Over n ≥ 1,000
reports, one run's estimate is a sum of independent bounded terms and so normal to within O(1/n)
in kurtosis; treating it as normal:

* unbiasedness: the mean of the R estimates lies within z·σ/√R of the truth, with z the normal
  quantile for a two-sided probability ``FAIL / (2·checks)``;
* variance: (R−1)·s²/σ² is χ²(R−1); the Laurent–Massart bounds (Ann. Statist. 2000, Lemma 1)
  P[X − k ≥ 2√(kx) + 2x] ≤ e^-x and P[k − X ≥ 2√(kx)] ≤ e^-x give an interval for s²/σ² with
  x = ln(2·checks / FAIL).

A union bound over all the checks in one test keeps its false-failure probability below
``FAIL = 1e-6``. Where single reports are compared with the χ² bound (the device-path tests), their
excess kurtosis is negative (about −0.5 for the piecewise mechanism at ε = 1, −2 for Duchi et al.'s
two-point output), which only narrows the spread of s², so the bound stays conservative.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from petsuite.core.errors import InvalidInput, UnsupportedParameter
from petsuite.core.rng import DeterministicRandom
from petsuite.dp.local import (
    MAX_EPSILON,
    PIECEWISE_CELLS,
    BoundedMean,
    FrequencyOracle,
    GRRReport,
    MeanReport,
    OLHReport,
    OracleKind,
    OUEReport,
    ReportBatch,
    choose_frequency_oracle,
    olh_hash,
    simulate_reports,
)

FAIL = 1e-6


def rng(label: str) -> DeterministicRandom:
    return DeterministicRandom(label.encode().ljust(32, b"."), insecure_for_testing=True)


def z_bound(checks: int) -> float:
    return NormalDist().inv_cdf(1 - FAIL / (2 * checks))


def variance_ratio_bounds(runs: int, checks: int) -> tuple[float, float]:
    """Interval that s²/σ² from ``runs`` normal samples leaves with probability ≤ FAIL/checks."""
    k = runs - 1
    x = math.log(2 * checks / FAIL)
    return 1 - 2 * math.sqrt(k * x) / k, 1 + (2 * math.sqrt(k * x) + 2 * x) / k


def test_chi_square_bounds_are_sane() -> None:
    lo, hi = variance_ratio_bounds(1000, 16)
    assert 0.7 < lo < 1 < hi < 1.35


# ------------------------------------------------------------------------------------------
# Parameters and exact privacy
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("epsilon", [0.05, 0.5, 1.0, 2.0, 4.0, 8.0, MAX_EPSILON])
@pytest.mark.parametrize("d", [2, 3, 17, 1024])
def test_paper_parameters_and_realised_epsilon(d: int, epsilon: float) -> None:
    e = math.exp(epsilon)
    grr = FrequencyOracle.grr(d, epsilon)
    assert grr.p_star == pytest.approx(e / (e + d - 1), rel=1e-9)
    assert grr.q_star == pytest.approx(1 / (e + d - 1), rel=1e-9)
    oue = FrequencyOracle.oue(d, epsilon)
    assert oue.p_star == 0.5
    assert oue.q_star == pytest.approx(1 / (e + 1), rel=1e-9)
    olh = FrequencyOracle.olh(d, epsilon)
    assert olh.report_range == max(2, math.floor(e + 1.5))
    assert olh.p_star == pytest.approx(e / (e + olh.report_range - 1), rel=1e-9)
    assert olh.q_star == 1 / olh.report_range
    realised = [o.realised_epsilon for o in (grr, oue, olh)] + [
        BoundedMean(0, 1, epsilon, m).realised_epsilon for m in ("piecewise", "duchi")]
    for loss in realised:
        assert loss <= epsilon
        assert loss == pytest.approx(epsilon, rel=1e-9)


@pytest.mark.parametrize("epsilon", [0.3, 1.0, 3.0])
def test_closed_forms_match_the_papers(epsilon: float) -> None:
    e = math.exp(epsilon)
    n, d = 10_000, 50
    assert FrequencyOracle.grr(d, epsilon).variance(n) == pytest.approx(
        n * (e + d - 2) / (e - 1) ** 2, rel=1e-9)
    assert FrequencyOracle.oue(d, epsilon).variance(n) == pytest.approx(
        n * 4 * e / (e - 1) ** 2, rel=1e-9)
    # count-dependent term of Wang et al. (2017), Theorem 2
    oue = FrequencyOracle.oue(d, epsilon)
    p, q = 0.5, 1 / (e + 1)
    assert oue.variance(n, 300) - oue.variance(n) == pytest.approx(300 * (1 - p - q) / (p - q))
    half = math.exp(epsilon / 2)
    pm = BoundedMean(-1, 1, epsilon, "piecewise")
    duchi = BoundedMean(-1, 1, epsilon, "duchi")
    for t in (-1.0, -0.3, 0.0, 0.8, 1.0):
        paper = t * t / (half - 1) + (half + 3) / (3 * (half - 1) ** 2)
        assert pm.report_variance(t) == pytest.approx(paper, rel=1e-6)
        assert duchi.report_variance(t) == pytest.approx(((e + 1) / (e - 1)) ** 2 - t * t, rel=1e-9)
    wide = BoundedMean(0, 1440, epsilon, "piecewise")
    assert wide.report_variance(720.0) == pytest.approx(pm.report_variance(0.0) * 720**2, rel=1e-9)


# ------------------------------------------------------------------------------------------
# Frequency oracles: unbiasedness and variance
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(OracleKind))
def test_counts_unbiased_with_closed_form_variance(kind: OracleKind) -> None:
    d, n, runs, epsilon = 16, 2_000, 3_000, 1.0
    oracle = FrequencyOracle(kind, d, epsilon)
    values = np.repeat(np.arange(8), [600, 400, 300, 250, 200, 150, 60, 40])  # skewed, 8 absent
    true = np.bincount(values, minlength=d)
    source = rng(f"freq-{kind.value}")
    estimates = np.array([oracle.estimate(simulate_reports(oracle, values, source)).counts
                          for _ in range(runs)])
    sigma2 = np.array([oracle.variance(n, c) for c in true])
    checks = 2 * d
    z = (estimates.mean(axis=0) - true) / np.sqrt(sigma2 / runs)
    assert np.all(np.abs(z) < z_bound(checks)), z
    lo, hi = variance_ratio_bounds(runs, checks)
    ratio = estimates.var(axis=0, ddof=1) / sigma2
    assert np.all((lo < ratio) & (ratio < hi)), ratio


@pytest.mark.parametrize("kind", list(OracleKind))
def test_device_randomise_matches_the_vectorised_simulation(kind: OracleKind) -> None:
    d, n = 8, 4_000
    oracle = FrequencyOracle(kind, d, 2.0)
    values = [v % 3 for v in range(n)]
    source = rng(f"scalar-{kind.value}")
    reports = [oracle.randomise(v, source) for v in values]
    est = oracle.estimate(reports)
    true = np.bincount(values, minlength=d)
    z = (est.counts - true) / np.sqrt([oracle.variance(n, c) for c in true])
    assert np.all(np.abs(z) < z_bound(d)), z


def test_reported_variance_and_interval() -> None:
    d, n, runs = 8, 5_000, 300
    oracle = FrequencyOracle.grr(d, 1.5)
    values = np.repeat(np.arange(d), n // d)
    source = rng("interval")
    covered = 0
    reported = []
    for _ in range(runs):
        est = oracle.estimate(simulate_reports(oracle, values, source), alpha=0.1)
        assert np.all(est.lower < est.counts) and np.all(est.counts < est.upper)
        covered += int(est.lower[0] <= n // d <= est.upper[0])
        reported.append(est.variance[0])
        with pytest.raises(ValueError, match="read-only"):
            est.counts[0] = 0.0
    assert est.frequencies.sum() == pytest.approx(1.0)  # GRR estimates sum to n exactly
    # plug-in variance is the closed form up to the noise of the count term (a few per cent here)
    assert np.mean(reported) == pytest.approx(oracle.variance(n, n // d), rel=0.02)
    # coverage of a 90% interval; Hoeffding: P(|cov − 0.9| ≥ t) ≤ 2·exp(−2·runs·t²) < 1e-6
    t = math.sqrt(math.log(2 / FAIL) / (2 * runs))
    assert abs(covered / runs - 0.9) < t


def test_support_counts_match_a_naive_server() -> None:
    source = rng("naive")
    for d in (13, 64):
        for kind in OracleKind:
            oracle = FrequencyOracle(kind, d, 1.2)
            values = np.arange(700) % d
            batch = simulate_reports(oracle, values, source)
            fast = oracle.support_counts(batch)
            naive = np.zeros(d, dtype=np.int64)
            for i in range(len(batch)):
                for v in range(d):
                    if kind is OracleKind.GRR:
                        assert batch.values is not None
                        naive[v] += int(batch.values[i] == v)
                    elif kind is OracleKind.OUE:
                        assert batch.bits is not None
                        naive[v] += int(np.unpackbits(batch.bits[i])[v])
                    else:
                        assert batch.seeds is not None and batch.values is not None
                        h = olh_hash(batch.seeds[i].tobytes(), v, oracle.report_range)
                        naive[v] += int(h == batch.values[i])
            assert np.array_equal(fast, naive), (d, kind)


def test_olh_hash_is_universal() -> None:
    source = rng("hash")
    g, trials = 5, 40_000
    seeds = [source.random_bytes(16) for _ in range(trials)]
    collisions = sum(olh_hash(s, 3, g) == olh_hash(s, 1_000_003, g) for s in seeds)
    hits = sum(olh_hash(s, 7, g) == 2 for s in seeds)
    sd = math.sqrt(trials * (1 / g) * (1 - 1 / g))
    for count in (collisions, hits):
        assert abs(count - trials / g) < z_bound(2) * sd


def test_chooser_rule() -> None:
    assert choose_frequency_oracle(2, 0.1).kind is OracleKind.GRR
    assert choose_frequency_oracle(10, 1.0).kind is OracleKind.GRR  # 10 < 3e + 2 ≈ 10.15
    assert choose_frequency_oracle(11, 1.0).kind is OracleKind.OUE
    assert choose_frequency_oracle(165, 4.0).kind is OracleKind.GRR  # 3e^4 + 2 ≈ 165.8
    assert choose_frequency_oracle(166, 4.0).kind is OracleKind.OUE
    assert choose_frequency_oracle(1024, 1.0).kind is OracleKind.OUE
    assert choose_frequency_oracle(1024, 1.0, compact=True).kind is OracleKind.OLH
    assert choose_frequency_oracle(4, 1.0, compact=True).kind is OracleKind.GRR
    for epsilon in (0.1, 0.7, 1.3, 2.9, 5.5):
        for d in (2, 5, 9, 30, 100, 1024, 5000):
            if abs(d - (3 * math.exp(epsilon) + 2)) < 0.5:
                continue
            pick = choose_frequency_oracle(d, epsilon)
            others = [FrequencyOracle(k, d, epsilon) for k in OracleKind]
            assert pick.variance(1) <= min(o.variance(1) for o in others) * (1 + 1e-12)
    assert FrequencyOracle.olh(1024, 1.0).report_bytes == 17
    assert FrequencyOracle.oue(1024, 1.0).report_bytes == 128
    assert FrequencyOracle.grr(1024, 1.0).report_bytes == 2


# ------------------------------------------------------------------------------------------
# Bounded means
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["piecewise", "duchi"])
@pytest.mark.parametrize("epsilon", [0.5, 2.0])
def test_mean_unbiased_with_closed_form_variance(mechanism: str, epsilon: float) -> None:
    n, runs = 1_000, 4_000
    bm = BoundedMean(0.0, 1440.0, epsilon, mechanism)  # type: ignore[arg-type]
    values = np.concatenate([np.linspace(0, 1440, n - 100), np.full(100, 2000.0)])  # 100 clamped
    clamped = np.minimum(values, 1440.0)
    source = rng(f"mean-{mechanism}-{epsilon}")
    means = np.array([bm.estimate(simulate_reports(bm, values, source)).mean for _ in range(runs)])
    sigma2 = bm.variance_of_mean(values)
    z = (means.mean() - clamped.mean()) / math.sqrt(sigma2 / runs)
    assert abs(z) < z_bound(2), z
    lo, hi = variance_ratio_bounds(runs, 2)
    assert lo < means.var(ddof=1) / sigma2 < hi


@pytest.mark.parametrize("mechanism", ["piecewise", "duchi"])
def test_mean_device_path_and_estimated_variance(mechanism: str) -> None:
    n = 6_000
    bm = BoundedMean(-5.0, 5.0, 1.0, mechanism)  # type: ignore[arg-type]
    source = rng(f"scalar-mean-{mechanism}")
    reports = [bm.randomise(1.25, source) for _ in range(n)]
    assert all(0 <= r.value < (2 if mechanism == "duchi" else PIECEWISE_CELLS) for r in reports)
    est = bm.estimate(reports)
    sigma2 = bm.variance_of_mean(np.full(n, 1.25))
    assert abs(est.mean - 1.25) < z_bound(2) * math.sqrt(sigma2)
    # with equal true values the sample-based variance estimates the closed form; s²/σ² bound
    lo, hi = variance_ratio_bounds(n, 2)
    assert lo < est.variance / sigma2 < hi
    assert est.interval[0] < est.mean < est.interval[1]


def test_piecewise_reports_cover_the_whole_range() -> None:
    bm = BoundedMean(0.0, 1.0, 1.0)
    reports = simulate_reports(bm, np.zeros(20_000), rng("range"))
    decoded = bm.decode(reports)
    # far from the true value 0 too: the output range is [−C, C] in t, C = (e^½+1)/(e^½−1)
    half = math.exp(0.5)
    c = (half + 1) / (half - 1)
    assert decoded.max() > 0.5 + 0.45 * c
    assert decoded.min() < 0.5 - 0.45 * c


# ------------------------------------------------------------------------------------------
# What a report reveals
# ------------------------------------------------------------------------------------------


def test_low_epsilon_reports_are_nearly_uniform() -> None:
    d, n = 4, 200_000
    oracle = FrequencyOracle.grr(d, 0.01)
    values = np.zeros(n, dtype=np.int64)
    batch = simulate_reports(oracle, values, rng("uniform"))
    assert batch.values is not None
    share = np.bincount(batch.values, minlength=d) / n
    sd = math.sqrt(0.25 * 0.75 / n)
    assert np.all(np.abs(share - oracle.p_star * np.array([1, 0, 0, 0])
                         - oracle.q_star * np.array([0, 1, 1, 1])) < z_bound(d) * sd)
    assert abs(share[0] - 0.25) < 0.01  # the true value is reported barely more often than chance


def test_oue_report_reveals_only_coin_flips() -> None:
    oracle = FrequencyOracle.oue(12, 1.0)
    report = oracle.randomise(5, rng("oue-report"))
    assert isinstance(report, OUEReport) and len(report.bits) == 2
    assert np.unpackbits(np.frombuffer(report.bits, dtype=np.uint8))[12:].sum() == 0


def test_reproducible_with_a_deterministic_source() -> None:
    for oracle in (FrequencyOracle.grr(9, 1.0), FrequencyOracle.olh(9, 1.0)):
        a = simulate_reports(oracle, np.arange(50) % 9, rng("same"))
        b = simulate_reports(oracle, np.arange(50) % 9, rng("same"))
        assert a.values is not None and b.values is not None
        assert np.array_equal(a.values, b.values)
    bm = BoundedMean(0, 1, 1.0)
    assert bm.randomise(0.3, rng("same")) == bm.randomise(0.3, rng("same"))


# ------------------------------------------------------------------------------------------
# Bad inputs
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("epsilon", [0, -1.0, math.nan, math.inf, True, "1"])
def test_bad_epsilon(epsilon: object) -> None:
    with pytest.raises(InvalidInput):
        FrequencyOracle.grr(4, epsilon)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        BoundedMean(0, 1, epsilon)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        choose_frequency_oracle(4, epsilon)  # type: ignore[arg-type]


def test_too_large_epsilon_is_refused() -> None:
    with pytest.raises(UnsupportedParameter):
        FrequencyOracle.olh(4, MAX_EPSILON * 2)


@pytest.mark.parametrize("d", [1, 0, -3, True, 2.0, 2**32 + 1])
def test_bad_domain(d: object) -> None:
    with pytest.raises(InvalidInput):
        FrequencyOracle.oue(d, 1.0)  # type: ignore[arg-type]


def test_bad_kind() -> None:
    with pytest.raises(InvalidInput):
        FrequencyOracle("rappor", 4, 1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        BoundedMean(0, 1, 1.0, "laplace")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", list(OracleKind))
@pytest.mark.parametrize("value", [-1, 5, 1.0, True, "1", None])
def test_value_out_of_domain(kind: OracleKind, value: object) -> None:
    oracle = FrequencyOracle(kind, 5, 1.0)
    with pytest.raises(InvalidInput):
        oracle.randomise(value)  # type: ignore[arg-type]


def test_bad_value_arrays() -> None:
    oracle = FrequencyOracle.grr(5, 1.0)
    for values in (np.array([0, 5]), np.array([-1]), np.array([0.5]), np.zeros((2, 2), int)):
        with pytest.raises(InvalidInput):
            simulate_reports(oracle, values)
    bm = BoundedMean(0, 1, 1.0)
    for floats in (np.array([0.5, np.nan]), np.array([np.inf]), np.array(["a"])):
        with pytest.raises(InvalidInput):
            simulate_reports(bm, floats)


@pytest.mark.parametrize(("lower", "upper"), [(1, 0), (1, 1), (math.nan, 1), (0, math.inf),
                                              (-1e308, 1e308), ("0", 1)])
def test_bad_bounds(lower: object, upper: object) -> None:
    with pytest.raises(InvalidInput):
        BoundedMean(lower, upper, 1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("x", [math.nan, math.inf, -math.inf, "3", None, True])
def test_bad_mean_value(x: object) -> None:
    with pytest.raises(InvalidInput):
        BoundedMean(0, 10, 1.0).randomise(x)  # type: ignore[arg-type]


def test_values_outside_the_bounds_are_clamped() -> None:
    bm = BoundedMean(0, 1440, 4.0)
    decoded = bm.decode(simulate_reports(bm, np.full(20_000, 1e6), rng("clamp")))
    assert abs(decoded.mean() - 1440) < z_bound(1) * math.sqrt(bm.variance_of_mean([1440.0] * 20_000))


def test_malformed_reports_are_refused() -> None:
    grr, oue, olh = (FrequencyOracle(k, 10, 1.0) for k in OracleKind)
    bad: list[tuple[FrequencyOracle, object]] = [
        (grr, []),
        (grr, [GRRReport(10)]),
        (grr, [GRRReport(-1)]),
        (grr, [OUEReport(b"\x00\x00")]),
        (grr, ReportBatch(OracleKind.OUE, bits=np.zeros((1, 2), np.uint8))),
        (grr, ReportBatch(OracleKind.GRR, values=np.array([0.5]))),
        (oue, [OUEReport(b"\x00")]),
        (oue, [OUEReport(b"\x00\x01")]),  # padding bit set
        (oue, ReportBatch(OracleKind.OUE, bits=np.zeros((1, 2), np.int64))),
        (olh, [OLHReport(b"\x00" * 15, 0)]),
        (olh, [OLHReport(b"\x00" * 16, olh.report_range)]),
        (olh, ReportBatch(OracleKind.OLH, values=np.zeros(2, np.int64),
                          seeds=np.zeros((1, 16), np.uint8))),
    ]
    for oracle, reports in bad:
        with pytest.raises(InvalidInput):
            oracle.estimate(reports)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        grr.estimate([GRRReport(1), GRRReport(2)], alpha=1.5)
    bm = BoundedMean(0, 1, 1.0, "duchi")
    for mean_reports in ([MeanReport(2)], [MeanReport(0)], np.array([0.5, 1.0]), [GRRReport(0)] * 2):
        with pytest.raises(InvalidInput):
            bm.estimate(mean_reports)  # type: ignore[arg-type]


def test_report_batches_round_trip() -> None:
    source = rng("batch")
    for kind in OracleKind:
        oracle = FrequencyOracle(kind, 20, 1.0)
        reports = [oracle.randomise(v % 20, source) for v in range(300)]
        a = oracle.estimate(reports)
        b = oracle.estimate(oracle.batch(reports))
        assert np.array_equal(a.counts, b.counts)
        assert len(oracle.batch(reports)) == 300
