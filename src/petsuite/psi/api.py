"""Safe recipes for private set intersection between two organisations.

``PsiDataset.from_file`` reads a CSV, Parquet or database table, normalises the key columns and
reports how many records failed; :func:`serve_psi` and :func:`query_psi` run one session over a
:mod:`petsuite.net` channel with the server's :class:`~petsuite.psi.policy.PsiPolicy` enforced,
a fresh server key per session, and an audit entry on both sides for every run, refused or not.
"""

from __future__ import annotations

import asyncio
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from petsuite.core.audit import AuditLog, digest_result
from petsuite.core.encoding import FixedPoint
from petsuite.core.errors import (
    AbortReason,
    InvalidInput,
    PetsError,
    PolicyViolation,
    PrivacyBudgetExceeded,
    ProtocolAbort,
)
from petsuite.core.rng import RandomSource, resolve
from petsuite.core.schema import MessageSpec, OneOf
from petsuite.core.tables import Table, read_table
from petsuite.dp.accounting import PrivacyLoss
from petsuite.dp.ledger import PrivacyLedger
from petsuite.net.transport import Channel
from petsuite.primitives.group import Scalar
from petsuite.psi import delegated, protocol
from petsuite.psi.delegated import DelegateConfig, DelegatedResult
from petsuite.psi.matching import KeySpec, build_keys
from petsuite.psi.policy import PsiPolicy, RateLimit, RateLimiter
from petsuite.psi.protocol import PsiMode, PsiResult

__all__ = [
    "MatchReport",
    "PsiDataset",
    "PsiServerSummary",
    "ServerKey",
    "delegate_psi",
    "matched_rows",
    "query_psi",
    "serve_psi",
    "submit_to_delegate",
]

#: Fixed-point precision of associated values in sum mode: 2^-16 ≈ 0.000015.
VALUE_FRAC_BITS = 16


@dataclass(frozen=True, slots=True)
class MatchReport:
    """How the source records became keys: what a DPO should see before any matching."""

    total_rows: int
    keys: int
    failed_rows: int
    failures: dict[str, int]
    duplicate_keys: int
    dropped_outliers: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_rows": self.total_rows,
            "keys": self.keys,
            "failed_rows": self.failed_rows,
            "failures": dict(self.failures),
            "duplicate_keys": self.duplicate_keys,
            "dropped_outliers": self.dropped_outliers,
        }


@dataclass(frozen=True, slots=True)
class PsiDataset:
    """One party's normalised, de-duplicated keys, with optional associated values.

    ``row_index[i]`` is the source row of ``keys[i]``, so results can be mapped back to records.
    """

    keys: tuple[bytes, ...]
    row_index: tuple[int, ...]
    key_spec: KeySpec
    report: MatchReport
    source: str
    values: tuple[float, ...] | None = None

    @classmethod
    def from_table(
        cls, table: Table, key_spec: KeySpec, *, value_column: str | None = None
    ) -> PsiDataset:
        built = build_keys(table, key_spec)
        keys = list(built.keys)
        rows = list(built.row_index)
        values: list[float] | None = None
        failures = dict(built.failures)
        failed = built.failed_rows
        if value_column is not None:
            raw = table.column(value_column)
            values = []
            kept_keys: list[bytes] = []
            kept_rows: list[int] = []
            bad = 0
            for key, row in zip(keys, rows, strict=True):
                number = _parse_number(raw[row])
                if number is None:
                    bad += 1
                    continue
                kept_keys.append(key)
                kept_rows.append(row)
                values.append(number)
            keys, rows = kept_keys, kept_rows
            if bad:
                failures[value_column] = failures.get(value_column, 0) + bad
                failed += bad
        if not keys:
            raise InvalidInput(
                f"{table.source}: no record could be normalised into a key "
                f"({failed} of {table.n_rows} failed); check the key specification"
            )
        report = MatchReport(
            total_rows=built.total_rows,
            keys=len(keys),
            failed_rows=failed,
            failures=failures,
            duplicate_keys=built.duplicate_keys,
        )
        return cls(
            keys=tuple(keys),
            row_index=tuple(rows),
            key_spec=key_spec,
            report=report,
            source=table.source,
            values=None if values is None else tuple(values),
        )

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        key_spec: KeySpec,
        *,
        value_column: str | None = None,
        table: str | None = None,
    ) -> PsiDataset:
        """Read ``path`` (CSV, Parquet, DuckDB or SQLite) and build the keys."""
        columns = [rule.column for rule in key_spec.rules]
        if value_column is not None and value_column not in columns:
            columns.append(value_column)
        data = read_table(path, columns=columns, table=table)
        return cls.from_table(data, key_spec, value_column=value_column)


