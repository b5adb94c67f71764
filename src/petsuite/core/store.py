"""Storage helpers: SQLite in WAL mode with atomic transactions, and atomic file writes.

Everything petsuite persists (audit log, privacy ledgers, rate limits, keys) goes through here so that a
crash or a refused operation leaves either the old state or the new one, never half of each.

Threat model: these helpers protect against crashes and concurrent writers, not against someone who can
edit the files; tamper evidence is the job of :mod:`petsuite.core.audit`'s hash chain.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from petsuite.core.errors import IntegrityError, InvalidInput

__all__ = ["atomic_write_bytes", "ensure_schema", "open_database", "transaction"]

_BUSY_TIMEOUT_MS = 30_000


def open_database(path: Path | str, *, create: bool = True) -> sqlite3.Connection:
    """Open (or create) a SQLite database in WAL mode with foreign keys on.

    The connection is in autocommit mode: group statements with :func:`transaction`.
    """
    p = Path(path)
    if not create and not p.exists():
        raise InvalidInput(f"database {p} does not exist")
    if create:
        p.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(p, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        raise IntegrityError(f"{p} is not a usable SQLite database: {exc}") from exc
    if mode is None or str(mode[0]).lower() != "wal":
        conn.close()
        raise IntegrityError(f"{p}: could not switch to WAL journal mode")
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run a block as one ``BEGIN IMMEDIATE`` transaction: all of it commits, or none of it.

    ``IMMEDIATE`` takes the write lock up front, so a read-check-write sequence inside the block (a
    budget check followed by a spend) cannot interleave with another process's.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.DatabaseError as exc:
        raise IntegrityError(f"cannot start a transaction: {exc}") from exc
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        try:
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            conn.execute("ROLLBACK")
            raise IntegrityError(f"commit failed: {exc}") from exc


def atomic_write_bytes(path: Path | str, data: bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, rename.

    ``mode`` is applied before any byte is written, so a secret key is never world-readable.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(p.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def ensure_schema(
    conn: sqlite3.Connection, schema: str, *, meta_table: str, version: str, what: str
) -> None:
    """Create ``schema``'s tables if missing and check the stored schema version, atomically.

    ``schema`` is a ``;``-separated script whose ``meta_table`` has ``key`` and ``value`` columns.
    A file that is not such a database, or has another version, raises :class:`IntegrityError`
    naming ``what`` (e.g. "audit log"); nothing is reset.
    """
    if not meta_table.isidentifier():
        raise InvalidInput("meta_table must be an identifier")
    try:
        with transaction(conn):
            for statement in schema.split(";"):
                if statement.strip():
                    conn.execute(statement)
            row = conn.execute(
                f"SELECT value FROM {meta_table} WHERE key = 'schema_version'"  # noqa: S608
            ).fetchone()
            if row is None:
                conn.execute(
                    f"INSERT INTO {meta_table} (key, value) VALUES ('schema_version', ?)",  # noqa: S608
                    (version,),
                )
            elif row[0] != version:
                raise IntegrityError(f"{what} schema version {row[0]!r} is not supported")
    except sqlite3.DatabaseError as exc:
        raise IntegrityError(f"not a petsuite {what}: {exc}") from exc
