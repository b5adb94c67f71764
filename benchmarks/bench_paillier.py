"""Paillier throughput of petsuite against ``phe`` (python-paillier, with gmpy2), same key, same data.

For each key size (2048 and 3072 bits) one ``phe`` key pair is generated and petsuite's key is built
from the same primes (``PaillierPrivateKey.from_primes``), so both libraries work modulo the same
``n`` on the same plaintexts (random 64-bit integers). Measured, best of ``--repeats`` rounds run
round-robin:

* encryptions/s: petsuite DJN with the fixed-base table (default), petsuite classic ``r^n``
  (``djn=False``), ``phe``'s ``raw_encrypt``; and, for reference, the DJN mask as one plain
  ``gmpy2.powmod`` without a table (computed here, to show what the table buys);
* decryptions/s: petsuite ``decrypt`` (CRT) vs ``phe``'s ``raw_decrypt`` (also CRT); petsuite
  ``decrypt_many(threads=2)``; signed decryption, petsuite ``PaillierEncoder.decrypt`` (modulo
  ``p`` only for small bounds) vs ``phe``'s ``decrypt`` of an ``EncryptedNumber``;
* additions/s: ``c1 + c2`` in both libraries, and petsuite's ``sum_ciphertexts`` per element;
* key generation and the table build, reported separately (one-off costs).

Prints a table, then one JSON object as the last line. ``--quick`` stays under a minute on 2 cores.
Exits with status 2 when ``phe`` is not installed.
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

import gmpy2

from petsuite.core.rng import random_bits
from petsuite.primitives.paillier import (
    PaillierCiphertext,
    PaillierEncoder,
    PaillierPrivateKey,
    sum_ciphertexts,
)


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


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def rounded(value: Any) -> Any:
    """``value`` with every float rounded to 4 significant decimals, for the JSON line."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def bench_size(
    bits: int, *, n_fast: int, n_slow: int, n_dec: int, repeats: int, phe_paillier: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"bits": bits}

    t_phe_keygen, (phe_pk, phe_sk) = timed(
        lambda: phe_paillier.generate_paillier_keypair(n_length=bits)
    )
    t_keygen, _ = timed(lambda: PaillierPrivateKey.generate(bits))
    sk = PaillierPrivateKey.from_primes(phe_sk.p, phe_sk.q)
    pk = sk.public_key
    assert pk.n == phe_pk.n
    t_table, _ = timed(pk.precompute)
    windows = pk.djn_exponent_bits // 8
    out["keygen_s"] = t_keygen
    out["phe_keygen_s"] = t_phe_keygen
    out["table_build_ms"] = t_table * 1e3
    out["table_mb"] = windows * 256 * pk.ciphertext_bytes / 1e6

    plaintexts = [random_bits(64) for _ in range(max(n_fast, n_slow, n_dec))]
    fast_ms, slow_ms, dec_ms = plaintexts[:n_fast], plaintexts[:n_slow], plaintexts[:n_dec]

    # -- encryption ---------------------------------------------------------------------------------
    h, nsq = gmpy2.mpz(pk.h), gmpy2.mpz(pk.n_squared)
    alphas = [random_bits(pk.djn_exponent_bits) for _ in range(n_fast)]
    enc = interleaved(
        repeats,
        {
            "ours_djn_table": lambda: pk.encrypt_many(fast_ms),
            "djn_powmod_no_table": lambda: [gmpy2.powmod(h, a, nsq) for a in alphas],
            "ours_classic": lambda: pk.encrypt_many(slow_ms, djn=False),
            "phe": lambda: [phe_pk.raw_encrypt(m) for m in slow_ms],
        },
    )
    rate = {
        "ours_djn_table": n_fast / enc["ours_djn_table"][0],
        "djn_powmod_no_table": n_fast / enc["djn_powmod_no_table"][0],
        "ours_classic": n_slow / enc["ours_classic"][0],
        "phe": n_slow / enc["phe"][0],
    }
    ours_cts: list[PaillierCiphertext] = enc["ours_djn_table"][1]
    phe_cts: list[int] = enc["phe"][1]
    # Cross-check: each library decrypts the other's ciphertexts.
    assert [sk.raw_decrypt(c) for c in phe_cts[:3]] == slow_ms[:3]
    assert [phe_sk.raw_decrypt(c.value) for c in ours_cts[:3]] == fast_ms[:3]
    out["enc_per_s"] = rate

    # -- decryption ---------------------------------------------------------------------------------
    cts = pk.encrypt_many(dec_ms)
    raw_cts = [c.value for c in cts]
    encoder = PaillierEncoder(pk, 2**64)
    signed = [m - 2**63 for m in dec_ms]
    signed_cts = [encoder.encrypt(m) for m in signed]
    phe_signed = [phe_pk.encrypt(m) for m in signed]
    dec = interleaved(
        repeats,
        {
            "ours": lambda: [sk.decrypt(c) for c in cts],
            "ours_2threads": lambda: sk.decrypt_many(cts, threads=2),
            "phe": lambda: [phe_sk.raw_decrypt(c) for c in raw_cts],
            "ours_signed": lambda: [encoder.decrypt(sk, c) for c in signed_cts],
            "phe_signed": lambda: [phe_sk.decrypt(c) for c in phe_signed],
        },
    )
    for name in ("ours", "ours_2threads", "phe"):
        assert dec[name][1] == dec_ms, name
    assert dec["ours_signed"][1] == signed and dec["phe_signed"][1] == signed
    out["dec_per_s"] = {name: n_dec / t for name, (t, _) in dec.items()}

    # -- addition -----------------------------------------------------------------------------------
    a_cts, b_cts = ours_cts, ours_cts[1:] + ours_cts[:1]
    phe_a = [phe_paillier.EncryptedNumber(phe_pk, c.value) for c in a_cts]
    phe_b = phe_a[1:] + phe_a[:1]
    add = interleaved(
        repeats,
        {
            "ours": lambda: [x + y for x, y in zip(a_cts, b_cts, strict=True)],
            "ours_sum": lambda: sum_ciphertexts(a_cts),
            "phe": lambda: [x + y for x, y in zip(phe_a, phe_b, strict=True)],
        },
    )
    assert sk.decrypt(add["ours"][1][0]) == fast_ms[0] + fast_ms[1 % n_fast]
    out["add_per_s"] = {name: n_fast / t for name, (t, _) in add.items()}

    out["enc_speedup_vs_phe"] = rate["ours_djn_table"] / rate["phe"]
    out["enc_classic_speedup_vs_phe"] = rate["ours_classic"] / rate["phe"]
    out["table_vs_powmod"] = rate["ours_djn_table"] / rate["djn_powmod_no_table"]
    d = out["dec_per_s"]
    out["dec_speedup_vs_phe"] = d["ours"] / d["phe"]
    out["dec_2threads_speedup_vs_phe"] = d["ours_2threads"] / d["phe"]
    out["dec_signed_speedup_vs_phe"] = d["ours_signed"] / d["phe_signed"]
    out["add_speedup_vs_phe"] = out["add_per_s"]["ours"] / out["add_per_s"]["phe"]
    return out