def _parse_number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class ServerKey:
    """The server's PSI key. Fresh per session unless the operator asks for a long-lived one.

    A long-lived key lets a client that queries twice link its results across sessions and is only
    worth it when the server's own tags are precomputed for very large, stable sets.
    """

    scalar: Scalar

    @classmethod
    def fresh(cls, rng: RandomSource | None = None) -> ServerKey:
        return cls(Scalar.random(rng))

    @classmethod
    def long_lived(cls, scalar: Scalar) -> ServerKey:
        warnings.warn(
            "a long-lived PSI key lets a client link results across sessions; "
            "use a fresh key per session unless you must",
            UserWarning,
            stacklevel=2,
        )
        return cls(scalar)


@dataclass(frozen=True, slots=True)
class PsiServerSummary:
    peer: str
    session: str
    mode: str
    client_set_size: int
    released: bool
    claimed_count: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _server_offer(dataset: PsiDataset, policy: PsiPolicy) -> tuple[protocol.ServerOffer, int]:
    """The protocol's view of the server's data under ``policy``; outliers refused or dropped."""
    if len(dataset.keys) > policy.max_set_size:
        raise PolicyViolation(
            f"the server's own set ({len(dataset.keys)}) exceeds max_set_size "
            f"({policy.max_set_size})"
        )
    keys = list(dataset.keys)
    values: tuple[int, ...] | None = None
    fmt: FixedPoint | None = None
    bound = 0
    dropped = 0
    if dataset.values is not None and PsiMode.SUM in policy.allowed_modes:
        if policy.value_bound is None:
            raise InvalidInput(
                "sum mode needs a declared bound on the values (value_bound): "
                "bounds are never read from the data"
            )
        int_bits = max(1, math.ceil(math.log2(policy.value_bound + 1)) + 1)
        fmt = FixedPoint(frac_bits=VALUE_FRAC_BITS, int_bits=int_bits)
        bound = fmt.encode(policy.value_bound)
        encoded: list[int] = []
        kept: list[bytes] = []
        for key, value in zip(keys, dataset.values, strict=True):
            if abs(value) > policy.value_bound:
                if policy.outliers == "refuse":
                    raise PolicyViolation(
                        f"a value exceeds the declared bound ±{policy.value_bound}; "
                        "fix the data, raise the bound, or set outliers='drop'"
                    )
                dropped += 1
                continue
            kept.append(key)
            encoded.append(fmt.encode(value))
        keys, values = kept, tuple(encoded)
    modes = policy.allowed_modes
    if values is None:
        modes = modes - {PsiMode.SUM}
        if not modes:
            raise InvalidInput("the policy allows only sum mode but no value column was given")
    offer = protocol.ServerOffer(
        keys=tuple(keys),
        key_spec=dataset.key_spec.fingerprint(),
        allowed_modes=frozenset(modes),
        min_intersection=policy.min_intersection,
        max_client_set_size=policy.max_set_size,
        values=values,
        value_format=fmt,
        value_bound=bound,
        dp_epsilon=policy.dp_epsilon,
    )
    return offer, dropped


_SERVER_INBOUND: dict[protocol.ServerStage, MessageSpec] = {
    protocol.ServerStage.AWAIT_HELLO: protocol.HELLO,
    protocol.ServerStage.AWAIT_BLINDED: protocol.BLINDED,
    protocol.ServerStage.AWAIT_MASKED_SUM: OneOf(protocol.MASKED_SUM, protocol.FINISH),
    protocol.ServerStage.AWAIT_FINISH: protocol.FINISH,
}
_CLIENT_INBOUND: dict[protocol.ClientStage, MessageSpec] = {
    protocol.ClientStage.AWAIT_ACCEPT: protocol.ACCEPT,
    protocol.ClientStage.AWAIT_EVALUATED: protocol.EVALUATED,
    protocol.ClientStage.AWAIT_TAGS: protocol.TAGS,
    protocol.ClientStage.AWAIT_UNMASKED: protocol.UNMASKED,
}


