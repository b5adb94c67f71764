"""Key management for homomorphic encryption: a passphrase-protected key store, and re-keying.

:class:`KeyStore` keeps one folder per store::

    <directory>/keys.sqlite        index: key id, scheme, created, status, fingerprint, superseded_by, note
    <directory>/<key_id>.public    public material: Paillier public key bytes, or an HE evaluation context
    <directory>/<key_id>.secret    the secret key, encrypted under a passphrase (mode 0600, atomic writes)

Any scheme's secret is stored as opaque bytes plus metadata (``store_secret``); Paillier has its own
recipes (``generate_paillier``, ``load_paillier_private``, ``rotate_paillier``). A CKKS/BFV keyring
from :mod:`petsuite.he.seal` goes in the same way::

    info = store.store_secret("ckks", keyring.secret_bytes(),
                              keyring.evaluation_context().to_bytes(), passphrase)
    keyring = HeSecretKeyring.from_secret_bytes(store.load_secret(info.key_id, passphrase))

Key ids
-------
A key's id is the first 32 hex characters (128 bits) of SHA-256 over its public bytes, and its
fingerprint is the whole digest: ``sha256sum <key_id>.public`` recomputes both. For Paillier the
public bytes are :meth:`PaillierPublicKey.to_bytes`; the id is therefore *not* the key's
:meth:`PaillierPublicKey.fingerprint` (which hashes a label first). :func:`key_id_for` computes it.

Secret-key files
----------------
``MAGIC || parts(header, sealed)``, where the header holds the format label, version, scheme, key id,
the SHA-256 of the public bytes, and the KDF (scrypt: ``n``, ``r``, ``p``, 16-byte salt) and AEAD
(ChaCha20-Poly1305, 12-byte nonce) parameters. The passphrase (UTF-8, NFC-normalised when given as
``str``) goes through scrypt to a 32-byte key; the secret is sealed with the magic and header as
associated data, so any change to the file, or a wrong passphrase, fails with one opaque
:class:`~petsuite.core.errors.VerificationFailed`. Salt and nonce are fresh on every write.

Threat model
------------
* At-rest encryption protects secret keys on a stolen disk, a copied backup or a mis-shared folder:
  without the passphrase, an attacker is left with a scrypt-hardened guess per attempt (weak
  passphrases remain guessable; at least :data:`MIN_PASSPHRASE_LENGTH` characters are required).
* It does not protect against a compromised running process or user account: a loaded key lives
  in memory in the clear, and Python cannot wipe it. Whoever can write the folder can delete keys
  or replace the index; the authenticated header detects swapped or edited secret files.
* Revocation is a local record: it stops this key store from handing the key out (except to
  re-key data away from it); it cannot recall ciphertexts, public keys or copies already shared.
* The audit log records key ids, fingerprints and KDF parameters — never a passphrase or a secret.
  No error message, ``repr`` or audit entry contains secret material.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import math
import os
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from petsuite.core.audit import AuditLog
from petsuite.core.encoding import decode_parts, encode_parts, i2osp
from petsuite.core.errors import (
    IntegrityError,
    InvalidInput,
    UnsupportedParameter,
    VerificationFailed,
)
from petsuite.core.rng import RandomSource, resolve
from petsuite.core.store import atomic_write_bytes, ensure_schema, open_database, transaction
from petsuite.he.packing import decrypt_vector, encrypt_vector
from petsuite.primitives.paillier import (
    DEFAULT_KEY_BITS,
    PaillierCiphertext,
    PaillierEncoder,
    PaillierPrivateKey,
    PaillierPublicKey,
)

__all__ = [
    "COLUMN_MAGIC",
    "DEFAULT_SCRYPT",
    "KDF_MIN_N",
    "KDF_MIN_N_TESTING",
    "MIN_PASSPHRASE_LENGTH",
    "EncryptedColumn",
    "KeyInfo",
    "KeyStatus",
    "KeyStore",
    "ScryptParams",
    "decrypt_column",
    "key_id_for",
    "read_encrypted_column",
    "rekey_column",
    "write_encrypted_column",
]

#: Shortest passphrase accepted (characters of a ``str``, bytes of a ``bytes``).
MIN_PASSPHRASE_LENGTH: Final = 12
#: Smallest scrypt cost ``n`` accepted for new files (OWASP's floor is 2**17 with r=8; 2**14 is
#: scrypt's interactive-login setting, the least we allow for a key that unlocks data).
KDF_MIN_N: Final = 2**14
#: Smallest ``n`` accepted with ``insecure_for_testing=True`` (fast tests only).
KDF_MIN_N_TESTING: Final = 2**10
#: Largest ``n``, and largest scrypt memory (``128·n·r·p`` bytes) a file may ask for on reading.
_KDF_MAX_N: Final = 2**20
_KDF_MAX_MEMORY: Final = 1 << 30

_SECRET_MAGIC: Final = b"PSHEKEY\x00"
_SECRET_LABEL: Final = b"petsuite/he/secret-key"
_SECRET_VERSION: Final = b"\x01"
_KDF_NAME: Final = b"scrypt"
_AEAD_NAME: Final = b"chacha20-poly1305"
_SALT_BYTES: Final = 16
_NONCE_BYTES: Final = 12
_KEY_BYTES: Final = 32
_MAX_SECRET_BYTES: Final = 64 * 1024 * 1024
_MAX_PUBLIC_BYTES: Final = 1024 * 1024 * 1024
_MAX_NOTE: Final = 1024
_MAX_REASON: Final = 256
_KEY_ID_HEX: Final = 32
_KEY_ID_RE: Final = re.compile(r"[0-9a-f]{32}")
_SCHEME_RE: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_PAILLIER: Final = "paillier"
_INDEX_NAME: Final = "keys.sqlite"
_SCHEMA_VERSION: Final = "1"
_UNLOCK_FAILED: Final = "could not unlock the secret key (wrong passphrase or damaged key file)"

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS keystore_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keys (
    key_id TEXT PRIMARY KEY,
    scheme TEXT NOT NULL,
    created TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'rotated', 'revoked')),
    fingerprint TEXT NOT NULL,
    superseded_by TEXT REFERENCES keys (key_id),
    note TEXT NOT NULL,
    status_changed TEXT,
    revoked_reason TEXT
);
"""
_KEY_COLUMNS: Final = (
    "key_id, scheme, created, status, fingerprint, superseded_by, note, status_changed, "
    "revoked_reason"
)


# --- small helpers --------------------------------------------------------------------------------


