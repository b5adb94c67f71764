"""Interactive proofs between a holder and a verifier, as pure stage machines (no I/O, no clock).

Two exchanges; :mod:`petsuite.zkp.api` drives them over a :class:`~petsuite.net.transport.Channel`.

Presentation (non-interactive proof, interactive freshness)::

    verifier (challenge from its nonce store)           holder (wallet, policy)
      zkp.challenge{verifier, nonce, date, statement,  ->  checks the challenge against its policy:
                    threshold, account_key,                same statement and threshold, verifier id
                    anonymity_set}                         = the authenticated peer, date within a
                                                           day of its own; then takes a fresh
                                                           credential from the wallet
                                                       <-  zkp.presentation{presentation JSON}
      verifies against its own challenge               ->  zkp.result{accepted, statement}

The holder's policy check matters for privacy: a verifier free to pick thresholds or dates could
bisect a date of birth with repeated questions ("18 on 2030-01-01" is "14 today"); the holder
answers only the statement it set out to prove, for the peer its certificate names (so a relaying
verifier cannot forward another verifier's challenge).

Ownership (three-move Sigma protocol, Schnorr)::

    holder (account key x, X = x*B)                     verifier
                                                       <-  zkp.sigma.request{verifier}
      zkp.sigma.commit{public_key X, commitments T}    ->
                                                       <-  zkp.sigma.challenge{c'}  (uniform, fresh)
      zkp.sigma.response{s = r + c*x}                  ->  checks s*B == T + c*X
                                                       <-  zkp.result{accepted, statement}

with ``c = H(verifier id, X, T, c')`` on both sides: the holder hashes its authenticated peer's
name, the verifier its own, so a verifier that relays the run to another verifier (to pass as the
key's owner there) gets a response that fails there.

Threat model: the channel is mutually authenticated TLS (names from certificates); a peer may send
anything, so every message is checked against a bounded schema (``ProtocolAbort`` ``MALFORMED`` or
``UNEXPECTED``), points and scalars are decoded strictly, and a message in the wrong stage aborts.
A false or malformed proof makes the verifier answer ``accepted: false``; the API then raises
:class:`~petsuite.core.errors.VerificationFailed` on both sides. What each side learns is described
in :mod:`petsuite.zkp.presentation`: the interactive Sigma protocol is honest-verifier
zero-knowledge, and the verifier learns the account public key.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from petsuite.core.errors import (
    AbortReason,
    InvalidInput,
    PolicyViolation,
    ProtocolAbort,
    VerificationFailed,
)
from petsuite.core.rng import RandomSource
from petsuite.core.schema import Bool, Bytes, Int, ListOf, Schema, Str
from petsuite.primitives.group import POINT_BYTES, SCALAR_BYTES, Point, Scalar
from petsuite.zkp.credentials import AccountKey, BookEntry, TrustStore
from petsuite.zkp.pedersen import PedersenParams
from petsuite.zkp.presentation import (
    MAX_ANONYMITY_SET,
    MAX_PRESENTATION_BYTES,
    NONCE_BYTES,
    Challenge,
    Presentation,
    Statement,
    VerifiedClaim,
    present,
    verify_presentation,
)
from petsuite.zkp.sigma import SigmaProver, check_interactive, schnorr
from petsuite.zkp.transcript import Transcript

__all__ = [
    "CHALLENGE",
    "PRESENTATION",
    "PROTOCOL_VERSION",
    "RESULT",
    "SIGMA_CHALLENGE",
    "SIGMA_COMMIT",
    "SIGMA_REQUEST",
    "SIGMA_RESPONSE",
    "PresentationProverState",
    "PresentationVerifierState",
    "ProverPolicy",
    "ProverStage",
    "SigmaProverStage",
    "SigmaProverState",
    "SigmaVerifierStage",
    "SigmaVerifierState",
    "VerifierStage",
    "challenge_message",
    "prover_present",
    "prover_start",
    "prover_step",
    "sigma_prover_start",
    "sigma_prover_step",
    "sigma_verifier_start",
    "sigma_verifier_step",
    "verifier_start",
    "verifier_step",
]

PROTOCOL_VERSION = 1
_MAX_SIGMA_ITEMS = 8
_MAX_DESCRIPTION = 256
_SIGMA_BINDING = b"petsuite/zkp/interactive/ownership/v1"

CHALLENGE = Schema(
    "zkp.challenge",
    {
        "version": Int(min=0, max=65535),
        "verifier": Str(min_len=1, max_len=63),
        "nonce": Bytes(exact_len=NONCE_BYTES),
        "date": Str(min_len=10, max_len=10),
        "statement": Str(choices=[s.value for s in Statement]),
        "threshold": Int(min=0, max=2**64 - 1),
        "account_key": Bytes(max_len=POINT_BYTES),
        "anonymity_set": ListOf(Bytes(exact_len=POINT_BYTES), max_items=MAX_ANONYMITY_SET),
    },
)
PRESENTATION = Schema(
    "zkp.presentation", {"presentation": Bytes(min_len=1, max_len=MAX_PRESENTATION_BYTES)}
)
RESULT = Schema("zkp.result", {"accepted": Bool(), "statement": Str(max_len=_MAX_DESCRIPTION)})
SIGMA_COMMIT = Schema(
    "zkp.sigma.commit",
    {
        "version": Int(min=0, max=65535),
        "public_key": Bytes(exact_len=POINT_BYTES),
        "commitments": ListOf(Bytes(exact_len=POINT_BYTES), min_items=1,
                              max_items=_MAX_SIGMA_ITEMS),
    },
)  # fmt: skip
SIGMA_REQUEST = Schema(
    "zkp.sigma.request",
    {"version": Int(min=0, max=65535), "verifier": Str(min_len=1, max_len=63)},
)
SIGMA_CHALLENGE = Schema("zkp.sigma.challenge", {"challenge": Bytes(exact_len=SCALAR_BYTES)})
SIGMA_RESPONSE = Schema(
    "zkp.sigma.response",
    {"responses": ListOf(Bytes(exact_len=SCALAR_BYTES), min_items=1, max_items=_MAX_SIGMA_ITEMS)},
)


def _bound_challenge(
    verifier: str, public_key: Point, commitments: Sequence[Point], challenge: Scalar
) -> Scalar:
    """The challenge both sides answer: the verifier's uniform draw hashed with the verifier id, the
    account key and the commitments. Each side uses the verifier id it knows (the holder: its
    authenticated peer; the verifier: its own name), so a run relayed by a man in the middle to
    another verifier fails there. Uniform when the verifier's draw is (honest-verifier ZK holds)."""
    t = Transcript(_SIGMA_BINDING)
    t.append_message(b"verifier", verifier.encode("utf-8"))
    t.append_point(b"public-key", public_key)
    t.append_int(b"commitment-count", len(commitments))
    for point in commitments:
        t.append_point(b"commitment", point)
    t.append_scalar(b"verifier-challenge", challenge)
    return t.challenge_scalar(b"challenge")


