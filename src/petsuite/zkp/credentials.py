"""Issuer keys, signed commitments to attributes ("credentials"), trust stores and the holder's wallet.

An *issuer* (a registry that has seen a passport, a bank that holds an account) checks one
attribute of a person and signs a Pedersen commitment to it with Ed25519:

* ``age`` credentials commit to the date of birth as an integer: days since 1970-01-01;
* ``balance`` credentials commit to a balance as an integer in minor units (pence, cents).

The signature covers a canonical encoding (:meth:`Credential.signed_bytes`) of the format version,
the credential type, the issuer id (SHA-256 of the issuer's raw Ed25519 public key), the attribute
name, the commitment, and the issue and expiry dates. The holder keeps the opening (value and
blinding) and later proves predicates on the committed value (:mod:`petsuite.zkp.presentation`).

Unlinkability: credential books
-------------------------------
Ed25519 can only sign a value the signer sees, so every presentation of one signed commitment shows
that same commitment, and two presentations of it are linkable by anyone who sees both. Signatures
that let the holder re-randomise a signed commitment (BBS+, CL signatures) need a pairing-friendly
curve, which ristretto255 is not. Instead the issuer signs a *book* of ``N`` commitments to the same
value with fresh, independent blindings, and the holder's :class:`Wallet` hands out each one for a
single presentation only (marked used atomically). Presentations made from different book entries
are unlinkable to each other: the commitments are independent uniformly random group elements. What
remains:

* the issuer saw every commitment of the book, so an issuer who colludes with a verifier can link a
  presentation to the issuance (and so to the person);
* when the book runs out, the holder must ask for a new one (reusing an entry links);
* a verifier learns the issuer, the credential type, the validity dates and the predicate proved.

Threat model
------------
The issuer is trusted to have checked the attribute correctly and to keep its signing key secret.
Verifiers trust issuers through a :class:`TrustStore` (name, public key, validity window). The
holder's book and wallet contain the openings: whoever reads them can make presentations in the
holder's name and learns the attribute. They are written with mode 0600 and must be protected like
a private key. A credential is not bound to a holder key: a holder can hand a book to someone else
(bind a presentation to an account key with an ownership proof when that matters).
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NoReturn

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization as crypto_serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from petsuite.core.encoding import encode_parts, i2osp
from petsuite.core.errors import (
    IntegrityError,
    InvalidInput,
    PolicyViolation,
    VerificationFailed,
)
from petsuite.core.rng import RandomSource, resolve
from petsuite.core.store import atomic_write_bytes, ensure_schema, open_database, transaction
from petsuite.primitives.group import Point, Scalar
from petsuite.zkp import serialization
from petsuite.zkp.pedersen import PedersenParams, commit
from petsuite.zkp.serialization import b64encode, dumps, loads

__all__ = [
    "ATTRIBUTES",
    "BOOK_KIND",
    "CREDENTIAL_VERSION",
    "EPOCH",
    "MAX_BOOK_SIZE",
    "TRUST_STORE_KIND",
    "AccountKey",
    "BookEntry",
    "Credential",
    "CredentialBook",
    "CredentialType",
    "IssuerKey",
    "IssuerPublicKey",
    "TrustStore",
    "TrustedIssuer",
    "Wallet",
    "attribute_value",
    "b64decode",
    "b64encode",
    "days_since_epoch",
    "default_validity",
    "issue_book",
    "parse_iso_date",
]

#: Version of the signed credential encoding (bound in the signature and in every transcript).
CREDENTIAL_VERSION = 1
#: Day zero of date attributes.
EPOCH = date(1970, 1, 1)
#: The most credentials one book may hold.
MAX_BOOK_SIZE = 10_000
BOOK_KIND = "zkp-credential-book"
TRUST_STORE_KIND = "zkp-trust-store"
ACCOUNT_KEY_KIND = "zkp-account-key"
_SIGN_DOMAIN = b"petsuite/zkp/credential/v1"
_ID_BYTES = 32
_SIG_BYTES = 64
_MAX_NAME = 64


class CredentialType(enum.StrEnum):
    """What the issuer attests."""

    AGE = "age"
    BALANCE = "balance"

    @classmethod
    def _missing_(cls, value: object) -> NoReturn:
        raise InvalidInput(f"unknown credential type {str(value)[:32]!r}: use age or balance")


#: The attribute each credential type commits to.
ATTRIBUTES: Mapping[CredentialType, str] = {
    CredentialType.AGE: "date_of_birth",
    CredentialType.BALANCE: "balance",
}

#: Bounds on committed values: dates within 1000 years of the epoch, balances within ±2**64.
_VALUE_BOUNDS: Mapping[CredentialType, tuple[int, int]] = {
    CredentialType.AGE: (-(1000 * 366), 1000 * 366),
    CredentialType.BALANCE: (-(2**64) + 1, 2**64 - 1),
}


# --------------------------------------------------------------------------- encodings


def b64decode(text: object, what: str = "value") -> bytes:
    """:func:`petsuite.zkp.serialization.b64decode` for local files: raises :class:`InvalidInput`."""
    return serialization.b64decode(text, what, error=InvalidInput)


def _hex(text: object, length: int, what: str) -> bytes:
    if not isinstance(text, str) or len(text) != 2 * length or text != text.lower():
        raise InvalidInput(f"{what} must be {2 * length} lowercase hex digits")
    try:
        out = bytes.fromhex(text)
    except ValueError as exc:
        raise InvalidInput(f"{what} must be hex") from exc
    if len(out) != length:  # fromhex skips whitespace
        raise InvalidInput(f"{what} must be {2 * length} lowercase hex digits")
    return out


def parse_iso_date(text: object, what: str) -> date:
    """An exact ``YYYY-MM-DD`` date; anything else raises :class:`InvalidInput` naming ``what``."""
    if not isinstance(text, str) or len(text) != 10:
        raise InvalidInput(f"{what} must be an ISO date YYYY-MM-DD")
    try:
        value = date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{what} must be an ISO date YYYY-MM-DD") from exc
    if value.isoformat() != text:
        raise InvalidInput(f"{what} must be an ISO date YYYY-MM-DD")
    return value


def _int(value: object, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidInput(f"{what} must be an integer in [{lo}, {hi}]")
    return value


def _str(value: object, what: str, max_len: int = _MAX_NAME) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= max_len or not value.isprintable():
        raise InvalidInput(f"{what} must be printable text of 1 to {max_len} characters")
    return value


def _exact_keys(obj: object, keys: Iterable[str], what: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise InvalidInput(f"{what} must be a JSON object")
    expected = set(keys)
    if set(obj) != expected:
        raise InvalidInput(f"{what} must have exactly the fields {sorted(expected)}")
    return obj


def days_since_epoch(day: date) -> int:
    """Days from 1970-01-01 to ``day`` (negative before 1970)."""
    if not isinstance(day, date):
        raise InvalidInput("expected a datetime.date")
    return (day - EPOCH).days


def attribute_value(credential_type: CredentialType, value: date | int) -> int:
    """The integer an issuer commits to: days since the epoch for a date of birth, else the
    balance in minor units."""
    credential_type = CredentialType(credential_type)
    if credential_type is CredentialType.AGE:
        if not isinstance(value, date):
            raise InvalidInput("an age credential needs the date of birth as a date")
        out = days_since_epoch(value)
    else:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput("a balance credential needs an integer amount in minor units")
        out = value
    lo, hi = _VALUE_BOUNDS[credential_type]
    if not lo <= out <= hi:
        raise InvalidInput(f"the {ATTRIBUTES[credential_type]} is out of range")
    return out


# --------------------------------------------------------------------------- issuer keys


@dataclass(frozen=True, slots=True)
class IssuerPublicKey:
    """An issuer's Ed25519 public key (32 raw bytes). Its id is the SHA-256 of those bytes."""

    raw: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or len(self.raw) != 32:
            raise InvalidInput("an Ed25519 public key is 32 bytes")

    @property
    def issuer_id(self) -> bytes:
        """SHA-256 of the raw public key: how credentials name their issuer."""
        return hashlib.sha256(self.raw).digest()

    def to_pem(self) -> bytes:
        """SubjectPublicKeyInfo PEM (``-----BEGIN PUBLIC KEY-----``)."""
        key = Ed25519PublicKey.from_public_bytes(self.raw)
        return key.public_bytes(
            crypto_serialization.Encoding.PEM,
            crypto_serialization.PublicFormat.SubjectPublicKeyInfo,
        )

    @classmethod
    def from_pem(cls, data: bytes) -> IssuerPublicKey:
        """Load a PEM public key; anything but Ed25519 raises :class:`InvalidInput`."""
        try:
            key = crypto_serialization.load_pem_public_key(data)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise InvalidInput("not a PEM public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidInput("the issuer key must be Ed25519")
        return cls(key.public_bytes_raw())

    def verify(self, signature: bytes, message: bytes) -> None:
        """Check an Ed25519 signature; raises :class:`VerificationFailed`."""
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except (InvalidSignature, ValueError) as exc:
            raise VerificationFailed() from exc


class IssuerKey:
    """An issuer's Ed25519 signing key. Secret: store it with :meth:`save` (mode 0600)."""

    __slots__ = ("_key",)

    def __init__(self, key: Ed25519PrivateKey) -> None:
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidInput("expected an Ed25519 private key")
        self._key = key

    @classmethod
    def generate(cls, rng: RandomSource | None = None) -> IssuerKey:
        """A fresh key from 32 bytes of ``rng`` (the OS CSPRNG by default)."""
        return cls(Ed25519PrivateKey.from_private_bytes(resolve(rng).random_bytes(32)))

    @property
    def public_key(self) -> IssuerPublicKey:
        return IssuerPublicKey(self._key.public_key().public_bytes_raw())

    @property
    def issuer_id(self) -> bytes:
        return self.public_key.issuer_id

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def to_pem(self, passphrase: bytes | None = None) -> bytes:
        """PKCS#8 PEM, encrypted with ``passphrase`` when given."""
        encryption: crypto_serialization.KeySerializationEncryption = (
            crypto_serialization.NoEncryption()
            if passphrase is None
            else crypto_serialization.BestAvailableEncryption(passphrase)
        )
        return self._key.private_bytes(
            crypto_serialization.Encoding.PEM, crypto_serialization.PrivateFormat.PKCS8, encryption
        )

    @classmethod
    def from_pem(cls, data: bytes, passphrase: bytes | None = None) -> IssuerKey:
        try:
            key = crypto_serialization.load_pem_private_key(data, password=passphrase)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise InvalidInput("not a (correctly decrypted) PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidInput("the issuer key must be Ed25519")
        return cls(key)

    def save(self, path: Path | str, passphrase: bytes | None = None) -> None:
        """Write the PKCS#8 PEM atomically with mode 0600; refuses to overwrite."""
        p = Path(path)
        if p.exists():
            raise InvalidInput(f"{p} exists: refusing to overwrite an issuer key")
        atomic_write_bytes(p, self.to_pem(passphrase), mode=0o600)

    @classmethod
    def load(cls, path: Path | str, passphrase: bytes | None = None) -> IssuerKey:
        return cls.from_pem(_read(Path(path), "issuer key"), passphrase)

    def __repr__(self) -> str:
        return f"IssuerKey(id={self.issuer_id.hex()[:16]}…)"


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc.strerror or exc}") from exc


# --------------------------------------------------------------------------- credentials


@dataclass(frozen=True, slots=True)
class Credential:
    """An issuer's signature on a commitment to one attribute. Public: verifiers see all of it."""

    credential_type: CredentialType
    issuer_id: bytes
    attribute: str
    commitment: Point
    issued: date
    expires: date
    signature: bytes
    version: int = CREDENTIAL_VERSION

    def signed_bytes(self) -> bytes:
        """The canonical encoding the issuer signs."""
        return encode_parts(
            [
                _SIGN_DOMAIN,
                i2osp(self.version, 2),
                self.credential_type.value.encode("ascii"),
                self.issuer_id,
                self.attribute.encode("ascii"),
                self.commitment.to_bytes(),
                self.issued.isoformat().encode("ascii"),
                self.expires.isoformat().encode("ascii"),
            ]
        )

    def encoded(self) -> bytes:
        """Signed bytes and signature together: what transcripts bind."""
        return encode_parts([self.signed_bytes(), self.signature])

    @property
    def credential_id(self) -> bytes:
        """SHA-256 of :meth:`encoded`: names one book entry (and, once shown, links its uses)."""
        return hashlib.sha256(self.encoded()).digest()

    def verify_signature(self, public_key: IssuerPublicKey) -> None:
        """Check the issuer's signature and that the key is the one the id names."""
        if public_key.issuer_id != self.issuer_id:
            raise VerificationFailed()
        public_key.verify(self.signature, self.signed_bytes())

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "type": self.credential_type.value,
            "issuer": self.issuer_id.hex(),
            "attribute": self.attribute,
            "commitment": b64encode(self.commitment.to_bytes()),
            "issued": self.issued.isoformat(),
            "expires": self.expires.isoformat(),
            "signature": b64encode(self.signature),
        }

    @classmethod
    def from_dict(cls, obj: object) -> Credential:
        """Parse strictly (exact fields, canonical encodings); raises :class:`InvalidInput`.

        The signature is not checked here: see :meth:`verify_signature`.
        """
        d = _exact_keys(
            obj,
            ("version", "type", "issuer", "attribute", "commitment", "issued", "expires",
             "signature"),
            "credential",
        )  # fmt: skip
        version = _int(d["version"], "credential version", 0, 65535)
        if version != CREDENTIAL_VERSION:
            raise InvalidInput(f"credential version {version} is not supported")
        kind = d["type"]
        if not isinstance(kind, str) or kind not in {t.value for t in CredentialType}:
            raise InvalidInput("unknown credential type")
        credential_type = CredentialType(kind)
        attribute = d["attribute"]
        if attribute != ATTRIBUTES[credential_type]:
            raise InvalidInput("attribute does not match the credential type")
        signature = b64decode(d["signature"], "signature")
        if len(signature) != _SIG_BYTES:
            raise InvalidInput("an Ed25519 signature is 64 bytes")
        issued = parse_iso_date(d["issued"], "issued")
        expires = parse_iso_date(d["expires"], "expires")
        if expires < issued:
            raise InvalidInput("a credential cannot expire before it is issued")
        return cls(
            credential_type=credential_type,
            issuer_id=_hex(d["issuer"], _ID_BYTES, "issuer id"),
            attribute=str(attribute),
            commitment=Point.from_bytes(b64decode(d["commitment"], "commitment")),
            issued=issued,
            expires=expires,
            signature=signature,
            version=version,
        )