def key_id_for(public_bytes: bytes) -> str:
    """The key id of public material: the first 32 hex characters of its SHA-256."""
    if not isinstance(public_bytes, bytes | bytearray | memoryview):
        raise InvalidInput("public material must be bytes")
    return hashlib.sha256(bytes(public_bytes)).hexdigest()[:_KEY_ID_HEX]


def _check_key_id(key_id: object) -> str:
    if not isinstance(key_id, str) or _KEY_ID_RE.fullmatch(key_id) is None:
        raise InvalidInput("a key id is 32 lowercase hex characters")
    return key_id


def _check_scheme(scheme: object) -> str:
    if not isinstance(scheme, str) or _SCHEME_RE.fullmatch(scheme) is None:
        raise InvalidInput("scheme must be 1-32 characters of [a-z0-9_-], e.g. 'paillier', 'ckks'")
    return scheme


def _check_text(value: object, what: str, limit: int, *, empty_ok: bool) -> str:
    if not isinstance(value, str) or len(value) > limit or (not value and not empty_ok):
        raise InvalidInput(f"{what} must be a string of at most {limit} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise InvalidInput(f"{what} must not contain control characters")
    return value


def _passphrase_bytes(passphrase: object) -> bytes:
    """The passphrase as bytes, after the length check. Never echoes the passphrase."""
    if isinstance(passphrase, str):
        text = unicodedata.normalize("NFC", passphrase)
        if len(text) < MIN_PASSPHRASE_LENGTH:
            raise UnsupportedParameter(
                f"passphrases must be at least {MIN_PASSPHRASE_LENGTH} characters"
            )
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInput("the passphrase is not valid Unicode") from exc
    if isinstance(passphrase, bytes | bytearray | memoryview):
        data = bytes(passphrase)
        if len(data) < MIN_PASSPHRASE_LENGTH:
            raise UnsupportedParameter(
                f"passphrases must be at least {MIN_PASSPHRASE_LENGTH} bytes"
            )
        return data
    raise InvalidInput(f"a passphrase must be str or bytes, not {type(passphrase).__name__}")


def _coerce_bytes(value: object, what: str, limit: int) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidInput(f"{what} must be bytes, not {type(value).__name__}")
    data = bytes(value)
    if not data or len(data) > limit:
        raise InvalidInput(f"{what} must hold between 1 and {limit} bytes")
    return data


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


# --- KDF parameters -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost parameters: ``n`` (a power of two), ``r``, ``p``. Memory is ``128·n·r·p`` bytes.

    The default ``n = 2**15, r = 8, p = 1`` costs 32 MiB and roughly 0.1 s a derivation.
    """

    n: int = 2**15
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        for name in ("n", "r", "p"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput(f"scrypt {name} must be an int")
        if self.n < 2 or self.n & (self.n - 1) or self.n > _KDF_MAX_N:
            raise UnsupportedParameter(
                f"scrypt n must be a power of two in [2, 2^20], got {self.n}"
            )
        if not 1 <= self.r <= 32 or not 1 <= self.p <= 16:
            raise UnsupportedParameter("scrypt r must lie in [1, 32] and p in [1, 16]")
        if 128 * self.n * self.r * self.p > _KDF_MAX_MEMORY:
            raise UnsupportedParameter("scrypt parameters need more than 1 GiB of memory")

    def check_floor(self, *, insecure_for_testing: bool) -> ScryptParams:
        """``self`` if ``n`` meets :data:`KDF_MIN_N` (or the testing floor); else refuse."""
        floor = KDF_MIN_N_TESTING if insecure_for_testing else KDF_MIN_N
        if self.n < floor:
            hint = (
                "" if insecure_for_testing else " (insecure_for_testing=True allows less in tests)"
            )
            raise UnsupportedParameter(f"scrypt n={self.n} is below the floor {floor}{hint}")
        return self

    def to_dict(self) -> dict[str, int]:
        return {"n": self.n, "r": self.r, "p": self.p}


#: The KDF cost for new secret files unless the store is given another.
DEFAULT_SCRYPT: Final = ScryptParams()


def _derive(passphrase: bytes, salt: bytes, params: ScryptParams) -> bytes:
    return Scrypt(salt=salt, length=_KEY_BYTES, n=params.n, r=params.r, p=params.p).derive(
        passphrase
    )


@dataclass(frozen=True, slots=True)
class _SecretHeader:
    scheme: str
    key_id: str
    public_sha256: str
    kdf: ScryptParams
    salt: bytes
    nonce: bytes

    def encode(self) -> bytes:
        return encode_parts(
            [
                _SECRET_LABEL,
                _SECRET_VERSION,
                self.scheme.encode("ascii"),
                self.key_id.encode("ascii"),
                self.public_sha256.encode("ascii"),
                _KDF_NAME,
                i2osp(self.kdf.n, 8),
                i2osp(self.kdf.r, 4),
                i2osp(self.kdf.p, 4),
                self.salt,
                _AEAD_NAME,
                self.nonce,
            ]
        )

    @classmethod
    def decode(cls, data: bytes) -> _SecretHeader:
        """Parse a header; any problem is :class:`VerificationFailed` (the file is not trusted)."""
        try:
            parts = decode_parts(data)
            if (
                len(parts) != 12
                or parts[0] != _SECRET_LABEL
                or parts[1] != _SECRET_VERSION
                or parts[5] != _KDF_NAME
                or parts[10] != _AEAD_NAME
                or len(parts[6]) != 8
                or len(parts[7]) != 4
                or len(parts[8]) != 4
                or len(parts[9]) != _SALT_BYTES
                or len(parts[11]) != _NONCE_BYTES
            ):
                raise VerificationFailed(_UNLOCK_FAILED)
            kdf = ScryptParams(
                int.from_bytes(parts[6], "big"),
                int.from_bytes(parts[7], "big"),
                int.from_bytes(parts[8], "big"),
            )
            header = cls(
                scheme=_check_scheme(parts[2].decode("ascii")),
                key_id=_check_key_id(parts[3].decode("ascii")),
                public_sha256=parts[4].decode("ascii"),
                kdf=kdf,
                salt=parts[9],
                nonce=parts[11],
            )
        except (InvalidInput, UnicodeDecodeError) as exc:
            raise VerificationFailed(_UNLOCK_FAILED) from exc
        return header


def _seal(
    *,
    scheme: str,
    key_id: str,
    public_sha256: str,
    secret: bytes,
    passphrase: bytes,
    kdf: ScryptParams,
    rng: RandomSource,
) -> bytes:
    header = _SecretHeader(
        scheme=scheme,
        key_id=key_id,
        public_sha256=public_sha256,
        kdf=kdf,
        salt=rng.random_bytes(_SALT_BYTES),
        nonce=rng.random_bytes(_NONCE_BYTES),
    )
    if len(header.salt) != _SALT_BYTES or len(header.nonce) != _NONCE_BYTES:
        raise InvalidInput("random source returned the wrong number of bytes")
    encoded = header.encode()
    aead = ChaCha20Poly1305(_derive(passphrase, header.salt, kdf))
    sealed = aead.encrypt(header.nonce, secret, _SECRET_MAGIC + encoded)
    return _SECRET_MAGIC + encode_parts([encoded, sealed])


def _unseal(data: bytes, passphrase: bytes) -> tuple[_SecretHeader, bytes]:
    """Authenticate and decrypt a secret file; every failure is the same :class:`VerificationFailed`."""
    if not data.startswith(_SECRET_MAGIC):
        raise VerificationFailed(_UNLOCK_FAILED)
    try:
        parts = decode_parts(data[len(_SECRET_MAGIC) :])
    except InvalidInput as exc:
        raise VerificationFailed(_UNLOCK_FAILED) from exc
    if len(parts) != 2:
        raise VerificationFailed(_UNLOCK_FAILED)
    encoded, sealed = parts
    header = _SecretHeader.decode(encoded)
    try:
        key = _derive(passphrase, header.salt, header.kdf)
        secret = ChaCha20Poly1305(key).decrypt(header.nonce, sealed, _SECRET_MAGIC + encoded)
    except (InvalidTag, ValueError, MemoryError) as exc:
        raise VerificationFailed(_UNLOCK_FAILED) from exc
    return header, secret


# --- key records ----------------------------------------------------------------------------------


class KeyStatus(enum.StrEnum):
    """A key's life cycle: usable, replaced by a newer key, or withdrawn."""

    ACTIVE = "active"
    ROTATED = "rotated"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """The index record of one stored key. Metadata only: never holds secret material.

    Attributes
    ----------
    key_id:
        First 32 hex characters of SHA-256 over the public bytes.
    scheme:
        ``"paillier"``, ``"ckks"``, ``"bfv"``, ...
    created:
        ISO 8601 UTC time of storing.
    status:
        :class:`KeyStatus`.
    fingerprint:
        Full SHA-256 hex of the public bytes.
    superseded_by:
        Id of the key that replaced this one on rotation.
    note:
        Free text given when storing.
    status_changed:
        When the status last changed (rotation or revocation).
    revoked_reason:
        The reason given on revocation.
    """

    key_id: str
    scheme: str
    created: str
    status: KeyStatus
    fingerprint: str
    superseded_by: str | None = None
    note: str = ""
    status_changed: str | None = None
    revoked_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the record."""
        return {
            "key_id": self.key_id,
            "scheme": self.scheme,
            "created": self.created,
            "status": self.status.value,
            "fingerprint": self.fingerprint,
            "superseded_by": self.superseded_by,
            "note": self.note,
            "status_changed": self.status_changed,
            "revoked_reason": self.revoked_reason,
        }


def _info_from_row(row: Sequence[Any]) -> KeyInfo:
    try:
        return KeyInfo(
            key_id=_check_key_id(row[0]),
            scheme=_check_scheme(row[1]),
            created=str(row[2]),
            status=KeyStatus(row[3]),
            fingerprint=str(row[4]),
            superseded_by=None if row[5] is None else str(row[5]),
            note=str(row[6]),
            status_changed=None if row[7] is None else str(row[7]),
            revoked_reason=None if row[8] is None else str(row[8]),
        )
    except (InvalidInput, ValueError) as exc:
        raise IntegrityError("the key index holds a malformed record") from exc


# --- the store ------------------------------------------------------------------------------------


class KeyStore:
    """A folder of passphrase-encrypted HE secret keys, their public material and an index.

    Parameters
    ----------
    directory:
        The folder; created with mode 0700 if missing.
    audit:
        Optional audit log (another file): generation, storing, rotation, revocation, passphrase
        changes and re-keying append entries with key ids and fingerprints only.
    actor:
        Who this process acts as, in audit entries.
    clock:
        Returns the current time (UTC); injectable for tests.
    kdf:
        scrypt cost for newly written secret files (default :data:`DEFAULT_SCRYPT`); ``n`` below
        :data:`KDF_MIN_N` is refused unless ``insecure_for_testing``.
    rng:
        Source of salts, nonces and key-generation randomness; default the OS CSPRNG.
    insecure_for_testing:
        Allow cheap scrypt and Paillier keys under 2048 bits (fast tests only).

    See the module docstring for the file layout and the threat model.
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        audit: AuditLog | None = None,
        actor: str = "keystore",
        clock: Callable[[], datetime] | None = None,
        kdf: ScryptParams | None = None,
        rng: RandomSource | None = None,
        insecure_for_testing: bool = False,
    ) -> None:
        self.directory = Path(directory)
        if audit is not None and not isinstance(audit, AuditLog):
            raise InvalidInput("audit must be an AuditLog")
        _check_text(actor, "actor", 256, empty_ok=False)
        params = DEFAULT_SCRYPT if kdf is None else kdf
        if not isinstance(params, ScryptParams):
            raise InvalidInput("kdf must be a ScryptParams")
        self._kdf = params.check_floor(insecure_for_testing=insecure_for_testing)
        self._insecure = bool(insecure_for_testing)
        self._audit = audit
        self._actor = actor
        self._clock = _utc_now if clock is None else clock
        self._rng = rng
        if not self.directory.exists():
            self.directory.mkdir(mode=0o700, parents=True)
        if not self.directory.is_dir():
            raise InvalidInput(f"{self.directory} is not a directory")
        self.index_path = self.directory / _INDEX_NAME
        if audit is not None and _same_file(Path(audit.path), self.index_path):
            raise InvalidInput("the audit log must be a different file from the key index")
        self._conn = open_database(self.index_path)
        self._init_schema()

    def _init_schema(self) -> None:
        ensure_schema(
            self._conn, _SCHEMA, meta_table="keystore_meta", version=_SCHEMA_VERSION,
            what=f"key index ({self.index_path})",
        )  # fmt: skip

    def close(self) -> None:
        """Close the index (the audit log is the caller's to close)."""
        self._conn.close()

    def __enter__(self) -> KeyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KeyStore({str(self.directory)!r})"

    # -- properties --------------------------------------------------------------------------------

    @property
    def audit(self) -> AuditLog | None:
        """The audit log entries go to, if any."""
        return self._audit

    @property
    def kdf(self) -> ScryptParams:
        """The scrypt cost used for new secret files."""
        return self._kdf

    @property
    def insecure_for_testing(self) -> bool:
        """Whether this store allows testing-only parameters."""
        return self._insecure

    # -- paths and records -------------------------------------------------------------------------

    def _secret_path(self, key_id: str) -> Path:
        return self.directory / f"{key_id}.secret"

    def _public_path(self, key_id: str) -> Path:
        return self.directory / f"{key_id}.public"

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="seconds")

    def _record(self, operation: str, parameters: Mapping[str, Any]) -> None:
        if self._audit is not None:
            self._audit.append(actor=self._actor, operation=operation, parameters=parameters)

    def _row(self, key_id: str) -> KeyInfo | None:
        try:
            row = self._conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM keys WHERE key_id = ?",  # noqa: S608
                (key_id,),
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"cannot read the key index: {exc}") from exc
        return None if row is None else _info_from_row(row)

    def info(self, key_id: str) -> KeyInfo:
        """The record of ``key_id``.

        Raises
        ------
        InvalidInput
            If the id is malformed or not in this store.
        """
        found = self._row(_check_key_id(key_id))
        if found is None:
            raise InvalidInput(f"no key {key_id} in this key store")
        return found

    def list(self) -> list[KeyInfo]:
        """Every key's record, oldest first."""
        try:
            rows = self._conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM keys ORDER BY created, key_id"  # noqa: S608
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"cannot read the key index: {exc}") from exc
        return [_info_from_row(r) for r in rows]

    def public_bytes(self, key_id: str) -> bytes:
        """The public material of ``key_id`` (Paillier public key or HE evaluation context).

        Safe to export: it holds no secret. Checked against the fingerprint in the index.

        Raises
        ------
        IntegrityError
            If the file is missing or does not match the index.
        """
        info = self.info(key_id)
        try:
            data = self._public_path(info.key_id).read_bytes()
        except OSError as exc:
            raise IntegrityError(f"the public material of key {info.key_id} is missing") from exc
        if hashlib.sha256(data).hexdigest() != info.fingerprint:
            raise IntegrityError(f"the public material of key {info.key_id} was altered")
        return data

    def load_paillier_public(self, key_id: str) -> PaillierPublicKey:
        """The Paillier public key stored as ``key_id`` (validated)."""
        info = self._require_scheme(key_id, _PAILLIER)
        return PaillierPublicKey.from_bytes(
            self.public_bytes(info.key_id), insecure_for_testing=self._insecure
        )

    def _require_scheme(self, key_id: str, scheme: str) -> KeyInfo:
        info = self.info(key_id)
        if info.scheme != scheme:
            raise InvalidInput(f"key {info.key_id} is a {info.scheme} key, not {scheme}")
        return info

    # -- storing -----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _new_key(
        self, scheme: str, secret: bytes, public: bytes, passphrase: bytes
    ) -> Iterator[tuple[sqlite3.Connection, str, str]]:
        """Inside one index transaction: check the id is free, write both files, yield.

        Yields ``(connection, key id, fingerprint)`` for the caller's index rows and audit entry.
        If anything fails before the commit, the files are removed again; since the id was free
        under the write lock, they cannot belong to another stored key.
        """
        fingerprint = hashlib.sha256(public).hexdigest()
        key_id = fingerprint[:_KEY_ID_HEX]
        sealed = _seal(  # scrypt runs before the index is locked
            scheme=scheme,
            key_id=key_id,
            public_sha256=fingerprint,
            secret=secret,
            passphrase=passphrase,
            kdf=self._kdf,
            rng=resolve(self._rng),
        )
        paths = (self._secret_path(key_id), self._public_path(key_id))
        touched = False
        try:
            with transaction(self._conn) as conn:
                taken = conn.execute("SELECT 1 FROM keys WHERE key_id = ?", (key_id,)).fetchone()
                if taken is not None:
                    raise InvalidInput(f"key {key_id} is already in this key store")
                touched = True
                try:
                    atomic_write_bytes(paths[1], public, mode=0o644)
                    atomic_write_bytes(paths[0], sealed, mode=0o600)
                except OSError as exc:
                    raise IntegrityError(f"could not write the files of key {key_id}") from exc
                yield conn, key_id, fingerprint
        except BaseException:
            if touched:
                for path in paths:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
            raise

    def _insert(
        self, conn: sqlite3.Connection, key_id: str, scheme: str, fingerprint: str, note: str
    ) -> KeyInfo:
        info = KeyInfo(
            key_id=key_id,
            scheme=scheme,
            created=self._now(),
            status=KeyStatus.ACTIVE,
            fingerprint=fingerprint,
            note=note,
        )
        conn.execute(
            f"INSERT INTO keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            (key_id, scheme, info.created, info.status.value, fingerprint, None, note, None, None),
        )
        return info

    def _store(
        self,
        *,
        scheme: str,
        secret: bytes,
        public: bytes,
        passphrase: bytes,
        note: str,
        operation: str,
        extra: Mapping[str, Any],
    ) -> KeyInfo:
        with self._new_key(scheme, secret, public, passphrase) as (conn, key_id, fingerprint):
            info = self._insert(conn, key_id, scheme, fingerprint, note)
            self._record(
                operation,
                {
                    "key_id": key_id,
                    "scheme": scheme,
                    "fingerprint": fingerprint,
                    "kdf": self._kdf.to_dict(),
                    **extra,
                },
            )
        return info

    def store_secret(
        self,
        scheme: str,
        secret_bytes: bytes,
        public_bytes: bytes,
        passphrase: str | bytes,
        note: str = "",
    ) -> KeyInfo:
        """Store any scheme's secret (opaque bytes) with its public material, passphrase-encrypted.

        The key id is :func:`key_id_for` ``(public_bytes)``. Audit entry ``he.key.store``.

        Raises
        ------
        UnsupportedParameter
            If the passphrase is shorter than :data:`MIN_PASSPHRASE_LENGTH`.
        InvalidInput
            On a malformed argument, or if the key is already stored.
        """
        scheme = _check_scheme(scheme)
        secret = _coerce_bytes(secret_bytes, "secret_bytes", _MAX_SECRET_BYTES)
        public = _coerce_bytes(public_bytes, "public_bytes", _MAX_PUBLIC_BYTES)
        note = _check_text(note, "note", _MAX_NOTE, empty_ok=True)
        pw = _passphrase_bytes(passphrase)
        return self._store(
            scheme=scheme,
            secret=secret,
            public=public,
            passphrase=pw,
            note=note,
            operation="he.key.store",
            extra={},
        )

    def generate_paillier(
        self,
        bits: int = DEFAULT_KEY_BITS,
        *,
        passphrase: str | bytes,
        note: str = "",
        insecure_for_testing: bool = False,
    ) -> KeyInfo:
        """Generate a Paillier key pair and store it. Audit entry ``he.key.generate``.

        ``insecure_for_testing`` is passed to :meth:`PaillierPrivateKey.generate` (keys under 2048
        bits); loading such a key later needs a store opened with ``insecure_for_testing=True``.

        Raises
        ------
        UnsupportedParameter
            For a short passphrase or an unsupported key size.
        """
        note = _check_text(note, "note", _MAX_NOTE, empty_ok=True)
        pw = _passphrase_bytes(passphrase)
        private = PaillierPrivateKey.generate(
            bits, self._rng, insecure_for_testing=insecure_for_testing or self._insecure
        )
        return self._store(
            scheme=_PAILLIER,
            secret=private.to_bytes(),
            public=private.public_key.to_bytes(),
            passphrase=pw,
            note=note,
            operation="he.key.generate",
            extra={"bits": private.bits},
        )

    # -- loading -----------------------------------------------------------------------------------

    def load_secret(
        self, key_id: str, passphrase: str | bytes, *, allow_revoked: bool = False
    ) -> bytes:
        """The secret bytes of ``key_id``, decrypted with ``passphrase``.

        Raises
        ------
        VerificationFailed
            For a wrong passphrase or a modified, truncated or swapped secret file (one opaque
            message for all).
        UnsupportedParameter
            If the key is revoked and ``allow_revoked`` is false (set it only to re-key data
            away from the key).
        """
        info = self.info(key_id)
        pw = _passphrase_bytes(passphrase)
        if info.status is KeyStatus.REVOKED and not allow_revoked:
            raise UnsupportedParameter(
                f"key {info.key_id} is revoked; pass allow_revoked=True only to re-key data"
            )
        try:
            data = self._secret_path(info.key_id).read_bytes()
        except OSError as exc:
            raise IntegrityError(f"the secret file of key {info.key_id} is missing") from exc
        header, secret = _unseal(data, pw)
        if (
            header.key_id != info.key_id
            or header.scheme != info.scheme
            or header.public_sha256 != info.fingerprint
        ):
            raise VerificationFailed(_UNLOCK_FAILED)
        return secret

    def load_paillier_private(
        self, key_id: str, passphrase: str | bytes, *, allow_revoked: bool = False
    ) -> PaillierPrivateKey:
        """The Paillier private key ``key_id`` (see :meth:`load_secret` for the errors).

        Raises
        ------
        IntegrityError
            If the decrypted key does not match the stored public key.
        """
        info = self._require_scheme(key_id, _PAILLIER)
        secret = self.load_secret(info.key_id, passphrase, allow_revoked=allow_revoked)
        try:
            private = PaillierPrivateKey.from_bytes(secret, insecure_for_testing=self._insecure)
        except UnsupportedParameter:
            raise
        except InvalidInput as exc:
            raise IntegrityError(f"key {info.key_id} holds no valid Paillier private key") from exc
        if private.public_key.to_bytes() != self.public_bytes(info.key_id):
            raise IntegrityError(f"key {info.key_id}: private and public parts do not match")
        return private

    # -- life cycle --------------------------------------------------------------------------------

    def revoke(self, key_id: str, reason: str) -> KeyInfo:
        """Mark ``key_id`` revoked: :meth:`load_secret` refuses it from now on.

        A local record only: ciphertexts and public keys already shared stay valid elsewhere.
        Audit entry ``he.key.revoke``.

        Raises
        ------
        InvalidInput
            If the key is unknown or already revoked, or the reason is empty or too long.
        """
        reason = _check_text(reason, "reason", _MAX_REASON, empty_ok=False)
        info = self.info(key_id)
        now = self._now()
        with transaction(self._conn) as conn:
            row = conn.execute(
                "SELECT status FROM keys WHERE key_id = ?", (info.key_id,)
            ).fetchone()
            if row is None or row[0] == KeyStatus.REVOKED.value:
                raise InvalidInput(f"key {info.key_id} is already revoked")
            conn.execute(
                "UPDATE keys SET status = ?, status_changed = ?, revoked_reason = ? "
                "WHERE key_id = ?",
                (KeyStatus.REVOKED.value, now, reason, info.key_id),
            )
            self._record(
                "he.key.revoke",
                {
                    "key_id": info.key_id,
                    "scheme": info.scheme,
                    "fingerprint": info.fingerprint,
                    "previous_status": str(row[0]),
                    "reason": reason,
                },
            )
        return self.info(info.key_id)

    def _rotate(
        self,
        old: KeyInfo,
        *,
        secret: bytes,
        public: bytes,
        new_passphrase: bytes,
        note: str,
        extra: Mapping[str, Any],
    ) -> KeyInfo:
        with self._new_key(old.scheme, secret, public, new_passphrase) as (
            conn,
            key_id,
            fingerprint,
        ):
            row = conn.execute("SELECT status FROM keys WHERE key_id = ?", (old.key_id,)).fetchone()
            if row is None or row[0] != KeyStatus.ACTIVE.value:
                raise InvalidInput(f"key {old.key_id} is no longer active")
            info = self._insert(conn, key_id, old.scheme, fingerprint, note)
            conn.execute(
                "UPDATE keys SET status = ?, superseded_by = ?, status_changed = ? WHERE key_id = ?",
                (KeyStatus.ROTATED.value, key_id, info.created, old.key_id),
            )
            self._record(
                "he.key.rotate",
                {
                    "old_key_id": old.key_id,
                    "old_fingerprint": old.fingerprint,
                    "new_key_id": key_id,
                    "new_fingerprint": fingerprint,
                    "scheme": old.scheme,
                    "kdf": self._kdf.to_dict(),
                    **extra,
                },
            )
        return info

    def _active_for_rotation(self, key_id: str) -> KeyInfo:
        old = self.info(key_id)
        if old.status is KeyStatus.REVOKED:
            raise UnsupportedParameter(f"key {old.key_id} is revoked: generate a new key instead")
        if old.status is KeyStatus.ROTATED:
            raise InvalidInput(f"key {old.key_id} was already rotated to {old.superseded_by}")
        return old

    def rotate_paillier(
        self,
        old_id: str,
        old_passphrase: str | bytes,
        new_passphrase: str | bytes,
        *,
        bits: int | None = None,
        note: str = "",
        insecure_for_testing: bool = False,
    ) -> KeyInfo:
        """Generate a successor of Paillier key ``old_id`` and mark the old key rotated.

        The old passphrase must unlock the old key (proof of authority). The old key stays
        loadable (status ``rotated``, ``superseded_by`` the new id) so that data can be re-keyed
        with :func:`rekey_column`. ``bits`` defaults to the old key's size. Audit entry
        ``he.key.rotate``.
        """
        old = self._active_for_rotation(key_id=old_id)
        if old.scheme != _PAILLIER:
            raise InvalidInput(f"key {old.key_id} is a {old.scheme} key, not paillier")
        note = _check_text(note, "note", _MAX_NOTE, empty_ok=True)
        new_pw = _passphrase_bytes(new_passphrase)
        old_private = self.load_paillier_private(old.key_id, old_passphrase)
        size = old_private.bits if bits is None else bits
        private = PaillierPrivateKey.generate(
            size, self._rng, insecure_for_testing=insecure_for_testing or self._insecure
        )
        return self._rotate(
            old,
            secret=private.to_bytes(),
            public=private.public_key.to_bytes(),
            new_passphrase=new_pw,
            note=note,
            extra={"bits": private.bits},
        )

    def rotate_secret(
        self,
        old_id: str,
        old_passphrase: str | bytes,
        *,
        secret_bytes: bytes,
        public_bytes: bytes,
        new_passphrase: str | bytes,
        note: str = "",
    ) -> KeyInfo:
        """Store a caller-made successor of ``old_id`` (same scheme) and mark the old key rotated.

        For schemes whose keys this store does not generate (CKKS/BFV keyrings from
        :mod:`petsuite.he.seal`). Audit entry ``he.key.rotate``.
        """
        old = self._active_for_rotation(key_id=old_id)
        secret = _coerce_bytes(secret_bytes, "secret_bytes", _MAX_SECRET_BYTES)
        public = _coerce_bytes(public_bytes, "public_bytes", _MAX_PUBLIC_BYTES)
        note = _check_text(note, "note", _MAX_NOTE, empty_ok=True)
        new_pw = _passphrase_bytes(new_passphrase)
        self.load_secret(old.key_id, old_passphrase)
        return self._rotate(
            old, secret=secret, public=public, new_passphrase=new_pw, note=note, extra={}
        )

    def change_passphrase(
        self, key_id: str, old_passphrase: str | bytes, new_passphrase: str | bytes
    ) -> KeyInfo:
        """Re-encrypt ``key_id``'s secret under a new passphrase (fresh salt and nonce).

        Atomic: the file holds the old encryption or the new one. Audit entry
        ``he.key.passphrase``. Works for revoked keys too.

        Raises
        ------
        VerificationFailed
            If ``old_passphrase`` does not unlock the key.
        """
        info = self.info(key_id)
        new_pw = _passphrase_bytes(new_passphrase)
        secret = self.load_secret(info.key_id, old_passphrase, allow_revoked=True)
        sealed = _seal(
            scheme=info.scheme,
            key_id=info.key_id,
            public_sha256=info.fingerprint,
            secret=secret,
            passphrase=new_pw,
            kdf=self._kdf,
            rng=resolve(self._rng),
        )
        self._record(
            "he.key.passphrase",
            {
                "key_id": info.key_id,
                "scheme": info.scheme,
                "fingerprint": info.fingerprint,
                "kdf": self._kdf.to_dict(),
            },
        )
        atomic_write_bytes(self._secret_path(info.key_id), sealed, mode=0o600)
        return info


