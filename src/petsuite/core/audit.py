"""A tamper-evident, append-only audit log: SHA-256 hash-chained entries in SQLite.

Each entry records who did what (actor, operation), with which parameters, at what privacy cost, and a
digest of the result — never the personal data itself. Entry ``n`` stores the hash of entry ``n - 1``
and its own hash over every stored field, so :meth:`AuditLog.verify` detects an edited, deleted,
inserted or reordered entry and names the first bad one.

What the chain proves and what it does not
-----------------------------------------
* It proves that the entries before the first bad one are exactly as written, in that order.
* Anyone who can write the file can rebuild a whole consistent chain, or drop entries from the end.
  To detect that, record the head (:meth:`AuditLog.head`) somewhere the writer cannot change it (a
  ticket, an e-mail to the DPO, the other party's log) and pass it to ``verify(expected_head=...)``.
* Timestamps come from the recording machine's clock and are only as honest as that machine.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from petsuite.core.encoding import canonical_json, encode_parts
from petsuite.core.errors import IntegrityError, InvalidInput
from petsuite.core.store import ensure_schema, open_database, transaction

__all__ = [
    "MAX_PARAMETERS_BYTES",
    "AuditEntry",
    "AuditLog",
    "VerifyReport",
    "digest_result",
]

#: Parameters are descriptions, not data: a record larger than this is refused.
MAX_PARAMETERS_BYTES = 16 * 1024

_GENESIS = hashlib.sha256(b"petsuite/audit/genesis/v1").hexdigest()
_ENTRY_DOMAIN = b"petsuite/audit/entry/v1"
_SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_entries (
    seq INTEGER PRIMARY KEY,
    timestamp TEXT NOT NULL,
    actor TEXT NOT NULL,
    operation TEXT NOT NULL,
    parameters TEXT NOT NULL,
    privacy_cost TEXT,
    result_digest TEXT,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL
);
"""

_COLUMNS = (
    "seq, timestamp, actor, operation, parameters, privacy_cost, result_digest, prev_hash, entry_hash"
)


def digest_result(result: bytes | str | Any) -> str:
    """SHA-256 hex digest of a result: raw bytes, text, or a canonical-JSON-encodable value."""
    if isinstance(result, bytes | bytearray | memoryview):
        data = bytes(result)
    elif isinstance(result, str):
        data = result.encode("utf-8")
    else:
        data = canonical_json(result)
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit record as stored."""

    seq: int
    timestamp: str
    actor: str
    operation: str
    parameters: dict[str, Any]
    privacy_cost: dict[str, Any] | None
    result_digest: str | None
    prev_hash: str
    entry_hash: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of :meth:`AuditLog.verify`."""

    ok: bool
    entries: int
    head: str | None
    first_bad_seq: int | None = None
    reason: str | None = None


def _entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    body = encode_parts([_ENTRY_DOMAIN, prev_hash.encode("ascii"), canonical_json(dict(fields))])
    return hashlib.sha256(body).hexdigest()


