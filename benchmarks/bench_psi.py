"""Cardinality PSI end to end: petsuite (DH-PSI over ristretto255) against openmined-psi.

Both parties of each library run as separate processes on this machine; each pair sees the same
sets (client ``id-0 .. id-(n-1)``, server ``n`` identifiers of which ``overlap`` are the client's).

* petsuite: ``serve_psi`` / ``query_psi`` over mutual TLS 1.3 on loopback (``petsuite.net``),
  cardinality mode. Time: client connect (TCP + TLS handshake + hello) to the result in hand, the
  server's whole setup included. Bytes: every frame both sides send (payload + 4-byte header).
* openmined-psi: ``reveal_intersection=False`` (cardinality), its setup message as RAW or GCS;
  messages go over plain loopback TCP (no TLS) as length-prefixed frames. The server builds its
  setup while the client builds its request, as a two-party deployment would. Time: client
  connect to ``GetIntersectionSize``. Bytes: serialized setup + request + response.
* Floor: the curve operations our protocol needs (client: n_c hash-to-group + n_c mults to blind,
  n_c mults to unblind; server: n_c mults to evaluate, n_s hash-to-group + n_s mults for its own
  set) at single-element rbcl costs measured in the same run, on one core; ``floor_s`` is that
  divided by the number of cores. ``floor_ratio = ours_s / floor_s``.

Process start-up, data generation, PKI creation and the warm-up of petsuite's worker pool are not
timed. The VM may be shared: each size runs in rounds (best kept), waits for other processes to go
quiet before each run, reports the CPU other processes used meanwhile, and also reports CPU
seconds (both parties with their worker processes, during the timed session), which outside load
barely moves: ``cpu_floor_ratio = ours_cpu_s / single-core floor``. Prints a table, then one JSON
object as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import multiprocessing
import os
import platform
import queue
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _psi_parties as parties

#: Largest size whose ``--quick`` run (both libraries, both openmined settings, start-up
#: included) stays under 60 s on the project's 2-core VM.
QUICK_N = 30_000
DEFAULT_SIZES = (100_000, 1_000_000)
#: Above this size only the openmined setting that won at the largest smaller size is run.
BOTH_SETTINGS_UP_TO = 200_000
#: With --quick, a further round is started only if it should end within this many seconds.
QUICK_BUDGET_S = 50.0
#: Average cores used by other processes during a run above which the output warns.
NOISY_CORES = 0.15
TARGET_SPEEDUP = 2.0
TARGET_FLOOR_RATIO = 1.3


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# --------------------------------------------------------------------------- floor


def unit_costs(k: int = 2000, repeats: int = 5) -> dict[str, float]:
    """Seconds per single-element operation on one core (best of ``repeats`` loops of ``k``)."""
    import rbcl

    from petsuite.primitives.group import Point, Scalar
    from petsuite.primitives.oprf import HASH_TO_GROUP_DST

    scalar = Scalar.random().to_bytes()
    msgs = [b"floor-%08d" % i for i in range(k)]
    points = [Point.hash_to_group(m, HASH_TO_GROUP_DST).to_bytes() for m in msgs]
    uniform = [bytes(64 - len(m)) + m for m in msgs]
    mult = rbcl.crypto_scalarmult_ristretto255
    from_hash = rbcl.crypto_core_ristretto255_from_hash
    h2g = Point.hash_to_group

    def best(fn: Any) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times) / k

    return {
        "mult_s": best(lambda: [mult(scalar, p) for p in points]),
        "hash_to_group_s": best(lambda: [h2g(m, HASH_TO_GROUP_DST) for m in msgs]),
        "from_hash_only_s": best(lambda: [from_hash(u) for u in uniform]),
    }


def floor_seconds(n_client: int, n_server: int, costs: dict[str, float]) -> float:
    """Single-core seconds of the curve operations of one cardinality run."""
    mult, h2g = costs["mult_s"], costs["hash_to_group_s"]
    client = n_client * (h2g + mult) + n_client * mult
    server = n_client * mult + n_server * (h2g + mult)
    return client + server


# --------------------------------------------------------------------------- machine load


def _cpu_busy_s() -> float:
    """CPU seconds this machine has spent busy since boot, all processes (from /proc/stat)."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except OSError:  # pragma: no cover - not Linux
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    """CPU seconds of this process and its reaped descendants (parties and their workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class ForeignLoad:
    """CPU seconds that other processes on the machine used while a run was timed."""

    def __enter__(self) -> ForeignLoad:
        self._busy, self._own = _cpu_busy_s(), _own_cpu_s()
        self._t0 = time.perf_counter()
        self.seconds = 0.0
        self.cores = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        busy = _cpu_busy_s() - self._busy
        own = _own_cpu_s() - self._own
        self.seconds = max(0.0, busy - own)
        self.cores = self.seconds / max(time.perf_counter() - self._t0, 1e-9)


def wait_for_quiet(max_wait_s: float, cores: int) -> float:
    """Wait (at most ``max_wait_s``) until other processes use under 10% of the machine for a
    second; returns the seconds waited. Outside load only ever slows a run down."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < max_wait_s:
        busy, own = _cpu_busy_s(), _own_cpu_s()
        time.sleep(1.0)
        foreign = (_cpu_busy_s() - busy) - (_own_cpu_s() - own)
        if foreign < 0.1 * cores:
            break
    return time.monotonic() - t0


