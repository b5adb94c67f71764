"""PSI end to end as users run it: separate `petsuite` processes over mutual TLS on loopback."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from petsuite.core.audit import AuditLog
from petsuite.net import pki

pytestmark = pytest.mark.timeout(180)


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "PETSUITE_HOME": str(home), "COLUMNS": "400", "NO_COLOR": "1"}


def _csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def collab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    pki.init_ca(d)
    for party in ("org-a", "org-b", "delegate"):
        pki.issue(d, party)
    return d


def _start(args: list[str], home: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "petsuite", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(home),
    )
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"on 127\.0\.0\.1:(\d+)", line)
        if m:
            return proc, int(m.group(1))
    proc.kill()
    raise AssertionError("server did not start: " + (proc.stdout.read() or ""))


def _petsuite(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "petsuite", *args],
        capture_output=True, text=True, timeout=120, env=_env(home), check=False,
    )


@pytest.fixture
def server_data(tmp_path: Path) -> Path:
    rows = [{"patient": f"P{i:05d}", "cost": i % 50} for i in range(100, 400)]
    return _csv(tmp_path / "server.csv", rows)


@pytest.fixture
def client_data(tmp_path: Path) -> Path:
    rows = [{"id": f" p{i:05d} ", "name": f"person {i}"} for i in range(0, 200)]
    return _csv(tmp_path / "client.csv", rows)


def _kill(proc: subprocess.Popen[str]) -> str:
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


def test_two_processes_cardinality_sum_intersection(
    tmp_path: Path, collab: Path, server_data: Path, client_data: Path
) -> None:
    home = tmp_path / "home"
    server, port = _start(
        ["psi", "serve", str(server_data), "--keys", "patient:text", "--allow", "org-a",
         "--pki", str(collab), "--name", "org-b", "--listen", "127.0.0.1:0",
         "--values", "cost", "--value-bound", "100", "--modes", "cardinality,sum,intersection",
         "--min-intersection", "10", "--sessions", "3"],
        home,
    )
    try:
        common = ["--keys", "id:text", "--server", f"127.0.0.1:{port}", "--server-name", "org-b",
                  "--pki", str(collab), "--name", "org-a", "--json"]
        card = _petsuite(["psi", "query", str(client_data), *common], home)
        assert card.returncode == 0, card.stdout + card.stderr
        assert json.loads(card.stdout[card.stdout.index("{"):])["intersection_size"] == 100

        total = _petsuite(["psi", "query", str(client_data), *common, "--mode", "sum"], home)
        assert total.returncode == 0, total.stdout + total.stderr
        expected = sum(i % 50 for i in range(100, 200))
        assert json.loads(total.stdout[total.stdout.index("{"):])["sum"] == pytest.approx(expected)

        out_file = tmp_path / "matches.csv"
        inter = _petsuite(
            ["psi", "query", str(client_data), *common, "--mode", "intersection",
             "--output", str(out_file)],
            home,
        )
        assert inter.returncode == 0, inter.stdout + inter.stderr
        with out_file.open() as fh:
            matched = list(csv.DictReader(fh))
        assert len(matched) == 100
        assert {r["name"] for r in matched} == {f"person {i}" for i in range(100, 200)}
    finally:
        log = _kill(server)
    assert "session with org-a" in log
    with AuditLog(home / "audit.db") as audit:
        ops = [e.operation for e in audit.entries()]
        assert audit.verify().ok
    assert ops.count("psi.serve") == 3 and ops.count("psi.query") == 3
    raw = b"".join(p.read_bytes() for p in home.glob("audit.db*"))
    assert b"P00150" not in raw and b"p00150" not in raw  # identifiers never reach the audit log


def test_unknown_party_and_threshold(
    tmp_path: Path, collab: Path, server_data: Path, client_data: Path
) -> None:
    home = tmp_path / "home"
    server, port = _start(
        ["psi", "serve", str(server_data), "--keys", "patient:text", "--allow", "delegate",
         "--pki", str(collab), "--name", "org-b", "--listen", "127.0.0.1:0",
         "--min-intersection", "150", "--sessions", "1"],
        home,
    )
    try:
        common = ["--keys", "id:text", "--server", f"127.0.0.1:{port}", "--server-name", "org-b",
                  "--pki", str(collab)]
        refused = _petsuite(["psi", "query", str(client_data), *common, "--name", "org-a"], home)
        assert refused.returncode == 15, refused.stdout + refused.stderr  # ProtocolAbort
        small = _petsuite(["psi", "query", str(client_data), *common, "--name", "delegate"], home)
        assert small.returncode == 14, small.stdout + small.stderr  # PolicyViolation
        assert "below the minimum" in small.stderr
    finally:
        _kill(server)


def test_delegated_three_processes(tmp_path: Path, collab: Path) -> None:
    home = tmp_path / "home"
    a = _csv(tmp_path / "a.csv", [{"nhs": f"{i:03d}"} for i in range(0, 120)])
    b = _csv(tmp_path / "b.csv", [{"nhs": f"{i:03d}", "spend": 2} for i in range(100, 300)])
    key = tmp_path / "match.key"
    assert _petsuite(["psi", "keygen", "--out", str(key)], home).returncode == 0
    delegate, port = _start(
        ["psi", "delegate", "--run", "r1", "--owners", "org-a,org-b", "--recipient", "org-a",
         "--pki", str(collab), "--name", "delegate", "--listen", "127.0.0.1:0",
         "--min-intersection", "5"],
        home,
    )
    common = ["--keys", "nhs:exact", "--delegate", f"127.0.0.1:{port}", "--delegate-name",
              "delegate", "--run", "r1", "--matching-key", str(key), "--pki", str(collab),
              "--mode", "sum"]
    try:
        owner_b = subprocess.Popen(
            [sys.executable, "-m", "petsuite", "psi", "submit", str(b), *common, "--name",
             "org-b", "--values", "spend", "--value-bound", "10"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(home),
        )
        owner_a = _petsuite(
            ["psi", "submit", str(a), *common, "--name", "org-a", "--recipient", "--json"], home
        )
        out_b = _kill(owner_b)
    finally:
        out_d = _kill(delegate)
    assert owner_a.returncode == 0, owner_a.stdout + owner_a.stderr + out_d
    result = json.loads(owner_a.stdout[owner_a.stdout.index("{"):])
    assert result == {"intersection_size": 20, "sum": 40.0}
    assert "result went to the designated recipient" in out_b
    assert "run 'r1' complete" in out_d