@dataclass(frozen=True, slots=True)
class BookEntry:
    """One credential and its opening. ``value`` and ``blinding`` are the holder's secrets."""

    credential: Credential
    value: int
    blinding: Scalar

    def check_opening(self, params: PedersenParams | None = None) -> None:
        """Raise :class:`InvalidInput` unless the opening matches the commitment."""
        if commit(Scalar.from_int(self.value), self.blinding, params) != self.credential.commitment:
            raise InvalidInput("the opening does not match the credential's commitment")

    def __repr__(self) -> str:
        return f"BookEntry({self.credential.credential_type.value}, <opening hidden>)"


@dataclass(frozen=True, slots=True)
class CredentialBook:
    """Single-use credentials on one attribute value, as the issuer hands them to the holder.

    The JSON form (:meth:`to_json`) holds the openings: it is as secret as the attribute itself.
    """

    entries: tuple[BookEntry, ...]

    def __post_init__(self) -> None:
        if not self.entries or len(self.entries) > MAX_BOOK_SIZE:
            raise InvalidInput(f"a book holds 1 to {MAX_BOOK_SIZE} credentials")
        first = self.entries[0]
        for entry in self.entries:
            cred = entry.credential
            if (
                cred.credential_type is not first.credential.credential_type
                or cred.issuer_id != first.credential.issuer_id
                or entry.value != first.value
            ):
                raise InvalidInput("a book holds credentials of one type, issuer and value")

    @property
    def credential_type(self) -> CredentialType:
        return self.entries[0].credential.credential_type

    @property
    def issuer_id(self) -> bytes:
        return self.entries[0].credential.issuer_id

    def to_json(self) -> str:
        body = {
            "entries": [
                {
                    "credential": e.credential.to_dict(),
                    "value": e.value,
                    "blinding": b64encode(e.blinding.to_bytes()),
                }
                for e in self.entries
            ]
        }
        return dumps(BOOK_KIND, 1, body)

    @classmethod
    def from_json(cls, text: str | bytes, params: PedersenParams | None = None) -> CredentialBook:
        """Parse a book and check every opening against its commitment (:class:`InvalidInput`)."""
        try:
            body = loads(text, BOOK_KIND, versions={1})
        except VerificationFailed as exc:
            raise InvalidInput("not a credential book") from exc
        d = _exact_keys(body, ("entries",), "credential book")
        raw_entries = d["entries"]
        if not isinstance(raw_entries, list) or not 0 < len(raw_entries) <= MAX_BOOK_SIZE:
            raise InvalidInput("a credential book needs a list of entries")
        entries = []
        for raw in raw_entries:
            e = _exact_keys(raw, ("credential", "value", "blinding"), "book entry")
            credential = Credential.from_dict(e["credential"])
            lo, hi = _VALUE_BOUNDS[credential.credential_type]
            entry = BookEntry(
                credential=credential,
                value=_int(e["value"], "value", lo, hi),
                blinding=Scalar.from_bytes(b64decode(e["blinding"], "blinding")),
            )
            entry.check_opening(params)
            entries.append(entry)
        return cls(tuple(entries))

    def save(self, path: Path | str) -> None:
        """Write atomically with mode 0600 (the file holds the openings)."""
        atomic_write_bytes(Path(path), self.to_json().encode("utf-8"), mode=0o600)

    @classmethod
    def load(cls, path: Path | str) -> CredentialBook:
        return cls.from_json(_read(Path(path), "credential book"))

    def __repr__(self) -> str:
        return f"CredentialBook({self.credential_type.value}, {len(self.entries)} entries)"