def _abort(reason: AbortReason, detail: str) -> ProtocolAbort:
    return ProtocolAbort(reason, detail)


def _result(accepted: bool, statement: str) -> dict[str, Any]:
    return RESULT.message(accepted=accepted, statement=statement[:_MAX_DESCRIPTION])


def challenge_message(challenge: Challenge) -> dict[str, Any]:
    """The wire form of a :class:`Challenge`."""
    key = b"" if challenge.account_key is None else challenge.account_key.to_bytes()
    return CHALLENGE.message(
        version=PROTOCOL_VERSION,
        verifier=challenge.verifier,
        nonce=challenge.nonce,
        date=challenge.on.isoformat(),
        statement=challenge.statement.value,
        threshold=challenge.threshold,
        account_key=key,
        anonymity_set=[k.to_bytes() for k in challenge.anonymity_set],
    )


def _challenge_from(message: dict[str, Any]) -> Challenge:
    msg = CHALLENGE.validate(message)
    if msg["version"] != PROTOCOL_VERSION:
        raise _abort(AbortReason.CONFIG_MISMATCH, f"zkp protocol version {msg['version']}")
    try:
        on = date.fromisoformat(msg["date"])
        if on.isoformat() != msg["date"]:
            raise InvalidInput("non-canonical date")
        key = None if not msg["account_key"] else Point.from_bytes(msg["account_key"])
        return Challenge(
            verifier=msg["verifier"],
            nonce=msg["nonce"],
            on=on,
            statement=Statement(msg["statement"]),
            threshold=msg["threshold"],
            account_key=key,
            anonymity_set=tuple(Point.from_bytes(k) for k in msg["anonymity_set"]),
        )
    except (InvalidInput, ValueError) as exc:
        raise _abort(AbortReason.MALFORMED, "zkp.challenge: invalid field") from exc


