"""SQLite helpers and atomic writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from petsuite.core.errors import IntegrityError, InvalidInput
from petsuite.core.store import atomic_write_bytes, open_database, transaction


def test_wal_mode_and_atomic_transaction(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "x.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute("CREATE TABLE t (v INTEGER)")
    with transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(RuntimeError), transaction(conn):
        conn.execute("INSERT INTO t VALUES (2)")
        raise RuntimeError("fail half-way")
    assert [r[0] for r in conn.execute("SELECT v FROM t")] == [1]


def test_missing_database_is_reported(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        open_database(tmp_path / "absent.db", create=False)


def test_garbage_file_is_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(IntegrityError):
        open_database(bad)


def test_atomic_write_sets_mode_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "secret.key"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["secret.key"]
