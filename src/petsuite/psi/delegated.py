"""Delegated PSI: two data owners send keyed, shuffled tags to a third party (the delegate), which
computes the intersection size, enforces the policy and sends the designated recipient what the
policy allows — the cardinality, or the cardinality and the sum of one owner's values.

Who learns what (semi-honest parties, no collusion):

* the delegate learns both set sizes and the intersection size, nothing about identities (tags are
  HMAC-SHA-256 under a matching key it does not hold) and nothing about values (they are Paillier
  ciphertexts under the recipient's key);
* the recipient (one of the owners) learns the intersection size, and in sum mode the sum;
* the other owner learns only that the run ended.

The owners share a 32-byte matching key out of band (``petsuite psi keygen``). If the delegate
colludes with an owner it learns which of the other owner's tags match; keep the key from the
delegate. The delegate enforces the minimum intersection size before anything leaves it, so a
modified owner cannot bypass it.

The machines are pure; :mod:`petsuite.psi.api` and the CLI run them over mutual TLS.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from petsuite.core.errors import AbortReason, InvalidInput, PolicyViolation, ProtocolAbort
from petsuite.core.rng import RandomSource
from petsuite.core.schema import Bool, Bytes, Int, ListOf, Optional, Schema, Str
from petsuite.dp.mechanisms import DiscreteLaplace
from petsuite.primitives.paillier import (
    PaillierCiphertext,
    PaillierEncoder,
    PaillierPrivateKey,
    PaillierPublicKey,
    sum_ciphertexts,
)
from petsuite.psi.protocol import (
    CIPHERTEXT_CHUNK,
    ELEMENT_CHUNK,
    MAX_CHUNKS,
    MAX_SET_SIZE,
    SESSION_BYTES,
    PsiMode,
    chunk_count,
    int_to_bytes,
    noise_margin,
    shuffle,
)

__all__ = [
    "MATCHING_KEY_BYTES",
    "DelegateConfig",
    "DelegateStage",
    "DelegateState",
    "DelegatedResult",
    "OwnerStage",
    "OwnerState",
    "delegate_start",
    "delegate_step",
    "keyed_tags",
    "owner_start",
    "owner_step",
]

MATCHING_KEY_BYTES = 32
TAG_BYTES = 32
_TAG_DOMAIN = b"petsuite/psi/delegated-tag/v1"
_MAX_CT = 1024

D_HELLO = Schema(
    "dpsi.hello",
    {
        "run": Str(min_len=1, max_len=64),
        "mode": Str(max_len=16, choices=(PsiMode.CARDINALITY.value, PsiMode.SUM.value)),
        "key_spec": Str(max_len=128),
        "set_size": Int(min=1, max=MAX_SET_SIZE),
        "has_values": Bool(),
        "recipient_key": Bytes(max_len=4096),
        "value_frac_bits": Int(min=0, max=64),
        "value_bound": Int(min=0, max=(1 << 63) - 1),
    },
)
D_GO = Schema(
    "dpsi.go",
    {
        "session": Bytes(exact_len=SESSION_BYTES),
        "recipient_key": Bytes(max_len=4096),
        "value_max_abs": Bytes(max_len=512),
    },
)
D_TAGS = Schema(
    "dpsi.tags",
    {
        "session": Bytes(exact_len=SESSION_BYTES),
        "chunk": Int(min=0, max=MAX_CHUNKS),
        "tags": ListOf(Bytes(exact_len=TAG_BYTES), min_items=1, max_items=ELEMENT_CHUNK),
        "values": ListOf(Bytes(max_len=_MAX_CT), max_items=CIPHERTEXT_CHUNK),
    },
)
D_RESULT = Schema(
    "dpsi.result",
    {
        "session": Bytes(exact_len=SESSION_BYTES),
        "recipient": Bool(),
        "size": Optional(Int(min=0, max=MAX_SET_SIZE)),
        "sum": Bytes(max_len=_MAX_CT),
        "value_frac_bits": Int(min=0, max=64),
        "value_max_abs": Bytes(max_len=512),
    },
)


def keyed_tags(matching_key: bytes, keys: Sequence[bytes]) -> list[bytes]:
    """HMAC-SHA-256 tags of normalised keys under the owners' shared matching key."""
    if len(matching_key) != MATCHING_KEY_BYTES:
        raise InvalidInput(f"the matching key must be {MATCHING_KEY_BYTES} bytes")
    base = hmac.new(matching_key, _TAG_DOMAIN, hashlib.sha256)
    out = []
    for k in keys:
        h = base.copy()
        h.update(k)
        out.append(h.digest())
    return out