# --------------------------------------------------------------------------- presentation: verifier


class VerifierStage(enum.Enum):
    AWAIT_PRESENTATION = "await-presentation"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class PresentationVerifierState:
    """Verifier state. ``accepted`` and ``claim`` are set once the presentation was checked."""

    stage: VerifierStage
    challenge: Challenge
    accepted: bool | None = None
    claim: VerifiedClaim | None = None
    credential_id: bytes | None = None


def verifier_start(challenge: Challenge) -> tuple[PresentationVerifierState, list[dict[str, Any]]]:
    """Send ``challenge`` (issued by the verifier's nonce store) and wait for the presentation."""
    if not isinstance(challenge, Challenge):
        raise InvalidInput("expected a Challenge")
    state = PresentationVerifierState(VerifierStage.AWAIT_PRESENTATION, challenge)
    return state, [challenge_message(challenge)]


def verifier_step(
    state: PresentationVerifierState,
    message: dict[str, Any],
    *,
    trust: TrustStore,
    params: PedersenParams | None = None,
) -> tuple[PresentationVerifierState, list[dict[str, Any]]]:
    """Check the holder's presentation against the state's own challenge.

    A false or malformed presentation is not an exception here: the new state has
    ``accepted=False`` and the outbox tells the holder; the caller raises afterwards.
    """
    if state.stage is not VerifierStage.AWAIT_PRESENTATION:
        raise _abort(AbortReason.UNEXPECTED, f"message after stage {state.stage.value}")
    msg = PRESENTATION.validate(message)
    try:
        pres = Presentation.from_json(msg["presentation"])
        claim = verify_presentation(pres, state.challenge, trust, params=params)
    except VerificationFailed:
        done = replace(state, stage=VerifierStage.DONE, accepted=False)
        return done, [_result(False, state.challenge.describe())]
    credential_id = None if pres.credential is None else pres.credential.credential_id
    done = replace(
        state, stage=VerifierStage.DONE, accepted=True, claim=claim, credential_id=credential_id
    )
    return done, [_result(True, claim.describe())]


# --------------------------------------------------------------------------- presentation: prover


@dataclass(frozen=True, slots=True)
class ProverPolicy:
    """What the holder is willing to prove, and to whom.

    Attributes
    ----------
    statement, threshold:
        The one statement the holder answers; any other challenge is refused.
    verifier:
        The verifier id the challenge must carry: the peer's authenticated name.
    today:
        The holder's own date; the challenge's date may differ by ``max_date_skew_days``.
    """

    statement: Statement
    threshold: int
    verifier: str
    today: date
    max_date_skew_days: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "statement", Statement(self.statement))
        if not 0 <= self.max_date_skew_days <= 7:
            raise InvalidInput("max_date_skew_days must be 0 to 7")


class ProverStage(enum.Enum):
    AWAIT_CHALLENGE = "await-challenge"
    READY = "ready"
    AWAIT_RESULT = "await-result"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class PresentationProverState:
    stage: ProverStage
    policy: ProverPolicy
    challenge: Challenge | None = None
    accepted: bool | None = None
    description: str | None = None


def prover_start(policy: ProverPolicy) -> PresentationProverState:
    """A holder waiting for the verifier's challenge."""
    if not isinstance(policy, ProverPolicy):
        raise InvalidInput("expected a ProverPolicy")
    return PresentationProverState(ProverStage.AWAIT_CHALLENGE, policy)