def issue_book(
    issuer: IssuerKey,
    credential_type: CredentialType | str,
    value: date | int,
    *,
    issued: date,
    expires: date,
    count: int = 20,
    params: PedersenParams | None = None,
    rng: RandomSource | None = None,
) -> CredentialBook:
    """Sign ``count`` commitments to one checked attribute value, each with a fresh blinding.

    Parameters
    ----------
    value:
        The date of birth (``age``) or the balance in minor units (``balance``), as the issuer has
        checked it. The issuer learns it, by definition; nobody else does.
    issued, expires:
        The validity window written into each credential (inclusive).
    count:
        How many single-use presentations the holder can make before asking for a new book.
    """
    credential_type = CredentialType(credential_type)
    number = attribute_value(credential_type, value)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= MAX_BOOK_SIZE:
        raise InvalidInput(f"count must be in [1, {MAX_BOOK_SIZE}]")
    if not isinstance(issued, date) or not isinstance(expires, date) or expires < issued:
        raise InvalidInput("expires must be a date on or after issued")
    source = resolve(rng)
    entries = []
    for _ in range(count):
        blinding = Scalar.random(source)
        unsigned = Credential(
            credential_type=credential_type,
            issuer_id=issuer.issuer_id,
            attribute=ATTRIBUTES[credential_type],
            commitment=commit(Scalar.from_int(number), blinding, params),
            issued=issued,
            expires=expires,
            signature=b"",
        )
        signed = Credential(
            credential_type=unsigned.credential_type,
            issuer_id=unsigned.issuer_id,
            attribute=unsigned.attribute,
            commitment=unsigned.commitment,
            issued=issued,
            expires=expires,
            signature=issuer.sign(unsigned.signed_bytes()),
        )
        entries.append(BookEntry(signed, number, blinding))
    return CredentialBook(tuple(entries))