async def serve_psi(
    channel: Channel,
    dataset: PsiDataset,
    policy: PsiPolicy | None = None,
    *,
    audit: AuditLog | None = None,
    rate_limiter: RateLimiter | None = None,
    key: ServerKey | None = None,
    ledger: PrivacyLedger | None = None,
    actor: str = "psi-server",
    rng: RandomSource | None = None,
) -> PsiServerSummary:
    """Server side of one PSI session with the client on ``channel``.

    The policy is checked before anything leaves: client set size, allowed mode, the counterparty's
    rate limit (persisted by ``rate_limiter``), and in sum mode the claimed intersection size. A
    refusal aborts the session with ``policy-refused``, is audited and raises
    :class:`~petsuite.core.errors.PolicyViolation`. With ``policy.dp_epsilon`` the released sum
    carries discrete Laplace noise, charged to ``ledger`` (dataset: the server's data source,
    analyst: the client) just before it is drawn.
    """
    policy = PsiPolicy() if policy is None else policy
    source = resolve(rng)
    offer, dropped = _server_offer(dataset, policy)
    session_key = key if key is not None else ServerKey.fresh(source)
    state = protocol.server_start(offer, session_key.scalar)
    params: dict[str, Any] = {
        "peer": channel.peer,
        "dataset": dataset.source,
        "server_set_size": len(offer.keys),
        "key_spec": offer.key_spec,
        "policy": policy.to_dict(),
        "dropped_outliers": dropped,
        "long_lived_key": key is not None,
    }
    try:
        while state.stage is not protocol.ServerStage.DONE:
            message = await channel.recv(_SERVER_INBOUND[state.stage])
            if state.stage is protocol.ServerStage.AWAIT_HELLO:
                params["session"] = bytes(message["session"]).hex()
                params["mode"] = message["mode"]
                if rate_limiter is not None and policy.rate_limit is not None:
                    params["runs_in_window"] = rate_limiter.acquire(
                        channel.peer, policy.rate_limit
                    )
            if (
                policy.dp_epsilon is not None
                and state.stage is protocol.ServerStage.AWAIT_MASKED_SUM
                and message.get("type") == protocol.MASKED_SUM.name
            ):
                # the claimed count is checked first, so a refused release spends nothing
                if message["count"] < offer.min_intersection:
                    raise PolicyViolation(
                        f"intersection of {message['count']} is below the minimum of "
                        f"{offer.min_intersection}: the sum is not released"
                    )
                if ledger is not None:
                    ledger.charge(
                        dataset=dataset.source,
                        analyst=channel.peer,
                        loss=PrivacyLoss(epsilon=policy.dp_epsilon),
                        description="noisy intersection-sum (PSI)",
                        parameters={"session": params.get("session"), "mode": "sum"},
                    )
            state, outbox = protocol.server_step(state, message, rng=source)
            for out in outbox:
                await channel.send(out)
    except (PolicyViolation, PrivacyBudgetExceeded) as exc:
        await channel.abort(AbortReason.POLICY, str(exc))
        _audit(audit, actor, "psi.serve.refused", {**params, "reason": str(exc)})
        raise
    except PetsError as exc:
        if isinstance(exc, ProtocolAbort):
            if exc.reason not in (AbortReason.PEER_ABORTED, AbortReason.PEER_CLOSED):
                await channel.abort(exc.reason, exc.detail)
        else:
            await channel.abort(AbortReason.CHECK_FAILED, type(exc).__name__)
        _audit(audit, actor, "psi.serve.aborted", {**params, "error": str(exc)})
        raise
    summary = PsiServerSummary(
        peer=channel.peer,
        session=state.session.hex(),
        mode=str(state.mode.value if state.mode else ""),
        client_set_size=state.client_set_size,
        released=bool(state.released),
        claimed_count=state.claimed_count,
    )
    _audit(
        audit,
        actor,
        "psi.serve",
        {
            **params,
            "client_set_size": state.client_set_size,
            "client_released": summary.released,
            "claimed_count": state.claimed_count,
        },
    )
    return summary


