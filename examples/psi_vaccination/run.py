"""The ICO guidance's PSI example, end to end, with petsuite's delegated mode.

Organisation A (a vaccination service) knows who has not been vaccinated; organisation B (a
hospital trust) knows who has an underlying health condition. B needs the percentage of its patients
with an underlying condition who are not vaccinated. A third party runs the PSI: A and B each send
keyed, shuffled tags of their NHS numbers and dates of birth; the third party counts the matches,
refuses to release a count below the threshold, and sends the count to B only. Nobody sees the
other side's records.

Run from the repository root:  .venv/bin/python examples/psi_vaccination/run.py

The script generates synthetic records (valid NHS number check digits, made-up people), writes them
as each organisation would hold them (different formats on purpose), starts the three parties as
separate processes over mutual TLS on loopback, and checks B's answer against the truth it knows.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from petsuite.core.rng import random_below
from petsuite.net import pki


def nhs_number() -> str:
    """A random 10-digit number with a valid modulus-11 check digit (not a real patient)."""
    while True:
        digits = [random_below(10) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def people(n: int) -> list[dict[str, str]]:
    out = []
    seen: set[str] = set()
    while len(out) < n:
        number = nhs_number()
        if number in seen:
            continue
        seen.add(number)
        year, month, day = 1930 + random_below(80), 1 + random_below(12), 1 + random_below(28)
        out.append({"nhs": number, "dob": f"{year:04d}-{month:02d}-{day:02d}"})
    return out


def write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=20_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="psi-vaccination-"))
    work.mkdir(parents=True, exist_ok=True)

    # --- synthetic population: ~12% unvaccinated, ~30% with an underlying condition
    population = people(args.population)
    unvaccinated = [p for p in population if random_below(100) < 12]
    conditions = [p for p in population if random_below(100) < 30]
    truth = len({p["nhs"] for p in unvaccinated} & {p["nhs"] for p in conditions})

    # Organisation A writes NHS numbers with spaces and UK-style dates; B writes plain digits and ISO.
    a_rows: list[dict[str, object]] = [
        {
            "nhs_number": f"{p['nhs'][:3]} {p['nhs'][3:6]} {p['nhs'][6:]}",
            "date_of_birth": "/".join(reversed(p["dob"].split("-"))),
            "status": "not vaccinated",
        }
        for p in unvaccinated
    ]
    b_rows: list[dict[str, object]] = [
        {"patient_nhs": p["nhs"], "dob": p["dob"], "condition": "chronic respiratory disease"}
        for p in conditions
    ]
    write_csv(work / "org_a_unvaccinated.csv", a_rows)
    write_csv(work / "org_b_conditions.csv", b_rows)

    # --- the collaboration's PKI and the owners' shared matching key
    pki_dir = work / "pki"
    pki.init_ca(pki_dir, force=True)
    for party in ("vaccination-service", "hospital-trust", "psi-provider"):
        pki.issue(pki_dir, party, force=True)
    env = {**os.environ, "PETSUITE_HOME": str(work / "home"), "COLUMNS": "200"}
    petsuite = [sys.executable, "-m", "petsuite"]
    key = work / "matching.key"
    key.unlink(missing_ok=True)
    subprocess.run([*petsuite, "psi", "keygen", "--out", str(key)], check=True, env=env)

    # --- the third party
    delegate = subprocess.Popen(
        [*petsuite, "psi", "delegate", "--run", "vaccination-2026", "--owners",
         "vaccination-service,hospital-trust", "--recipient", "hospital-trust",
         "--pki", str(pki_dir), "--name", "psi-provider", "--listen", "127.0.0.1:0",
         "--min-intersection", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    if delegate.stdout is None:
        raise RuntimeError("no output pipe from the PSI provider")
    port = None
    deadline = time.monotonic() + 60
    while port is None and time.monotonic() < deadline:
        line = delegate.stdout.readline()
        print(f"[psi-provider] {line.rstrip()}")
        found = re.search(r"on 127\.0\.0\.1:(\d+)", line)
        port = int(found.group(1)) if found else None
    if port is None:
        delegate.kill()
        print("the PSI provider did not start")
        return 1

    keys = "nhs_number:nhs_number,date_of_birth:date"
    common = ["--delegate", f"127.0.0.1:{port}", "--delegate-name", "psi-provider",
              "--run", "vaccination-2026", "--matching-key", str(key), "--pki", str(pki_dir)]
    owner_a = subprocess.Popen(
        [*petsuite, "psi", "submit", str(work / "org_a_unvaccinated.csv"), "--keys", keys,
         *common, "--name", "vaccination-service"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    keys_b = "patient_nhs:nhs_number,dob:date"
    owner_b = subprocess.run(
        [*petsuite, "psi", "submit", str(work / "org_b_conditions.csv"), "--keys", keys_b,
         *common, "--name", "hospital-trust", "--recipient", "--json"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    out_a, _ = owner_a.communicate(timeout=300)
    out_d, _ = delegate.communicate(timeout=60)
    for who, text in (("vaccination-service", out_a), ("psi-provider", out_d),
                      ("hospital-trust", owner_b.stdout + owner_b.stderr)):
        for line in text.strip().splitlines():
            print(f"[{who}] {line}")
    if owner_b.returncode != 0:
        return owner_b.returncode
    result = json.loads(owner_b.stdout[owner_b.stdout.index("{"):])
    size = int(result["intersection_size"])
    share = 100.0 * size / len(b_rows)
    print()
    print(f"Organisation B learns: {size:,} of its {len(b_rows):,} patients with an underlying "
          f"condition are not vaccinated ({share:.1f}%).")
    print(f"Ground truth from the generator: {truth:,}  ->  {'correct' if size == truth else 'WRONG'}")
    print(f"Files, audit logs and certificates are in {work}")
    return 0 if size == truth else 1


if __name__ == "__main__":
    raise SystemExit(main())