@dataclass(frozen=True, slots=True)
class DelegatedResult:
    size: int
    total: float | None = None


# --------------------------------------------------------------------------- owner


class OwnerStage(enum.Enum):
    AWAIT_GO = "await-go"
    AWAIT_RESULT = "await-result"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class OwnerState:
    """A data owner's state. ``paillier`` is the recipient's private key (recipient only)."""

    stage: OwnerStage
    run: str
    mode: PsiMode
    tags: tuple[bytes, ...]
    values: tuple[int, ...] | None
    value_frac_bits: int
    value_bound: int
    paillier: PaillierPrivateKey | None = None
    session: bytes = b""
    result: DelegatedResult | None = None
    recipient: bool = False


def owner_start(
    keys: Sequence[bytes],
    *,
    matching_key: bytes,
    run: str,
    mode: PsiMode,
    key_spec: str,
    values: Sequence[int] | None = None,
    value_frac_bits: int = 0,
    value_bound: int = 0,
    recipient: bool = False,
    paillier_bits: int = 2048,
    rng: RandomSource | None = None,
) -> tuple[OwnerState, list[dict[str, Any]]]:
    """An owner's hello to the delegate. ``values`` are fixed-point encoded, ``|v| <= value_bound``."""
    if not keys:
        raise InvalidInput("the owner's set is empty")
    if len(set(keys)) != len(keys):
        raise InvalidInput("the owner's keys contain duplicates: de-duplicate them first")
    mode = PsiMode(mode)
    if mode is PsiMode.INTERSECTION:
        raise InvalidInput("the delegated mode releases a cardinality or a sum, not the records")
    if values is not None:
        if len(values) != len(keys):
            raise InvalidInput("one value per key is needed")
        if value_bound < 1 or any(abs(v) > value_bound for v in values):
            raise InvalidInput("values must lie within a declared, positive bound")
    paillier = None
    pk_bytes = b""
    if recipient and mode is PsiMode.SUM:
        paillier = PaillierPrivateKey.generate(paillier_bits, rng=rng)
        pk_bytes = paillier.public_key.to_bytes()
    order = shuffle(list(range(len(keys))), rng)
    tags = keyed_tags(matching_key, [keys[i] for i in order])
    shuffled_values = None if values is None else tuple(values[i] for i in order)
    state = OwnerState(
        stage=OwnerStage.AWAIT_GO,
        run=run,
        mode=mode,
        tags=tuple(tags),
        values=shuffled_values,
        value_frac_bits=value_frac_bits,
        value_bound=value_bound,
        paillier=paillier,
        recipient=recipient,
    )
    hello = {
        "type": D_HELLO.name,
        "run": run,
        "mode": mode.value,
        "key_spec": key_spec,
        "set_size": len(keys),
        "has_values": values is not None,
        "recipient_key": pk_bytes,
        "value_frac_bits": value_frac_bits,
        "value_bound": value_bound,
    }
    return state, [hello]


