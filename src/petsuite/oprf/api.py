"""Safe recipes for oblivious pseudonymisation: run the OPRF protocol over a :mod:`petsuite.net` channel.

The server holds an :class:`OprfKey` and turns identifiers it never sees into keyed pseudonyms
``F(k, x)``; the client learns the pseudonyms of its own identifiers and nothing about the key. Used
directly this is blind tokenisation (a pseudonymisation service that cannot read what it tokenises);
private set intersection builds on it.

Both sides write an audit entry for every run: counterparty, element count, session id and a digest of
the result, never the identifiers or pseudonyms themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from petsuite.core.audit import AuditLog, digest_result
from petsuite.core.errors import AbortReason, InvalidInput, PetsError, ProtocolAbort
from petsuite.core.rng import RandomSource, resolve
from petsuite.net.transport import Channel
from petsuite.oprf import protocol
from petsuite.primitives import oprf as raw_oprf
from petsuite.primitives.group import Point, Scalar

__all__ = ["OprfKey", "OprfRunSummary", "pseudonymise", "serve_pseudonyms"]

#: Default cap on evaluations per session: an OPRF server is an oracle, so bound what one client gets.
DEFAULT_MAX_ELEMENTS = 1_000_000

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class OprfKey:
    """An OPRF secret key. Fresh per session by default: a long-lived key links sessions."""

    scalar: Scalar

    @classmethod
    def generate(cls, rng: RandomSource | None = None) -> OprfKey:
        return cls(Scalar.random(rng))

    @classmethod
    def from_seed(cls, seed: bytes, info: bytes = b"petsuite") -> OprfKey:
        """RFC 9497 DeriveKeyPair: the same seed and info always give the same key."""
        if len(seed) != 32:
            raise InvalidInput("OPRF key seed must be 32 bytes")
        sk, _ = raw_oprf.derive_key_pair(seed, info)
        return cls(sk)

    def evaluate(self, inputs: Sequence[bytes]) -> list[bytes]:
        """The pseudonyms of ``inputs`` computed directly (the key holder's own data)."""
        return raw_oprf.evaluate_batch(self.scalar, list(inputs))

    def fingerprint(self) -> str:
        """A public identifier of the key (hash of the public key), for audit entries."""
        public = Point.base_mul(self.scalar).to_bytes()
        return hashlib.sha256(b"petsuite/oprf/key-id/v1" + public).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"OprfKey(fingerprint={self.fingerprint()})"


@dataclass(frozen=True, slots=True)
class OprfRunSummary:
    """What one run did, for the operator and the audit log."""

    peer: str
    session: str
    elements: int
    result_digest: str | None


async def pseudonymise(
    channel: Channel,
    inputs: Sequence[bytes],
    *,
    audit: AuditLog | None = None,
    actor: str = "oprf-client",
    rng: RandomSource | None = None,
    chunk_size: int = protocol.MAX_CHUNK,
    progress: Progress | None = None,
) -> tuple[list[bytes], OprfRunSummary]:
    """Client side: obtain ``F(k, x)`` for each input from the server on ``channel``.

    Returns the 64-byte pseudonyms in input order. The server sees only blinded elements.
    """
    source = resolve(rng)
    session = source.random_bytes(protocol.SESSION_BYTES)
    state, outbox = protocol.client_start(inputs, session, rng=source, chunk_size=chunk_size)
    total = len(inputs)
    try:
        while True:
            for message in outbox:
                await channel.send(message)
            if state.stage is protocol.ClientStage.DONE:
                break
            reply = await channel.recv(protocol.RESPONSE)
            state, outbox = protocol.client_step(state, reply)
            if progress is not None:
                progress(len(state.outputs), total)
    except PetsError as exc:
        if audit is not None:
            audit.append(
                actor=actor,
                operation="oprf.pseudonymise.aborted",
                parameters={"peer": channel.peer, "session": session.hex(), "error": str(exc)},
            )
        raise
    outputs = list(state.outputs)
    summary = OprfRunSummary(channel.peer, session.hex(), total, digest_result(b"".join(outputs)))
    if audit is not None:
        audit.append(
            actor=actor,
            operation="oprf.pseudonymise",
            parameters={"peer": channel.peer, "session": summary.session, "elements": total},
            result_digest=summary.result_digest,
        )
    return outputs, summary


async def serve_pseudonyms(
    channel: Channel,
    key: OprfKey,
    *,
    audit: AuditLog | None = None,
    actor: str = "oprf-server",
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> OprfRunSummary:
    """Server side: answer one client's session on ``channel`` under ``key``.

    A client that asks for more than ``max_elements`` evaluations, sends an invalid element or stalls is
    aborted with :class:`~petsuite.core.errors.ProtocolAbort`; the abort is audited.
    """
    state = protocol.server_start(key.scalar, max_elements=max_elements)
    try:
        while state.stage is not protocol.ServerStage.DONE:
            request = await channel.recv(protocol.REQUEST)
            state, outbox = protocol.server_step(state, request)
            for message in outbox:
                await channel.send(message)
    except ProtocolAbort as exc:
        if exc.reason not in (AbortReason.PEER_CLOSED, AbortReason.PEER_ABORTED):
            await channel.abort(exc.reason, exc.detail)
        if audit is not None:
            audit.append(
                actor=actor,
                operation="oprf.serve.aborted",
                parameters={
                    "peer": channel.peer,
                    "reason": exc.reason.value,
                    "evaluated": state.evaluated,
                },
            )
        raise
    session = (state.session or b"").hex()
    summary = OprfRunSummary(channel.peer, session, state.evaluated, None)
    if audit is not None:
        audit.append(
            actor=actor,
            operation="oprf.serve",
            parameters={
                "peer": channel.peer,
                "session": session,
                "elements": state.evaluated,
                "key_id": key.fingerprint(),
            },
        )
    return summary
