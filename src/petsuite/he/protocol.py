"""Encrypted analytics between a data owner and a compute server, as pure stage machines.

The owner encrypts one or more columns under its own key and sends them, with the public and
evaluation keys (never the secret key), to a server; the server computes on the ciphertexts and
returns encrypted results that only the owner can decrypt.

::

    owner                                               server
      he.job{scheme, operation, key id, sizes}       ->
                                                     <-  he.accept{session}
      he.part{context, i} ...  he.part{data, column, i} ...  ->
                                                     <-  he.result{i, n, payload} ...
      he.done                                         ->

Threat model: the server is honest-but-curious. It learns the scheme, the operation, the number
of values and ciphertexts, its own model (weights), and timing; it learns nothing about the values
(semantic security of Paillier or RLWE). A malicious server can return a wrong result undetected.
The owner never sends its secret key; :mod:`petsuite.he.seal` refuses to serialise an evaluation
context that contains one.

The machines are pure: the computation itself is a function passed in by the API layer.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort
from petsuite.core.schema import Bytes, Int, ListOf, Schema, Str

__all__ = [
    "ACCEPT",
    "DONE",
    "JOB",
    "OPERATIONS",
    "PART",
    "RESULT",
    "SCHEMES",
    "Job",
    "OwnerStage",
    "OwnerState",
    "ServerStage",
    "ServerState",
    "owner_start",
    "owner_step",
    "server_start",
    "server_step",
    "split_parts",
]

SCHEMES = ("ckks", "paillier")
OPERATIONS = ("sum", "mean", "variance", "linear")
SESSION_BYTES = 16
PART_BYTES = 8 * 1024 * 1024
MAX_PARTS = 1 << 16
MAX_COLUMNS = 1024
#: Total bytes a server accepts for one job (context + data): bounds memory.
MAX_JOB_BYTES = 2 * 1024 * 1024 * 1024

JOB = Schema(
    "he.job",
    {
        "scheme": Str(max_len=16, choices=SCHEMES),
        "operation": Str(max_len=16, choices=OPERATIONS),
        "key_id": Str(min_len=8, max_len=128),
        "count": Int(min=1, max=1 << 40),
        "columns": Int(min=1, max=MAX_COLUMNS),
        "context_parts": Int(min=1, max=MAX_PARTS),
        "parts_per_column": Int(min=1, max=MAX_PARTS),
        "frac_bits": Int(min=0, max=64),
    },
)
ACCEPT = Schema(
    "he.accept",
    {"session": Bytes(exact_len=SESSION_BYTES), "model_size": Int(min=0, max=MAX_COLUMNS)},
)
PART = Schema(
    "he.part",
    {
        "session": Bytes(exact_len=SESSION_BYTES),
        "kind": Str(max_len=8, choices=("context", "data")),
        "column": Int(min=0, max=MAX_COLUMNS),
        "index": Int(min=0, max=MAX_PARTS),
        "payload": Bytes(min_len=1, max_len=PART_BYTES),
    },
)
RESULT = Schema(
    "he.result",
    {
        "session": Bytes(exact_len=SESSION_BYTES),
        "index": Int(min=0, max=MAX_PARTS),
        "total": Int(min=1, max=MAX_PARTS),
        "payloads": ListOf(Bytes(min_len=1, max_len=PART_BYTES), min_items=1, max_items=64),
    },
)
DONE = Schema("he.done", {"session": Bytes(exact_len=SESSION_BYTES)})


@dataclass(frozen=True, slots=True)
class Job:
    """What the owner asks for; public information the server may log."""

    scheme: str
    operation: str
    key_id: str
    count: int
    columns: int
    context_parts: int
    parts_per_column: int
    frac_bits: int = 0

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise InvalidInput(f"scheme must be one of {SCHEMES}")
        if self.operation not in OPERATIONS:
            raise InvalidInput(f"operation must be one of {OPERATIONS}")
        if (
            self.operation != "linear"
            and self.columns != 1
            and not (
                self.operation == "variance" and self.scheme == "paillier" and self.columns == 2
            )
        ):
            raise InvalidInput(f"{self.operation} takes one column")

    def message(self) -> dict[str, Any]:
        return {
            "type": JOB.name,
            "scheme": self.scheme,
            "operation": self.operation,
            "key_id": self.key_id,
            "count": self.count,
            "columns": self.columns,
            "context_parts": self.context_parts,
            "parts_per_column": self.parts_per_column,
            "frac_bits": self.frac_bits,
        }


#: The server's computation: (job, context bytes, ciphertext parts per column) -> result payloads.
Compute = Callable[[Job, bytes, list[list[bytes]]], list[bytes]]


def split_parts(data: bytes) -> list[bytes]:
    """``data`` cut into message-sized parts (at least one)."""
    return [data[i : i + PART_BYTES] for i in range(0, len(data), PART_BYTES)] or [b""]


def _check_session(msg: dict[str, Any], session: bytes) -> None:
    if not hmac.compare_digest(msg["session"], session):
        raise ProtocolAbort(AbortReason.UNEXPECTED, "message for another session")


# --------------------------------------------------------------------------- server


class ServerStage(enum.Enum):
    AWAIT_JOB = "await-job"
    AWAIT_PARTS = "await-parts"
    AWAIT_DONE = "await-done"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class ServerState:
    stage: ServerStage
    session: bytes
    allowed_operations: frozenset[str]
    model_size: int
    job: Job | None = None
    context: tuple[bytes, ...] = ()
    data: tuple[tuple[bytes, ...], ...] = ()
    received_bytes: int = 0
    next_column: int = 0
    next_index: int = 0


def server_start(
    session: bytes, *, allowed_operations: Sequence[str] = OPERATIONS, model_size: int = 0
) -> ServerState:
    """A compute server waiting for a job. ``model_size`` is its linear model's feature count."""
    if len(session) != SESSION_BYTES:
        raise InvalidInput(f"session id must be {SESSION_BYTES} bytes")
    return ServerState(
        ServerStage.AWAIT_JOB, bytes(session), frozenset(allowed_operations), model_size
    )


