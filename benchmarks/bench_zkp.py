"""Zero-knowledge range proofs: Bulletproofs against the naive bit-decomposition proof.

Sections (each adds keys to one JSON summary):

1. **Bulletproofs, 64-bit, one value** (``petsuite.zkp.bulletproofs``): ``range_proof_bytes`` (the
   serialised proof, 4-byte header included), ``prove_ms`` and ``verify_ms`` (median of ``--runs``
   timed runs after a warm-up that starts the worker pool and fills the generator caches; the
   fastest run is stored as ``prove_best_ms`` / ``verify_best_ms``). Targets: <= 700 bytes,
   verify <= 15 ms, prove <= 50 ms.
2. **Bulletproofs, 64-bit, aggregated m=4**: ``agg4_proof_bytes``, ``agg4_prove_ms``,
   ``agg4_verify_ms``.
3. **Naive bit decomposition** (``petsuite.zkp.bitrange``: 64 bit commitments, one OR proof per
   bit, recomposition check): ``naive_proof_bytes``, ``naive_prove_ms``, ``naive_verify_ms`` and the
   ratios ``size_ratio``, ``prove_ratio``, ``verify_ratio`` = naive / Bulletproofs (above 1:
   Bulletproofs is smaller or faster).

4. **Age-over-18 presentation** (``petsuite.zkp.presentation``): a registry-signed credential from
   a book, a 32-bit Bulletproof on the committed date of birth, bound to a verifier nonce and date:
   ``age_presentation_bytes`` (JSON), ``age_prove_ms`` and ``age_verify_ms`` (signature and
   expiry checks included).

Every proof made is verified before its time counts. Timings are wall-clock medians on a shared
machine: the load average before and after is printed and stored. Prints a table, then one JSON
object as the last line (also written to ``--json PATH``). ``--quick`` stays well under a minute
on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from petsuite.primitives.group import Scalar, shutdown_pool
from petsuite.zkp.bitrange import BitRangeProof, prove_bitrange, verify_bitrange
from petsuite.zkp.bulletproofs import RangeProof, prove_range, verify_range
from petsuite.zkp.credentials import IssuerKey, TrustedIssuer, TrustStore, issue_book
from petsuite.zkp.presentation import Challenge, Statement, present, verify_presentation
from petsuite.zkp.transcript import Transcript

BITS = 64
LABEL = b"petsuite/bench/zkp/v1"
TARGETS = {"range_proof_bytes": 700, "verify_ms": 15.0, "prove_ms": 50.0}
RUNS = {"quick": (9, 5), "default": (31, 9)}  # (Bulletproofs runs, naive runs)


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def loadavg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def transcript() -> Transcript:
    t = Transcript(LABEL)
    t.append_message(b"nonce", b"benchmark")
    return t


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


#: Best (minimum) times of the last :func:`time_prove_verify` call, in ms: less sensitive to the
#: other users of a shared machine than the medians, reported next to them.
BEST: dict[str, float] = {}


def time_prove_verify(
    runs: int,
    prove: Callable[[], tuple[bytes, Any]],
    verify: Callable[[bytes, Any], None],
) -> tuple[int, float, float]:
    """Median prove and verify times over ``runs`` runs (each proof verified); the proof size."""
    prove_s: list[float] = []
    verify_s: list[float] = []
    size = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        data, statement = prove()
        t1 = time.perf_counter()
        verify(data, statement)
        t2 = time.perf_counter()
        prove_s.append(t1 - t0)
        verify_s.append(t2 - t1)
        size = len(data)
    BEST["prove"] = min(prove_s) * 1e3
    BEST["verify"] = min(verify_s) * 1e3
    return size, median_ms(prove_s), median_ms(verify_s)


def bulletproof_runner(
    count: int,
) -> tuple[Callable[[], tuple[bytes, Any]], Callable[[bytes, Any], None]]:
    values = [(1 << BITS) - 1 - 977 * i for i in range(count)]

    def prove() -> tuple[bytes, Any]:
        blindings = [Scalar.random() for _ in values]
        proof, commitments = prove_range(values, blindings, BITS, transcript())
        return proof.to_bytes(), commitments

    def verify(data: bytes, commitments: Any) -> None:
        verify_range(RangeProof.from_bytes(data), commitments, BITS, transcript())

    return prove, verify


def naive_runner() -> tuple[Callable[[], tuple[bytes, Any]], Callable[[bytes, Any], None]]:
    value = (1 << BITS) - 12345

    def prove() -> tuple[bytes, Any]:
        proof, commitment = prove_bitrange(value, Scalar.random(), BITS, transcript())
        return proof.to_bytes(), commitment

    def verify(data: bytes, commitment: Any) -> None:
        verify_bitrange(BitRangeProof.from_bytes(data), commitment, BITS, transcript())

    return prove, verify


def age_runner(
    count: int,
) -> tuple[Callable[[], tuple[bytes, Any]], Callable[[bytes, Any], None]]:
    """Holder side: one fresh credential from a book per presentation; verifier: full check."""
    on = date(2026, 11, 26)
    registry = IssuerKey.generate()
    book = iter(
        issue_book(registry, "age", date(1990, 5, 17), issued=on, expires=on, count=count).entries
    )
    trust = TrustStore([TrustedIssuer("registry", registry.public_key, on, on)])

    def prove() -> tuple[bytes, Any]:
        challenge = Challenge(
            verifier="shop", nonce=Scalar.random().to_bytes(), on=on, statement=Statement.AGE,
            threshold=18,
        )  # fmt: skip
        return present(challenge, entry=next(book)).to_json().encode(), challenge

    def verify(data: bytes, challenge: Any) -> None:
        verify_presentation(data, challenge, trust)

    return prove, verify


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, well under a minute")
    parser.add_argument("--runs", type=int, default=None, help="timed Bulletproofs runs")
    parser.add_argument("--naive-runs", type=int, default=None, help="timed naive-proof runs")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the JSON")
    args = parser.parse_args(argv)
    runs, naive_runs = RUNS["quick" if args.quick else "default"]
    runs = args.runs or runs
    naive_runs = args.naive_runs or naive_runs
    if runs < 1 or naive_runs < 1:
        parser.error("runs must be positive")

    wall0 = time.perf_counter()
    load_before = loadavg()
    summary: dict[str, Any] = {
        "benchmark": "zkp_range_proofs",
        "bits": BITS,
        "cores": cpu_count(),
        "python": platform.python_version(),
        "quick": bool(args.quick),
        "runs": runs,
        "naive_runs": naive_runs,
    }
    rows: list[tuple[str, int, float, float]] = []

    # Warm-up: starts the worker pool, fills the generator caches, first-call imports.
    for runner in (bulletproof_runner(1), bulletproof_runner(4), naive_runner(), age_runner(1)):
        time_prove_verify(1, *runner)

    # --- section 1: Bulletproofs, one 64-bit value ----------------------------------------------
    size, prove_ms, verify_ms = time_prove_verify(runs, *bulletproof_runner(1))
    summary |= {
        "range_proof_bytes": size,
        "prove_ms": prove_ms,
        "verify_ms": verify_ms,
        "prove_best_ms": BEST["prove"],
        "verify_best_ms": BEST["verify"],
    }
    rows.append(("Bulletproofs 64-bit, m=1", size, prove_ms, verify_ms))

    # --- section 2: Bulletproofs, four 64-bit values aggregated ---------------------------------
    size, p_ms, v_ms = time_prove_verify(runs, *bulletproof_runner(4))
    summary |= {"agg4_proof_bytes": size, "agg4_prove_ms": p_ms, "agg4_verify_ms": v_ms}
    rows.append(("Bulletproofs 64-bit, m=4", size, p_ms, v_ms))

    # --- section 3: naive bit decomposition + OR proofs -----------------------------------------
    size, p_ms, v_ms = time_prove_verify(naive_runs, *naive_runner())
    summary |= {
        "naive_proof_bytes": size,
        "naive_prove_ms": p_ms,
        "naive_verify_ms": v_ms,
        "size_ratio": size / summary["range_proof_bytes"],
        "prove_ratio": p_ms / summary["prove_ms"],
        "verify_ratio": v_ms / summary["verify_ms"],
    }
    rows.append(("naive bits + OR proofs 64-bit", size, p_ms, v_ms))

    # --- section 4: age-over-18 presentation (credential signature + 32-bit Bulletproof) --------
    size, p_ms, v_ms = time_prove_verify(runs, *age_runner(runs + 1))
    summary |= {"age_presentation_bytes": size, "age_prove_ms": p_ms, "age_verify_ms": v_ms}
    rows.append(("age >= 18 presentation", size, p_ms, v_ms))

    summary["targets"] = TARGETS
    summary["targets_met"] = {
        "range_proof_bytes": summary["range_proof_bytes"] <= TARGETS["range_proof_bytes"],
        "verify_ms": summary["verify_ms"] <= TARGETS["verify_ms"],
        "prove_ms": summary["prove_ms"] <= TARGETS["prove_ms"],
    }
    summary["loadavg_before_after"] = [load_before, loadavg()]
    summary["wall_s"] = time.perf_counter() - wall0
    shutdown_pool()

    print(f"{'proof':<34}{'bytes':>8}{'prove ms':>11}{'verify ms':>11}")
    for name, nbytes, p, v in rows:
        print(f"{name:<34}{nbytes:>8}{p:>11.2f}{v:>11.2f}")
    print(
        f"naive / Bulletproofs: size x{summary['size_ratio']:.1f}, prove "
        f"x{summary['prove_ratio']:.2f}, verify x{summary['verify_ratio']:.2f}; targets met: "
        f"{summary['targets_met']}; load average before {load_before}, after "
        f"{summary['loadavg_before_after'][1]} (shared machine), {summary['cores']} cores"
    )
    text = json.dumps(_rounded(summary))
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def _rounded(value: Any) -> Any:
    """``value`` with every float rounded to 3 decimals, for a readable JSON line."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