def owner_step(
    state: OwnerState, message: dict[str, Any], *, rng: RandomSource | None = None
) -> tuple[OwnerState, list[dict[str, Any]]]:
    if state.stage is OwnerStage.AWAIT_GO:
        msg = D_GO.validate(message)
        session = msg["session"]
        ciphertexts: list[bytes] = []
        if state.mode is PsiMode.SUM and state.values is not None:
            try:
                pk = PaillierPublicKey.from_bytes(msg["recipient_key"])
            except InvalidInput as exc:
                raise ProtocolAbort(AbortReason.MALFORMED, f"recipient key: {exc}") from exc
            if pk.n.bit_length() < 2048:
                raise ProtocolAbort(AbortReason.CHECK_FAILED, "recipient's key is too short")
            max_abs = int.from_bytes(msg["value_max_abs"], "big")
            if max_abs < 1 or max_abs * 2 >= pk.n:
                raise ProtocolAbort(AbortReason.CHECK_FAILED, "value bound does not fit the key")
            encoder = PaillierEncoder(pk, max_abs)
            plain = [encoder.encode(v) for v in state.values]
            ciphertexts = [c.to_bytes() for c in pk.encrypt_many(plain, rng=rng)]
        step = CIPHERTEXT_CHUNK if ciphertexts else ELEMENT_CHUNK
        outbox = [
            {
                "type": D_TAGS.name,
                "session": session,
                "chunk": c,
                "tags": list(state.tags[lo : lo + step]),
                "values": ciphertexts[lo : lo + step],
            }
            for c, lo in enumerate(range(0, len(state.tags), step))
        ]
        return replace(state, stage=OwnerStage.AWAIT_RESULT, session=session, tags=()), outbox
    if state.stage is OwnerStage.AWAIT_RESULT:
        msg = D_RESULT.validate(message)
        if not hmac.compare_digest(msg["session"], state.session):
            raise ProtocolAbort(AbortReason.UNEXPECTED, "result for another session")
        if msg["recipient"] != state.recipient:
            raise ProtocolAbort(AbortReason.UNEXPECTED, "result for the wrong party")
        if not state.recipient:
            return replace(state, stage=OwnerStage.DONE), []
        size = msg["size"]
        if size is None:
            raise ProtocolAbort(AbortReason.MALFORMED, "recipient's result has no size")
        total = None
        if state.mode is PsiMode.SUM:
            if state.paillier is None:
                raise ProtocolAbort(AbortReason.UNEXPECTED, "no key for the sum")
            pk = state.paillier.public_key
            try:
                ct = PaillierCiphertext.from_bytes(pk, msg["sum"])
            except InvalidInput as exc:
                raise ProtocolAbort(AbortReason.MALFORMED, f"sum ciphertext: {exc}") from exc
            encoder = PaillierEncoder(pk, int.from_bytes(msg["value_max_abs"], "big"))
            try:
                total_int = encoder.decode(state.paillier.decrypt(ct))
            except InvalidInput as exc:
                raise ProtocolAbort(AbortReason.CHECK_FAILED, f"sum out of range: {exc}") from exc
            total = total_int / (1 << msg["value_frac_bits"])
        return (
            replace(
                state, stage=OwnerStage.DONE, paillier=None, result=DelegatedResult(size, total)
            ),
            [],
        )
    raise ProtocolAbort(AbortReason.UNEXPECTED, f"message after stage {state.stage.value}")


# --------------------------------------------------------------------------- delegate


class DelegateStage(enum.Enum):
    AWAIT_HELLOS = "await-hellos"
    AWAIT_TAGS = "await-tags"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class DelegateConfig:
    """The delegate's policy for one run between two named owners."""

    run: str
    owners: tuple[str, str]
    recipient: str
    min_intersection: int = 10
    max_set_size: int = 10_000_000
    allowed_modes: frozenset[PsiMode] = frozenset({PsiMode.CARDINALITY, PsiMode.SUM})
    dp_epsilon: float | None = None

    def __post_init__(self) -> None:
        if len(set(self.owners)) != 2:
            raise InvalidInput("a delegated run needs two distinct owners")
        if self.recipient not in self.owners:
            raise InvalidInput("the recipient must be one of the two owners")
        if self.min_intersection < 0:
            raise InvalidInput("min_intersection must be non-negative")
        if self.dp_epsilon is not None and not (
            math.isfinite(self.dp_epsilon) and self.dp_epsilon > 0
        ):
            raise InvalidInput("dp_epsilon must be a positive, finite number")

    def noise(self, mode: PsiMode, value_bound: int) -> tuple[DiscreteLaplace | None, ...]:
        """Noise for the released count and (sum mode) sum: ε split evenly between them."""
        if self.dp_epsilon is None:
            return (None, None)
        share = self.dp_epsilon / (2 if mode is PsiMode.SUM else 1)
        count = DiscreteLaplace.for_epsilon(share, 1)
        total = DiscreteLaplace.for_epsilon(share, max(1, value_bound))
        return (count, total if mode is PsiMode.SUM else None)


@dataclass(frozen=True, slots=True)
class _OwnerView:
    hello: dict[str, Any]
    tags: tuple[bytes, ...] = ()
    values: tuple[bytes, ...] = ()
    next_chunk: int = 0
    complete: bool = False


@dataclass(frozen=True, slots=True)
class DelegateState:
    stage: DelegateStage
    config: DelegateConfig
    session: bytes
    owners: dict[str, _OwnerView] = field(default_factory=dict)
    size: int | None = None
    value_max_abs: int = 0


