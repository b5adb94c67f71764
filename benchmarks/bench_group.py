"""Throughput of petsuite's ristretto255 batch API against a plain per-element rbcl loop.

Measures, on the same data in one run:

* hash-to-group (RFC 9380 ``hash_to_ristretto255``): ``raw_batch_hash_to_group`` vs a loop of
  ``rbcl.crypto_core_ristretto255_from_hash(expand_message_xmd(m, DST, 64))``;
* scalar multiplication: ``raw_batch_scalar_mult`` (validates every input) vs a loop of
  ``rbcl.crypto_scalarmult_ristretto255``;
* the combined hash-then-multiply hot path, the thread backend, the inline batch (one core, to
  separate the fast-path gain from the parallel gain), the pool's cold start, and the size at which
  the warm pool overtakes the inline loop (which justifies ``PARALLEL_THRESHOLD``).

Prints a table, then one JSON object as the last line. ``--quick`` stays under a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import rbcl

from petsuite.primitives.group import (
    PARALLEL_THRESHOLD,
    Scalar,
    expand_message_xmd,
    raw_batch_hash_and_mult,
    raw_batch_hash_to_group,
    raw_batch_scalar_mult,
    shutdown_pool,
)

DST = b"HashToGroup-OPRFV1-\x00-ristretto255-SHA512"
NO_POOL = 1 << 62  # a parallel_threshold no batch reaches: forces the inline path


def best_of(repeats: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best = float("inf")
    result: Any = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def interleaved(
    repeats: int, variants: dict[str, Callable[[], Any]]
) -> dict[str, tuple[float, Any]]:
    """Run the variants round-robin ``repeats`` times; best time and last result of each."""
    best: dict[str, tuple[float, Any]] = {name: (float("inf"), None) for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - t0
            best[name] = (min(best[name][0], elapsed), result)
    return best


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--n", type=int, default=None, help="elements per batch")
    parser.add_argument("--repeats", type=int, default=None, help="best-of repeats")
    parser.add_argument("--workers", type=int, default=None, help="default: all usable CPUs")
    args = parser.parse_args(argv)
    n = args.n if args.n is not None else (20_000 if args.quick else 100_000)
    repeats = args.repeats if args.repeats is not None else 5
    cpus = cpu_count()
    workers = args.workers if args.workers is not None else cpus

    msgs = [b"user-%08d@example.org" % i for i in range(n)]
    scalar = Scalar.random()
    s_bytes = scalar.to_bytes()
    from_hash = rbcl.crypto_core_ristretto255_from_hash
    mult = rbcl.crypto_scalarmult_ristretto255

    def loop_h2g() -> list[bytes]:
        return [from_hash(expand_message_xmd(m, DST, 64)) for m in msgs]

    def loop_mult(points: list[bytes]) -> list[bytes]:
        return [mult(s_bytes, p) for p in points]

    # Cold start: the first pooled call in this process spawns the workers.
    cold_n = max(PARALLEL_THRESHOLD, 2 * workers)
    t0 = time.perf_counter()
    raw_batch_hash_to_group(msgs[:cold_n], DST, workers=workers, parallel_threshold=1)
    cold_s = time.perf_counter() - t0
    warm_s, _ = best_of(
        repeats,
        lambda: raw_batch_hash_to_group(msgs[:cold_n], DST, workers=workers, parallel_threshold=1),
    )

    # Variants of one operation run round-robin, so outside load hits them alike; best of each.
    points = loop_h2g()
    h2g = interleaved(
        repeats,
        {
            "loop": loop_h2g,
            "process": lambda: raw_batch_hash_to_group(msgs, DST, workers=workers),
            "inline": lambda: raw_batch_hash_to_group(msgs, DST, parallel_threshold=NO_POOL),
            "thread": lambda: raw_batch_hash_to_group(msgs, DST, workers=workers, backend="thread"),
        },
    )
    products = loop_mult(points)
    mul = interleaved(
        repeats,
        {
            "loop": lambda: loop_mult(points),
            "process": lambda: raw_batch_scalar_mult(points, scalar, workers=workers),
            "inline": lambda: raw_batch_scalar_mult(points, scalar, parallel_threshold=NO_POOL),
            "thread": lambda: raw_batch_scalar_mult(
                points, scalar, workers=workers, backend="thread"
            ),
        },
    )
    hm = interleaved(
        repeats,
        {
            "loop": lambda: loop_mult(loop_h2g()),
            "process": lambda: raw_batch_hash_and_mult(msgs, DST, scalar, workers=workers),
        },
    )
    for name, expected, measured in (
        ("hash-to-group", points, h2g),
        ("scalar mult", products, mul),
        ("hash+mult", products, hm),
    ):
        for variant, (_, output) in measured.items():
            if output != expected:
                print(f"MISMATCH: {name} {variant} differs from the loop", file=sys.stderr)
                return 1
    t_loop_h2g, t_batch_h2g = h2g["loop"][0], h2g["process"][0]
    t_inline_h2g, t_thread_h2g = h2g["inline"][0], h2g["thread"][0]
    t_loop_mult, t_batch_mult = mul["loop"][0], mul["process"][0]
    t_inline_mult, t_thread_mult = mul["inline"][0], mul["thread"][0]
    t_loop_hm, t_batch_hm = hm["loop"][0], hm["process"][0]

    # Crossover: warm pool vs inline, hash-and-multiply, small sizes.
    crossover: dict[str, dict[str, float]] = {}
    for size in (16, 64, 256, 1024, 4096):
        sub = msgs[: min(size, n)]

        def run(sub: list[bytes] = sub, **kw: Any) -> list[bytes]:
            return raw_batch_hash_and_mult(sub, DST, scalar, **kw)

        times = interleaved(
            repeats,
            {
                "inline": lambda: run(parallel_threshold=NO_POOL),
                "process": lambda: run(workers=workers, parallel_threshold=1),
                "thread": lambda: run(workers=workers, parallel_threshold=1, backend="thread"),
            },
        )
        t_in, t_pool, t_thr = (times[k][0] for k in ("inline", "process", "thread"))
        crossover[str(len(sub))] = {
            "inline_ms": round(t_in * 1e3, 2),
            "process_ms": round(t_pool * 1e3, 2),
            "thread_ms": round(t_thr * 1e3, 2),
        }
    shutdown_pool()

    def rate(t: float) -> float:
        return round(n / t, 1)

    rows: list[tuple[str, float, float | None, float, float | None]] = [
        ("hash-to-group", t_loop_h2g, t_inline_h2g, t_batch_h2g, t_thread_h2g),
        ("scalar mult", t_loop_mult, t_inline_mult, t_batch_mult, t_thread_mult),
        ("hash+mult", t_loop_hm, None, t_batch_hm, None),
    ]
    print(
        f"ristretto255 batch benchmark: n={n}, workers={workers}, cpus={cpus}, "
        f"best of {repeats}, Python {platform.python_version()}"
    )
    print(
        f"{'operation':<15}{'rbcl loop/s':>14}{'inline/s':>12}{'process/s':>12}"
        f"{'thread/s':>12}{'speedup':>10}"
    )
    for name, t_loop, t_inline, t_proc, t_threads in rows:
        inline_txt = f"{n / t_inline:>12.0f}" if t_inline else f"{'-':>12}"
        thread_txt = f"{n / t_threads:>12.0f}" if t_threads else f"{'-':>12}"
        print(
            f"{name:<15}{n / t_loop:>14.0f}{inline_txt}{n / t_proc:>12.0f}{thread_txt}"
            f"{t_loop / t_proc:>9.2f}x"
        )
    print(
        f"pool cold start: first pooled call of {cold_n} hashes {cold_s * 1e3:.0f} ms, "
        f"warm {warm_s * 1e3:.0f} ms"
    )
    print(f"crossover (hash+mult, ms; PARALLEL_THRESHOLD={PARALLEL_THRESHOLD}):")
    for label, r in crossover.items():
        print(
            f"  n={label:>5}: inline {r['inline_ms']:>8.2f}  process {r['process_ms']:>8.2f}"
            f"  thread {r['thread_ms']:>8.2f}"
        )
    result = {
        "n": n,
        "cpus": cpus,
        "workers": workers,
        "repeats": repeats,
        "batch_mults_per_s": rate(t_batch_mult),
        "loop_mults_per_s": rate(t_loop_mult),
        "speedup": round(t_loop_mult / t_batch_mult, 3),
        "batch_h2g_per_s": rate(t_batch_h2g),
        "loop_h2g_per_s": rate(t_loop_h2g),
        "h2g_speedup": round(t_loop_h2g / t_batch_h2g, 3),
        "inline_mults_per_s": rate(t_inline_mult),
        "inline_h2g_per_s": rate(t_inline_h2g),
        "thread_mults_per_s": rate(t_thread_mult),
        "thread_h2g_per_s": rate(t_thread_h2g),
        "batch_hash_mult_per_s": rate(t_batch_hm),
        "loop_hash_mult_per_s": rate(t_loop_hm),
        "hash_mult_speedup": round(t_loop_hm / t_batch_hm, 3),
        "pool_cold_start_ms": round(cold_s * 1e3, 1),
        "pool_warm_same_call_ms": round(warm_s * 1e3, 1),
        "parallel_threshold": PARALLEL_THRESHOLD,
        "crossover_ms": crossover,
    }
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