# --------------------------------------------------------------------------- runs


def run_parties(
    specs: list[tuple[Any, dict[str, Any]]], timeout_s: float
) -> dict[str, dict[str, Any]]:
    """Run one process per ``(target, config)`` (spawn, non-daemonic, so that petsuite's worker
    pool may start); each target gets ``(config, ports, results)``. Returns results by role."""
    ctx = multiprocessing.get_context("spawn")
    ports: Any = ctx.Queue()
    results: Any = ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(cfg, ports, results), daemon=False)
        for target, cfg in specs
    ]
    for p in procs:
        p.start()
    out: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < len(procs):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"parties did not finish within {timeout_s:.0f} s")
            try:
                item = results.get(timeout=min(left, 5.0))
            except queue.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"a party process died (exit {dead[0].exitcode})") from None
                continue
            out[item["party"].rsplit("-", 1)[1]] = item
        for p in procs:
            p.join(timeout=60)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(5)
    errors = [f"{v['party']}: {v['error']}" for v in out.values() if v.get("error")]
    if errors:
        raise RuntimeError("; ".join(errors))
    return out


def run_petsuite(pki_dir: str, n: int, overlap: int, profile: bool) -> dict[str, Any]:
    cfg = {"pki_dir": pki_dir, "n": n, "overlap": overlap, "profile": profile}
    res = run_parties(
        [
            (parties.petsuite_server, cfg),
            (parties.petsuite_client, cfg),
        ],
        parties.SESSION_TIMEOUT_S,
    )
    client, server = res["client"], res["server"]
    return {
        "total_s": client["total_s"],
        "connect_s": client["connect_s"],
        "server_session_s": server["session_s"],
        "cpu_s": client["cpu_s"] + server["cpu_s"],
        "client_main_cpu_s": client["main_cpu_s"],
        "server_main_cpu_s": server["main_cpu_s"],
        "size": client["size"],
        "bytes": client["bytes_sent"] + server["bytes_sent"],
        "client_bytes": client["bytes_sent"],
        "server_bytes": server["bytes_sent"],
        "frames": client["frames_sent"] + server["frames_sent"],
        "pool_warmup_s": max(client["pool_warmup_s"], server["pool_warmup_s"]),
        "profiles": {"client": client.get("profile"), "server": server.get("profile")},
    }