def print_table(results: list[dict[str, Any]]) -> None:
    header = f"{'operation':<52}" + "".join(f"{str(r['bits']) + '-bit':>14}" for r in results)
    print(header)
    print("-" * len(header))

    def row(label: str, get: Callable[[dict[str, Any]], float], fmt: str = "{:>14,.1f}") -> None:
        print(f"{label:<52}" + "".join(fmt.format(get(r)) for r in results))

    row("keygen, petsuite (s)", lambda r: r["keygen_s"], "{:>14.3f}")
    row("keygen, phe (s)", lambda r: r["phe_keygen_s"], "{:>14.3f}")
    row("DJN table build, once per key (ms)", lambda r: r["table_build_ms"])
    row("DJN table size (MB)", lambda r: r["table_mb"], "{:>14.1f}")
    row("enc/s petsuite DJN + table (default)", lambda r: r["enc_per_s"]["ours_djn_table"])
    row("enc/s petsuite classic r^n (djn=False)", lambda r: r["enc_per_s"]["ours_classic"])
    row("enc/s phe raw_encrypt", lambda r: r["enc_per_s"]["phe"])
    row(
        "  h^alpha/s as one powmod, no table (reference)",
        lambda r: r["enc_per_s"]["djn_powmod_no_table"],
    )
    row("dec/s petsuite decrypt (CRT, 1 thread)", lambda r: r["dec_per_s"]["ours"])
    row("dec/s petsuite decrypt_many(threads=2)", lambda r: r["dec_per_s"]["ours_2threads"])
    row("dec/s phe raw_decrypt (CRT)", lambda r: r["dec_per_s"]["phe"])
    row("signed dec/s petsuite PaillierEncoder.decrypt", lambda r: r["dec_per_s"]["ours_signed"])
    row("signed dec/s phe decrypt(EncryptedNumber)", lambda r: r["dec_per_s"]["phe_signed"])
    row("add/s petsuite c1 + c2", lambda r: r["add_per_s"]["ours"])
    row("add/s petsuite sum_ciphertexts (per element)", lambda r: r["add_per_s"]["ours_sum"])
    row("add/s phe EncryptedNumber + EncryptedNumber", lambda r: r["add_per_s"]["phe"])
    speed = "{:>13.2f}x"
    row("speed-up: encryption (DJN + table) vs phe", lambda r: r["enc_speedup_vs_phe"], speed)
    row("speed-up: encryption (classic) vs phe", lambda r: r["enc_classic_speedup_vs_phe"], speed)
    row("speed-up: table vs one powmod", lambda r: r["table_vs_powmod"], speed)
    row("speed-up: decryption (1 thread) vs phe", lambda r: r["dec_speedup_vs_phe"], speed)
    row(
        "speed-up: decryption (2 threads) vs phe", lambda r: r["dec_2threads_speedup_vs_phe"], speed
    )
    row("speed-up: signed decryption vs phe", lambda r: r["dec_signed_speedup_vs_phe"], speed)
    row("speed-up: addition vs phe", lambda r: r["add_speedup_vs_phe"], speed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 3072], help="key sizes")
    parser.add_argument("--repeats", type=int, default=None, help="best-of rounds")
    args = parser.parse_args(argv)

    try:
        import phe
        from phe import paillier as phe_paillier
        from phe import util as phe_util
    except ImportError:
        print(
            "bench_paillier: the comparison needs phe (python-paillier); install it with "
            "`.venv/bin/pip install phe` and rerun.",
            file=sys.stderr,
        )
        return 2

    if args.quick:
        n_fast, n_slow, n_dec, repeats = 200, 10, 20, 2
    else:
        n_fast, n_slow, n_dec, repeats = 1000, 40, 100, 3
    if args.repeats is not None:
        repeats = args.repeats

    t0 = time.perf_counter()
    results = [
        bench_size(
            bits,
            n_fast=n_fast,
            n_slow=n_slow,
            n_dec=n_dec,
            repeats=repeats,
            phe_paillier=phe_paillier,
        )
        for bits in args.sizes
    ]
    elapsed = time.perf_counter() - t0

    print(
        f"Paillier, petsuite vs phe {getattr(phe, '__version__', '?')} (gmpy2 in phe: "
        f"{bool(getattr(phe_util, 'HAVE_GMP', False))}), gmpy2 {gmpy2.version()}, "
        f"{platform.python_implementation()} {platform.python_version()}, {cpu_count()} CPUs; "
        f"enc n={n_fast} (fast) / {n_slow} (r^n paths), dec n={n_dec}, best of {repeats}"
    )
    print_table(results)

    summary: dict[str, Any] = {
        "benchmark": "paillier",
        "quick": args.quick,
        "cpus": cpu_count(),
        "phe_uses_gmpy2": bool(getattr(phe_util, "HAVE_GMP", False)),
        "gmpy2": gmpy2.version(),
        "elapsed_s": round(elapsed, 2),
        "phe": getattr(phe, "__version__", "?"),
        "sizes": {str(r["bits"]): rounded(r) for r in results},
    }
    by_bits = {r["bits"]: r for r in results}
    headline = by_bits.get(3072, results[-1])
    for key in (
        "enc_speedup_vs_phe",
        "dec_speedup_vs_phe",
        "enc_classic_speedup_vs_phe",
        "dec_2threads_speedup_vs_phe",
        "dec_signed_speedup_vs_phe",
        "add_speedup_vs_phe",
        "table_build_ms",
    ):
        summary[key] = round(headline[key], 3)
        for bits, r in by_bits.items():
            if r is not headline:
                summary[f"{key}_{bits}"] = round(r[key], 3)
    summary["headline_bits"] = headline["bits"]
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