# --- encrypted columns ----------------------------------------------------------------------------

#: First bytes of an encrypted-column file.
COLUMN_MAGIC: Final = b"PSHECOL\x00"
_COLUMN_VERSION: Final = b"\x01"
_MAX_FRAC_BITS: Final = 64
_MAX_COLUMN_COUNT: Final = 1 << 32
_MIN_CT_BYTES: Final = 64
_MAX_CT_BYTES: Final = 2048
_CHECKSUM_BYTES: Final = 32
_DEFAULT_MAX_ABS: Final = 2**40


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    """A column of fixed-point numbers encrypted under one Paillier key, as stored in a file.

    File format (version 1)::

        COLUMN_MAGIC || parts(version, scheme, key_id, count, frac_bits, bound, ciphertext_size,
                              ciphertexts) || SHA-256(everything before)

    ``parts`` is :func:`~petsuite.core.encoding.encode_parts`; integers are big-endian. A value
    ``x`` is stored as the encrypted signed integer ``round(x·2^frac_bits)``, with
    ``|round(x·2^frac_bits)| ≤ bound``; sums computed on the ciphertexts must stay within ``bound``
    too (:class:`PaillierEncoder`'s ``max_abs``). The checksum catches accidental damage only:
    ciphertexts are not authenticated (Paillier is malleable). Public: holds no secret.

    Attributes
    ----------
    scheme, key_id, count, frac_bits, bound, ciphertext_size:
        The header fields.
    data:
        ``count`` fixed-length ciphertexts, concatenated.
    """

    scheme: str
    key_id: str
    count: int
    frac_bits: int
    bound: int
    ciphertext_size: int
    data: bytes

    def __post_init__(self) -> None:
        if self.scheme != _PAILLIER:
            raise InvalidInput(f"unsupported encrypted-column scheme {self.scheme!r}")
        _check_key_id(self.key_id)
        for name in ("count", "frac_bits", "bound", "ciphertext_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput(f"{name} must be an int")
        if not 0 <= self.count <= _MAX_COLUMN_COUNT:
            raise InvalidInput("column count out of range")
        if not 0 <= self.frac_bits <= _MAX_FRAC_BITS:
            raise InvalidInput(f"frac_bits must lie in [0, {_MAX_FRAC_BITS}]")
        if self.bound < 1:
            raise InvalidInput("bound must be positive")
        if not _MIN_CT_BYTES <= self.ciphertext_size <= _MAX_CT_BYTES:
            raise InvalidInput("ciphertext size out of range")
        if not isinstance(self.data, bytes) or len(self.data) != self.count * self.ciphertext_size:
            raise InvalidInput("ciphertext data does not match count × ciphertext size")

    @property
    def max_abs(self) -> float:
        """The bound in real units: ``bound / 2^frac_bits``."""
        return self.bound / (1 << self.frac_bits)

    def ciphertexts(self, public_key: PaillierPublicKey) -> list[PaillierCiphertext]:
        """The ciphertexts, validated under ``public_key``, which must be the column's key.

        Raises
        ------
        InvalidInput
            If ``public_key``'s id differs from :attr:`key_id` (both ids named), or a ciphertext
            is out of range for it.
        """
        if not isinstance(public_key, PaillierPublicKey):
            raise InvalidInput("expected a PaillierPublicKey")
        given = key_id_for(public_key.to_bytes())
        if given != self.key_id:
            raise InvalidInput(
                f"the column is encrypted under key {self.key_id}, not under key {given}"
            )
        size = self.ciphertext_size
        if size != public_key.ciphertext_bytes:
            raise InvalidInput(f"ciphertexts of key {self.key_id} are not {size} bytes long")
        out: list[PaillierCiphertext] = []
        for index, start in enumerate(range(0, len(self.data), size)):
            try:
                out.append(
                    PaillierCiphertext.from_bytes(public_key, self.data[start : start + size])
                )
            except InvalidInput as exc:
                raise InvalidInput(
                    f"ciphertext {index} is not valid under key {self.key_id} (the file's key): "
                    "it was encrypted under another key, or damaged"
                ) from exc
        return out

    def to_bytes(self) -> bytes:
        """The file encoding (see the class docstring)."""
        body = COLUMN_MAGIC + encode_parts(
            [
                _COLUMN_VERSION,
                self.scheme.encode("ascii"),
                self.key_id.encode("ascii"),
                i2osp(self.count, 8),
                i2osp(self.frac_bits, 1),
                self.bound.to_bytes((self.bound.bit_length() + 7) // 8, "big"),
                i2osp(self.ciphertext_size, 4),
                self.data,
            ]
        )
        return body + hashlib.sha256(body).digest()

    @classmethod
    def from_bytes(cls, data: bytes) -> EncryptedColumn:
        """Parse and validate a file's bytes.

        Raises
        ------
        InvalidInput
            On a wrong magic, unknown version, bad checksum, or any malformed field.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput("an encrypted column is bytes")
        raw = bytes(data)
        if len(raw) < len(COLUMN_MAGIC) + _CHECKSUM_BYTES or not raw.startswith(COLUMN_MAGIC):
            raise InvalidInput("not a petsuite encrypted-column file")
        body, checksum = raw[:-_CHECKSUM_BYTES], raw[-_CHECKSUM_BYTES:]
        if hashlib.sha256(body).digest() != checksum:
            raise InvalidInput("encrypted-column file is damaged (checksum mismatch)")
        parts = decode_parts(body[len(COLUMN_MAGIC) :])
        if len(parts) != 8:
            raise InvalidInput("encrypted-column file has the wrong number of fields")
        if parts[0] != _COLUMN_VERSION:
            raise InvalidInput("unsupported encrypted-column file version")
        if len(parts[3]) != 8 or len(parts[4]) != 1 or len(parts[6]) != 4:
            raise InvalidInput("encrypted-column header field has the wrong length")
        if not parts[5] or parts[5][0] == 0:
            raise InvalidInput("non-canonical bound encoding")
        try:
            scheme = parts[1].decode("ascii")
            key_id = parts[2].decode("ascii")
        except UnicodeDecodeError as exc:
            raise InvalidInput("encrypted-column header is not ASCII") from exc
        return cls(
            scheme=scheme,
            key_id=key_id,
            count=int.from_bytes(parts[3], "big"),
            frac_bits=parts[4][0],
            bound=int.from_bytes(parts[5], "big"),
            ciphertext_size=int.from_bytes(parts[6], "big"),
            data=parts[7],
        )

    def __repr__(self) -> str:
        return (
            f"EncryptedColumn(scheme={self.scheme!r}, key_id={self.key_id!r}, count={self.count}, "
            f"frac_bits={self.frac_bits}, bound={self.bound})"
        )


def _fixed_point(value: object, index: int, frac_bits: int, bound: int) -> int:
    """``round(value·2^frac_bits)`` (ties to even), within ``±bound``. Never echoes the value."""
    if isinstance(value, bool) or not isinstance(value, int | float | Fraction):
        raise InvalidInput(f"values[{index}] is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"values[{index}] is NaN or infinite")
    scaled = round(Fraction(value) * (1 << frac_bits))
    if abs(scaled) > bound:
        raise InvalidInput(f"values[{index}] lies outside ±max_abs")
    return scaled


def _encoder(public_key: PaillierPublicKey, bound: int, key_id: str) -> PaillierEncoder:
    try:
        return PaillierEncoder(public_key, bound)
    except InvalidInput as exc:
        raise UnsupportedParameter(f"the column's bound is too large for key {key_id}") from exc


def _encrypt_column(
    public_key: PaillierPublicKey,
    scaled: Sequence[int],
    *,
    frac_bits: int,
    bound: int,
    rng: RandomSource | None,
    workers: int | None,
) -> EncryptedColumn:
    key_id = key_id_for(public_key.to_bytes())
    encoder = _encoder(public_key, bound, key_id)
    plaintexts = [encoder.encode(v) for v in scaled]
    cts = encrypt_vector(public_key, plaintexts, rng=rng, workers=workers)
    return EncryptedColumn(
        scheme=_PAILLIER,
        key_id=key_id,
        count=len(cts),
        frac_bits=frac_bits,
        bound=bound,
        ciphertext_size=public_key.ciphertext_bytes,
        data=b"".join(c.to_bytes() for c in cts),
    )


def write_encrypted_column(
    path: Path | str,
    public_key: PaillierPublicKey,
    values: Sequence[float],
    *,
    frac_bits: int = 16,
    max_abs: float = _DEFAULT_MAX_ABS,
    rng: RandomSource | None = None,
    workers: int | None = None,
    mode: int = 0o600,
) -> EncryptedColumn:
    """Encrypt ``values`` as fixed-point numbers under ``public_key`` and write them atomically.

    Parameters
    ----------
    frac_bits:
        Precision ``2^-frac_bits``; values are rounded to it (ties to even).
    max_abs:
        Bound on ``|x|`` for every value and for every sum later computed on the column; stored as
        ``bound = ⌈max_abs·2^frac_bits⌉``. Keep ``2·bound`` far below ``n``.

    Raises
    ------
    InvalidInput
        For a value that is not a finite number within ``±max_abs`` (the message names its index,
        never the value); :class:`UnsupportedParameter` for a bound too large for the key.
    """
    if not isinstance(public_key, PaillierPublicKey):
        raise InvalidInput("expected a PaillierPublicKey")
    if isinstance(frac_bits, bool) or not isinstance(frac_bits, int):
        raise InvalidInput("frac_bits must be an int")
    if not 0 <= frac_bits <= _MAX_FRAC_BITS:
        raise InvalidInput(f"frac_bits must lie in [0, {_MAX_FRAC_BITS}]")
    if isinstance(max_abs, bool) or not isinstance(max_abs, int | float | Fraction):
        raise InvalidInput("max_abs must be a number")
    if isinstance(max_abs, float) and not math.isfinite(max_abs):
        raise InvalidInput("max_abs must be finite")
    bound = math.ceil(Fraction(max_abs) * (1 << frac_bits))
    if bound < 1:
        raise InvalidInput("max_abs must be positive")
    if isinstance(values, str | bytes | bytearray):
        raise InvalidInput("values must be a sequence of numbers")
    scaled = [_fixed_point(v, i, frac_bits, bound) for i, v in enumerate(values)]
    column = _encrypt_column(
        public_key, scaled, frac_bits=frac_bits, bound=bound, rng=rng, workers=workers
    )
    atomic_write_bytes(path, column.to_bytes(), mode=mode)
    return column


def read_encrypted_column(path: Path | str) -> EncryptedColumn:
    """Read and validate an encrypted-column file.

    Raises
    ------
    InvalidInput
        If the file is missing, not an encrypted column, damaged or of an unknown version.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read encrypted column {Path(path).name}") from exc
    return EncryptedColumn.from_bytes(data)


def _decrypt_scaled(
    column: EncryptedColumn, private_key: PaillierPrivateKey, workers: int | None
) -> list[int]:
    if not isinstance(column, EncryptedColumn):
        raise InvalidInput("expected an EncryptedColumn")
    if not isinstance(private_key, PaillierPrivateKey):
        raise InvalidInput("expected a PaillierPrivateKey")
    public_key = private_key.public_key
    cts = column.ciphertexts(public_key)
    encoder = _encoder(public_key, column.bound, column.key_id)
    plaintexts = decrypt_vector(private_key, cts, workers=workers)
    out: list[int] = []
    for i, m in enumerate(plaintexts):
        try:
            out.append(encoder.decode(m))
        except InvalidInput as exc:
            raise InvalidInput(
                f"ciphertext {i} does not decrypt under key {column.key_id} (the file's key): "
                "it was encrypted under another key, damaged, or a sum left ±bound"
            ) from exc
    return out


def decrypt_column(
    column: EncryptedColumn, private_key: PaillierPrivateKey, *, workers: int | None = None
) -> list[float]:
    """The column's values (``round(x·2^frac_bits) / 2^frac_bits``) as floats.

    Raises
    ------
    InvalidInput
        If ``private_key`` is not the column's key (both ids named), or a ciphertext does not
        decrypt to a value within ``±bound`` (encrypted under another key, or damaged).
    """
    scale = 1 << column.frac_bits
    return [v / scale for v in _decrypt_scaled(column, private_key, workers)]


def rekey_column(  # noqa: PLR0917 - the six positional arguments read as one sentence
    path: Path | str,
    store: KeyStore,
    old_id: str,
    old_passphrase: str | bytes,
    new_id: str,
    new_passphrase: str | bytes,
    *,
    rng: RandomSource | None = None,
    workers: int | None = None,
) -> None:
    """Re-encrypt the column file at ``path`` from key ``old_id`` to key ``new_id``, atomically.

    Decrypts with the old key (allowed even if it is revoked: moving data off a withdrawn key is
    the point), re-encrypts the same fixed-point integers under the new key, and replaces the file
    in one rename, keeping its mode. The new key must be active and unlock with
    ``new_passphrase`` (so that data is never moved to a key nobody can open). Audit entry
    ``he.rekey`` (file name, key ids, fingerprints, count, digests of both files) is written
    before the file is replaced.

    Raises
    ------
    InvalidInput
        If the file is under another key than ``old_id`` (both ids named), or a ciphertext does not
        decrypt under the old key.
    UnsupportedParameter
        If the new key is not active or not a Paillier key of this store.
    VerificationFailed
        If a passphrase is wrong.
    """
    if not isinstance(store, KeyStore):
        raise InvalidInput("store must be a KeyStore")
    target = Path(path)
    old_id, new_id = _check_key_id(old_id), _check_key_id(new_id)
    if old_id == new_id:
        raise InvalidInput("the old and new key are the same")
    try:
        original = target.read_bytes()
        mode = os.stat(target).st_mode & 0o777
    except OSError as exc:
        raise InvalidInput(f"cannot read encrypted column {target.name}") from exc
    column = EncryptedColumn.from_bytes(original)
    if column.key_id != old_id:
        raise InvalidInput(
            f"{target.name} is encrypted under key {column.key_id}, not under key {old_id}"
        )
    old_info = store._require_scheme(old_id, _PAILLIER)
    new_info = store._require_scheme(new_id, _PAILLIER)
    if new_info.status is not KeyStatus.ACTIVE:
        raise UnsupportedParameter(f"key {new_id} is {new_info.status.value}, not active")
    old_private = store.load_paillier_private(old_id, old_passphrase, allow_revoked=True)
    new_private = store.load_paillier_private(new_id, new_passphrase)
    scaled = _decrypt_scaled(column, old_private, workers)
    fresh = _encrypt_column(
        new_private.public_key,
        scaled,
        frac_bits=column.frac_bits,
        bound=column.bound,
        rng=rng,
        workers=workers,
    )
    if scaled:  # spot check: the first value decrypts under the new key
        first = replace(fresh, count=1, data=fresh.data[: fresh.ciphertext_size])
        if _decrypt_scaled(first, new_private, 1) != scaled[:1]:  # pragma: no cover - defensive
            raise IntegrityError("re-encryption check failed")
    encoded = fresh.to_bytes()
    store._record(
        "he.rekey",
        {
            "file": target.name,
            "old_key_id": old_id,
            "old_fingerprint": old_info.fingerprint,
            "new_key_id": new_id,
            "new_fingerprint": new_info.fingerprint,
            "count": column.count,
            "old_file_sha256": hashlib.sha256(original).hexdigest(),
            "new_file_sha256": hashlib.sha256(encoded).hexdigest(),
        },
    )
    atomic_write_bytes(target, encoded, mode=mode)
