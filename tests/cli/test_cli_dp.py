"""`petsuite dp` as a user runs it: budgets that persist across processes, queries, refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from petsuite.core.audit import AuditLog
from petsuite.core.errors import CATALOGUE, InvalidInput, PrivacyBudgetExceeded


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PETSUITE_HOME": str(home), "COLUMNS": "300"}
    return subprocess.run(
        [sys.executable, "-m", "petsuite", *args], capture_output=True, text=True, env=env,
        timeout=120, check=False,
    )  # fmt: skip


def test_budget_query_refusal_and_audit(tmp_path: Path) -> None:
    data = tmp_path / "visits.csv"
    data.write_text(
        "patient,clinic,minutes\n"
        + "".join(f"{i % 300},{['a', 'b'][i % 2]},{i % 45}\n" for i in range(1200))
    )
    home = tmp_path / "home"
    assert run(["dp", "budget", "create", "--dataset", "visits.csv", "--epsilon", "1"],
               home).returncode == 0
    assert run(["dp", "budget", "create", "--group", "team", "--members", "ann,bob",
                "--epsilon", "0.6"], home).returncode == 0
    query = ["dp", "query", str(data), "SELECT clinic, COUNT(*) AS n, AVG(minutes) AS m "
             "FROM visits GROUP BY clinic", "--unit", "patient", "--bounds", "minutes=0:60",
             "--groups", "clinic=a,b", "--max-rows", "4", "--format", "json"]
    first = run([*query, "--epsilon", "0.4", "--analyst", "ann"], home)
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert {r["clinic"] for r in doc["rows"]} == {"a", "b"}
    assert doc["privacy_loss"]["epsilon"] <= 0.4
    # bob is in ann's group: the group's 0.6 is nearly spent, so 0.4 more is refused (collusion)
    second = run([*query, "--epsilon", "0.4", "--analyst", "bob"], home)
    assert second.returncode == CATALOGUE[PrivacyBudgetExceeded].exit_code, second.stderr
    assert "group 'team'" in second.stderr
    shown = run(["dp", "budget", "show", "--json"], home)
    statuses = json.loads(shown.stdout)
    assert [s["spend_count"] for s in statuses] == [1, 1]
    bad = run(["dp", "query", str(data), "SELECT COUNT(*) FROM t", "--epsilon", "0.1"], home)
    assert bad.returncode == CATALOGUE[InvalidInput].exit_code  # no privacy unit given
    with AuditLog(home / "audit.db") as audit:
        ops = [e.operation for e in audit.entries()]
        assert audit.verify().ok
    assert ops.count("dp.charge") == 1 and ops.count("dp.charge.refused") == 1
    table = run([*query[:-2], "--epsilon", "0.1", "--analyst", "carol"], home)
    assert table.returncode == 0, table.stderr
    assert "95% interval" in table.stdout