def run_openmined(n: int, overlap: int, structure: str, fpr: float) -> dict[str, Any]:
    cfg = {"n": n, "overlap": overlap, "structure": structure, "fpr": fpr}
    res = run_parties(
        [
            (parties.openmined_server, cfg),
            (parties.openmined_client, cfg),
        ],
        parties.SESSION_TIMEOUT_S,
    )
    client, server = res["client"], res["server"]
    return {
        "total_s": client["total_s"],
        "size": client["size"],
        "bytes": server["setup_bytes"] + client["request_bytes"] + server["response_bytes"],
        "cpu_s": client["cpu_s"] + server["cpu_s"],
        "setup_bytes": server["setup_bytes"],
        "request_bytes": client["request_bytes"],
        "response_bytes": server["response_bytes"],
        "server_setup_s": server["setup_s"],
        "client_request_s": client["request_s"],
        "server_process_s": server["process_s"],
        "client_finish_s": client["finish_s"],
    }


def make_pki(directory: Path) -> None:
    from petsuite.net import pki

    pki.init_ca(directory)
    pki.issue(directory, parties.SERVER_NAME)
    pki.issue(directory, parties.CLIENT_NAME)


# --------------------------------------------------------------------------- main


def _mib(b: int) -> str:
    return f"{b / 2**20:.2f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true",
        help=f"one size, n={QUICK_N:,} (100k does not fit in 60 s with both libraries here)",
    )
    parser.add_argument(
        "--n", type=int, nargs="+", default=None, metavar="N",
        help="set sizes (each party holds N identifiers); default 100000 1000000",
    )
    parser.add_argument("--overlap", type=float, default=0.5, help="shared fraction (0.5)")
    parser.add_argument(
        "--openmined", choices=("auto", "both", "raw", "gcs"), default="auto",
        help=f"setup data structure(s) to run; auto: both up to n={BOTH_SETTINGS_UP_TO:,}, "
        "then the faster one at the largest size below",
    )
    parser.add_argument(
        "--fpr", type=float, default=1e-9, help="openmined false-positive rate (1e-9)"
    )
    parser.add_argument(
        "--repeats", type=int, default=None,
        help=f"rounds per size, best kept; default 2 up to n={BOTH_SETTINGS_UP_TO:,}, then 1",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=None, metavar="S",
        help="before each run, wait up to S s for other processes to go quiet "
        "(default 0 with --quick, else 20)",
    )
    parser.add_argument(
        "--in-process", action="store_true",
        help="also time petsuite with both parties in one process over memory_pair",
    )
    parser.add_argument(
        "--profile", action="store_true",
        help="cProfile the petsuite parties' main threads (slows them) and print the top entries",
    )
    args = parser.parse_args(argv)
    if args.n is not None:
        sizes = list(args.n)
    elif args.quick:
        sizes = [QUICK_N]
    else:
        sizes = list(DEFAULT_SIZES)
    if any(n < 2 for n in sizes) or not 0 < args.overlap <= 1:
        parser.error("sizes must be >= 2 and overlap in (0, 1]")
    sizes.sort()
    if args.quiet_wait is None:
        args.quiet_wait = 0.0 if args.quick else 20.0
    cores = cpu_count()

    if importlib.util.find_spec("private_set_intersection") is None:
        print("openmined-psi is not installed: pip install openmined-psi", file=sys.stderr)
        return 2

    wall0 = time.perf_counter()
    load_before = os.getloadavg()
    costs = unit_costs()
    per_size: dict[str, dict[str, Any]] = {}
    winner: str | None = None
    waited = 0.0
    budget_s = QUICK_BUDGET_S if args.quick else None
    last_round_start = wall0
    with tempfile.TemporaryDirectory(prefix="bench-psi-") as tmp:
        make_pki(Path(tmp))
        for n in sizes:
            overlap = max(1, round(n * args.overlap))
            repeats = args.repeats or (2 if n <= BOTH_SETTINGS_UP_TO else 1)
            if args.openmined in ("raw", "gcs"):
                settings = [args.openmined]
            elif args.openmined == "both" or winner is None or n <= BOTH_SETTINGS_UP_TO:
                settings = ["raw", "gcs"]
            else:
                settings = [winner]
            ours: dict[str, Any] | None = None
            ours_all: list[float] = []
            om: dict[str, dict[str, Any]] = {}
            om_all: dict[str, list[float]] = {k: [] for k in settings}
            ours_load: list[float] = []
            om_load: dict[str, list[float]] = {k: [] for k in settings}
            # Rounds interleave the variants, so that load from elsewhere hits them alike.
            rounds = 0
            for _ in range(repeats):
                round_start = time.perf_counter()
                if rounds and budget_s is not None:
                    last = round_start - last_round_start
                    if round_start - wall0 + last > budget_s:
                        break  # --quick: another round would not fit in the time budget
                last_round_start = round_start
                rounds += 1
                waited += wait_for_quiet(args.quiet_wait, cores)
                with ForeignLoad() as load:
                    run = run_petsuite(tmp, n, overlap, args.profile)
                run["foreign_cpu_s"] = load.seconds
                run["foreign_cores"] = load.cores
                if run["size"] != overlap:
                    print(f"WRONG RESULT: petsuite found {run['size']}, expected {overlap}")
                    return 1
                ours_all.append(run["total_s"])
                ours_load.append(load.seconds)
                if ours is None or run["total_s"] < ours["total_s"]:
                    ours = run
                for structure in settings:
                    waited += wait_for_quiet(args.quiet_wait, cores)
                    with ForeignLoad() as load:
                        res = run_openmined(n, overlap, structure, args.fpr)
                    res["foreign_cpu_s"] = load.seconds
                    res["foreign_cores"] = load.cores
                    # GCS may over-count by a false positive (probability about fpr)
                    if not overlap <= res["size"] <= overlap + 1:
                        print(
                            f"WRONG RESULT: openmined {structure} found {res['size']}, "
                            f"expected {overlap}"
                        )
                        return 1
                    om_all[structure].append(res["total_s"])
                    om_load[structure].append(load.seconds)
                    if structure not in om or res["total_s"] < om[structure]["total_s"]:
                        om[structure] = res
            assert ours is not None
            for structure in settings:
                om[structure]["all_s"] = om_all[structure]
                om[structure]["all_foreign_cpu_s"] = om_load[structure]
            best = min(om, key=lambda k: om[k]["total_s"])
            winner = best
            in_memory = None
            if args.in_process:
                in_memory = asyncio.run(parties.petsuite_in_memory(n, overlap))
            per_size[str(n)] = {
                "n": n,
                "overlap": overlap,
                "repeats": rounds,
                "ours": {
                    **{k: v for k, v in ours.items() if k != "profiles"},
                    "all_s": ours_all,
                    "all_foreign_cpu_s": ours_load,
                },
                "ours_in_memory": in_memory,
                "openmined": om,
                "openmined_setting": best,
                "openmined_settings_run": settings,
                "_profiles": ours["profiles"],
            }
    # Unit costs again at the end: outside load only ever inflates them, so keep the minimum.
    costs = {k: min(v, w) for (k, v), w in zip(costs.items(), unit_costs().values(), strict=True)}
    load_after = os.getloadavg()
    for r in per_size.values():
        single = floor_seconds(r["n"], r["n"], costs)
        r["floor_single_core_s"] = single
        r["floor_s"] = single / cores
        r["floor_ratio"] = r["ours"]["total_s"] / r["floor_s"]
        r["floor_ratio_single_core"] = r["ours"]["total_s"] / single
        r["speedup"] = r["openmined"][r["openmined_setting"]]["total_s"] / r["ours"]["total_s"]
        r["cpu_floor_ratio"] = r["ours"]["cpu_s"] / single
    elapsed = time.perf_counter() - wall0

    # ------------------------------------------------------------------ report
    print(
        f"Cardinality PSI, n x n with {args.overlap:.0%} overlap; {cores} cores; "
        f"Python {platform.python_version()}; {platform.machine()}"
    )
    print(
        "petsuite: 2 processes, mutual TLS 1.3 on loopback, client connect -> result (TLS "
        "handshake and server setup included; pool warm-up and start-up excluded)"
    )
    print(
        "openmined-psi: 2 processes, plain loopback TCP (no TLS), client connect -> result; "
        f"reveal_intersection=False, fpr={args.fpr:g}"
    )
    print(
        "unit costs (1 core, best of 5 loops of 2000, at start and at end): "
        f"scalar mult {costs['mult_s'] * 1e6:.1f} us, "
        f"Point.hash_to_group {costs['hash_to_group_s'] * 1e6:.1f} us "
        f"(of which the libsodium one-way map {costs['from_hash_only_s'] * 1e6:.1f} us)"
    )
    print(
        "floor_s = (client: n_c*(h2g+mult) + n_c*mult; server: n_c*mult + n_s*(h2g+mult)) "
        f"x unit costs / {cores} cores; floor_ratio = ours_s / floor_s"
    )
    print()
    header = (
        f"{'n':>9} {'ours s':>8} {'om RAW s':>9} {'om GCS s':>9} {'best':>5} {'speedup':>8} "
        f"{'floor s':>8} {'ratio':>6} {'1-core':>7} {'ours MiB':>9} {'om MiB':>8}"
    )
    print(header)
    for r in per_size.values():
        om = r["openmined"]

        def cell(key: str, om: dict[str, Any] = om) -> str:
            return f"{om[key]['total_s']:>9.2f}" if key in om else f"{'-':>9}"

        print(
            f"{r['n']:>9,} {r['ours']['total_s']:>8.2f} {cell('raw')} {cell('gcs')} "
            f"{r['openmined_setting'].upper():>5} {r['speedup']:>7.2f}x {r['floor_s']:>8.2f} "
            f"{r['floor_ratio']:>6.2f} {r['floor_ratio_single_core']:>7.2f} "
            f"{r['ours']['bytes'] / 2**20:>9.2f} "
            f"{om[r['openmined_setting']]['bytes'] / 2**20:>8.2f}"
        )
    print()
    for r in per_size.values():
        o = r["ours"]
        best = r["openmined"][r["openmined_setting"]]
        om_runs = "; ".join(
            f"{k.upper()} " + ", ".join(f"{t:.2f}" for t in v["all_s"])
            for k, v in r["openmined"].items()
        )
        om_loads = "; ".join(
            f"{k.upper()} " + ", ".join(f"{t:.1f}" for t in v["all_foreign_cpu_s"])
            for k, v in r["openmined"].items()
        )
        print(
            f"n={r['n']:,}, best of {r['repeats']}: petsuite runs "
            + ", ".join(f"{t:.2f}" for t in o["all_s"])
            + f" s; openmined runs {om_runs} s"
        )
        print(
            "  CPU-seconds used by other processes during each run (start-up included): "
            "petsuite " + ", ".join(f"{t:.1f}" for t in o["all_foreign_cpu_s"])
            + f"; openmined {om_loads}"
        )
        print(
            f"  CPU seconds of the timed session, both parties with their workers: petsuite "
            f"{o['cpu_s']:.2f} (single-core floor {r['floor_single_core_s']:.2f}, cpu_floor_ratio "
            f"{r['cpu_floor_ratio']:.3f}), openmined {best['cpu_s']:.2f}"
        )
        print(
            f"  petsuite connect {o['connect_s'] * 1e3:.0f} ms, server session "
            f"{o['server_session_s']:.2f} s; main-thread CPU client {o['client_main_cpu_s']:.2f} s, "
            f"server {o['server_main_cpu_s']:.2f} s; sent client {_mib(o['client_bytes'])}, "
            f"server {_mib(o['server_bytes'])} in {o['frames']} frames"
        )
        print(
            f"  openmined {r['openmined_setting'].upper()}: server setup "
            f"{best['server_setup_s']:.2f} s || client request {best['client_request_s']:.2f} s, "
            f"process {best['server_process_s']:.2f} s, client finish "
            f"{best['client_finish_s']:.2f} s; setup {_mib(best['setup_bytes'])}, request "
            f"{_mib(best['request_bytes'])}, response {_mib(best['response_bytes'])}"
        )
        if r["ours_in_memory"] is not None:
            print(
                f"  petsuite in one process over memory_pair: {r['ours_in_memory']['total_s']:.2f} s"
            )
    if args.profile:
        for r in per_size.values():
            for role, text in r["_profiles"].items():
                print(f"\n----- cProfile, petsuite {role}, n={r['n']:,} -----")
                print(text)
    primary_key = "100000" if "100000" in per_size else str(sizes[-1])
    p = per_size[primary_key]
    best_om = p["openmined"][p["openmined_setting"]]
    if primary_key != "100000":
        print(f"\nnote: the headline figures are for n={p['n']:,}, not 100,000 (targets are "
              "stated for 100k x 100k)")
    for r in per_size.values():
        busy = max(
            r["ours"]["foreign_cores"], r["openmined"][r["openmined_setting"]]["foreign_cores"]
        )
        if busy > NOISY_CORES:
            print(
                f"\nWARNING: n={r['n']:,}: other processes kept {busy:.2f} of {cores} cores busy "
                "on average during a best run: these figures overstate both libraries' times "
                "and are not representative (rerun on a quiet machine)"
            )
    met_speed = p["speedup"] >= TARGET_SPEEDUP
    met_floor = p["floor_ratio"] <= TARGET_FLOOR_RATIO
    print(
        f"\ntargets at n={p['n']:,}: speedup >= {TARGET_SPEEDUP}x: "
        f"{'MET' if met_speed else 'NOT MET'} ({p['speedup']:.2f}x); floor_ratio <= "
        f"{TARGET_FLOOR_RATIO}: {'MET' if met_floor else 'NOT MET'} ({p['floor_ratio']:.2f})"
    )
    print(
        f"total benchmark wall time {elapsed:.1f} s ({waited:.0f} s of it waiting for other "
        f"processes to go quiet); load average before {load_before[0]:.2f}, after "
        f"{load_after[0]:.2f} (the VM is shared: times are the best of each size's rounds)"
    )
    for r in per_size.values():
        r.pop("_profiles", None)
    summary = {
        "benchmark": "psi_cardinality",
        "n": p["n"],
        "overlap": args.overlap,
        "ours_s": round(p["ours"]["total_s"], 4),
        "openmined_s": round(best_om["total_s"], 4),
        "speedup": round(p["speedup"], 3),
        "floor_s": round(p["floor_s"], 4),
        "floor_ratio": round(p["floor_ratio"], 3),
        "floor_ratio_single_core": round(p["floor_ratio_single_core"], 3),
        "floor_definition": "ours_s / (single-core curve-op floor / cores)",
        "ours_cpu_s": round(p["ours"]["cpu_s"], 3),
        "openmined_cpu_s": round(best_om["cpu_s"], 3),
        "cpu_floor_ratio": round(p["cpu_floor_ratio"], 3),
        "ours_bytes": p["ours"]["bytes"],
        "openmined_bytes": best_om["bytes"],
        "openmined_setting": p["openmined_setting"].upper(),
        "openmined_transport": "two processes, plain loopback TCP",
        "ours_transport": "two processes, mutual TLS 1.3 loopback",
        "cores": cores,
        "unit_costs_us": {k: round(v * 1e6, 2) for k, v in costs.items()},
        "target_speedup_met": met_speed,
        "target_floor_ratio_met": met_floor,
        "quick": bool(args.quick),
        "loadavg_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "foreign_cores": {
            "ours": round(p["ours"]["foreign_cores"], 3),
            "openmined": round(best_om["foreign_cores"], 3),
        },
        "wall_s": round(elapsed, 1),
        "results": per_size,
    }
    print(json.dumps(_rounded(summary)))
    return 0


def _rounded(value: Any) -> Any:
    """``value`` with every float rounded to 4 decimals, for a readable JSON line."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
