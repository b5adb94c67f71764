"""Blind evaluation of the RFC 9497 OPRF (ristretto255-SHA512, base mode) as pure stage machines.

A client holding inputs ``x_1..x_m`` (identifiers) learns ``F(k, x_i)`` for a key ``k`` held by the
server, and nothing else; the server learns nothing about the inputs except how many there are.

Threat model
------------
Semi-honest and malicious clients are both safe for the server: each request element is checked to be
a canonical, non-identity ristretto255 encoding, and a policy bound caps how many evaluations one session
may ask for (an OPRF server is an oracle: every evaluation tells the client one more ``F(k, x)``). A
malicious server can return wrong evaluations undetected (base mode has no proof; the verifiable mode
of RFC 9497 adds one). What leaks: the number of elements, and their timing.

Message flow (each request carries at most :data:`MAX_CHUNK` elements)::

    client                                    server
      oprf.request{session, chunk=0, chunks=n, elements}  ->
                                              <-  oprf.response{session, chunk=0, elements}
      ... one request and one response per chunk ...

The machines are pure: ``step(state, message) -> (state, outbox)``; no I/O, no clock; randomness (the
blinds) comes in as an argument. The network is an adapter (:mod:`petsuite.oprf.api`).
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort
from petsuite.core.rng import RandomSource
from petsuite.core.schema import Bytes, Int, ListOf, Schema, Str
from petsuite.primitives import oprf
from petsuite.primitives.group import Scalar

__all__ = [
    "MAX_CHUNK",
    "REQUEST",
    "RESPONSE",
    "SESSION_BYTES",
    "SUITE",
    "ClientStage",
    "OprfClientState",
    "OprfServerState",
    "ServerStage",
    "client_start",
    "client_step",
    "server_start",
    "server_step",
]

SUITE = "ristretto255-SHA512"
#: Elements per message: 65,536 x 32 bytes ≈ 2 MiB of payload per frame.
MAX_CHUNK = 1 << 16
#: Upper bound on chunks in one session, so a schema can bound every field.
MAX_CHUNKS = 1 << 16
SESSION_BYTES = 16

REQUEST = Schema(
    "oprf.request",
    {
        "suite": Str(max_len=64, choices=(SUITE,)),
        "session": Bytes(exact_len=SESSION_BYTES),
        "chunk": Int(min=0, max=MAX_CHUNKS - 1),
        "chunks": Int(min=1, max=MAX_CHUNKS),
        "elements": ListOf(Bytes(exact_len=32), max_items=MAX_CHUNK, min_items=1),
    },
)
RESPONSE = Schema(
    "oprf.response",
    {
        "session": Bytes(exact_len=SESSION_BYTES),
        "chunk": Int(min=0, max=MAX_CHUNKS - 1),
        "elements": ListOf(Bytes(exact_len=32), max_items=MAX_CHUNK, min_items=1),
    },
)


class ClientStage(enum.Enum):
    AWAIT_RESPONSE = "await-response"
    DONE = "done"


class ServerStage(enum.Enum):
    AWAIT_REQUEST = "await-request"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class OprfClientState:
    """Client state. ``blinds`` are secret: never log or send them."""

    stage: ClientStage
    session: bytes
    inputs: tuple[bytes, ...]
    blinds: tuple[Scalar, ...]
    blinded: tuple[bytes, ...]
    chunk_size: int
    next_chunk: int
    outputs: tuple[bytes, ...] = ()

    @property
    def chunks(self) -> int:
        return max(1, -(-len(self.inputs) // self.chunk_size))

    def _request(self, chunk: int) -> dict[str, Any]:
        lo = chunk * self.chunk_size
        return {
            "type": REQUEST.name,
            "suite": SUITE,
            "session": self.session,
            "chunk": chunk,
            "chunks": self.chunks,
            "elements": list(self.blinded[lo : lo + self.chunk_size]),
        }


@dataclass(frozen=True, slots=True)
class OprfServerState:
    """Server state. ``key`` is the OPRF secret key."""

    stage: ServerStage
    key: Scalar
    max_elements: int
    session: bytes | None = None
    chunks: int | None = None
    next_chunk: int = 0
    evaluated: int = 0


def client_start(
    inputs: Sequence[bytes],
    session: bytes,
    *,
    rng: RandomSource | None = None,
    chunk_size: int = MAX_CHUNK,
) -> tuple[OprfClientState, list[dict[str, Any]]]:
    """Blind every input and return the first request.

    Parameters
    ----------
    inputs:
        The client's private inputs (already normalised identifiers), at least one.
    session:
        :data:`SESSION_BYTES` fresh random bytes naming this session.
    rng:
        Source of the blinds; the OS CSPRNG when ``None``.
    """
    if not inputs:
        raise InvalidInput("the OPRF client needs at least one input")
    if len(session) != SESSION_BYTES:
        raise InvalidInput(f"session id must be {SESSION_BYTES} bytes")
    if not 1 <= chunk_size <= MAX_CHUNK:
        raise InvalidInput(f"chunk_size must be in [1, {MAX_CHUNK}]")
    if -(-len(inputs) // chunk_size) > MAX_CHUNKS:
        raise InvalidInput("too many inputs for one session")
    blinds, blinded = oprf.blind_batch(list(inputs), rng=rng)
    state = OprfClientState(
        stage=ClientStage.AWAIT_RESPONSE,
        session=bytes(session),
        inputs=tuple(inputs),
        blinds=tuple(blinds),
        blinded=tuple(blinded),
        chunk_size=chunk_size,
        next_chunk=0,
    )
    return state, [state._request(0)]


def client_step(
    state: OprfClientState, message: dict[str, Any]
) -> tuple[OprfClientState, list[dict[str, Any]]]:
    """Consume one server message; returns the next request, or nothing once DONE."""
    if state.stage is not ClientStage.AWAIT_RESPONSE:
        raise ProtocolAbort(AbortReason.UNEXPECTED, f"message after stage {state.stage.value}")
    msg = RESPONSE.validate(message)
    if not hmac.compare_digest(msg["session"], state.session):
        raise ProtocolAbort(AbortReason.UNEXPECTED, "response for another session")
    if msg["chunk"] != state.next_chunk:
        raise ProtocolAbort(
            AbortReason.UNEXPECTED, f"expected chunk {state.next_chunk}, got {msg['chunk']}"
        )
    lo = state.next_chunk * state.chunk_size
    hi = min(lo + state.chunk_size, len(state.inputs))
    if len(msg["elements"]) != hi - lo:
        raise ProtocolAbort(AbortReason.CHECK_FAILED, "response has the wrong number of elements")
    try:
        outputs = oprf.finalize_batch(
            list(state.inputs[lo:hi]), list(state.blinds[lo:hi]), msg["elements"]
        )
    except InvalidInput as exc:
        raise ProtocolAbort(AbortReason.MALFORMED, f"bad evaluated element: {exc}") from exc
    nxt = state.next_chunk + 1
    done = nxt == state.chunks
    new = replace(
        state,
        stage=ClientStage.DONE if done else ClientStage.AWAIT_RESPONSE,
        next_chunk=nxt,
        outputs=state.outputs + tuple(outputs),
    )
    return new, [] if done else [new._request(nxt)]


def server_start(key: Scalar, *, max_elements: int) -> OprfServerState:
    """A server waiting for its first request; it evaluates at most ``max_elements`` in total."""
    if max_elements < 1:
        raise InvalidInput("max_elements must be at least 1")
    if key.is_zero():
        raise InvalidInput("the OPRF key must be non-zero")
    return OprfServerState(stage=ServerStage.AWAIT_REQUEST, key=key, max_elements=max_elements)


def server_step(
    state: OprfServerState, message: dict[str, Any]
) -> tuple[OprfServerState, list[dict[str, Any]]]:
    """Evaluate one request chunk under the key and return the response."""
    if state.stage is not ServerStage.AWAIT_REQUEST:
        raise ProtocolAbort(AbortReason.UNEXPECTED, f"message after stage {state.stage.value}")
    msg = REQUEST.validate(message)
    if state.session is None:
        if msg["chunk"] != 0:
            raise ProtocolAbort(AbortReason.UNEXPECTED, "session must start at chunk 0")
        state = replace(state, session=msg["session"], chunks=msg["chunks"])
    elif not hmac.compare_digest(msg["session"], state.session):
        raise ProtocolAbort(AbortReason.UNEXPECTED, "request for another session")
    if msg["chunks"] != state.chunks or msg["chunk"] != state.next_chunk:
        raise ProtocolAbort(AbortReason.UNEXPECTED, "chunks out of order")
    total = state.evaluated + len(msg["elements"])
    if total > state.max_elements:
        raise ProtocolAbort(
            AbortReason.CHECK_FAILED,
            f"client asked for more than the {state.max_elements} evaluations allowed",
        )
    try:
        evaluated = oprf.blind_evaluate_batch(state.key, msg["elements"])
    except InvalidInput as exc:
        raise ProtocolAbort(AbortReason.MALFORMED, f"bad blinded element: {exc}") from exc
    nxt = state.next_chunk + 1
    new = replace(
        state,
        stage=ServerStage.DONE if nxt == state.chunks else ServerStage.AWAIT_REQUEST,
        next_chunk=nxt,
        evaluated=total,
    )
    response = {
        "type": RESPONSE.name,
        "session": msg["session"],
        "chunk": msg["chunk"],
        "elements": evaluated,
    }
    return new, [response]
