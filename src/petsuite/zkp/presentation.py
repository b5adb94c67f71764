"""Presentations: prove a predicate on a signed, committed attribute to one verifier, once.

Three statements, the guidance's three examples:

* ``age`` — "the holder was born at least ``threshold`` calendar years before ``date``". With
  ``cutoff = date - threshold years`` (a 29 February ``date`` maps to 28 February in a common year,
  so someone born on 29 February comes of age on 1 March in common years, as in UK law), the holder
  proves ``cutoff_days - dob_days`` in ``[0, 2**32)`` with a Bulletproof on the commitment
  ``cutoff_days*g - C`` derived homomorphically from the credential's ``C = dob_days*g + r*h``.
* ``balance`` — "the committed balance is at least ``threshold`` minor units": a Bulletproof that
  ``balance - threshold`` is in ``[0, 2**64)`` on ``C - threshold*g``.
* ``ownership`` — a Schnorr proof of knowledge of the secret key behind an account public key. An
  ``age`` or ``balance`` presentation may carry one too (AND-composition in one transcript), which
  binds the predicate to whoever controls that account. A verifier may instead offer an
  *anonymity set* of account keys: the holder then proves control of one of them with an OR proof
  (Cramer–Damgård–Schoenmakers) and the presentation shows no key at all.

Every presentation answers a verifier's :class:`Challenge` (verifier id, 32-byte nonce, date,
statement, threshold). One Fiat–Shamir transcript binds the statement, the issuer id, the whole
signed credential, the threshold, the date, the verifier's id, the nonce and the account key before
any proof, so a proof made for one challenge fails for every other.

What a presentation reveals
---------------------------
To the verifier: the statement and threshold, the date, the issuer, the credential type, the
credential's issue and expiry dates, the commitment and signature (which link presentations made
from the same credential: use a fresh book entry each time, see :mod:`petsuite.zkp.credentials`),
and for ownership the account public key (which links everything shown with it; with an anonymity
set, only that the key is one of the set). Nothing else about
the committed value: the proofs are zero-knowledge (honest-verifier ZK made non-interactive in the
random-oracle model). The issuer, who saw every commitment it signed, can link a presentation to the
issuance if it colludes with the verifier. Timing: rbcl's scalar multiplications are constant time,
but proof generation in Python is not entirely (it branches on bit decompositions); a verifier who
measures the prover's time precisely may learn a little about the value.

The module is pure: no I/O, no clock. Verification raises
:class:`~petsuite.core.errors.VerificationFailed` (deliberately opaque) for anything wrong: a bad or
unknown issuer, an expired or not-yet-valid credential, another date, nonce, verifier, statement or
threshold, a false or malformed proof, or a malformed or over-long presentation. Replay (one nonce
used twice) is caught by the verifier's nonce store (:mod:`petsuite.zkp.verifier_store`).
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, NoReturn

from petsuite.core.errors import InvalidInput, VerificationFailed
from petsuite.core.rng import RandomSource, resolve
from petsuite.primitives.group import Point, Scalar
from petsuite.zkp.bulletproofs import RangeProof, prove_range, verify_range
from petsuite.zkp.credentials import (
    AccountKey,
    BookEntry,
    Credential,
    CredentialType,
    TrustStore,
    b64decode,
    b64encode,
    days_since_epoch,
    parse_iso_date,
)
from petsuite.zkp.pedersen import PedersenParams, commit
from petsuite.zkp.serialization import dumps, loads
from petsuite.zkp.sigma import (
    LinearRelation,
    OrProof,
    SigmaProof,
    prove,
    prove_or,
    schnorr,
    verify,
    verify_or,
)
from petsuite.zkp.transcript import Transcript

__all__ = [
    "AGE_RANGE_BITS",
    "BALANCE_RANGE_BITS",
    "CHALLENGE_KIND",
    "MAX_AGE_YEARS",
    "MAX_ANONYMITY_SET",
    "MAX_PRESENTATION_BYTES",
    "NONCE_BYTES",
    "PRESENTATION_KIND",
    "PRESENTATION_VERSION",
    "Challenge",
    "Presentation",
    "Statement",
    "VerifiedClaim",
    "age_cutoff",
    "present",
    "verify_presentation",
]

PRESENTATION_VERSION = 1
PRESENTATION_KIND = "zkp-presentation"
CHALLENGE_KIND = "zkp-challenge"
NONCE_BYTES = 32
AGE_RANGE_BITS = 32
BALANCE_RANGE_BITS = 64
MAX_AGE_YEARS = 150
MAX_BALANCE_THRESHOLD = 2**64 - 1
#: The largest anonymity set an ownership proof may hide in (OR-proof branches).
MAX_ANONYMITY_SET = 256
#: A presentation is a few kilobytes; anything longer is refused before parsing.
MAX_PRESENTATION_BYTES = 64 * 1024
_TRANSCRIPT_LABEL = b"petsuite/zkp/presentation/v1"
_MAX_VERIFIER = 63


class Statement(enum.StrEnum):
    """What a presentation proves."""

    AGE = "age"
    BALANCE = "balance"
    OWNERSHIP = "ownership"

    @classmethod
    def _missing_(cls, value: object) -> NoReturn:
        raise InvalidInput(f"unknown statement {str(value)[:32]!r}: use age, balance or ownership")


_CREDENTIAL_FOR: Mapping[Statement, CredentialType] = {
    Statement.AGE: CredentialType.AGE,
    Statement.BALANCE: CredentialType.BALANCE,
}


def _check_threshold(statement: Statement, threshold: object) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        raise InvalidInput("threshold must be an int")
    if statement is Statement.AGE and not 0 <= threshold <= MAX_AGE_YEARS:
        raise InvalidInput(f"an age threshold is 0 to {MAX_AGE_YEARS} years")
    if statement is Statement.BALANCE and not 0 <= threshold <= MAX_BALANCE_THRESHOLD:
        raise InvalidInput("a balance threshold is 0 to 2**64 - 1 minor units")
    if statement is Statement.OWNERSHIP and threshold != 0:
        raise InvalidInput("an ownership statement has no threshold (use 0)")
    return threshold


def _check_verifier(verifier: object) -> str:
    if (
        not isinstance(verifier, str)
        or not 0 < len(verifier) <= _MAX_VERIFIER
        or not verifier.isprintable()
    ):
        raise InvalidInput(f"the verifier id is printable text of 1 to {_MAX_VERIFIER} characters")
    return verifier


def _exact(obj: object, keys: tuple[str, ...], what: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping) or set(obj) != set(keys):
        raise InvalidInput(f"{what} must have exactly the fields {sorted(keys)}")
    return obj


def _optional_point(value: object, what: str) -> Point | None:
    return None if value is None else Point.from_bytes(b64decode(value, what))


def age_cutoff(on: date, years: int) -> date:
    """The latest date of birth of someone at least ``years`` old on ``on``.

    ``on`` minus ``years`` calendar years; 29 February becomes 28 February in a common year.
    """
    if not isinstance(on, date) or isinstance(years, bool) or not isinstance(years, int):
        raise InvalidInput("age_cutoff needs a date and an int")
    if not 0 <= years <= MAX_AGE_YEARS or on.year - years < 1:
        raise InvalidInput("age threshold out of range")
    year = on.year - years
    try:
        return on.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 2, 28)


# --------------------------------------------------------------------------- challenge


@dataclass(frozen=True, slots=True)
class Challenge:
    """A verifier's request: prove ``statement`` (with ``threshold``) on ``on``, for ``verifier``,
    with this fresh ``nonce``.

    ``account_key``, when set, is the only account key accepted. ``anonymity_set`` (2 to
    :data:`MAX_ANONYMITY_SET` keys, exclusive with ``account_key``) asks instead for control of
    *one* of these keys without saying which: the presentation then carries no key and does not
    link to the holder's other presentations through one.
    """

    verifier: str
    nonce: bytes
    on: date
    statement: Statement
    threshold: int
    account_key: Point | None = None
    anonymity_set: tuple[Point, ...] = ()

    def __post_init__(self) -> None:
        _check_verifier(self.verifier)
        if not isinstance(self.nonce, bytes) or len(self.nonce) != NONCE_BYTES:
            raise InvalidInput(f"a nonce is {NONCE_BYTES} bytes")
        if not isinstance(self.on, date):
            raise InvalidInput("on must be a date")
        object.__setattr__(self, "statement", Statement(self.statement))
        _check_threshold(self.statement, self.threshold)
        if self.account_key is not None and (
            not isinstance(self.account_key, Point) or self.account_key.is_identity()
        ):
            # the identity is 0*B: anybody "controls" it, so it would prove nothing
            raise InvalidInput("account_key must be a non-identity Point")
        keys = tuple(self.anonymity_set)
        object.__setattr__(self, "anonymity_set", keys)
        if keys:
            if not 2 <= len(keys) <= MAX_ANONYMITY_SET:
                raise InvalidInput(f"an anonymity set holds 2 to {MAX_ANONYMITY_SET} keys")
            if not all(isinstance(k, Point) and not k.is_identity() for k in keys):
                raise InvalidInput("an anonymity set holds non-identity Points")
            if len(set(keys)) != len(keys):
                raise InvalidInput("an anonymity set holds distinct Points")
            if self.account_key is not None:
                raise InvalidInput("give an account key or an anonymity set, not both")

    def describe(self) -> str:
        """The statement in words."""
        if self.statement is Statement.AGE:
            return f"age >= {self.threshold} years on {self.on.isoformat()}"
        if self.statement is Statement.BALANCE:
            return f"balance >= {self.threshold} (minor units) on {self.on.isoformat()}"
        if self.anonymity_set:
            return f"control of one of {len(self.anonymity_set)} account keys"
        key = "" if self.account_key is None else f" {self.account_key.to_bytes().hex()}"
        return f"control of the account key{key} on {self.on.isoformat()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verifier": self.verifier,
            "nonce": b64encode(self.nonce),
            "date": self.on.isoformat(),
            "statement": self.statement.value,
            "threshold": self.threshold,
            "account_key": None
            if self.account_key is None
            else b64encode(self.account_key.to_bytes()),
            "anonymity_set": [b64encode(k.to_bytes()) for k in self.anonymity_set],
        }

    @classmethod
    def from_dict(cls, obj: object) -> Challenge:
        """Parse strictly; raises :class:`InvalidInput`."""
        d = _exact(
            obj,
            ("verifier", "nonce", "date", "statement", "threshold", "account_key",
             "anonymity_set"),
            "challenge",
        )  # fmt: skip
        if not isinstance(d["statement"], str) or d["statement"] not in {
            s.value for s in Statement
        }:
            raise InvalidInput("unknown statement")
        raw_set = d["anonymity_set"]
        if not isinstance(raw_set, list) or len(raw_set) > MAX_ANONYMITY_SET:
            raise InvalidInput("anonymity_set must be a list of keys")
        return cls(
            verifier=_check_verifier(d["verifier"]),
            nonce=b64decode(d["nonce"], "nonce"),
            on=parse_iso_date(d["date"], "date"),
            statement=Statement(d["statement"]),
            threshold=_check_threshold(Statement(d["statement"]), d["threshold"]),
            account_key=_optional_point(d["account_key"], "account key"),
            anonymity_set=tuple(
                Point.from_bytes(b64decode(k, "anonymity set key")) for k in raw_set
            ),
        )

    def to_json(self) -> str:
        return dumps(CHALLENGE_KIND, PRESENTATION_VERSION, self.to_dict())

    @classmethod
    def from_json(cls, text: str | bytes) -> Challenge:
        try:
            body = loads(text, CHALLENGE_KIND, versions={PRESENTATION_VERSION})
        except VerificationFailed as exc:
            raise InvalidInput("not a challenge") from exc
        return cls.from_dict(body)


# --------------------------------------------------------------------------- presentation


@dataclass(frozen=True, slots=True)
class Presentation:
    """What the holder sends: the challenge's public fields, the credential and the proofs."""

    statement: Statement
    verifier: str
    nonce: bytes
    on: date
    threshold: int
    credential: Credential | None
    range_proof: bytes | None
    account_key: Point | None
    ownership_proof: bytes | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "statement": self.statement.value,
            "verifier": self.verifier,
            "nonce": b64encode(self.nonce),
            "date": self.on.isoformat(),
            "threshold": self.threshold,
            "credential": None if self.credential is None else self.credential.to_dict(),
            "range_proof": None if self.range_proof is None else b64encode(self.range_proof),
            "account_key": None
            if self.account_key is None
            else b64encode(self.account_key.to_bytes()),
            "ownership_proof": None
            if self.ownership_proof is None
            else b64encode(self.ownership_proof),
        }

    def to_json(self) -> str:
        """Versioned canonical JSON (:func:`petsuite.zkp.serialization.dumps`)."""
        return dumps(PRESENTATION_KIND, PRESENTATION_VERSION, self.to_dict())

    @classmethod
    def from_dict(cls, obj: object) -> Presentation:
        """Parse strictly; anything malformed raises :class:`VerificationFailed`."""
        try:
            d = _exact(
                obj,
                ("statement", "verifier", "nonce", "date", "threshold", "credential",
                 "range_proof", "account_key", "ownership_proof"),
                "presentation",
            )  # fmt: skip
            if not isinstance(d["statement"], str) or d["statement"] not in {
                s.value for s in Statement
            }:
                raise InvalidInput("unknown statement")
            statement = Statement(d["statement"])
            nonce = b64decode(d["nonce"], "nonce")
            if len(nonce) != NONCE_BYTES:
                raise InvalidInput("bad nonce length")
            return cls(
                statement=statement,
                verifier=_check_verifier(d["verifier"]),
                nonce=nonce,
                on=parse_iso_date(d["date"], "date"),
                threshold=_check_threshold(statement, d["threshold"]),
                credential=None
                if d["credential"] is None
                else Credential.from_dict(d["credential"]),
                range_proof=None
                if d["range_proof"] is None
                else b64decode(d["range_proof"], "range proof"),
                account_key=_optional_point(d["account_key"], "account key"),
                ownership_proof=None
                if d["ownership_proof"] is None
                else b64decode(d["ownership_proof"], "ownership proof"),
            )
        except InvalidInput as exc:
            raise VerificationFailed() from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> Presentation:
        """Parse a presentation; anything malformed or too long raises VerificationFailed."""
        if not isinstance(text, str | bytes) or len(text) > MAX_PRESENTATION_BYTES:
            raise VerificationFailed()
        try:
            body = loads(text, PRESENTATION_KIND, versions={PRESENTATION_VERSION})
        except InvalidInput as exc:
            raise VerificationFailed() from exc
        return cls.from_dict(body)