def delegate_start(config: DelegateConfig, session: bytes) -> DelegateState:
    if len(session) != SESSION_BYTES:
        raise InvalidInput(f"session id must be {SESSION_BYTES} bytes")
    return DelegateState(DelegateStage.AWAIT_HELLOS, config, bytes(session))


def _hello(
    state: DelegateState, party: str, message: dict[str, Any]
) -> tuple[DelegateState, dict[str, list[dict[str, Any]]]]:
    msg = D_HELLO.validate(message)
    cfg = state.config
    if party in state.owners:
        raise ProtocolAbort(AbortReason.UNEXPECTED, "second hello from the same owner", peer=party)
    if msg["run"] != cfg.run:
        raise ProtocolAbort(AbortReason.CONFIG_MISMATCH, f"unknown run {msg['run']!r}", peer=party)
    mode = PsiMode(msg["mode"])
    if mode not in cfg.allowed_modes:
        raise PolicyViolation(f"mode {mode.value!r} is not allowed by the delegate's policy")
    if msg["set_size"] > cfg.max_set_size:
        raise PolicyViolation(f"{party}'s set exceeds the limit of {cfg.max_set_size}")
    owners = {**state.owners, party: _OwnerView(hello=msg)}
    if len(owners) < 2:
        return replace(state, owners=owners), {}
    a, b = (owners[name].hello for name in cfg.owners)
    if a["key_spec"] != b["key_spec"]:
        raise ProtocolAbort(
            AbortReason.CONFIG_MISMATCH, "the owners normalise identifiers differently"
        )
    if a["mode"] != b["mode"]:
        raise ProtocolAbort(AbortReason.CONFIG_MISMATCH, "the owners asked for different modes")
    recipient_hello = owners[cfg.recipient].hello
    max_abs = 0
    holder: str | None = None
    if mode is PsiMode.SUM:
        holders = [name for name in cfg.owners if owners[name].hello["has_values"]]
        if len(holders) != 1 or holders[0] == cfg.recipient:
            raise ProtocolAbort(
                AbortReason.CONFIG_MISMATCH,
                "sum mode needs exactly one value holder, who is not the recipient",
            )
        holder = holders[0]
        if not recipient_hello["recipient_key"]:
            raise ProtocolAbort(AbortReason.CONFIG_MISMATCH, "the recipient sent no key")
        h = owners[holder].hello
        _, sum_noise = cfg.noise(mode, h["value_bound"])
        max_abs = max(1, h["set_size"] * h["value_bound"]) + noise_margin(sum_noise)
    outboxes: dict[str, list[dict[str, Any]]] = {}
    for name in cfg.owners:
        outboxes[name] = [
            {
                "type": D_GO.name,
                "session": state.session,
                "recipient_key": recipient_hello["recipient_key"] if name == holder else b"",
                "value_max_abs": int_to_bytes(max_abs if name == holder else 0),
            }
        ]
    return (
        replace(state, stage=DelegateStage.AWAIT_TAGS, owners=owners, value_max_abs=max_abs),
        outboxes,
    )


def _tags(
    state: DelegateState, party: str, message: dict[str, Any], rng: RandomSource | None
) -> tuple[DelegateState, dict[str, list[dict[str, Any]]]]:
    msg = D_TAGS.validate(message)
    view = state.owners.get(party)
    if view is None or view.complete:
        raise ProtocolAbort(AbortReason.UNEXPECTED, "tags from an unexpected party", peer=party)
    if not hmac.compare_digest(msg["session"], state.session):
        raise ProtocolAbort(AbortReason.UNEXPECTED, "tags for another session", peer=party)
    if msg["chunk"] != view.next_chunk:
        raise ProtocolAbort(AbortReason.UNEXPECTED, "tags out of order", peer=party)
    has_values = bool(view.hello["has_values"]) and view.hello["mode"] == PsiMode.SUM.value
    if has_values != bool(msg["values"]) or (
        has_values and len(msg["values"]) != len(msg["tags"])
    ):
        raise ProtocolAbort(AbortReason.CHECK_FAILED, "values do not match the tags", peer=party)
    tags = view.tags + tuple(msg["tags"])
    values = view.values + tuple(msg["values"])
    size = view.hello["set_size"]
    if len(tags) > size:
        raise ProtocolAbort(AbortReason.CHECK_FAILED, "more tags than announced", peer=party)
    step = CIPHERTEXT_CHUNK if has_values else ELEMENT_CHUNK
    nxt = view.next_chunk + 1
    complete = nxt >= chunk_count(size, step)
    if complete and len(tags) != size:
        raise ProtocolAbort(AbortReason.CHECK_FAILED, "fewer tags than announced", peer=party)
    owners = {
        **state.owners,
        party: replace(view, tags=tags, values=values, next_chunk=nxt, complete=complete),
    }
    state = replace(state, owners=owners)
    if not all(v.complete for v in owners.values()):
        return state, {}
    return _finish(state, rng)


