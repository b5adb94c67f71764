"""Safe recipes for central differential privacy: answer aggregate queries with a persistent budget.

:func:`private_query` parses and checks a query, computes the bounded exact aggregates in DuckDB,
charges the privacy ledger (refusing the query, with nothing drawn or spent, when any applicable
budget would be exceeded), then draws exact discrete noise and returns every answer with its noise
scale and a (1 − α) confidence interval.

Threat model: the analyst is untrusted and sees only released answers; the data owner's machine
runs petsuite and is trusted. What a release reveals is bounded by its ε (and δ): the output
distribution changes by at most a factor e^ε (plus δ) when one person's records — all rows with
the same privacy-unit value, up to the contribution bounds — are added or removed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import product
from pathlib import Path
from typing import Any, Literal

from petsuite.core.audit import AuditLog, digest_result
from petsuite.core.errors import InvalidInput, PolicyViolation
from petsuite.core.rng import RandomSource, resolve
from petsuite.dp.accounting import PrivacyLoss, compose, zcdp_to_approx_epsilon
from petsuite.dp.ledger import PrivacyLedger
from petsuite.dp.mechanisms import DiscreteGaussian, DiscreteLaplace, private_quantile
from petsuite.dp.query import (
    Aggregate,
    Bounds,
    Contribution,
    ExactAggregates,
    ParsedQuery,
    Source,
    compute_exact,
    parse_query,
)

__all__ = ["DpPolicy", "DpRelease", "Estimate", "private_query"]

Mechanism = Literal["laplace", "gaussian"]
_BOOTSTRAP = 400


@dataclass(frozen=True, slots=True)
class DpPolicy:
    """Limits on one release. ``max_epsilon`` is refused outright; above ``warn_epsilon`` the
    release carries a warning saying what that ε means."""

    max_epsilon: float = 5.0
    warn_epsilon: float = 1.0
    max_delta: float = 1e-5

    def check(self, epsilon: float, delta: float) -> list[str]:
        if epsilon > self.max_epsilon:
            raise PolicyViolation(
                f"ε = {epsilon:g} exceeds the policy's maximum of {self.max_epsilon:g} per query"
            )
        if delta > self.max_delta:
            raise PolicyViolation(
                f"δ = {delta:g} exceeds the policy's maximum of {self.max_delta:g} per query"
            )
        if epsilon > self.warn_epsilon:
            return [
                f"large ε = {epsilon:g}: one person's presence can change the probability of "
                f"this answer by a factor of up to e^ε ≈ {math.exp(epsilon):,.1f}; "
                f"releases above ε = {self.warn_epsilon:g} give weak protection"
            ]
        return []


@dataclass(frozen=True, slots=True)
class Estimate:
    """One noisy answer with its accuracy. ``interval`` is the (1 − α) confidence interval."""

    value: float
    noise_std: float | None
    interval: tuple[float, float] | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "noise_std": self.noise_std,
            "ci_low": None if self.interval is None else self.interval[0],
            "ci_high": None if self.interval is None else self.interval[1],
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class DpRelease:
    """The answer to one private query: rows of group keys and estimates."""

    group_by: tuple[str, ...]
    labels: tuple[str, ...]
    rows: list[tuple[tuple[Any, ...], tuple[Estimate, ...]]]
    privacy_loss: PrivacyLoss
    alpha: float
    mechanism: str
    warnings: list[str] = field(default_factory=list)
    keys_released_by: str = "declared"

    def records(self) -> list[dict[str, Any]]:
        """One flat dict per group: keys, then ``label``, ``label_ci_low``, ``label_ci_high``."""
        out = []
        for key, estimates in self.rows:
            rec: dict[str, Any] = dict(zip(self.group_by, key, strict=True))
            for label, est in zip(self.labels, estimates, strict=True):
                rec[label] = est.value
                rec[f"{label}_noise_std"] = est.noise_std
                rec[f"{label}_ci_low"] = None if est.interval is None else est.interval[0]
                rec[f"{label}_ci_high"] = None if est.interval is None else est.interval[1]
            out.append(rec)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.records(),
            "privacy_loss": self.privacy_loss.to_dict(),
            "confidence": 1 - self.alpha,
            "mechanism": self.mechanism,
            "group_keys": self.keys_released_by,
            "warnings": list(self.warnings),
        }


def _scale_bits(bounds: Bounds) -> int:
    """Fixed-point precision for a column: about 2^-20 of its range, at least integers."""
    span = max(bounds.magnitude, 1e-9)
    return max(0, min(40, 20 - math.ceil(math.log2(span))))


def _fraction_down(x: float) -> Fraction:
    """A rational at most ``x`` (never spends more than was charged)."""
    f = Fraction(x).limit_denominator(1_000_000)
    return f if f <= Fraction(x) else Fraction(math.floor(x * 1_000_000), 1_000_000)


@dataclass
class _Noise:
    """One additive integer-noise mechanism with its sensitivity, and what it costs."""

    mechanism: DiscreteLaplace | DiscreteGaussian
    loss: PrivacyLoss

    def draw(self, n: int, rng: RandomSource) -> list[int]:
        return self.mechanism.sample_many(n, rng)

    def std(self) -> float:
        return float(self.mechanism.std())

    def half_width(self, alpha: float) -> int:
        return int(self.mechanism.interval_half_width(alpha))


def _noise(
    kind: Mechanism, share: float, sensitivity_l1: int, sensitivity_l2_sq: int, delta: float
) -> _Noise:
    if kind == "laplace":
        lap = DiscreteLaplace.for_epsilon(Fraction(share), sensitivity_l1)
        return _Noise(lap, lap.privacy_loss(sensitivity_l1))
    l2 = Fraction(math.isqrt(sensitivity_l2_sq))
    if l2 * l2 != sensitivity_l2_sq:
        l2 = Fraction(math.isqrt(sensitivity_l2_sq) + 1)
    gauss = DiscreteGaussian.for_rho(Fraction(share), l2)
    return _Noise(gauss, gauss.privacy_loss(l2, delta=delta if delta > 0 else None))


def _rho_for(epsilon: float, delta: float) -> float:
    """The largest ρ whose tight conversion at δ stays within ε (bisection)."""
    lo, hi = 0.0, max(1.0, epsilon)
    for _ in range(100):
        mid = (lo + hi) / 2
        if zcdp_to_approx_epsilon(mid, delta) <= epsilon:
            lo = mid
        else:
            hi = mid
    return lo


def _measurements(query: ParsedQuery) -> int:
    cost = {"count": 1, "sum": 1, "mean": 2, "variance": 3, "quantile": 1}
    return sum(cost[a.kind] for a in query.aggregates)


def private_query(
    data: str | Path | Source,
    sql: str,
    *,
    epsilon: float,
    delta: float = 0.0,
    unit: str | None = None,
    bounds: Mapping[str, Bounds] | None = None,
    contribution: Contribution | None = None,
    groups: Mapping[str, Sequence[Any]] | None = None,
    ledger: PrivacyLedger | None = None,
    dataset: str | None = None,
    analyst: str = "analyst",
    alpha: float = 0.05,
    mechanism: Mechanism = "laplace",
    policy: DpPolicy | None = None,
    audit: AuditLog | None = None,
    table: str | None = None,
    rng: RandomSource | None = None,
) -> DpRelease:
    """Answer ``sql`` with (ε, δ)-differential privacy.

    Parameters
    ----------
    data:
        CSV, Parquet, DuckDB or SQLite file (``table`` for databases), or an open :class:`Source`.
    epsilon, delta:
        The privacy loss of the whole release. δ > 0 is needed for the Gaussian mechanism and for
        DP partition selection (group keys not declared).
    unit:
        Column identifying the person; ``None`` means each row is one person.
    bounds:
        Declared ``Bounds`` for every column that is summed, averaged or ranked.
    contribution:
        Per-person limits (groups, rows per group); rows beyond them are dropped.
    groups:
        Declared public group keys per GROUP BY column. Without them the keys themselves are
        released by DP partition selection (needs δ > 0), so a rare key does not single anyone out.
    ledger, dataset, analyst:
        The persistent budget to charge (strongly recommended); the charge happens before any
        noise is drawn and a refused charge spends nothing.
    """
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float):
        raise InvalidInput("epsilon must be a number")
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise InvalidInput("epsilon must be a positive, finite number")
    if not (0 <= delta < 1) or math.isnan(delta):
        raise InvalidInput("delta must be in [0, 1)")
    if not 0 < alpha < 1:
        raise InvalidInput("alpha must be in (0, 1)")
    if mechanism not in ("laplace", "gaussian"):
        raise InvalidInput("mechanism must be 'laplace' or 'gaussian'")
    if mechanism == "gaussian" and delta == 0:
        raise InvalidInput("the Gaussian mechanism needs δ > 0")
    policy = DpPolicy() if policy is None else policy
    warnings = policy.check(epsilon, delta)
    bounds = dict(bounds or {})
    contribution = Contribution() if contribution is None else contribution
    source = data if isinstance(data, Source) else Source(data, table=table)
    try:
        query = parse_query(sql, con=source.con)
        return _answer(
            source, query, sql=sql, epsilon=epsilon, delta=delta, unit=unit, bounds=bounds,
            contribution=contribution, groups=groups, ledger=ledger,
            dataset=dataset or source.label, analyst=analyst, alpha=alpha, mechanism=mechanism,
            warnings=warnings, audit=audit, rng=resolve(rng),
        )  # fmt: skip
    finally:
        if not isinstance(data, Source):
            source.close()


def _answer(
    source: Source,
    query: ParsedQuery,
    *,
    sql: str,
    epsilon: float,
    delta: float,
    unit: str | None,
    bounds: dict[str, Bounds],
    contribution: Contribution,
    groups: Mapping[str, Sequence[Any]] | None,
    ledger: PrivacyLedger | None,
    dataset: str,
    analyst: str,
    alpha: float,
    mechanism: Mechanism,
    warnings: list[str],
    audit: AuditLog | None,
    rng: RandomSource,
) -> DpRelease:
    declared = None
    if query.group_by:
        if groups is not None:
            missing = [g for g in query.group_by if g not in groups]
            if missing:
                raise InvalidInput(f"declare keys for every GROUP BY column: missing {missing}")
            declared = [
                tuple(k)
                for k in product(*(_typed_keys(source, g, groups[g]) for g in query.group_by))
            ]
            if not declared:
                raise InvalidInput("the declared group keys are empty")
        elif delta == 0:
            raise InvalidInput(
                "GROUP BY without declared keys releases the keys by DP partition selection, "
                "which needs δ > 0: give --delta, or declare the keys (--groups COL=a,b,c)"
            )
    value_cols = {a.column for a in query.aggregates if a.column and a.kind != "count"}
    scale = {c: _scale_bits(bounds[c]) for c in value_cols if c in bounds}
    exact = compute_exact(
        source, query, unit=unit, bounds=bounds, contribution=contribution, scale_bits=scale,
        salt=rng.random_bytes(16), need_units=bool(query.group_by) and declared is None,
    )  # fmt: skip
    g, c = contribution.max_groups, contribution.max_rows
    selection = query.group_by and declared is None
    parts = _measurements(query) + (1 if selection else 0)
    # Budget split: equal shares per measurement; Gaussian shares are in ρ, δ spent once.
    if mechanism == "laplace":
        share = epsilon / parts
    else:
        share = _rho_for(epsilon if not selection else epsilon / 2, delta / 2) / (
            parts - (1 if selection else 0)
        )
    # The quantile's exponential mechanism is pure ε-DP; under zCDP accounting its share of ρ buys
    # ε = √(2ρ) (an ε-DP mechanism is ε²/2-zCDP).
    quantile_eps = share if mechanism == "laplace" else math.sqrt(2 * share)
    loss_parts: list[PrivacyLoss] = []
    sel_eps = epsilon / parts if mechanism == "laplace" else epsilon / 2
    sel_delta = delta / 2 if mechanism == "gaussian" else delta
    # Privacy cost first: nothing random happens before the ledger agrees.
    plans: list[tuple[Aggregate, dict[str, _Noise]]] = []
    for agg in query.aggregates:
        plan: dict[str, _Noise] = {}
        if agg.kind in ("count", "mean", "variance"):
            plan["count"] = _noise(mechanism, share, g * c, g * c * c, delta)
        if agg.kind in ("sum", "mean", "variance") and agg.column is not None:
            m = math.ceil(bounds[agg.column].magnitude * (1 << scale[agg.column]))
            plan["sum"] = _noise(mechanism, share, g * c * m, g * (c * m) ** 2, delta)
            if agg.kind == "variance":
                m2 = m * m
                plan["squares"] = _noise(mechanism, share, g * c * m2, g * (c * m2) ** 2, delta)
        plans.append((agg, plan))
        loss_parts += [p.loss for p in plan.values()]
        if agg.kind == "quantile":
            loss_parts.append(PrivacyLoss(epsilon=quantile_eps, rho=quantile_eps**2 / 2))
    if selection:
        loss_parts.append(PrivacyLoss(epsilon=sel_eps, delta=sel_delta))
    total = compose(loss_parts)
    if mechanism == "gaussian":
        eps_g = zcdp_to_approx_epsilon(total.rho, delta / 2 if selection else delta)
        total = PrivacyLoss(epsilon=eps_g + (sel_eps if selection else 0.0), delta=delta,
                            rho=total.rho)
    params = {
        "query": sql,
        "unit": unit,
        "bounds": {k: [b.lower, b.upper] for k, b in sorted(bounds.items())},
        "contribution": {"max_groups": g, "max_rows": c},
        "mechanism": mechanism,
        "alpha": alpha,
        "group_keys": "declared" if not selection else "dp-partition-selection",
    }
    if ledger is not None:
        ledger.charge(
            dataset=dataset, analyst=analyst, loss=total, description=sql, parameters=params
        )
    # --- noise is drawn only now -------------------------------------------------------------
    if selection:
        keys = _select_partitions(exact, g, sel_eps, sel_delta, rng)
        released_by = "dp-partition-selection"
    else:
        keys = declared if declared is not None else [()]
        released_by = "declared" if query.group_by else "none"
    rows: list[tuple[tuple[Any, ...], tuple[Estimate, ...]]] = []
    for key in keys:
        estimates: list[Estimate] = []
        for agg, plan in plans:
            estimates.append(
                _estimate(
                    agg,
                    plan,
                    exact,
                    key=key,
                    bounds=bounds,
                    scale=scale,
                    alpha=alpha,
                    quantile_eps=quantile_eps,
                    g=g,
                    c=c,
                    rng=rng,
                )
            )
        rows.append((key, tuple(estimates)))
    release = DpRelease(
        group_by=query.group_by,
        labels=tuple(a.label for a in query.aggregates),
        rows=rows,
        privacy_loss=total,
        alpha=alpha,
        mechanism=mechanism,
        warnings=warnings,
        keys_released_by=released_by,
    )
    if audit is not None:
        audit.append(
            actor=analyst,
            operation="dp.release",
            parameters={"dataset": dataset, **params},
            privacy_cost=total.to_dict(),
            result_digest=digest_result(release.to_dict()),
        )
    return release


def _typed_keys(source: Source, column: str, values: Sequence[Any]) -> list[Any]:
    """Declared keys in the column's type: ``"1"`` from a command line matches an integer column."""
    source.require([column])
    if not source.numeric(column):
        return [str(v) for v in values]
    out: list[Any] = []
    for v in values:
        try:
            number = float(v)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"group key {v!r} is not a number, but {column!r} is numeric") from exc
        out.append(int(number) if number.is_integer() else number)
    return out