def prover_step(
    state: PresentationProverState, message: dict[str, Any]
) -> tuple[PresentationProverState, list[dict[str, Any]]]:
    """Consume the verifier's challenge (then call :func:`prover_present`) or its result.

    Raises
    ------
    PolicyViolation
        If the challenge asks for another statement, threshold or verifier, or another date.
    VerificationFailed
        If the verifier rejected the presentation.
    """
    if state.stage is ProverStage.AWAIT_CHALLENGE:
        challenge = _challenge_from(message)
        policy = state.policy
        if challenge.statement is not policy.statement or challenge.threshold != policy.threshold:
            raise PolicyViolation(
                f"the verifier asks for {challenge.describe()}, not the statement the holder "
                "agreed to prove"
            )
        if challenge.verifier != policy.verifier:
            raise PolicyViolation("the challenge names another verifier than the peer")
        if abs((challenge.on - policy.today).days) > policy.max_date_skew_days:
            raise PolicyViolation("the challenge's date is too far from today")
        return replace(state, stage=ProverStage.READY, challenge=challenge), []
    if state.stage is ProverStage.AWAIT_RESULT:
        msg = RESULT.validate(message)
        if not msg["accepted"]:
            raise VerificationFailed("the verifier rejected the presentation")
        return replace(
            state, stage=ProverStage.DONE, accepted=True, description=msg["statement"]
        ), []
    raise _abort(AbortReason.UNEXPECTED, f"message in stage {state.stage.value}")


def prover_present(
    state: PresentationProverState,
    *,
    entry: BookEntry | None,
    account: AccountKey | None,
    params: PedersenParams | None = None,
    rng: RandomSource | None = None,
) -> tuple[PresentationProverState, list[dict[str, Any]]]:
    """Answer the accepted challenge with a presentation from ``entry`` and/or ``account``."""
    if state.stage is not ProverStage.READY or state.challenge is None:
        raise InvalidInput("no accepted challenge to answer")
    pres = present(state.challenge, entry=entry, account=account, params=params, rng=rng)
    out = PRESENTATION.message(presentation=pres.to_json().encode("utf-8"))
    return replace(state, stage=ProverStage.AWAIT_RESULT), [out]


# --------------------------------------------------------------------------- ownership: Sigma


class SigmaProverStage(enum.Enum):
    AWAIT_REQUEST = "await-request"
    AWAIT_CHALLENGE = "await-challenge"
    AWAIT_RESULT = "await-result"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class SigmaProverState:
    """Holder state. ``prover`` holds the secret nonces: never log or send it."""

    stage: SigmaProverStage
    prover: SigmaProver
    public_key: Point
    verifier: str
    accepted: bool | None = None


def sigma_prover_start(
    account: AccountKey, *, verifier: str, rng: RandomSource | None = None
) -> SigmaProverState:
    """A holder waiting for ``verifier``'s request (``verifier``: the authenticated peer)."""
    if not isinstance(account, AccountKey):
        raise InvalidInput("expected an AccountKey")
    prover = SigmaProver(schnorr(account.public_key, Point.generator()), [account.secret], rng)
    return SigmaProverState(SigmaProverStage.AWAIT_REQUEST, prover, account.public_key, verifier)


def sigma_prover_step(
    state: SigmaProverState, message: dict[str, Any]
) -> tuple[SigmaProverState, list[dict[str, Any]]]:
    """Commit on the verifier's request, answer its challenge (once), then read its verdict.

    Raises
    ------
    PolicyViolation
        If the request names another verifier than the peer.
    VerificationFailed
        If the verifier rejected the proof.
    """
    if state.stage is SigmaProverStage.AWAIT_REQUEST:
        msg = SIGMA_REQUEST.validate(message)
        if msg["version"] != PROTOCOL_VERSION:
            raise _abort(AbortReason.CONFIG_MISMATCH, f"zkp protocol version {msg['version']}")
        if msg["verifier"] != state.verifier:
            raise PolicyViolation("the request names another verifier than the peer")
        out = SIGMA_COMMIT.message(
            version=PROTOCOL_VERSION,
            public_key=state.public_key.to_bytes(),
            commitments=[t.to_bytes() for t in state.prover.commitments()],
        )
        return replace(state, stage=SigmaProverStage.AWAIT_CHALLENGE), [out]
    if state.stage is SigmaProverStage.AWAIT_CHALLENGE:
        msg = SIGMA_CHALLENGE.validate(message)
        try:
            challenge = Scalar.from_bytes(msg["challenge"])
        except InvalidInput as exc:
            raise _abort(AbortReason.MALFORMED, "zkp.sigma.challenge: not a scalar") from exc
        bound = _bound_challenge(
            state.verifier, state.public_key, state.prover.commitments(), challenge
        )
        responses = state.prover.respond(bound)
        out = SIGMA_RESPONSE.message(responses=[s.to_bytes() for s in responses])
        return replace(state, stage=SigmaProverStage.AWAIT_RESULT), [out]
    if state.stage is SigmaProverStage.AWAIT_RESULT:
        msg = RESULT.validate(message)
        if not msg["accepted"]:
            raise VerificationFailed("the verifier rejected the ownership proof")
        return replace(state, stage=SigmaProverStage.DONE, accepted=True), []
    raise _abort(AbortReason.UNEXPECTED, f"message in stage {state.stage.value}")


