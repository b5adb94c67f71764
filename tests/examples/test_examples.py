"""The examples run as documented and check their own answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_psi_vaccination(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples/psi_vaccination/run.py"), "--population", "3000",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=230, check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "correct" in out.stdout


@pytest.mark.timeout(120)
def test_ldp_smartphone_minutes() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples/ldp_smartphone_minutes/run.py"), "--devices", "5000"],
        capture_output=True, text=True, timeout=110, check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "inside" in out.stdout


@pytest.mark.timeout(120)
def test_mpc_expenditure(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples/mpc_expenditure/run.py"), "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=110, check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "£15,000" in out.stdout
    assert "correct" in out.stdout
