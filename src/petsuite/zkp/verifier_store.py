"""A verifier's state: the challenges (nonces) it issued, each consumed exactly once.

:meth:`NonceStore.issue` draws a 32-byte nonce from :mod:`petsuite.core.rng`, records the whole
:class:`~petsuite.zkp.presentation.Challenge` (statement, threshold, date, verifier id, optional
account key) with an expiry, and returns it for the holder. :meth:`NonceStore.consume` looks the
nonce up and marks it used in one ``BEGIN IMMEDIATE`` transaction: the first call returns the
verifier's own copy of the challenge, every later one, and any call for an unknown or expired
nonce, raises :class:`~petsuite.core.errors.VerificationFailed`. Verification then uses that copy,
never what the presentation claims, so a presentation for another statement, threshold or date
fails. :meth:`NonceStore.mark_credential` records the credentials shown, so that a book entry
presented twice to the same verifier is refused (it would link the two presentations anyway).

Time comes in as an argument (``now``, timezone-aware); nothing here reads the clock.

Threat model: protects against replay and races between processes of one verifier. The file holds
nonces and credential ids (public values), no attribute. Whoever can write the file can reset
nonces; keep it with the verifier's other state.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from petsuite.core.errors import IntegrityError, InvalidInput, VerificationFailed
from petsuite.core.rng import RandomSource, resolve
from petsuite.core.store import ensure_schema, open_database, transaction
from petsuite.primitives.group import Point
from petsuite.zkp.presentation import NONCE_BYTES, Challenge, Statement

__all__ = ["DEFAULT_NONCE_TTL", "NonceStore"]

#: How long a challenge stays answerable by default.
DEFAULT_NONCE_TTL = timedelta(minutes=10)
_MAX_TTL = timedelta(days=30)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS zkp_verifier_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS zkp_nonces (
    nonce_hash TEXT PRIMARY KEY,
    verifier TEXT NOT NULL,
    statement TEXT NOT NULL,
    threshold TEXT NOT NULL,
    on_date TEXT NOT NULL,
    account_key TEXT,
    anonymity_set TEXT NOT NULL,
    issued_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL,
    consumed_us INTEGER
);
CREATE TABLE IF NOT EXISTS zkp_seen_credentials (
    credential_id TEXT PRIMARY KEY,
    seen_us INTEGER NOT NULL
);
"""


def _micros(now: datetime) -> int:
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise InvalidInput("now must be a timezone-aware datetime")
    delta = now.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _points(data: bytes) -> tuple[Point, ...]:
    return tuple(Point.from_bytes(data[i : i + 32]) for i in range(0, len(data), 32))


def _nonce_key(nonce: bytes) -> str:
    # stored hashed: a leaked store shows which nonces exist, not the values a holder answered
    return hashlib.sha256(b"petsuite/zkp/nonce/v1" + nonce).hexdigest()


