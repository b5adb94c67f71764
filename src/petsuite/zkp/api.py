"""Safe recipes for zero-knowledge presentations: files for the CLI, sessions over the transport.

* :func:`check_presentation` — a verifier checks a presentation file against its nonce store
  (consumed once: replay fails) and trust store, and records the credential as shown.
* :func:`request_presentation` / :func:`answer_presentation` — the interactive presentation of
  :mod:`petsuite.zkp.interactive` over a :class:`~petsuite.net.transport.Channel`: the verifier
  sends a fresh challenge, the holder answers with a credential taken from its wallet.
* :func:`verify_ownership` / :func:`prove_ownership` — the three-move Schnorr protocol for control
  of an account key, with the verifier's random challenge sent over the channel.

Every run, refused or not, writes an audit entry on the side that has an :class:`AuditLog`: the
peer, the statement, threshold, date and outcome (and, for the verifier, the issuer's trust-store
name) — never an attribute value, an opening, a secret key or a nonce. Failures are deliberately
opaque: the audit records that a presentation failed, not why.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from petsuite.core.audit import AuditLog, digest_result
from petsuite.core.errors import (
    AbortReason,
    InvalidInput,
    PetsError,
    PolicyViolation,
    ProtocolAbort,
    VerificationFailed,
)
from petsuite.core.rng import RandomSource
from petsuite.net.transport import Channel
from petsuite.primitives.group import Point
from petsuite.zkp import interactive
from petsuite.zkp.credentials import AccountKey, CredentialType, TrustStore, Wallet
from petsuite.zkp.pedersen import PedersenParams
from petsuite.zkp.presentation import (
    Presentation,
    Statement,
    VerifiedClaim,
    verify_presentation,
)
from petsuite.zkp.verifier_store import DEFAULT_NONCE_TTL, NonceStore

__all__ = [
    "answer_presentation",
    "check_presentation",
    "prove_ownership",
    "request_presentation",
    "verify_ownership",
]

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _audit(audit: AuditLog | None, actor: str, operation: str, params: dict[str, Any],
           result: Any = None) -> None:  # fmt: skip
    if audit is None:
        return
    audit.append(
        actor=actor,
        operation=operation,
        parameters=params,
        result_digest=None if result is None else digest_result(result),
    )


@contextlib.asynccontextmanager
async def _holder_session(
    channel: Channel, audit: AuditLog | None, actor: str, params: dict[str, Any]
) -> AsyncIterator[None]:
    """The holder's side of a run: a rejection is audited as such; any other typed error tells the
    verifier why (best effort) and is audited as an abort. ``params`` may grow inside the block."""
    try:
        yield
    except VerificationFailed:
        _audit(audit, actor, "zkp.present.rejected", params)
        raise
    except PetsError as exc:
        await _abort(channel, exc)
        _audit(audit, actor, "zkp.present.aborted", {**params, "error": type(exc).__name__})
        raise


async def _abort(channel: Channel, exc: PetsError) -> None:
    if isinstance(exc, ProtocolAbort):
        if exc.reason not in (AbortReason.PEER_ABORTED, AbortReason.PEER_CLOSED):
            await channel.abort(exc.reason, exc.detail)
    elif isinstance(exc, PolicyViolation):
        await channel.abort(AbortReason.POLICY, str(exc))
    elif not isinstance(exc, VerificationFailed):
        await channel.abort(AbortReason.CHECK_FAILED, type(exc).__name__)


def check_presentation(
    text: str | bytes,
    *,
    store: NonceStore,
    trust: TrustStore,
    now: datetime,
    audit: AuditLog | None = None,
    actor: str = "zkp-verifier",
    params: PedersenParams | None = None,
) -> VerifiedClaim:
    """Verify a presentation (JSON text) made for a challenge from ``store``.

    The nonce is consumed first (a replay or an unknown nonce fails), the presentation is checked
    against the verifier's own copy of the challenge, then its credential is recorded as shown (a
    book entry shown twice fails). Raises :class:`VerificationFailed` for anything wrong.
    """
    try:
        pres = Presentation.from_json(text)
        challenge = store.consume(pres.nonce, now=now)
        claim = verify_presentation(pres, challenge, trust, params=params)
        if pres.credential is not None:
            store.mark_credential(pres.credential.credential_id, now=now)
    except VerificationFailed:
        _audit(audit, actor, "zkp.verify.failed", {"mode": "file"})
        raise
    _audit(audit, actor, "zkp.verify",
           {"mode": "file", **_claim_params(claim)}, claim.to_dict())  # fmt: skip
    return claim


def _claim_params(claim: VerifiedClaim) -> dict[str, Any]:
    return {
        "statement": claim.statement.value,
        "threshold": claim.threshold,
        "date": claim.on.isoformat(),
        "verifier": claim.verifier,
        "issuer": claim.issuer,
    }


async def request_presentation(
    channel: Channel,
    *,
    store: NonceStore,
    trust: TrustStore,
    verifier: str,
    statement: Statement | str,
    threshold: int,
    on: date | None = None,
    account_key: Point | None = None,
    anonymity_set: Sequence[Point] = (),
    clock: Clock | None = None,
    ttl: timedelta = DEFAULT_NONCE_TTL,
    timeout_s: float | None = None,
    audit: AuditLog | None = None,
    actor: str = "zkp-verifier",
    params: PedersenParams | None = None,
    rng: RandomSource | None = None,
) -> VerifiedClaim:
    """Verifier side: challenge the holder on ``channel`` and verify its presentation.

    ``verifier`` is this party's id as the holder sees it (its certificate name). ``on`` defaults
    to the clock's date. ``account_key`` or ``anonymity_set`` ask the holder to prove control of
    that key, or of one key of the set (see :class:`~petsuite.zkp.presentation.Challenge`).

    Raises :class:`VerificationFailed` if the presentation is rejected (the
    holder is told), :class:`ProtocolAbort` on a malformed message, a stall or the peer leaving.
    """
    now = _utc_now if clock is None else clock
    issued_at = now()
    challenge = store.issue(
        verifier=verifier,
        statement=statement,
        threshold=threshold,
        on=issued_at.date() if on is None else on,
        now=issued_at,
        ttl=ttl,
        account_key=account_key,
        anonymity_set=anonymity_set,
        rng=rng,
    )
    params_audit: dict[str, Any] = {
        "peer": channel.peer,
        "statement": challenge.statement.value,
        "threshold": challenge.threshold,
        "date": challenge.on.isoformat(),
    }
    try:
        state, outbox = interactive.verifier_start(challenge)
        for msg in outbox:
            await channel.send(msg)
        message = await channel.recv(interactive.PRESENTATION, timeout_s=timeout_s)
        try:
            store.consume(challenge.nonce, now=now())
        except VerificationFailed:
            await channel.send(interactive.RESULT.message(accepted=False, statement="expired"))
            raise
        state, outbox = interactive.verifier_step(state, message, trust=trust, params=params)
        if state.accepted and state.credential_id is not None:
            try:
                store.mark_credential(state.credential_id, now=now())
            except VerificationFailed:
                state = interactive.PresentationVerifierState(
                    interactive.VerifierStage.DONE, challenge, accepted=False
                )
                outbox = [interactive.RESULT.message(accepted=False, statement="reused")]
        for msg in outbox:
            await channel.send(msg)
    except VerificationFailed:
        _audit(audit, actor, "zkp.verify.failed", params_audit)
        raise
    except PetsError as exc:
        await _abort(channel, exc)
        _audit(audit, actor, "zkp.verify.aborted", {**params_audit, "error": type(exc).__name__})
        raise
    if not state.accepted or state.claim is None:
        _audit(audit, actor, "zkp.verify.failed", params_audit)
        raise VerificationFailed()
    claim = state.claim
    _audit(audit, actor, "zkp.verify", {"peer": channel.peer, **_claim_params(claim)},
           claim.to_dict())  # fmt: skip
    return claim


async def answer_presentation(
    channel: Channel,
    *,
    statement: Statement | str,
    threshold: int,
    wallet: Wallet | None = None,
    account: AccountKey | None = None,
    today: date | None = None,
    max_date_skew_days: int = 1,
    timeout_s: float | None = None,
    audit: AuditLog | None = None,
    actor: str = "zkp-holder",
    params: PedersenParams | None = None,
    rng: RandomSource | None = None,
) -> str:
    """Holder side: answer the verifier's challenge if it asks exactly for ``statement``.

    The challenge must name the peer (``channel.peer``) as the verifier and a date within
    ``max_date_skew_days`` of ``today``; otherwise :class:`PolicyViolation` (the verifier is told
    ``policy-refused``). A fresh credential is taken from ``wallet`` only once the challenge is
    accepted. Returns the verifier's description of what it accepted; raises
    :class:`VerificationFailed` if it rejected the presentation.
    """
    kind = Statement(statement)
    if kind is not Statement.OWNERSHIP and wallet is None:
        raise InvalidInput(f"an {kind.value} presentation needs a wallet")
    if kind is Statement.OWNERSHIP and account is None:
        raise InvalidInput("an ownership presentation needs the account key")
    policy = interactive.ProverPolicy(
        statement=kind,
        threshold=threshold,
        verifier=channel.peer,
        today=_utc_now().date() if today is None else today,
        max_date_skew_days=max_date_skew_days,
    )
    params_audit: dict[str, Any] = {
        "peer": channel.peer,
        "statement": kind.value,
        "threshold": threshold,
        "with_account_key": account is not None,
    }
    async with _holder_session(channel, audit, actor, params_audit):
        state = interactive.prover_start(policy)
        message = await channel.recv(interactive.CHALLENGE, timeout_s=timeout_s)
        state, _ = interactive.prover_step(state, message)
        if state.challenge is None:
            raise InvalidInput("no challenge")
        params_audit["date"] = state.challenge.on.isoformat()
        entry = None
        if kind is not Statement.OWNERSHIP and wallet is not None:
            entry = wallet.take(CredentialType(kind.value), on=state.challenge.on)
        state, outbox = interactive.prover_present(
            state, entry=entry, account=account, params=params, rng=rng
        )
        for msg in outbox:
            await channel.send(msg)
        message = await channel.recv(interactive.RESULT, timeout_s=timeout_s)
        state, _ = interactive.prover_step(state, message)
    description = state.description or ""
    _audit(audit, actor, "zkp.present", {**params_audit, "accepted": description})
    return description


async def prove_ownership(
    channel: Channel,
    *,
    account: AccountKey,
    timeout_s: float | None = None,
    audit: AuditLog | None = None,
    actor: str = "zkp-holder",
    rng: RandomSource | None = None,
) -> str:
    """Holder side of the interactive Schnorr proof; returns the verifier's description.

    The verifier's request must name the peer (``channel.peer``); otherwise
    :class:`PolicyViolation`.
    """
    params_audit: dict[str, Any] = {"peer": channel.peer, "statement": "ownership",
                                    "mode": "interactive-sigma"}  # fmt: skip
    async with _holder_session(channel, audit, actor, params_audit):
        state = interactive.sigma_prover_start(account, verifier=channel.peer, rng=rng)
        message = await channel.recv(interactive.SIGMA_REQUEST, timeout_s=timeout_s)
        state, outbox = interactive.sigma_prover_step(state, message)
        for msg in outbox:
            await channel.send(msg)
        message = await channel.recv(interactive.SIGMA_CHALLENGE, timeout_s=timeout_s)
        state, outbox = interactive.sigma_prover_step(state, message)
        for msg in outbox:
            await channel.send(msg)
        message = await channel.recv(interactive.RESULT, timeout_s=timeout_s)
        state, _ = interactive.sigma_prover_step(state, message)
    description = f"controls account key {account.public_key.to_bytes().hex()}"
    _audit(audit, actor, "zkp.present", params_audit)
    return description


async def verify_ownership(
    channel: Channel,
    *,
    verifier: str,
    expected_key: Point | None = None,
    timeout_s: float | None = None,
    audit: AuditLog | None = None,
    actor: str = "zkp-verifier",
    rng: RandomSource | None = None,
) -> Point:
    """Verifier side of the interactive Schnorr proof; returns the proven account key.

    ``verifier`` is this party's id as the holder sees it (its certificate name). With
    ``expected_key`` only that key is accepted. Raises :class:`VerificationFailed` if the
    proof fails (the holder is told), :class:`ProtocolAbort` on malformed messages or stalls.
    """
    params_audit: dict[str, Any] = {"peer": channel.peer, "statement": "ownership",
                                    "mode": "interactive-sigma"}  # fmt: skip
    try:
        state, outbox = interactive.sigma_verifier_start(verifier, expected_key)
        for msg in outbox:
            await channel.send(msg)
        message = await channel.recv(interactive.SIGMA_COMMIT, timeout_s=timeout_s)
        state, outbox = interactive.sigma_verifier_step(state, message, rng=rng)
        for msg in outbox:
            await channel.send(msg)
        message = await channel.recv(interactive.SIGMA_RESPONSE, timeout_s=timeout_s)
        state, outbox = interactive.sigma_verifier_step(state, message, rng=rng)
        for msg in outbox:
            await channel.send(msg)
    except PetsError as exc:
        await _abort(channel, exc)
        _audit(audit, actor, "zkp.verify.aborted", {**params_audit, "error": type(exc).__name__})
        raise
    if not state.accepted or state.public_key is None:
        _audit(audit, actor, "zkp.verify.failed", params_audit)
        raise VerificationFailed()
    key = state.public_key
    _audit(audit, actor, "zkp.verify", params_audit, key.to_bytes())
    return key