def _finish(
    state: DelegateState, rng: RandomSource | None
) -> tuple[DelegateState, dict[str, list[dict[str, Any]]]]:
    cfg = state.config
    views = [state.owners[name] for name in cfg.owners]
    for v, name in zip(views, cfg.owners, strict=True):
        if len(set(v.tags)) != len(v.tags):
            raise ProtocolAbort(AbortReason.CHECK_FAILED, "duplicate tags", peer=name)
    holder_view = next((v for v in views if v.values), None)
    other = views[1] if holder_view is views[0] else views[0]
    if holder_view is None:
        small, large = sorted(views, key=lambda v: len(v.tags))
        large_set = set(large.tags)
        size = sum(1 for t in small.tags if t in large_set)
        matched: list[bytes] = []
    else:
        other_set = set(other.tags)
        matched = [
            c for t, c in zip(holder_view.tags, holder_view.values, strict=True) if t in other_set
        ]
        size = len(matched)
    mode = PsiMode(views[0].hello["mode"])
    bound = holder_view.hello["value_bound"] if holder_view is not None else 0
    count_noise, sum_noise = cfg.noise(mode, bound)
    if count_noise is not None:  # threshold the noisy count, so the refusal is DP too
        size = max(0, size + count_noise.sample(rng))
    if size < cfg.min_intersection:
        raise PolicyViolation(
            f"intersection of {size} is below the minimum of {cfg.min_intersection}: "
            "nothing is released"
        )
    total = b""
    recipient_hello = state.owners[cfg.recipient].hello
    frac_bits = 0
    if holder_view is not None:
        try:
            pk = PaillierPublicKey.from_bytes(recipient_hello["recipient_key"])
            cts = [PaillierCiphertext.from_bytes(pk, c) for c in matched]
        except InvalidInput as exc:
            raise ProtocolAbort(AbortReason.MALFORMED, f"ciphertext: {exc}") from exc
        eta = 0 if sum_noise is None else sum_noise.sample(rng)
        encoder = PaillierEncoder(pk, state.value_max_abs)
        zero = pk.encrypt(encoder.encode(eta), rng=rng)  # adds the noise, re-randomises the sum
        total = sum_ciphertexts([*cts, zero]).to_bytes()
        frac_bits = holder_view.hello["value_frac_bits"]
    outboxes: dict[str, list[dict[str, Any]]] = {}
    for name in cfg.owners:
        is_recipient = name == cfg.recipient
        outboxes[name] = [
            {
                "type": D_RESULT.name,
                "session": state.session,
                "recipient": is_recipient,
                "size": size if is_recipient else None,
                "sum": total if is_recipient else b"",
                "value_frac_bits": frac_bits if is_recipient else 0,
                "value_max_abs": int_to_bytes(state.value_max_abs if is_recipient else 0),
            }
        ]
    owners = {n: replace(v, tags=(), values=()) for n, v in state.owners.items()}
    return replace(state, stage=DelegateStage.DONE, owners=owners, size=size), outboxes


def delegate_step(
    state: DelegateState,
    party: str,
    message: dict[str, Any],
    *,
    rng: RandomSource | None = None,
) -> tuple[DelegateState, dict[str, list[dict[str, Any]]]]:
    """Consume one message from owner ``party``; return per-owner outboxes."""
    if party not in state.config.owners:
        raise ProtocolAbort(AbortReason.UNEXPECTED, "not an owner of this run", peer=party)
    if state.stage is DelegateStage.AWAIT_HELLOS:
        return _hello(state, party, message)
    if state.stage is DelegateStage.AWAIT_TAGS:
        return _tags(state, party, message, rng)
    raise ProtocolAbort(AbortReason.UNEXPECTED, "message after the run ended", peer=party)