def _check_label(name: str, value: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 256:
        raise InvalidInput(f"audit {name} must be a non-empty string of at most 256 characters")
    return value


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AuditLog:
    """An append-only, hash-chained audit log stored in a SQLite file.

    Parameters
    ----------
    path:
        The SQLite file; created if missing.
    clock:
        Returns the current time (UTC); injectable for tests.
    """

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self._clock = _utc_now if clock is None else clock
        self._conn = open_database(self.path)
        self._init_schema()

    def _init_schema(self) -> None:
        ensure_schema(
            self._conn, _SCHEMA, meta_table="audit_meta", version=_SCHEMA_VERSION,
            what=f"audit log ({self.path})",
        )  # fmt: skip

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(
        self,
        *,
        actor: str,
        operation: str,
        parameters: Mapping[str, Any],
        privacy_cost: Mapping[str, Any] | None = None,
        result_digest: str | None = None,
    ) -> AuditEntry:
        """Append one entry atomically and return it.

        ``parameters`` describe the operation (file names, column names, epsilon, counterparty); they
        must never contain the personal data itself and are limited to
        :data:`MAX_PARAMETERS_BYTES` once encoded.
        """
        _check_label("actor", actor)
        _check_label("operation", operation)
        params_text = canonical_json(dict(parameters)).decode("utf-8")
        if len(params_text.encode("utf-8")) > MAX_PARAMETERS_BYTES:
            raise InvalidInput(
                f"audit parameters exceed {MAX_PARAMETERS_BYTES} bytes: record a digest, not data"
            )
        cost_text = (
            None if privacy_cost is None else canonical_json(dict(privacy_cost)).decode("utf-8")
        )
        if result_digest is not None and (
            len(result_digest) != 64 or any(c not in "0123456789abcdef" for c in result_digest)
        ):
            raise InvalidInput("result_digest must be a lowercase SHA-256 hex digest")
        timestamp = self._clock().astimezone(UTC).isoformat(timespec="microseconds")
        try:
            with transaction(self._conn) as conn:
                last = conn.execute(
                    "SELECT seq, entry_hash FROM audit_entries ORDER BY seq DESC LIMIT 1"
                ).fetchone()
                seq, prev = (1, _GENESIS) if last is None else (int(last[0]) + 1, str(last[1]))
                fields = {
                    "seq": seq,
                    "timestamp": timestamp,
                    "actor": actor,
                    "operation": operation,
                    "parameters": params_text,
                    "privacy_cost": cost_text,
                    "result_digest": result_digest,
                }
                entry_hash = _entry_hash(prev, fields)
                conn.execute(
                    f"INSERT INTO audit_entries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                    (
                        seq,
                        timestamp,
                        actor,
                        operation,
                        params_text,
                        cost_text,
                        result_digest,
                        prev,
                        entry_hash,
                    ),
                )
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"{self.path}: could not append an audit entry: {exc}") from exc
        return AuditEntry(
            seq=seq,
            timestamp=timestamp,
            actor=actor,
            operation=operation,
            parameters=json.loads(params_text),
            privacy_cost=None if cost_text is None else json.loads(cost_text),
            result_digest=result_digest,
            prev_hash=prev,
            entry_hash=entry_hash,
        )

    def _rows(self) -> list[tuple[Any, ...]]:
        try:
            query = f"SELECT {_COLUMNS} FROM audit_entries ORDER BY seq"  # noqa: S608
            return list(self._conn.execute(query))
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"{self.path}: cannot read audit entries: {exc}") from exc

    def entries(self, *, limit: int | None = None) -> list[AuditEntry]:
        """The stored entries in order (the last ``limit`` of them when given)."""
        rows = self._rows()
        if limit is not None:
            rows = rows[-limit:] if limit > 0 else []
        out = []
        for row in rows:
            try:
                params = json.loads(row[4])
                cost = None if row[5] is None else json.loads(row[5])
            except (TypeError, ValueError) as exc:
                raise IntegrityError(f"audit entry {row[0]} is not valid JSON") from exc
            out.append(
                AuditEntry(
                    seq=int(row[0]),
                    timestamp=str(row[1]),
                    actor=str(row[2]),
                    operation=str(row[3]),
                    parameters=params,
                    privacy_cost=cost,
                    result_digest=row[6],
                    prev_hash=str(row[7]),
                    entry_hash=str(row[8]),
                )
            )
        return out

    def head(self) -> str | None:
        """The hash of the last entry (``None`` for an empty log): record it out of band."""
        rows = self._rows()
        return None if not rows else str(rows[-1][8])

    def verify(self, *, expected_head: str | None = None) -> VerifyReport:
        """Recompute the chain and report the first entry that does not fit.

        ``expected_head`` is a head recorded earlier; the log must still contain it, which detects
        entries dropped from the end. Never raises for a broken chain: the report says what broke.
        """
        prev = _GENESIS
        rows = self._rows()
        seen_expected = expected_head is None
        for index, row in enumerate(rows, start=1):
            seq = row[0]
            fields = {
                "seq": seq,
                "timestamp": row[1],
                "actor": row[2],
                "operation": row[3],
                "parameters": row[4],
                "privacy_cost": row[5],
                "result_digest": row[6],
            }
            if seq != index:
                reason = "entry missing before this one" if seq > index else "sequence out of order"
                return VerifyReport(False, len(rows), None, seq, reason)
            if row[7] != prev:
                return VerifyReport(
                    False, len(rows), None, seq, "chain broken: entry deleted, inserted or reordered"
                )
            try:
                recomputed = _entry_hash(prev, fields)
            except InvalidInput:
                return VerifyReport(False, len(rows), None, seq, "entry fields are not valid")
            if recomputed != row[8]:
                return VerifyReport(False, len(rows), None, seq, "entry edited: hash mismatch")
            prev = str(row[8])
            if expected_head is not None and prev == expected_head:
                seen_expected = True
        head = None if not rows else prev
        if not seen_expected:
            return VerifyReport(
                False, len(rows), head, len(rows) + 1, "expected head not found: entries removed"
            )
        return VerifyReport(True, len(rows), head)