def server_step(
    state: ServerState, message: dict[str, Any], compute: Compute
) -> tuple[ServerState, list[dict[str, Any]]]:
    """Consume one owner message. Parts must arrive in order: context, then each column."""
    if state.stage is ServerStage.AWAIT_JOB:
        msg = JOB.validate(message)
        try:
            job = Job(**{k: v for k, v in msg.items() if k != "type"})
        except InvalidInput as exc:
            raise ProtocolAbort(AbortReason.MALFORMED, str(exc)) from exc
        if job.operation not in state.allowed_operations:
            raise ProtocolAbort(AbortReason.POLICY, f"operation {job.operation!r} not offered")
        if job.operation == "linear" and job.columns != state.model_size:
            raise ProtocolAbort(
                AbortReason.CONFIG_MISMATCH,
                f"the model has {state.model_size} features, the job has {job.columns} columns",
            )
        accept = {"type": ACCEPT.name, "session": state.session, "model_size": state.model_size}
        return replace(state, stage=ServerStage.AWAIT_PARTS, job=job), [accept]
    if state.stage is ServerStage.AWAIT_PARTS:
        msg = PART.validate(message)
        _check_session(msg, state.session)
        if state.job is None:
            raise ProtocolAbort(AbortReason.UNEXPECTED, "parts before a job")
        job = state.job
        received = state.received_bytes + len(msg["payload"])
        if received > MAX_JOB_BYTES:
            raise ProtocolAbort(AbortReason.OVERSIZED, "job larger than the server accepts")
        if len(state.context) < job.context_parts:
            if msg["kind"] != "context" or msg["index"] != len(state.context):
                raise ProtocolAbort(AbortReason.UNEXPECTED, "expected the next context part")
            return replace(
                state, context=(*state.context, msg["payload"]), received_bytes=received
            ), []
        if (
            msg["kind"] != "data"
            or msg["column"] != state.next_column
            or msg["index"] != state.next_index
        ):
            raise ProtocolAbort(AbortReason.UNEXPECTED, "data parts out of order")
        data = list(state.data)
        if msg["index"] == 0:
            data.append(())
        data[-1] = data[-1] + (msg["payload"],)
        nxt_index = state.next_index + 1
        nxt_column = state.next_column
        if nxt_index == job.parts_per_column:
            nxt_index, nxt_column = 0, nxt_column + 1
        state = replace(
            state,
            data=tuple(data),
            received_bytes=received,
            next_column=nxt_column,
            next_index=nxt_index,
        )
        if nxt_column < job.columns:
            return state, []
        try:
            payloads = compute(job, b"".join(state.context), [list(col) for col in state.data])
        except InvalidInput as exc:
            raise ProtocolAbort(AbortReason.MALFORMED, f"cannot compute: {exc}") from exc
        batches = [payloads[i : i + 64] for i in range(0, len(payloads), 64)] or [[]]
        results = [
            {
                "type": RESULT.name,
                "session": state.session,
                "index": i,
                "total": len(batches),
                "payloads": batch,
            }
            for i, batch in enumerate(batches)
        ]
        return replace(state, stage=ServerStage.AWAIT_DONE, context=(), data=()), results
    if state.stage is ServerStage.AWAIT_DONE:
        _check_session(DONE.validate(message), state.session)
        return replace(state, stage=ServerStage.DONE), []
    raise ProtocolAbort(AbortReason.UNEXPECTED, f"message after stage {state.stage.value}")