@dataclass(frozen=True, slots=True)
class VerifiedClaim:
    """What a verifier learnt from a valid presentation (and nothing more)."""

    statement: Statement
    threshold: int
    on: date
    verifier: str
    issuer: str | None
    credential_expires: date | None
    account_key: bytes | None
    anonymity_set_size: int = 0

    def describe(self) -> str:
        if self.statement is Statement.AGE:
            text = f"age >= {self.threshold} years on {self.on.isoformat()}"
        elif self.statement is Statement.BALANCE:
            text = f"balance >= {self.threshold} (minor units) on {self.on.isoformat()}"
        elif self.anonymity_set_size:
            text = f"controls one of {self.anonymity_set_size} account keys (not which)"
        else:
            text = f"controls account key {(self.account_key or b'').hex()}"
        if self.issuer is not None:
            text += f", attested by {self.issuer!r}"
        if self.statement is not Statement.OWNERSHIP:
            if self.account_key is not None:
                text += f", holder controls account key {self.account_key.hex()}"
            elif self.anonymity_set_size:
                text += f", holder controls one of {self.anonymity_set_size} account keys"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "statement": self.statement.value,
            "threshold": self.threshold,
            "date": self.on.isoformat(),
            "verifier": self.verifier,
            "issuer": self.issuer,
            "credential_expires": None
            if self.credential_expires is None
            else self.credential_expires.isoformat(),
            "account_key": None if self.account_key is None else self.account_key.hex(),
            "anonymity_set_size": self.anonymity_set_size,
            "description": self.describe(),
        }