# --------------------------------------------------------------------------- trust store


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """An issuer a verifier accepts, and the dates between which it accepts it (inclusive)."""

    name: str
    public_key: IssuerPublicKey
    not_before: date
    not_after: date

    @property
    def issuer_id(self) -> bytes:
        return self.public_key.issuer_id


class TrustStore:
    """The issuers a verifier trusts: a JSON file mapping a name to a public key and validity.

    ::

        {"kind": "zkp-trust-store", "version": 1, "body": {"issuers": {
            "<name>": {"public_key": "<base64url of the raw Ed25519 key>",
                       "not_before": "YYYY-MM-DD", "not_after": "YYYY-MM-DD"}}}}

    (the envelope is :func:`petsuite.zkp.serialization.dumps`'s). A credential is accepted only if
    its issuer is listed and both its issue date and the presentation date fall in the window.
    """

    def __init__(self, issuers: Iterable[TrustedIssuer] = ()) -> None:
        self._by_name: dict[str, TrustedIssuer] = {}
        for issuer in issuers:
            self.add(issuer)

    def add(self, issuer: TrustedIssuer) -> None:
        _str(issuer.name, "issuer name")
        if issuer.not_after < issuer.not_before:
            raise InvalidInput("not_after must be on or after not_before")
        if any(
            other.issuer_id == issuer.issuer_id and other.name != issuer.name
            for other in self._by_name.values()
        ):
            raise InvalidInput("this public key is already trusted under another name")
        self._by_name[issuer.name] = issuer

    def remove(self, name: str) -> None:
        if name not in self._by_name:
            raise InvalidInput(f"no trusted issuer named {name!r}")
        del self._by_name[name]

    def __iter__(self) -> Iterator[TrustedIssuer]:
        return iter(sorted(self._by_name.values(), key=lambda i: i.name))

    def __len__(self) -> int:
        return len(self._by_name)

    def find(self, issuer_id: bytes, *, on: date) -> TrustedIssuer:
        """The trusted issuer with this id, valid on ``on``; else :class:`VerificationFailed`."""
        for issuer in self._by_name.values():
            if issuer.issuer_id == issuer_id:
                if issuer.not_before <= on <= issuer.not_after:
                    return issuer
                raise VerificationFailed()
        raise VerificationFailed()

    def to_json(self) -> str:
        body = {
            "issuers": {
                i.name: {
                    "public_key": b64encode(i.public_key.raw),
                    "not_before": i.not_before.isoformat(),
                    "not_after": i.not_after.isoformat(),
                }
                for i in self
            }
        }
        return dumps(TRUST_STORE_KIND, 1, body)

    @classmethod
    def from_json(cls, text: str | bytes) -> TrustStore:
        try:
            body = loads(text, TRUST_STORE_KIND, versions={1})
        except VerificationFailed as exc:
            raise InvalidInput("not a trust store") from exc
        d = _exact_keys(body, ("issuers",), "trust store")
        raw = d["issuers"]
        if not isinstance(raw, Mapping):
            raise InvalidInput("trust store issuers must be an object")
        store = cls()
        for name, entry in raw.items():
            e = _exact_keys(entry, ("public_key", "not_before", "not_after"), "trusted issuer")
            store.add(
                TrustedIssuer(
                    name=_str(name, "issuer name"),
                    public_key=IssuerPublicKey(b64decode(e["public_key"], "public key")),
                    not_before=parse_iso_date(e["not_before"], "not_before"),
                    not_after=parse_iso_date(e["not_after"], "not_after"),
                )
            )
        return store

    def save(self, path: Path | str) -> None:
        atomic_write_bytes(Path(path), self.to_json().encode("utf-8"), mode=0o644)

    @classmethod
    def load(cls, path: Path | str) -> TrustStore:
        return cls.from_json(_read(Path(path), "trust store"))


