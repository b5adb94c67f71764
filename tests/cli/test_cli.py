"""The petsuite command, run as a real subprocess the way a user runs it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from petsuite import __version__
from petsuite.core.audit import AuditLog
from petsuite.core.errors import CATALOGUE, IntegrityError, InvalidInput


def petsuite(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "petsuite", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )


def test_version() -> None:
    out = petsuite("--version")
    assert out.returncode == 0
    assert __version__ in out.stdout


def test_pki_init_and_issue(tmp_path: Path) -> None:
    pki_dir = tmp_path / "pki"
    out = petsuite("pki", "init", "--dir", str(pki_dir))
    assert out.returncode == 0, out.stderr
    assert "fingerprint" in out.stdout
    out = petsuite("pki", "issue", "hospital-a", "--dir", str(pki_dir))
    assert out.returncode == 0, out.stderr
    assert (pki_dir / "hospital-a.crt").exists()
    again = petsuite("pki", "init", "--dir", str(pki_dir))
    assert again.returncode != 0  # refuses to overwrite an existing CA
    bad = petsuite("pki", "issue", "Not A Name!", "--dir", str(pki_dir))
    assert bad.returncode == CATALOGUE[InvalidInput].exit_code
    assert "Traceback" not in bad.stderr


def _make_log(path: Path) -> None:
    with AuditLog(path) as log:
        for i in range(3):
            log.append(actor="dpo", operation="test.op", parameters={"i": i})


def test_audit_verify_detects_a_row_edited_in_sqlite(tmp_path: Path) -> None:
    log = tmp_path / "audit.db"
    _make_log(log)
    ok = petsuite("audit", "verify", "--log", str(log))
    assert ok.returncode == 0, ok.stderr
    assert "3 entries" in ok.stdout

    with sqlite3.connect(log) as raw:
        raw.execute("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2")
    broken = petsuite("audit", "verify", "--log", str(log))
    assert broken.returncode == CATALOGUE[IntegrityError].exit_code
    assert "entry 2" in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1  # one clear line, no traceback


def test_audit_show_and_head(tmp_path: Path) -> None:
    log = tmp_path / "audit.db"
    _make_log(log)
    shown = petsuite("audit", "show", "--log", str(log))
    assert shown.returncode == 0 and "test.op" in shown.stdout
    js = petsuite("audit", "show", "--log", str(log), "--json", "--limit", "1")
    assert js.returncode == 0 and '"seq": 3' in js.stdout
    head = petsuite("audit", "head", "--log", str(log))
    with AuditLog(log) as audit:
        assert audit.head() in head.stdout.replace("\n", "")
    expect = petsuite("audit", "verify", "--log", str(log), "--expect-head", "0" * 64)
    assert expect.returncode == CATALOGUE[IntegrityError].exit_code


def test_errors_are_one_line_and_debug_adds_traceback(tmp_path: Path) -> None:
    missing = petsuite("audit", "verify", "--log", str(tmp_path / "none.db"))
    assert missing.returncode == CATALOGUE[InvalidInput].exit_code
    assert missing.stderr.strip().count("\n") == 0
    debug = petsuite("--debug", "audit", "verify", "--log", str(tmp_path / "none.db"))
    assert debug.returncode == CATALOGUE[InvalidInput].exit_code
    assert "Traceback" in debug.stderr


def test_usage_error_exit_code() -> None:
    out = petsuite("no-such-command")
    assert out.returncode == 2


@pytest.mark.timeout(180)
def test_demo_end_to_end(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    out = petsuite("demo", "--workdir", str(work), "--identifiers", "600", timeout=170)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "FAILED" not in out.stdout
    assert "tampering detected" in out.stdout
    for party in ("org-a", "org-b"):
        with AuditLog(work / party / "audit.db") as log:
            report = log.verify()
            assert report.ok
            # org-a: 2 OPRF, 3 PSI, 4 DP, 4 HE (2 keys stored, 2 jobs), 2 ZKP (presented, refused);
            # org-b: 2 + 3 + 2 HE jobs + 2 ZKP (verified, aborted)
            assert report.entries == (15 if party == "org-a" else 9)
    for party in ("org-a", "org-b", "org-c"):  # the MPC step's three organisations
        with AuditLog(work / "mpc" / f"{party}-audit.db") as log:
            report = log.verify()
            assert report.ok
            assert report.entries == 1
