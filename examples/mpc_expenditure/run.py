"""The ICO guidance's MPC example: three organisations learn their average expenditure, and nothing else.

Organisations A, B and C each hold their own monthly expenditure (about £10,000, £15,000 and £20,000
a month). They want the average over all of them without showing each other their figures. Each
runs ``petsuite mpc run`` as a separate process; the three talk over mutual TLS on loopback,
secret-share their figures (Shamir, threshold 1 of 3), and open only the result.

Run from the repository root:  .venv/bin/python examples/mpc_expenditure/run.py

The script copies ``collaboration.toml`` with free loopback ports, creates the collaboration's CA
and one certificate per organisation, starts the three parties and checks that each printed the
same mean: £15,000.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from petsuite.net import pki

HERE = Path(__file__).resolve().parent
PARTIES = ("org-a", "org-b", "org-c")
EXPECTED = 15_000.0


def free_ports(n: int) -> list[int]:
    """``n`` loopback ports that were free a moment ago."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="mpc-expenditure-"))
    work.mkdir(parents=True, exist_ok=True)

    # --- the shared config, with ports that are free on this machine
    text = (HERE / "collaboration.toml").read_text(encoding="utf-8")
    for party, port in zip(PARTIES, free_ports(len(PARTIES)), strict=True):
        text = re.sub(
            rf'(name = "{party}"\naddress = "127\.0\.0\.1:)\d+', rf"\g<1>{port}", text
        )
    config = work / "collaboration.toml"
    config.write_text(text, encoding="utf-8")
    for party in PARTIES:
        shutil.copy(HERE / "data" / f"{party}.csv", work / f"{party}.csv")

    # --- the collaboration's PKI: one CA, one certificate per organisation
    pki_dir = work / "pki"
    pki.init_ca(pki_dir, force=True)
    for party in PARTIES:
        pki.issue(pki_dir, party, force=True)

    petsuite = [sys.executable, "-m", "petsuite"]
    digest = subprocess.run(
        [*petsuite, "mpc", "config-hash", "--config", str(config)],
        capture_output=True, text=True, check=False, timeout=60,
    )
    if digest.returncode != 0:
        print(f"`petsuite mpc config-hash` failed: {digest.stderr.strip()}")
        return 1
    print(f"collaboration config hash (compare out of band): {digest.stdout.strip()}")

    # --- three organisations, three processes
    procs = {}
    for party in PARTIES:
        env = {**os.environ, "PETSUITE_HOME": str(work / party), "COLUMNS": "200"}
        procs[party] = subprocess.Popen(
            [*petsuite, "mpc", "run", "--config", str(config), "--party", party,
             "--input", f"{work / party}.csv:expenditure", "--pki", str(pki_dir),
             "--log", str(work / f"{party}-audit.db"), "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
    means = {}
    failed = False
    for party, proc in procs.items():
        out, err = proc.communicate(timeout=180)
        for line in err.strip().splitlines():
            print(f"[{party}] {line}")
        if proc.returncode != 0:
            failed = True
            continue
        result = json.loads(out[out.index("{"):])["result"]
        means[party] = float(result["value"])
        print(f"[{party}] learned: mean = £{means[party]:,.0f} over {result['count']} rows")
    if failed:
        print("a party failed: see its messages above")
        return 1
    if set(means.values()) != {EXPECTED}:
        print(f"unexpected means: {means}")
        return 1
    print(f"average expenditure: £{EXPECTED:,.0f} — correct; no organisation saw another's figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