# --------------------------------------------------------------------------- account keys


class AccountKey:
    """A ristretto255 key pair for an account or asset: ``public = secret * B``.

    Ownership presentations prove knowledge of ``secret`` without revealing it. Secret: keep the
    file (mode 0600) like any private key.
    """

    __slots__ = ("_public", "_secret")

    def __init__(self, secret: Scalar) -> None:
        if not isinstance(secret, Scalar) or secret.is_zero():
            raise InvalidInput("an account secret is a non-zero Scalar")
        self._secret = secret
        self._public = Point.base_mul(secret)

    @classmethod
    def generate(cls, rng: RandomSource | None = None) -> AccountKey:
        return cls(Scalar.random(rng))

    @property
    def secret(self) -> Scalar:
        return self._secret

    @property
    def public_key(self) -> Point:
        return self._public

    def to_json(self) -> str:
        body = {
            "secret": b64encode(self._secret.to_bytes()),
            "public_key": b64encode(self._public.to_bytes()),
        }
        return dumps(ACCOUNT_KEY_KIND, 1, body)

    @classmethod
    def from_json(cls, text: str | bytes) -> AccountKey:
        try:
            body = loads(text, ACCOUNT_KEY_KIND, versions={1})
        except VerificationFailed as exc:
            raise InvalidInput("not an account key file") from exc
        d = _exact_keys(body, ("secret", "public_key"), "account key")
        key = cls(Scalar.from_bytes(b64decode(d["secret"], "secret")))
        if key.public_key.to_bytes() != b64decode(d["public_key"], "public key"):
            raise InvalidInput("the account key file is inconsistent")
        return key

    def save(self, path: Path | str) -> None:
        p = Path(path)
        if p.exists():
            raise InvalidInput(f"{p} exists: refusing to overwrite an account key")
        atomic_write_bytes(p, self.to_json().encode("utf-8"), mode=0o600)

    @classmethod
    def load(cls, path: Path | str) -> AccountKey:
        return cls.from_json(_read(Path(path), "account key"))

    def __repr__(self) -> str:
        return f"AccountKey(public={self._public.to_bytes().hex()[:16]}…)"