# --------------------------------------------------------------------------- proofs


def _transcript(
    *,
    statement: Statement,
    credential: Credential | None,
    threshold: int,
    on: date,
    verifier: str,
    nonce: bytes,
    account_key: Point | None,
    anonymity_set: tuple[Point, ...] = (),
) -> Transcript:
    t = Transcript(_TRANSCRIPT_LABEL)
    t.append_int(b"presentation-version", PRESENTATION_VERSION)
    t.append_message(b"statement", statement.value.encode("ascii"))
    t.append_message(b"issuer", b"" if credential is None else credential.issuer_id)
    t.append_message(b"credential", b"" if credential is None else credential.encoded())
    t.append_int(b"threshold", threshold)
    t.append_message(b"date", on.isoformat().encode("ascii"))
    t.append_message(b"verifier", verifier.encode("utf-8"))
    t.append_message(b"nonce", nonce)
    t.append_message(b"account-key", b"" if account_key is None else account_key.to_bytes())
    t.append_int(b"anonymity-set-size", len(anonymity_set))
    for key in anonymity_set:
        t.append_point(b"anonymity-set-key", key)
    return t


def _range_target(
    statement: Statement, credential: Credential, threshold: int, on: date, params: PedersenParams
) -> tuple[Point, int]:
    """The commitment the range proof is about, derived from the credential, and its bit size."""
    zero = Scalar.from_int(0)
    if statement is Statement.AGE:
        cutoff = days_since_epoch(age_cutoff(on, threshold))
        return commit(cutoff, zero, params) - credential.commitment, AGE_RANGE_BITS
    return credential.commitment - commit(threshold, zero, params), BALANCE_RANGE_BITS