class NonceStore:
    """The verifier's issued challenges and shown credentials, in a SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._conn = open_database(self.path)
        ensure_schema(
            self._conn, _SCHEMA, meta_table="zkp_verifier_meta", version="1",
            what=f"zkp verifier store ({self.path})",
        )  # fmt: skip

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> NonceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def issue(
        self,
        *,
        verifier: str,
        statement: Statement | str,
        threshold: int,
        on: date,
        now: datetime,
        ttl: timedelta = DEFAULT_NONCE_TTL,
        account_key: Point | None = None,
        anonymity_set: Sequence[Point] = (),
        rng: RandomSource | None = None,
    ) -> Challenge:
        """A fresh challenge, recorded until ``now + ttl``.

        ``on`` is the verifier's own date for the statement (normally today's).
        """
        if not timedelta(0) < ttl <= _MAX_TTL:
            raise InvalidInput("ttl must be positive and at most 30 days")
        start = _micros(now)
        challenge = Challenge(
            verifier=verifier,
            nonce=resolve(rng).random_bytes(NONCE_BYTES),
            on=on,
            statement=Statement(statement),
            threshold=threshold,
            account_key=account_key,
            anonymity_set=tuple(anonymity_set),
        )
        try:
            with transaction(self._conn) as conn:
                conn.execute(
                    "INSERT INTO zkp_nonces (nonce_hash, verifier, statement, threshold, on_date,"
                    " account_key, anonymity_set, issued_us, expires_us)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        _nonce_key(challenge.nonce),
                        challenge.verifier,
                        challenge.statement.value,
                        str(challenge.threshold),
                        challenge.on.isoformat(),
                        None if account_key is None else account_key.to_bytes().hex(),
                        b"".join(k.to_bytes() for k in challenge.anonymity_set).hex(),
                        start,
                        _micros(now + ttl),
                    ),
                )
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"{self.path}: cannot record a nonce: {exc}") from exc
        return challenge

    def consume(self, nonce: bytes, *, now: datetime) -> Challenge:
        """Mark ``nonce`` used and return the challenge it was issued with, exactly once.

        Raises
        ------
        VerificationFailed
            If the nonce is unknown, expired or already consumed (a replay).
        """
        if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
            raise VerificationFailed("malformed nonce")
        at = _micros(now)
        key = _nonce_key(nonce)
        try:
            with transaction(self._conn) as conn:
                row = conn.execute(
                    "SELECT verifier, statement, threshold, on_date, account_key, anonymity_set"
                    " FROM zkp_nonces"
                    " WHERE nonce_hash = ? AND consumed_us IS NULL AND expires_us >= ?",
                    (key, at),
                ).fetchone()
                if row is None:
                    raise VerificationFailed("the nonce is unknown, expired or already used (replay)")
                updated = conn.execute(
                    "UPDATE zkp_nonces SET consumed_us = ? WHERE nonce_hash = ?"
                    " AND consumed_us IS NULL",
                    (at, key),
                )
                if updated.rowcount != 1:
                    raise VerificationFailed("the nonce was already used (replay)")
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"{self.path}: cannot consume a nonce: {exc}") from exc
        try:
            return Challenge(
                verifier=str(row[0]),
                nonce=nonce,
                on=date.fromisoformat(str(row[3])),
                statement=Statement(str(row[1])),
                threshold=int(row[2]),
                account_key=None if row[4] is None else Point.from_bytes(bytes.fromhex(row[4])),
                anonymity_set=_points(bytes.fromhex(row[5])),
            )
        except (InvalidInput, ValueError) as exc:
            raise IntegrityError(f"{self.path}: a stored challenge is corrupt") from exc

    def mark_credential(self, credential_id: bytes, *, now: datetime) -> None:
        """Record a credential as shown; a second showing raises :class:`VerificationFailed`."""
        at = _micros(now)
        try:
            with transaction(self._conn) as conn:
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO zkp_seen_credentials (credential_id, seen_us)"
                    " VALUES (?, ?)",
                    (credential_id.hex(), at),
                )
                if cursor.rowcount != 1:
                    raise VerificationFailed("this credential was shown before (linkable reuse)")
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"{self.path}: cannot record a credential: {exc}") from exc

    def pending(self, *, now: datetime) -> int:
        """Challenges issued, not yet consumed and not expired."""
        row = self._conn.execute(
            "SELECT COUNT(*) FROM zkp_nonces WHERE consumed_us IS NULL AND expires_us >= ?",
            (_micros(now),),
        ).fetchone()
        return int(row[0])

    def purge(self, *, now: datetime) -> int:
        """Delete expired challenges (consumed or not); returns how many went.

        A purged nonce can no longer be consumed, so replay protection is unaffected.
        """
        try:
            with transaction(self._conn) as conn:
                cursor = conn.execute(
                    "DELETE FROM zkp_nonces WHERE expires_us < ?", (_micros(now),)
                )
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"{self.path}: cannot purge nonces: {exc}") from exc
        return int(cursor.rowcount)
