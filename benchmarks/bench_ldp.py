"""Server-side throughput and accuracy of petsuite's local-DP frequency oracles.

For each oracle (GRR, OUE, OLH) on one synthetic population (default 1,000,000 users, domain
1,024, ε = 1):

* simulation: every user randomises its value (vectorised, OS CSPRNG), timed on its own;
* aggregation: the server turns the report arrays into unbiased counts, variances and intervals
  (``FrequencyOracle.estimate`` on a ``ReportBatch``), best of ``--repeats``, as reports per second;
* accuracy: the mean squared error of the counts over the domain (averaged over ``--mse-runs``
  simulations) against the mean of the exact closed-form variances (Wang et al. 2017, Theorem 2):
  the ratio should be about 1 (the errors of one run are correlated across values, so one run's
  ratio can be off by ±10%).

Also the bounded-mean mechanisms (piecewise, Duchi et al.) on the same number of users. Prints a
table, then one JSON object as the last line (``ldp_reports_per_s`` is the fastest oracle's
aggregation rate; ``chosen_oracle`` is what ``choose_frequency_oracle`` picks for this d and ε).
``--quick`` stays under a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from petsuite.dp.local import (
    BoundedMean,
    FrequencyOracle,
    OracleKind,
    choose_frequency_oracle,
    simulate_reports,
)


def population(users: int, domain: int) -> NDArray[np.int64]:
    """A fixed Zipf-like population (no randomness needed: counts ∝ 1/(v+1))."""
    weights = 1.0 / np.arange(1, domain + 1)
    counts = np.floor(weights / weights.sum() * users).astype(np.int64)
    counts[0] += users - int(counts.sum())
    return np.repeat(np.arange(domain, dtype=np.int64), counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--domain", type=int, default=1024)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=5, help="aggregation timings (best of)")
    parser.add_argument("--mse-runs", type=int, default=3, help="simulations averaged for the MSE")
    parser.add_argument("--quick", action="store_true", help="fewer repeats; under a minute")
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else args.repeats
    mse_runs = 1 if args.quick else max(1, args.mse_runs)
    n, d, eps = args.users, args.domain, args.epsilon

    values = population(n, d)
    true = np.bincount(values, minlength=d)
    results: dict[str, dict[str, Any]] = {}
    print(f"{n:,} users, domain {d:,}, epsilon {eps}; {platform.python_version()}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'oracle':<8}{'simulate s':>12}{'aggregate s':>13}{'reports/s':>14}"
          f"{'MSE/closed':>12}{'bytes':>7}")
    for kind in OracleKind:
        oracle = FrequencyOracle(kind, d, eps)
        t0 = time.perf_counter()
        batch = simulate_reports(oracle, values)
        simulate_s = time.perf_counter() - t0
        best = math.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            est = oracle.estimate(batch)
            best = min(best, time.perf_counter() - t0)
        squared = [float(np.mean((est.counts - true) ** 2))]
        for _ in range(mse_runs - 1):
            extra = oracle.estimate(simulate_reports(oracle, values))
            squared.append(float(np.mean((extra.counts - true) ** 2)))
        mse = float(np.mean(squared))
        closed = float(np.mean([oracle.variance(n, int(c)) for c in true]))
        results[kind.value] = {
            "simulate_s": round(simulate_s, 3),
            "aggregate_s": round(best, 4),
            "reports_per_s": round(n / best),
            "mse": round(mse, 1),
            "mse_runs": mse_runs,
            "closed_form_variance": round(closed, 1),
            "mse_ratio": round(mse / closed, 4),
            "report_bytes": oracle.report_bytes,
        }
        print(f"{kind.value:<8}{simulate_s:>12.2f}{best:>13.4f}{n / best:>14,.0f}"
              f"{mse / closed:>12.3f}{oracle.report_bytes:>7}")
        del batch

    means: dict[str, dict[str, Any]] = {}
    minutes = (np.arange(n, dtype=np.float64) % 1441.0)
    for mechanism in ("piecewise", "duchi"):
        bm = BoundedMean(0.0, 1440.0, eps, mechanism)
        t0 = time.perf_counter()
        reports = simulate_reports(bm, minutes)
        simulate_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        estimate = bm.estimate(reports)
        aggregate_s = time.perf_counter() - t0
        z = (estimate.mean - float(minutes.mean())) / math.sqrt(bm.variance_of_mean(minutes))
        means[mechanism] = {"simulate_s": round(simulate_s, 3), "aggregate_s": round(aggregate_s, 4),
                            "reports_per_s": round(n / aggregate_s), "error_in_sd": round(z, 3),
                            "sd_minutes": round(math.sqrt(bm.variance_of_mean(minutes)), 4)}
        print(f"mean/{mechanism:<10} simulate {simulate_s:.2f} s, aggregate {aggregate_s:.4f} s, "
              f"error {z:+.2f} sd (sd {means[mechanism]['sd_minutes']:.3f} min)")

    fastest = max(results, key=lambda k: results[k]["reports_per_s"])
    chosen = choose_frequency_oracle(d, eps).kind.value
    summary = {
        "benchmark": "ldp",
        "users": n,
        "domain": d,
        "epsilon": eps,
        "ldp_reports_per_s": results[fastest]["reports_per_s"],
        "fastest_oracle": fastest,
        "chosen_oracle": chosen,
        "chosen_reports_per_s": results[chosen]["reports_per_s"],
        "oracles": results,
        "means": means,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