def _ownership_relation(account_key: Point) -> LinearRelation:
    return schnorr(account_key, Point.generator())


def present(
    challenge: Challenge,
    *,
    entry: BookEntry | None = None,
    account: AccountKey | None = None,
    params: PedersenParams | None = None,
    rng: RandomSource | None = None,
) -> Presentation:
    """Answer ``challenge``: prove its statement from a book ``entry`` and/or an ``account`` key.

    ``age`` and ``balance`` need an ``entry`` of the matching type (use each entry once: take it
    from a :class:`~petsuite.zkp.credentials.Wallet`); with ``account`` as well, the presentation
    also proves control of that account key. ``ownership`` needs ``account`` only. When the
    challenge carries an anonymity set, the account key must be in it and the presentation proves
    control of *one* of the set's keys (an OR proof) without showing which.

    Raises
    ------
    InvalidInput
        If the inputs do not fit the challenge, or the committed value does not satisfy the
        statement (then no proof exists; nothing is revealed beyond the refusal itself).
    """
    if not isinstance(challenge, Challenge):
        raise InvalidInput("expected a Challenge")
    p = PedersenParams.default() if params is None else params
    source = resolve(rng)
    statement = challenge.statement
    if challenge.account_key is not None and (
        account is None or account.public_key != challenge.account_key
    ):
        raise InvalidInput("the verifier asks for another account key")
    anonymity_set = challenge.anonymity_set
    known = -1
    if anonymity_set:
        if account is None or account.public_key not in anonymity_set:
            raise InvalidInput("the account key is not in the verifier's anonymity set")
        known = anonymity_set.index(account.public_key)
    account_key = None if account is None or anonymity_set else account.public_key
    credential: Credential | None = None
    if statement is Statement.OWNERSHIP:
        if account is None:
            raise InvalidInput("an ownership presentation needs the account key")
        if entry is not None:
            raise InvalidInput("an ownership presentation carries no credential")
    else:
        if entry is None:
            raise InvalidInput(f"an {statement.value} presentation needs a credential")
        credential = entry.credential
        if credential.credential_type is not _CREDENTIAL_FOR[statement]:
            raise InvalidInput(
                f"a {credential.credential_type.value} credential cannot prove {statement.value}"
            )
        if not credential.issued <= challenge.on <= credential.expires:
            raise InvalidInput("the credential is not valid on the challenge's date")
        entry.check_opening(p)
    t = _transcript(
        statement=statement,
        credential=credential,
        threshold=challenge.threshold,
        on=challenge.on,
        verifier=challenge.verifier,
        nonce=challenge.nonce,
        account_key=account_key,
        anonymity_set=anonymity_set,
    )
    range_bytes: bytes | None = None
    if credential is not None and entry is not None:
        target, bits = _range_target(statement, credential, challenge.threshold, challenge.on, p)
        if statement is Statement.AGE:
            cutoff = days_since_epoch(age_cutoff(challenge.on, challenge.threshold))
            value, blinding = cutoff - entry.value, -entry.blinding
        else:
            value, blinding = entry.value - challenge.threshold, entry.blinding
        if not 0 <= value < 1 << bits:
            raise InvalidInput(
                "the committed attribute does not satisfy the statement: no proof exists"
            )
        proof, commitments = prove_range([value], [blinding], bits, t, p, source)
        if len(commitments) != 1 or commitments[0] != target:
            raise InvalidInput("the opening does not match the credential's commitment")
        range_bytes = proof.to_bytes()
    ownership_bytes: bytes | None = None
    if account is not None and anonymity_set:
        branches = [_ownership_relation(key) for key in anonymity_set]
        ownership_bytes = prove_or(branches, known, [account.secret], t, source).to_bytes()
    elif account is not None:
        relation = _ownership_relation(account.public_key)
        ownership_bytes = prove(relation, [account.secret], t, source).to_bytes()
    return Presentation(
        statement=statement,
        verifier=challenge.verifier,
        nonce=challenge.nonce,
        on=challenge.on,
        threshold=challenge.threshold,
        credential=credential,
        range_proof=range_bytes,
        account_key=account_key,
        ownership_proof=ownership_bytes,
    )