def _select_partitions(
    exact: ExactAggregates, g: int, epsilon: float, delta: float, rng: RandomSource
) -> list[tuple[Any, ...]]:
    """Release a key when its count of distinct people, plus discrete Laplace noise of scale g/ε,
    clears τ = 1 + (g/ε)·ln(g/δ): a key held by one person escapes with probability ≤ δ/g."""
    lap = DiscreteLaplace.for_epsilon(Fraction(epsilon), g)
    tau = 1 + float(lap.scale) * math.log(g / delta)
    keys = sorted(exact.units, key=repr)
    noise = lap.sample_many(len(keys), rng)
    return [k for k, n in zip(keys, noise, strict=True) if exact.units[k] + n > tau]


def _estimate(
    agg: Aggregate,
    plan: dict[str, _Noise],
    exact: ExactAggregates,
    *,
    key: tuple[Any, ...],
    bounds: Mapping[str, Bounds],
    scale: Mapping[str, int],
    alpha: float,
    quantile_eps: float,
    g: int,
    c: int,
    rng: RandomSource,
) -> Estimate:
    count = exact.counts.get(key, 0)
    if agg.kind == "count":
        noise = plan["count"]
        k = noise.half_width(alpha)
        value = count + noise.draw(1, rng)[0]
        return Estimate(float(value), noise.std(), (float(value - k), float(value + k)))
    col = agg.column
    if col is None:
        raise InvalidInput(f"{agg.kind} needs a column")
    unit = float(1 << scale[col]) if col in scale else 1.0
    b = bounds[col]
    if agg.kind == "sum":
        noise = plan["sum"]
        k = noise.half_width(alpha)
        s = exact.sums[col].get(key, 0) + noise.draw(1, rng)[0]
        return Estimate(s / unit, noise.std() / unit, ((s - k) / unit, (s + k) / unit))
    if agg.kind == "quantile":
        values = exact.values[col].get(key, [])
        lo, hi = round(b.lower * unit), round(b.upper * unit)
        q = Fraction(agg.q if agg.q is not None else 0.5).limit_denominator(10_000)
        # a person adds up to c values to each of up to g groups: ε/(g·c) per group and rank
        eps_q = _fraction_down(quantile_eps) / (g * c)
        chosen = private_quantile(values, q, lo, hi, eps_q, rng)
        step = (b.upper - b.lower) / 1023
        return Estimate(
            chosen / unit,
            None,
            None,
            note=f"exponential mechanism over 1,024 candidates (step {step:.4g}); no interval",
        )
    # mean and variance: noisy components, then a parametric bootstrap of the noise (post-processing
    # of released values: costs no privacy) for an approximate interval.
    cn, sn = plan["count"], plan["sum"]
    n_noisy = count + cn.draw(1, rng)[0]
    s_noisy = exact.sums[col].get(key, 0) + sn.draw(1, rng)[0]
    q_noisy = 0
    if agg.kind == "variance":
        q_noisy = exact.squares[col].get(key, 0) + plan["squares"].draw(1, rng)[0]

    def stat(n: float, s: float, sq: float) -> float:
        n = max(n, 1.0)
        mean = min(max(s / unit / n, b.lower), b.upper)
        if agg.kind == "mean":
            return mean
        var = sq / (unit * unit) / n - mean * mean
        return min(max(var, 0.0), (b.upper - b.lower) ** 2 / 4)

    answer = stat(n_noisy, s_noisy, q_noisy)
    cs = cn.draw(_BOOTSTRAP, rng)
    ss = sn.draw(_BOOTSTRAP, rng)
    qs = plan["squares"].draw(_BOOTSTRAP, rng) if agg.kind == "variance" else [0] * _BOOTSTRAP
    sims = sorted(
        stat(n_noisy - a, s_noisy - bb, q_noisy - d) for a, bb, d in zip(cs, ss, qs, strict=True)
    )
    lo_i = int(alpha / 2 * _BOOTSTRAP)
    hi_i = min(_BOOTSTRAP - 1, int((1 - alpha / 2) * _BOOTSTRAP))
    mean_sim = sum(sims) / len(sims)
    std = math.sqrt(sum((x - mean_sim) ** 2 for x in sims) / (len(sims) - 1))
    return Estimate(answer, std, (sims[lo_i], sims[hi_i]), note="approximate interval (bootstrap)")