async def query_psi(
    channel: Channel,
    dataset: PsiDataset,
    *,
    mode: PsiMode | str = PsiMode.CARDINALITY,
    min_intersection: int = 10,
    audit: AuditLog | None = None,
    actor: str = "psi-client",
    rng: RandomSource | None = None,
) -> PsiResult:
    """Client side: learn what ``mode`` allows about the intersection with the server's set.

    The larger of ``min_intersection`` and the server's own minimum applies; below it nothing is
    released and :class:`~petsuite.core.errors.PolicyViolation` is raised.
    """
    source = resolve(rng)
    session = source.random_bytes(protocol.SESSION_BYTES)
    mode = PsiMode(mode)
    state, outbox = protocol.client_start(
        dataset.keys,
        mode=mode,
        key_spec=dataset.key_spec.fingerprint(),
        session=session,
        min_intersection=min_intersection,
        rng=source,
    )
    params: dict[str, Any] = {
        "peer": channel.peer,
        "dataset": dataset.source,
        "session": session.hex(),
        "mode": mode.value,
        "client_set_size": len(dataset.keys),
        "key_spec": dataset.key_spec.fingerprint(),
        "min_intersection": min_intersection,
        "normalisation": dataset.report.to_dict(),
    }
    try:
        while True:
            for out in outbox:
                await channel.send(out)
            if state.stage is protocol.ClientStage.DONE:
                break
            message = await channel.recv(_CLIENT_INBOUND[state.stage])
            state, outbox = protocol.client_step(state, message, rng=source)
    except ProtocolAbort as exc:
        _audit(audit, actor, "psi.query.aborted", {**params, "error": str(exc)})
        if exc.reason is AbortReason.PEER_ABORTED and exc.detail.startswith(
            AbortReason.POLICY.value
        ):
            raise PolicyViolation(f"the server refused: {exc.detail}") from exc
        raise
    except PetsError as exc:
        _audit(audit, actor, "psi.query.aborted", {**params, "error": str(exc)})
        raise
    params["server_set_size"] = state.server_set_size
    if state.refusal is not None or state.result is None:
        _audit(audit, actor, "psi.query.refused", {**params, "reason": state.refusal})
        raise PolicyViolation(state.refusal or "nothing was released")
    result = state.result
    _audit(
        audit,
        actor,
        "psi.query",
        params,
        result_digest=digest_result(
            {"size": result.size, "total": result.total, "matches": list(result.matches or [])}
        ),
    )
    return result


def _audit(
    audit: AuditLog | None,
    actor: str,
    operation: str,
    parameters: dict[str, Any],
    *,
    result_digest: str | None = None,
) -> None:
    if audit is not None:
        audit.append(
            actor=actor, operation=operation, parameters=parameters, result_digest=result_digest
        )


def matched_rows(dataset: PsiDataset, result: PsiResult) -> list[int]:
    """Source row numbers of the client's records in the intersection (intersection mode)."""
    if result.matches is None:
        raise InvalidInput("only intersection mode says which records matched")
    return [dataset.row_index[i] for i in result.matches]


# --------------------------------------------------------------------------- delegated mode


async def delegate_psi(
    channels: Mapping[str, Channel],
    config: DelegateConfig,
    *,
    audit: AuditLog | None = None,
    rate_limiter: RateLimiter | None = None,
    rate_limit: RateLimit | None = None,
    ledger: PrivacyLedger | None = None,
    actor: str = "psi-delegate",
    rng: RandomSource | None = None,
) -> int:
    """The delegate's side of one delegated run between the two owners on ``channels``.

    Returns the intersection size, which only the delegate and the recipient learn. Below the
    policy's minimum nothing is released: both owners get a ``policy-refused`` abort. With
    ``config.dp_epsilon`` the count (and sum) carry discrete Laplace noise, charged to ``ledger``
    (dataset: the run, analyst: the recipient) before it is drawn; the threshold then applies to
    the noisy count.
    """
    source = resolve(rng)
    if set(channels) != set(config.owners):
        raise InvalidInput("one channel per owner is needed")
    state = delegated.delegate_start(config, source.random_bytes(protocol.SESSION_BYTES))
    params: dict[str, Any] = {
        "run": config.run,
        "owners": list(config.owners),
        "recipient": config.recipient,
        "session": state.session.hex(),
        "min_intersection": config.min_intersection,
    }

    async def everyone(messages: dict[str, list[dict[str, Any]]]) -> None:
        for name, outbox in messages.items():
            for out in outbox:
                await channels[name].send(out)

    try:
        if rate_limiter is not None and rate_limit is not None:
            for name in config.owners:
                rate_limiter.acquire(name, rate_limit)
        hellos = await asyncio.gather(
            *(channels[name].recv(delegated.D_HELLO) for name in config.owners)
        )
        outboxes: dict[str, list[dict[str, Any]]] = {}
        for name, hello in zip(config.owners, hellos, strict=True):
            params[f"{name}_set_size"] = hello["set_size"]
            params["mode"] = hello["mode"]
            state, outboxes = delegated.delegate_step(state, name, hello, rng=source)
        await everyone(outboxes)

        async def tags_of(name: str) -> list[dict[str, Any]]:
            hello = state.owners[name].hello
            with_values = bool(hello["has_values"]) and hello["mode"] == PsiMode.SUM.value
            step = protocol.CIPHERTEXT_CHUNK if with_values else protocol.ELEMENT_CHUNK
            n = protocol.chunk_count(hello["set_size"], step)
            return [await channels[name].recv(delegated.D_TAGS) for _ in range(n)]

        chunks = await asyncio.gather(*(tags_of(name) for name in config.owners))
        if ledger is not None and config.dp_epsilon is not None:
            ledger.charge(
                dataset=config.run,
                analyst=config.recipient,
                loss=PrivacyLoss(epsilon=config.dp_epsilon),
                description="noisy delegated PSI release",
                parameters={"session": params["session"], "mode": params.get("mode")},
            )
        for name, messages in zip(config.owners, chunks, strict=True):
            for message in messages:
                state, outboxes = delegated.delegate_step(state, name, message, rng=source)
        await everyone(outboxes)
    except (PolicyViolation, PrivacyBudgetExceeded) as exc:
        for ch in channels.values():
            await ch.abort(AbortReason.POLICY, str(exc))
        _audit(audit, actor, "psi.delegate.refused", {**params, "reason": str(exc)})
        raise
    except PetsError as exc:
        for ch in channels.values():
            reason = exc.reason if isinstance(exc, ProtocolAbort) else AbortReason.CHECK_FAILED
            if reason not in (AbortReason.PEER_ABORTED, AbortReason.PEER_CLOSED):
                await ch.abort(reason, type(exc).__name__)
            else:
                await ch.close()
        _audit(audit, actor, "psi.delegate.aborted", {**params, "error": str(exc)})
        raise
    size = int(state.size or 0)
    _audit(audit, actor, "psi.delegate", {**params, "intersection_size": size})
    return size