class SigmaVerifierStage(enum.Enum):
    AWAIT_COMMIT = "await-commit"
    AWAIT_RESPONSE = "await-response"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class SigmaVerifierState:
    stage: SigmaVerifierStage
    expected_key: Point | None = None
    public_key: Point | None = None
    commitments: tuple[Point, ...] = ()
    challenge: Scalar | None = None
    accepted: bool | None = None
    verifier: str = ""


def sigma_verifier_start(
    verifier: str, expected_key: Point | None = None
) -> tuple[SigmaVerifierState, list[dict[str, Any]]]:
    """Ask for an ownership proof as ``verifier``; ``expected_key`` restricts the account."""
    if expected_key is not None and not isinstance(expected_key, Point):
        raise InvalidInput("expected_key must be a Point")
    request = SIGMA_REQUEST.message(version=PROTOCOL_VERSION, verifier=verifier)
    state = SigmaVerifierState(SigmaVerifierStage.AWAIT_COMMIT, expected_key, verifier=verifier)
    return state, [request]


def sigma_verifier_step(
    state: SigmaVerifierState, message: dict[str, Any], *, rng: RandomSource | None = None
) -> tuple[SigmaVerifierState, list[dict[str, Any]]]:
    """Send a fresh uniform challenge after the commitments; check the responses."""
    if state.stage is SigmaVerifierStage.AWAIT_COMMIT:
        msg = SIGMA_COMMIT.validate(message)
        if msg["version"] != PROTOCOL_VERSION:
            raise _abort(AbortReason.CONFIG_MISMATCH, f"zkp protocol version {msg['version']}")
        try:
            public_key = Point.from_bytes(msg["public_key"])
            commitments = tuple(
                Point.from_bytes(c, allow_identity=True) for c in msg["commitments"]
            )
        except InvalidInput as exc:
            raise _abort(AbortReason.MALFORMED, "zkp.sigma.commit: not a group element") from exc
        if len(commitments) != 1:
            raise _abort(AbortReason.MALFORMED, "zkp.sigma.commit: a Schnorr proof has one")
        challenge = Scalar.random(rng)
        new = replace(
            state,
            stage=SigmaVerifierStage.AWAIT_RESPONSE,
            public_key=public_key,
            commitments=commitments,
            challenge=challenge,
        )
        return new, [SIGMA_CHALLENGE.message(challenge=challenge.to_bytes())]
    if state.stage is SigmaVerifierStage.AWAIT_RESPONSE:
        msg = SIGMA_RESPONSE.validate(message)
        if state.public_key is None or state.challenge is None:
            raise InvalidInput("inconsistent verifier state")
        description = f"controls account key {state.public_key.to_bytes().hex()}"
        try:
            responses = [Scalar.from_bytes(s) for s in msg["responses"]]
            if state.expected_key is not None and state.expected_key != state.public_key:
                raise VerificationFailed()
            check_interactive(
                schnorr(state.public_key, Point.generator()),
                state.commitments,
                _bound_challenge(
                    state.verifier, state.public_key, state.commitments, state.challenge
                ),
                responses,
            )
        except (InvalidInput, VerificationFailed):
            done = replace(state, stage=SigmaVerifierStage.DONE, accepted=False)
            return done, [_result(False, description)]
        done = replace(state, stage=SigmaVerifierStage.DONE, accepted=True)
        return done, [_result(True, description)]
    raise _abort(AbortReason.UNEXPECTED, f"message in stage {state.stage.value}")