# --------------------------------------------------------------------------- owner


class OwnerStage(enum.Enum):
    AWAIT_ACCEPT = "await-accept"
    AWAIT_RESULTS = "await-results"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class OwnerState:
    stage: OwnerStage
    job: Job
    context: bytes
    columns: tuple[tuple[bytes, ...], ...]
    session: bytes = b""
    results: tuple[bytes, ...] = ()
    next_index: int = 0
    model_size: int = field(default=0)


def owner_start(
    job: Job, context: bytes, columns: Sequence[Sequence[bytes]]
) -> tuple[OwnerState, list[dict[str, Any]]]:
    """Start a job: ``context`` is the public/evaluation key material, ``columns`` the
    ciphertexts (one list per column, ``job.parts_per_column`` each)."""
    if len(columns) != job.columns or any(len(c) != job.parts_per_column for c in columns):
        raise InvalidInput("the columns do not match the job's declared shape")
    if len(split_parts(context)) != job.context_parts:
        raise InvalidInput("the context does not match the job's declared part count")
    state = OwnerState(OwnerStage.AWAIT_ACCEPT, job, context, tuple(tuple(c) for c in columns))
    return state, [job.message()]


def owner_step(
    state: OwnerState, message: dict[str, Any]
) -> tuple[OwnerState, list[dict[str, Any]]]:
    if state.stage is OwnerStage.AWAIT_ACCEPT:
        msg = ACCEPT.validate(message)
        session = msg["session"]
        out: list[dict[str, Any]] = [
            {"type": PART.name, "session": session, "kind": "context", "column": 0, "index": i,
             "payload": part}
            for i, part in enumerate(split_parts(state.context))
        ]  # fmt: skip
        for c, column in enumerate(state.columns):
            out += [
                {"type": PART.name, "session": session, "kind": "data", "column": c, "index": i,
                 "payload": payload}
                for i, payload in enumerate(column)
            ]  # fmt: skip
        return (
            replace(
                state,
                stage=OwnerStage.AWAIT_RESULTS,
                session=session,
                context=b"",
                columns=(),
                model_size=msg["model_size"],
            ),
            out,
        )
    if state.stage is OwnerStage.AWAIT_RESULTS:
        msg = RESULT.validate(message)
        _check_session(msg, state.session)
        if msg["index"] != state.next_index:
            raise ProtocolAbort(AbortReason.UNEXPECTED, "results out of order")
        results = state.results + tuple(msg["payloads"])
        nxt = state.next_index + 1
        if nxt < msg["total"]:
            return replace(state, results=results, next_index=nxt), []
        done = {"type": DONE.name, "session": state.session}
        return replace(state, stage=OwnerStage.DONE, results=results, next_index=nxt), [done]
    raise ProtocolAbort(AbortReason.UNEXPECTED, f"message after stage {state.stage.value}")
