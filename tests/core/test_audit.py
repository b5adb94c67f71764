"""The hash-chained audit log: every kind of tampering is detected and located."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from petsuite.core.audit import MAX_PARAMETERS_BYTES, AuditLog, digest_result
from petsuite.core.errors import IntegrityError, InvalidInput


def _filled(path: Path, n: int = 5) -> AuditLog:
    log = AuditLog(path, clock=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    for i in range(n):
        log.append(
            actor="dpo@example.org",
            operation="dp.query",
            parameters={"i": i, "dataset": "patients.csv"},
            privacy_cost={"epsilon": 0.5},
            result_digest=digest_result({"answer": i}),
        )
    return log


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_append_and_verify(tmp_path: Path) -> None:
    log = _filled(tmp_path / "a.db")
    report = log.verify()
    assert report.ok and report.entries == 5
    assert report.head == log.head()
    entries = log.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].timestamp.startswith("2026-01-02T03:04:05")
    assert entries[1].prev_hash == entries[0].entry_hash
    assert log.entries(limit=2)[0].seq == 4


def test_log_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    _filled(path, 3).close()
    log = AuditLog(path)
    log.append(actor="a", operation="b", parameters={})
    assert log.verify().ok and log.verify().entries == 4


def test_edited_entry_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    log = _filled(path)
    _raw(path).execute("UPDATE audit_entries SET parameters = '{\"i\":99}' WHERE seq = 3")
    report = log.verify()
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "edited" in (report.reason or "")


def test_deleted_entry_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    log = _filled(path)
    _raw(path).execute("DELETE FROM audit_entries WHERE seq = 2")
    report = log.verify()
    assert not report.ok and report.first_bad_seq == 3


def test_deleted_and_renumbered_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    log = _filled(path)
    raw = _raw(path)
    raw.execute("DELETE FROM audit_entries WHERE seq = 2")
    raw.execute("UPDATE audit_entries SET seq = seq - 1 WHERE seq > 2")
    report = log.verify()
    assert not report.ok and report.first_bad_seq == 2
    assert "chain broken" in (report.reason or "")


def test_reordered_entries_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    log = _filled(path)
    raw = _raw(path)
    raw.execute("UPDATE audit_entries SET seq = 100 WHERE seq = 2")
    raw.execute("UPDATE audit_entries SET seq = 2 WHERE seq = 3")
    raw.execute("UPDATE audit_entries SET seq = 3 WHERE seq = 100")
    report = log.verify()
    assert not report.ok and report.first_bad_seq == 2


def test_inserted_entry_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    log = _filled(path)
    raw = _raw(path)
    for seq in (5, 4, 3):
        raw.execute("UPDATE audit_entries SET seq = ? WHERE seq = ?", (seq + 1, seq))
    row = raw.execute("SELECT * FROM audit_entries WHERE seq = 2").fetchone()
    raw.execute(
        "INSERT INTO audit_entries VALUES (3, ?, 'mallory', 'x', '{}', NULL, NULL, ?, ?)",
        (row[1], row[8], "0" * 64),
    )
    report = log.verify()
    assert not report.ok and report.first_bad_seq == 3


def test_truncation_detected_against_recorded_head(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    log = _filled(path)
    head = log.head()
    _raw(path).execute("DELETE FROM audit_entries WHERE seq = 5")
    assert log.verify().ok  # undetectable without an anchor ...
    report = log.verify(expected_head=head)
    assert not report.ok  # ... and detected with one
    assert "removed" in (report.reason or "")


def test_parameters_must_be_small_and_labels_valid(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.db")
    with pytest.raises(InvalidInput):
        log.append(actor="a", operation="b", parameters={"rows": "x" * MAX_PARAMETERS_BYTES})
    with pytest.raises(InvalidInput):
        log.append(actor="", operation="b", parameters={})
    with pytest.raises(InvalidInput):
        log.append(actor="a", operation="b", parameters={}, result_digest="nothex")
    assert log.verify().entries == 0  # refused appends wrote nothing


def test_not_an_audit_log(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 1000)
    with pytest.raises(IntegrityError):
        AuditLog(bad)


def test_digest_result_forms() -> None:
    assert digest_result(b"x") == digest_result("x")
    assert digest_result({"a": 1}) == digest_result(b'{"a":1}')