# --------------------------------------------------------------------------- wallet

_WALLET_SCHEMA = """
CREATE TABLE IF NOT EXISTS wallet_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS wallet_credentials (
    seq INTEGER PRIMARY KEY,
    credential_id TEXT NOT NULL UNIQUE,
    credential_type TEXT NOT NULL,
    issuer_id TEXT NOT NULL,
    issued TEXT NOT NULL,
    expires TEXT NOT NULL,
    credential TEXT NOT NULL,
    value TEXT NOT NULL,
    blinding TEXT NOT NULL,
    used_on TEXT
);
"""


class Wallet:
    """The holder's credentials in a SQLite file (mode 0600), each handed out once.

    :meth:`take` picks an unused, currently valid credential and marks it used in the same
    ``BEGIN IMMEDIATE`` transaction, so two processes never present the same book entry. An entry
    is marked used before any proof is made: a failed presentation burns it, which is the safe
    direction (a reused entry links presentations).

    The file holds the openings (the attribute value itself): protect it like a private key.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.close(fd)
        self._conn = open_database(self.path)
        ensure_schema(
            self._conn, _WALLET_SCHEMA, meta_table="wallet_meta", version="1",
            what=f"credential wallet ({self.path})",
        )  # fmt: skip

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Wallet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_book(self, book: CredentialBook) -> int:
        """Store a book's entries (ones already present are skipped); returns how many were new."""
        added = 0
        try:
            with transaction(self._conn) as conn:
                for entry in book.entries:
                    cred = entry.credential
                    cursor = conn.execute(
                        "INSERT OR IGNORE INTO wallet_credentials (credential_id, credential_type,"
                        " issuer_id, issued, expires, credential, value, blinding)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            cred.credential_id.hex(),
                            cred.credential_type.value,
                            cred.issuer_id.hex(),
                            cred.issued.isoformat(),
                            cred.expires.isoformat(),
                            json.dumps(cred.to_dict(), sort_keys=True),
                            str(entry.value),
                            entry.blinding.to_bytes().hex(),
                        ),
                    )
                    added += cursor.rowcount
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"{self.path}: cannot store credentials: {exc}") from exc
        return added

    def remaining(self, credential_type: CredentialType | str, *, on: date) -> int:
        """Unused credentials of this type valid on ``on``."""
        row = self._conn.execute(
            "SELECT COUNT(*) FROM wallet_credentials WHERE credential_type = ? AND used_on IS NULL"
            " AND issued <= ? AND expires >= ?",
            (CredentialType(credential_type).value, on.isoformat(), on.isoformat()),
        ).fetchone()
        return int(row[0])

    def take(
        self,
        credential_type: CredentialType | str,
        *,
        on: date,
        issuer_id: bytes | None = None,
    ) -> BookEntry:
        """Hand out one unused credential valid on ``on`` and mark it used, atomically.

        Raises
        ------
        PolicyViolation
            When none is left: reusing one would link presentations; ask the issuer for a new book.
        """
        kind = CredentialType(credential_type).value
        day = on.isoformat()
        query = (
            "SELECT seq, credential, value, blinding FROM wallet_credentials"
            " WHERE credential_type = ? AND used_on IS NULL AND issued <= ? AND expires >= ?"
        )
        args: list[str] = [kind, day, day]
        if issuer_id is not None:
            query += " AND issuer_id = ?"
            args.append(issuer_id.hex())
        query += " ORDER BY seq LIMIT 1"
        try:
            with transaction(self._conn) as conn:
                row = conn.execute(query, args).fetchone()
                if row is None:
                    raise PolicyViolation(
                        f"no unused {kind} credential valid on {day} is left in the wallet "
                        "(reusing one would link presentations): ask the issuer for a new book"
                    )
                conn.execute(
                    "UPDATE wallet_credentials SET used_on = ? WHERE seq = ? AND used_on IS NULL",
                    (day, row[0]),
                )
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"{self.path}: cannot take a credential: {exc}") from exc
        try:
            entry = BookEntry(
                credential=Credential.from_dict(json.loads(row[1])),
                value=int(row[2]),
                blinding=Scalar.from_bytes(bytes.fromhex(row[3])),
            )
        except (InvalidInput, ValueError) as exc:
            raise IntegrityError(f"{self.path}: a stored credential is corrupt") from exc
        return entry


def default_validity(issued: date, days: int) -> date:
    """``issued + days``: the expiry of a credential valid for ``days`` days."""
    if isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= 3650:
        raise InvalidInput("validity must be 1 to 3650 days")
    return issued + timedelta(days=days)
