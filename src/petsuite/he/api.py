"""Safe recipes for encrypted analytics: outsource a computation on a column you keep secret.

The data owner keeps the secret key (see :mod:`petsuite.he.keys`), encrypts a column, and sends the
ciphertexts with the public/evaluation keys to a compute server over a :mod:`petsuite.net` channel;
the server computes a sum, mean, variance, or linear-model scores with its own model, and returns
ciphertexts only the owner can decrypt. Both sides write audit entries (sizes, operation, key id;
never values or keys).

Schemes: Paillier (exact, additive: sum, mean, variance from a second column of squares) and CKKS
(approximate, SIMD: all four operations, including linear scores with the server's weights).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from petsuite.core.audit import AuditLog, digest_result
from petsuite.core.encoding import FixedPoint
from petsuite.core.errors import AbortReason, InvalidInput, PetsError, ProtocolAbort
from petsuite.core.rng import RandomSource, resolve
from petsuite.core.schema import MessageSpec
from petsuite.he import protocol
from petsuite.he.protocol import Job
from petsuite.net.transport import Channel
from petsuite.primitives.paillier import (
    PaillierCiphertext,
    PaillierEncoder,
    PaillierPrivateKey,
    PaillierPublicKey,
    sum_ciphertexts,
)

if TYPE_CHECKING:  # TenSEAL is the optional `fhe` extra: imported only when CKKS is used
    from petsuite.he.seal import HeSecretKeyring

__all__ = [
    "EncryptedResult",
    "LinearModel",
    "compute_server",
    "outsource",
]

Operation = Literal["sum", "mean", "variance", "linear"]
#: Fixed-point precision of Paillier-encoded reals: 2^-16 ≈ 1.5e-5.
PAILLIER_FRAC_BITS = 16


@dataclass(frozen=True, slots=True)
class LinearModel:
    """A server's linear model: ``score = bias + Σ weights[j] · x[j]`` (logistic: apply σ after
    decryption, or ``polynomial`` scoring where the scheme allows)."""

    weights: tuple[float, ...]
    bias: float = 0.0
    features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.weights:
            raise InvalidInput("a linear model needs at least one weight")
        if not all(math.isfinite(w) for w in (*self.weights, self.bias)):
            raise InvalidInput("model weights must be finite numbers")
        if self.features and len(self.features) != len(self.weights):
            raise InvalidInput("one feature name per weight")

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> LinearModel:
        try:
            return cls(
                tuple(float(w) for w in doc["weights"]),
                float(doc.get("bias", 0.0)),
                tuple(str(f) for f in doc.get("features", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput("a model file needs 'weights' (list) and optional 'bias'") from exc


@dataclass(frozen=True, slots=True)
class EncryptedResult:
    """What the owner gets back, decrypted: one number, or one score per row (linear)."""

    operation: str
    scheme: str
    count: int
    value: float | None = None
    scores: list[float] = field(default_factory=list)


# --------------------------------------------------------------------------- the server side


def _paillier_parts(pk: PaillierPublicKey, parts: list[bytes]) -> list[PaillierCiphertext]:
    size = pk.ciphertext_bytes
    out: list[PaillierCiphertext] = []
    for part in parts:
        if len(part) % size:
            raise InvalidInput("a ciphertext part is not a whole number of ciphertexts")
        out += [
            PaillierCiphertext.from_bytes(pk, part[i : i + size]) for i in range(0, len(part), size)
        ]
    return out


def _compute_paillier(job: Job, context: bytes, columns: list[list[bytes]]) -> list[bytes]:
    if job.operation == "linear":
        raise InvalidInput("linear scores need CKKS (Paillier cannot multiply ciphertexts)")
    pk = PaillierPublicKey.from_bytes(context)
    out = []
    for parts in columns:
        cts = _paillier_parts(pk, parts)
        if len(cts) != job.count:
            raise InvalidInput(f"expected {job.count} ciphertexts, got {len(cts)}")
        out.append(sum_ciphertexts(cts).to_bytes())
    return out


def _compute_ckks(
    job: Job, context: bytes, columns: list[list[bytes]], model: LinearModel | None
) -> list[bytes]:
    from petsuite.he.seal import HeEvaluationContext, HeVector  # noqa: PLC0415 - optional extra

    ctx = HeEvaluationContext.from_bytes(context)
    if ctx.key_id != job.key_id:
        raise InvalidInput("the evaluation context does not match the job's key id")
    vectors = [HeVector.from_bytes(ctx, b"".join(parts)) for parts in columns]
    for v in vectors:
        if len(v) != job.count:
            raise InvalidInput(f"expected {job.count} values per column, got {len(v)}")
    if job.operation in ("sum", "mean"):
        return [vectors[0].slot_sums().to_bytes()]
    if job.operation == "variance":
        return [vectors[0].slot_sums().to_bytes(), vectors[0].slot_sums_of_squares().to_bytes()]
    if model is None:
        raise InvalidInput("this server has no model for linear scores")
    scores = HeVector.linear_combination(vectors, model.weights, model.bias)
    return [scores.to_bytes()]


async def compute_server(
    channel: Channel,
    *,
    model: LinearModel | None = None,
    allowed_operations: Sequence[str] = protocol.OPERATIONS,
    audit: AuditLog | None = None,
    actor: str = "he-server",
    rng: RandomSource | None = None,
) -> Job:
    """Serve one job: receive ciphertexts and keys (never a secret key), compute, reply.

    Threat model: honest-but-curious server; it learns sizes, the operation and its own model.
    """
    source = resolve(rng)
    state = protocol.server_start(
        source.random_bytes(protocol.SESSION_BYTES),
        allowed_operations=allowed_operations,
        model_size=0 if model is None else len(model.weights),
    )

    def compute(job: Job, context: bytes, columns: list[list[bytes]]) -> list[bytes]:
        if job.scheme == "paillier":
            return _compute_paillier(job, context, columns)
        return _compute_ckks(job, context, columns, model)

    inbound: dict[protocol.ServerStage, MessageSpec] = {
        protocol.ServerStage.AWAIT_JOB: protocol.JOB,
        protocol.ServerStage.AWAIT_PARTS: protocol.PART,
        protocol.ServerStage.AWAIT_DONE: protocol.DONE,
    }
    try:
        while state.stage is not protocol.ServerStage.DONE:
            message = await channel.recv(inbound[state.stage])
            state, outbox = protocol.server_step(state, message, compute)
            for out in outbox:
                await channel.send(out)
    except PetsError as exc:
        if isinstance(exc, ProtocolAbort) and exc.reason not in (
            AbortReason.PEER_ABORTED,
            AbortReason.PEER_CLOSED,
        ):
            await channel.abort(exc.reason, exc.detail)
        if audit is not None:
            audit.append(
                actor=actor,
                operation="he.compute.aborted",
                parameters={"peer": channel.peer, "error": str(exc)},
            )
        raise
    job = state.job
    if job is None:  # unreachable: DONE implies a job
        raise ProtocolAbort(AbortReason.UNEXPECTED, "no job")
    if audit is not None:
        audit.append(
            actor=actor,
            operation="he.compute",
            parameters={
                "peer": channel.peer,
                "scheme": job.scheme,
                "operation": job.operation,
                "key_id": job.key_id,
                "count": job.count,
                "columns": job.columns,
            },
        )
    return job


# --------------------------------------------------------------------------- the owner side


def _paillier_job(
    key: PaillierPrivateKey,
    columns: list[list[float]],
    operation: str,
    rng: RandomSource,
) -> tuple[Job, bytes, list[list[bytes]], list[PaillierEncoder]]:
    pk = key.public_key
    count = len(columns[0])
    if operation == "variance":
        columns = [columns[0], [x * x for x in columns[0]]]
    encoders = []
    parts_per_column: list[list[bytes]] = []
    per_part = max(1, protocol.PART_BYTES // pk.ciphertext_bytes)
    for col in columns:
        peak = max((abs(x) for x in col), default=0.0)
        int_bits = max(1, math.ceil(math.log2(peak + 1)) + 1)
        fmt = FixedPoint(frac_bits=PAILLIER_FRAC_BITS, int_bits=int_bits)
        encoder = PaillierEncoder(pk, max(1, count * fmt.encode(peak) + count))
        encoders.append(encoder)
        cts = pk.encrypt_many([encoder.encode(fmt.encode(x)) for x in col], rng=rng)
        blobs = [c.to_bytes() for c in cts]
        parts_per_column.append(
            [b"".join(blobs[i : i + per_part]) for i in range(0, len(blobs), per_part)]
        )
    job = Job(
        scheme="paillier",
        operation=operation,
        key_id=pk.fingerprint(),
        count=count,
        columns=len(columns),
        context_parts=len(protocol.split_parts(pk.to_bytes())),
        parts_per_column=len(parts_per_column[0]),
        frac_bits=PAILLIER_FRAC_BITS,
    )
    return job, pk.to_bytes(), parts_per_column, encoders


def _ckks_job(
    keyring: HeSecretKeyring, columns: list[list[float]], operation: str
) -> tuple[Job, bytes, list[list[bytes]]]:
    context = keyring.evaluation_context().to_bytes()
    parts = []
    for col in columns:
        blob = keyring.encrypt(col).to_bytes()
        parts.append(protocol.split_parts(blob))
    per_column = {len(p) for p in parts}
    if len(per_column) != 1:
        raise InvalidInput("all columns must have the same length")
    job = Job(
        scheme="ckks",
        operation=operation,
        key_id=keyring.key_id,
        count=len(columns[0]),
        columns=len(columns),
        context_parts=len(protocol.split_parts(context)),
        parts_per_column=per_column.pop(),
    )
    return job, context, parts


async def outsource(
    channel: Channel,
    columns: Sequence[Sequence[float]],
    *,
    operation: Operation,
    key: PaillierPrivateKey | HeSecretKeyring,
    audit: AuditLog | None = None,
    actor: str = "he-owner",
    rng: RandomSource | None = None,
) -> EncryptedResult:
    """Owner side: encrypt ``columns``, have the server on ``channel`` compute ``operation``, and
    decrypt the answer. ``sum``, ``mean`` and ``variance`` take one column; ``linear`` one column
    per model feature (rows are the people being scored)."""
    source = resolve(rng)
    cols = [[float(x) for x in col] for col in columns]
    if not cols or not cols[0]:
        raise InvalidInput("nothing to encrypt")
    if any(len(c) != len(cols[0]) for c in cols):
        raise InvalidInput("all columns must have the same length")
    if not all(math.isfinite(x) for c in cols for x in c):
        raise InvalidInput("values must be finite numbers (no NaN or infinity)")
    encoders: list[PaillierEncoder] = []
    if isinstance(key, PaillierPrivateKey):
        job, context, parts, encoders = _paillier_job(key, cols, operation, source)
    else:
        job, context, parts = _ckks_job(key, cols, operation)
    state, outbox = protocol.owner_start(job, context, parts)
    params = {
        "peer": channel.peer,
        "scheme": job.scheme,
        "operation": operation,
        "key_id": job.key_id,
        "count": job.count,
        "columns": job.columns,
    }
    try:
        while True:
            for out in outbox:
                await channel.send(out)
            if state.stage is protocol.OwnerStage.DONE:
                break
            spec = (
                protocol.ACCEPT
                if state.stage is protocol.OwnerStage.AWAIT_ACCEPT
                else protocol.RESULT
            )
            message = await channel.recv(spec, timeout_s=None)
            state, outbox = protocol.owner_step(state, message)
    except PetsError as exc:
        if audit is not None:
            audit.append(actor=actor, operation="he.outsource.aborted",
                         parameters={**params, "error": str(exc)})  # fmt: skip
        raise
    result = _decrypt_result(job, key, list(state.results), encoders)
    if audit is not None:
        audit.append(
            actor=actor,
            operation="he.outsource",
            parameters=params,
            result_digest=digest_result({"value": result.value, "n": len(result.scores)}),
        )
    return result


def _decrypt_result(
    job: Job,
    key: PaillierPrivateKey | HeSecretKeyring,
    payloads: list[bytes],
    encoders: list[PaillierEncoder],
) -> EncryptedResult:
    n = job.count
    if isinstance(key, PaillierPrivateKey):
        scale = float(1 << job.frac_bits)
        try:
            sums = [
                enc.decode(key.decrypt(PaillierCiphertext.from_bytes(key.public_key, p))) / scale
                for p, enc in zip(payloads, encoders, strict=True)
            ]
        except ValueError as exc:
            raise ProtocolAbort(AbortReason.CHECK_FAILED, f"bad result from server: {exc}") from exc
        return EncryptedResult(job.operation, job.scheme, n, value=_finish(job.operation, sums, n))
    from petsuite.he.seal import HeVector  # noqa: PLC0415 - optional extra

    ctx_vectors = [HeVector.from_bytes(key, p) for p in payloads]
    if job.operation == "linear":
        scores = [float(x) for x in key.decrypt(ctx_vectors[0])]
        return EncryptedResult("linear", job.scheme, n, scores=scores)
    sums = [float(key.decrypt(v).sum()) for v in ctx_vectors]
    return EncryptedResult(job.operation, job.scheme, n, value=_finish(job.operation, sums, n))


def _finish(operation: str, sums: list[float], n: int) -> float:
    if operation == "sum":
        return sums[0]
    mean = sums[0] / n
    if operation == "mean":
        return mean
    return max(0.0, sums[1] / n - mean * mean)
