"""The ICO guidance's local-DP example: a smartphone provider learns average daily phone use.

The guidance: "A smartphone provider wants to know the average number of minutes an individual uses
their device ... the individual's device adds ... noise ... and gives the smartphone provider just
the noised result." Here each simulated device holds its own minutes of use per day (synthetic:
log-normal around three hours, from the OS CSPRNG through ``petsuite.core.rng``) and sends two
ε-LDP reports, splitting its budget evenly between them:

* its minutes, randomised with the piecewise mechanism on the public bounds [0, 1440];
* its hour band (0–1 h, 1–2 h, …, 23–24 h), randomised with the frequency oracle that
  ``choose_frequency_oracle`` picks for 24 values.

The "server" receives only the reports and estimates the mean and the band histogram with 95%
confidence intervals. The true values are computed here only to show how close the estimates are;
in a deployment nobody ever holds them.

Run from the repository root:
    .venv/bin/python examples/ldp_smartphone_minutes/run.py [--devices N] [--epsilon E]
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
from numpy.typing import NDArray

from petsuite.core.errors import InvalidInput
from petsuite.core.rng import RandomSource, resolve
from petsuite.dp.local import BoundedMean, Report, choose_frequency_oracle

MINUTES_PER_DAY = 1440
BANDS = 24


def synthetic_minutes(n: int, rng: RandomSource | None = None) -> NDArray[np.float64]:
    """Minutes of use per day: log-normal, median 180 min, σ = 0.7, cut at 1,440.

    Uniforms come from 53-bit slices of CSPRNG bytes, normals from Box–Muller.
    """
    raw = np.frombuffer(resolve(rng).random_bytes(16 * n), dtype="<u8").reshape(n, 2)
    u1 = ((raw[:, 0] >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0**-53  # (0, 1]
    u2 = (raw[:, 1] >> np.uint64(11)).astype(np.float64) * 2.0**-53  # [0, 1)
    z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)
    out: NDArray[np.float64] = np.clip(np.round(np.exp(math.log(180.0) + 0.7 * z)), 0,
                                       MINUTES_PER_DAY)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local DP: average phone use per day.")
    parser.add_argument("--devices", type=int, default=100_000, help="number of devices")
    parser.add_argument("--epsilon", type=float, default=2.0,
                        help="total ε per device, split evenly between its two reports")
    args = parser.parse_args(argv)
    if args.devices < 2:
        parser.error("need at least two devices")
    eps_each = args.epsilon / 2

    minutes = synthetic_minutes(args.devices)          # each device's own value, never sent
    bands = np.minimum(minutes // 60, BANDS - 1).astype(np.int64)

    try:
        mean_mechanism = BoundedMean(0.0, MINUTES_PER_DAY, eps_each, "piecewise")
        oracle = choose_frequency_oracle(BANDS, eps_each)
    except InvalidInput as exc:
        parser.error(str(exc))

    # --- on each device: randomise locally, send only the reports -------------------------
    t0 = time.perf_counter()
    minute_reports = []
    band_reports: list[Report] = []
    for own_minutes, own_band in zip(minutes.tolist(), bands.tolist(), strict=True):
        minute_reports.append(mean_mechanism.randomise(own_minutes))
        band_reports.append(oracle.randomise(own_band))
    device_s = time.perf_counter() - t0

    # --- on the server: only the reports ----------------------------------------------------
    t0 = time.perf_counter()
    mean = mean_mechanism.estimate(minute_reports)
    histogram = oracle.estimate(band_reports)
    server_s = time.perf_counter() - t0

    n = args.devices
    true_mean = float(minutes.mean())
    true_counts = np.bincount(bands, minlength=BANDS)
    print(f"{n:,} devices, ε = {args.epsilon} per device "
          f"({eps_each} for the minutes, {eps_each} for the band; {oracle.kind.value.upper()}, "
          f"{oracle.report_bytes}-byte reports)")
    print(f"devices randomised in {device_s:.1f} s; server estimated in {server_s:.2f} s\n")
    lo, hi = mean.interval
    inside_mean = lo <= true_mean <= hi
    print(f"mean minutes per day: estimate {mean.mean:7.1f}  95% CI [{lo:7.1f}, {hi:7.1f}]  "
          f"true {true_mean:7.1f}  ({'inside' if inside_mean else 'OUTSIDE'} the interval)")
    print(f"  (one device's report alone has a standard deviation of "
          f"{math.sqrt(mean_mechanism.report_variance(true_mean)):.0f} minutes)\n")
    print(f"{'hours':>7} {'estimate %':>11} {'95% CI %':>19} {'true %':>8}")
    inside = 0
    for band in range(BANDS):
        est = 100 * histogram.counts[band] / n
        low = 100 * histogram.lower[band] / n
        high = 100 * histogram.upper[band] / n
        true = 100 * true_counts[band] / n
        inside += int(low <= true <= high)
        print(f"{band:>3}–{band + 1:<3} {est:>11.2f}  [{low:>7.2f}, {high:>7.2f}] {true:>8.2f}")
    print(f"\n{inside}/{BANDS} hour bands inside their 95% intervals "
          "(about 23 expected; estimates can be negative: they are unbiased, not clipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