async def submit_to_delegate(
    channel: Channel,
    dataset: PsiDataset,
    *,
    matching_key: bytes,
    run: str,
    mode: PsiMode | str = PsiMode.CARDINALITY,
    recipient: bool = False,
    value_bound: float | None = None,
    audit: AuditLog | None = None,
    actor: str = "psi-owner",
    rng: RandomSource | None = None,
) -> DelegatedResult | None:
    """An owner's side of a delegated run: send keyed, shuffled tags (and, for the value holder in
    sum mode, values encrypted under the recipient's key) to the delegate on ``channel``.

    Returns the result for the recipient, ``None`` for the other owner.
    """
    source = resolve(rng)
    mode = PsiMode(mode)
    values: list[int] | None = None
    frac_bits = 0
    bound = 0
    if mode is PsiMode.SUM and dataset.values is not None and not recipient:
        if value_bound is None or not value_bound > 0:
            raise InvalidInput("the value holder must declare a positive value bound")
        int_bits = max(1, math.ceil(math.log2(value_bound + 1)) + 1)
        fmt = FixedPoint(frac_bits=VALUE_FRAC_BITS, int_bits=int_bits)
        if any(abs(v) > value_bound for v in dataset.values):
            raise PolicyViolation(f"a value exceeds the declared bound ±{value_bound}")
        values = [fmt.encode(v) for v in dataset.values]
        frac_bits, bound = VALUE_FRAC_BITS, fmt.encode(value_bound)
    state, outbox = delegated.owner_start(
        dataset.keys,
        matching_key=matching_key,
        run=run,
        mode=mode,
        key_spec=dataset.key_spec.fingerprint(),
        values=values,
        value_frac_bits=frac_bits,
        value_bound=bound,
        recipient=recipient,
        rng=source,
    )
    params: dict[str, Any] = {
        "peer": channel.peer,
        "run": run,
        "mode": mode.value,
        "dataset": dataset.source,
        "set_size": len(dataset.keys),
        "recipient": recipient,
        "normalisation": dataset.report.to_dict(),
    }
    inbound: dict[delegated.OwnerStage, MessageSpec] = {
        delegated.OwnerStage.AWAIT_GO: delegated.D_GO,
        delegated.OwnerStage.AWAIT_RESULT: delegated.D_RESULT,
    }
    try:
        while True:
            for out in outbox:
                await channel.send(out)
            if state.stage is delegated.OwnerStage.DONE:
                break
            message = await channel.recv(inbound[state.stage])
            state, outbox = delegated.owner_step(state, message, rng=source)
    except ProtocolAbort as exc:
        _audit(audit, actor, "psi.submit.aborted", {**params, "error": str(exc)})
        if exc.reason is AbortReason.PEER_ABORTED and exc.detail.startswith(
            AbortReason.POLICY.value
        ):
            raise PolicyViolation(f"the delegate refused: {exc.detail}") from exc
        raise
    result = state.result
    digest = None if result is None else digest_result({"size": result.size, "total": result.total})
    _audit(audit, actor, "psi.submit", params, result_digest=digest)
    return result