def _same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def verify_presentation(
    presentation: Presentation | str | bytes,
    challenge: Challenge,
    trust: TrustStore,
    *,
    params: PedersenParams | None = None,
) -> VerifiedClaim:
    """Check ``presentation`` against the verifier's own ``challenge`` and trusted issuers.

    The challenge must come from the verifier's records (its nonce store), never from the
    presentation. Returns what was proved; raises :class:`VerificationFailed` otherwise (no
    ``False`` is ever returned). The nonce is *not* consumed here: use
    :meth:`~petsuite.zkp.verifier_store.NonceStore.consume` first, so that a replay fails.
    """
    if not isinstance(challenge, Challenge) or not isinstance(trust, TrustStore):
        raise InvalidInput("verify_presentation needs a Challenge and a TrustStore")
    pres = (
        presentation
        if isinstance(presentation, Presentation)
        else Presentation.from_json(presentation)
    )
    p = PedersenParams.default() if params is None else params
    if (
        pres.statement is not challenge.statement
        or pres.threshold != challenge.threshold
        or pres.on != challenge.on
        or not _same(pres.verifier.encode("utf-8"), challenge.verifier.encode("utf-8"))
        or not _same(pres.nonce, challenge.nonce)
    ):
        raise VerificationFailed()
    if challenge.account_key is not None and (
        pres.account_key is None or pres.account_key != challenge.account_key
    ):
        raise VerificationFailed()
    anonymity_set = challenge.anonymity_set
    if anonymity_set:  # the key stays hidden, the OR proof is required
        if pres.account_key is not None or pres.ownership_proof is None:
            raise VerificationFailed()
    elif (pres.account_key is None) != (pres.ownership_proof is None):
        raise VerificationFailed()
    issuer_name: str | None = None
    credential = pres.credential
    if pres.statement is Statement.OWNERSHIP:
        if credential is not None or pres.range_proof is not None or pres.ownership_proof is None:
            raise VerificationFailed()
    else:
        if credential is None or pres.range_proof is None:
            raise VerificationFailed()
        if credential.credential_type is not _CREDENTIAL_FOR[pres.statement]:
            raise VerificationFailed()
        if not credential.issued <= challenge.on <= credential.expires:
            raise VerificationFailed()
        trusted = trust.find(credential.issuer_id, on=challenge.on)
        if not trusted.not_before <= credential.issued <= trusted.not_after:
            raise VerificationFailed()
        credential.verify_signature(trusted.public_key)
        issuer_name = trusted.name
    t = _transcript(
        statement=challenge.statement,
        credential=credential,
        threshold=challenge.threshold,
        on=challenge.on,
        verifier=challenge.verifier,
        nonce=challenge.nonce,
        account_key=pres.account_key,
        anonymity_set=anonymity_set,
    )
    try:
        if credential is not None and pres.range_proof is not None:
            target, bits = _range_target(
                challenge.statement, credential, challenge.threshold, challenge.on, p
            )
            proof = RangeProof.from_bytes(pres.range_proof)
            if proof.bits != bits or proof.count != 1:
                raise VerificationFailed()
            verify_range(proof, [target], bits, t, p)
        if anonymity_set and pres.ownership_proof is not None:
            branches = [_ownership_relation(key) for key in anonymity_set]
            verify_or(branches, OrProof.from_bytes(pres.ownership_proof), t)
        elif pres.account_key is not None and pres.ownership_proof is not None:
            sigma = SigmaProof.from_bytes(pres.ownership_proof)
            verify(_ownership_relation(pres.account_key), sigma, t)
    except InvalidInput as exc:
        raise VerificationFailed() from exc
    return VerifiedClaim(
        statement=challenge.statement,
        threshold=challenge.threshold,
        on=challenge.on,
        verifier=challenge.verifier,
        issuer=issuer_name,
        credential_expires=None if credential is None else credential.expires,
        account_key=None if pres.account_key is None else pres.account_key.to_bytes(),
        anonymity_set_size=len(anonymity_set),
    )
