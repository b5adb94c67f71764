"""Client–server private set intersection over ristretto255, as pure stage machines.

The construction follows RFC 9497's OPRF where it fits: each identifier key ``x`` is hashed to the
group with the RFC's ``HashToGroup`` (RFC 9380 ``ristretto255_XMD:SHA-512_R255MAP_RO_``), blinded by
the client, evaluated under the server's key ``k``, unblinded, and finalised into a tag. The client
uses one blinding scalar ``a`` for all its elements (Diffie–Hellman PSI) so that the server may
shuffle its answers; the finalisation hashes the unblinded element with the session id (not the
input, which the client cannot pair with a shuffled answer).

::

    client (X, secret a)                               server (Y, values, fresh key k)
      psi.hello{session, mode, key_spec, set_size}   ->
                                                     <-  psi.accept{policy, sizes, [Paillier pk]}
      psi.blinded{H(x)^a ...} (chunks)               ->
                                                     <-  psi.evaluated{H(x)^(ak) ...} (chunks;
                                                         shuffled unless mode is intersection)
                                                     <-  psi.tags{T(H(y)^k) ..., [Enc(v_y) ...]}
      [sum] psi.masked_sum{Enc(sum + r), count}      ->
                                                     <-  [sum] psi.unmasked{sum + r mod n}
      psi.finish{released}                           ->

What each mode reveals (semi-honest parties; see docs/psi.md for the whole table):

* ``intersection`` — the client learns which of its keys are in the server's set; the server learns
  the client's set size.
* ``cardinality`` — the client learns only the intersection size (answers are shuffled, so it cannot
  tell which of its keys matched); the server learns the client's set size.
* ``sum`` — the client learns the size and the sum of the server's values over the intersection. The
  server learns the client's set size and the client's claimed count; the sum itself is masked by a
  uniform ``r`` mod ``n`` before the server decrypts it, so the server learns nothing about it.

Both sides learn the other's set size. The minimum intersection size is enforced by the client's
petsuite before anything is released (only the client learns the size); in ``sum`` mode the server
also checks the client's claimed count before it decrypts. A client that runs modified software can
skip its own check: when that is in the threat model, use the delegated mode.

The machines are pure: no I/O, no clock; randomness comes in as an argument.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from petsuite.core.encoding import FixedPoint, encode_parts
from petsuite.core.errors import (
    AbortReason,
    InvalidInput,
    PolicyViolation,
    ProtocolAbort,
    UnsupportedParameter,
)
from petsuite.core.rng import RandomSource, random_below, resolve
from petsuite.core.schema import Bool, Bytes, Int, ListOf, Schema, Str
from petsuite.dp.mechanisms import DiscreteLaplace
from petsuite.primitives.group import (
    Scalar,
    raw_batch_hash_and_mult,
    raw_batch_scalar_mult,
)
from petsuite.primitives.oprf import HASH_TO_GROUP_DST
from petsuite.primitives.paillier import (
    PaillierCiphertext,
    PaillierEncoder,
    PaillierPrivateKey,
    PaillierPublicKey,
    sum_ciphertexts,
)

__all__ = [
    "ACCEPT",
    "BLINDED",
    "EVALUATED",
    "FINISH",
    "HELLO",
    "MASKED_SUM",
    "PROTOCOL_VERSION",
    "TAGS",
    "UNMASKED",
    "ClientStage",
    "PsiClientState",
    "PsiMode",
    "PsiResult",
    "PsiServerState",
    "ServerOffer",
    "ServerStage",
    "chunk_count",
    "client_start",
    "client_step",
    "noise_margin",
    "server_start",
    "server_step",
    "shuffle",
    "tag_of",
]

PROTOCOL_VERSION = 1
SESSION_BYTES = 16
TAG_BYTES = 32
#: Elements per frame (2 MiB of group elements); Paillier ciphertexts go in smaller chunks.
ELEMENT_CHUNK = 1 << 16
CIPHERTEXT_CHUNK = 4096
MAX_SET_SIZE = 1 << 28
MAX_CHUNKS = MAX_SET_SIZE // 4096 + 1
_TAG_DOMAIN = b"petsuite/psi/tag/v1"
_MAX_PAILLIER_BYTES = 1024  # a 4096-bit n² is 1024 bytes


class PsiMode(enum.StrEnum):
    """What the client learns."""

    INTERSECTION = "intersection"
    CARDINALITY = "cardinality"
    SUM = "sum"


_MODES = tuple(m.value for m in PsiMode)

HELLO = Schema(
    "psi.hello",
    {
        "version": Int(min=0, max=1 << 16),
        "session": Bytes(exact_len=SESSION_BYTES),
        "mode": Str(max_len=16, choices=_MODES),
        "key_spec": Str(max_len=128),
        "set_size": Int(min=1, max=MAX_SET_SIZE),
    },
)
ACCEPT = Schema(
    "psi.accept",
    {
        "session": Bytes(exact_len=SESSION_BYTES),
        "server_set_size": Int(min=1, max=MAX_SET_SIZE),
        "min_intersection": Int(min=0, max=MAX_SET_SIZE),
        "paillier_public_key": Bytes(max_len=4096),
        "value_frac_bits": Int(min=0, max=64),
        "value_max_abs": Bytes(max_len=512),
    },
)
BLINDED = Schema(
    "psi.blinded",
    {
        "session": Bytes(exact_len=SESSION_BYTES),
        "chunk": Int(min=0, max=MAX_CHUNKS),
        "elements": Bytes(min_len=32, max_len=32 * ELEMENT_CHUNK),
    },
)
EVALUATED = Schema(
    "psi.evaluated",
    {
        "session": Bytes(exact_len=SESSION_BYTES),
        "chunk": Int(min=0, max=MAX_CHUNKS),
        "elements": Bytes(min_len=32, max_len=32 * ELEMENT_CHUNK),
    },
)
TAGS = Schema(
    "psi.tags",
    {
        "session": Bytes(exact_len=SESSION_BYTES),
        "chunk": Int(min=0, max=MAX_CHUNKS),
        "tags": Bytes(min_len=TAG_BYTES, max_len=TAG_BYTES * ELEMENT_CHUNK),
        "values": ListOf(Bytes(max_len=_MAX_PAILLIER_BYTES), max_items=CIPHERTEXT_CHUNK),
    },
)
MASKED_SUM = Schema(
    "psi.masked_sum",
    {
        "session": Bytes(exact_len=SESSION_BYTES),
        "count": Int(min=0, max=MAX_SET_SIZE),
        "ciphertext": Bytes(max_len=_MAX_PAILLIER_BYTES),
    },
)
UNMASKED = Schema(
    "psi.unmasked",
    {"session": Bytes(exact_len=SESSION_BYTES), "value": Bytes(max_len=_MAX_PAILLIER_BYTES)},
)
FINISH = Schema(
    "psi.finish",
    {"session": Bytes(exact_len=SESSION_BYTES), "released": Bool()},
)


def int_to_bytes(value: int) -> bytes:
    """Big-endian bytes of a non-negative integer (wire form of integers wider than 64 bits)."""
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def tag_of(session: bytes, element: bytes) -> bytes:
    """The finalised tag of an unblinded element ``H(x)^k`` in one session."""
    return hashlib.sha512(encode_parts([_TAG_DOMAIN, session, element])).digest()[:TAG_BYTES]


def _tags(session: bytes, elements: Sequence[bytes]) -> list[bytes]:
    """:func:`tag_of` for many 32-byte elements, with the constant prefix encoded once."""
    prefix = encode_parts([_TAG_DOMAIN, session]) + (32).to_bytes(8, "big")
    sha512 = hashlib.sha512
    return [sha512(prefix + e).digest()[:TAG_BYTES] for e in elements]


def _unpack(blob: bytes, size: int, what: str) -> list[bytes]:
    """Split a chunk sent as one byte string (cheaper to encode than a list of 100k items)."""
    if len(blob) % size:
        raise ProtocolAbort(AbortReason.MALFORMED, f"{what}: length is not a multiple of {size}")
    return [blob[i : i + size] for i in range(0, len(blob), size)]


def shuffle(items: list[Any], rng: RandomSource | None = None) -> list[Any]:
    """A uniformly random permutation: Fisher–Yates with 128-bit random indices reduced modulo
    ``i + 1``, drawn in one call (the reduction's bias is below n/2^128; rejection sampling per
    element made ~3 system calls per element and cost 0.13 s per 100k)."""
    out = list(items)
    n = len(out)
    if n < 2:
        return out
    pool = resolve(rng).random_bytes(16 * (n - 1))
    for k, i in enumerate(range(n - 1, 0, -1)):
        j = int.from_bytes(pool[16 * k : 16 * k + 16], "big") % (i + 1)
        out[i], out[j] = out[j], out[i]
    return out


def chunk_count(n: int, size: int) -> int:
    """Messages needed to carry ``n`` items ``size`` at a time (at least one)."""
    return max(1, -(-n // size))


def _abort(reason: AbortReason, detail: str) -> ProtocolAbort:
    return ProtocolAbort(reason, detail)


def _check_session(msg: dict[str, Any], session: bytes) -> None:
    if not hmac.compare_digest(msg["session"], session):
        raise _abort(AbortReason.UNEXPECTED, "message for another session")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class PsiResult:
    """What the client learned. ``matches`` holds indices into the client's keys (intersection
    mode only); ``total`` the sum over the intersection (sum mode only)."""

    mode: PsiMode
    size: int
    client_set_size: int
    server_set_size: int
    matches: tuple[int, ...] | None = None
    total: float | None = None


# --------------------------------------------------------------------------- server


class ServerStage(enum.Enum):
    AWAIT_HELLO = "await-hello"
    AWAIT_BLINDED = "await-blinded"
    AWAIT_MASKED_SUM = "await-masked-sum"
    AWAIT_FINISH = "await-finish"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class ServerOffer:
    """What the server brings to a session: its keys, optional values and its policy."""

    keys: tuple[bytes, ...]
    key_spec: str
    allowed_modes: frozenset[PsiMode]
    min_intersection: int
    max_client_set_size: int
    values: tuple[int, ...] | None = None
    value_format: FixedPoint | None = None
    value_bound: int = 0
    paillier_bits: int = 2048
    dp_epsilon: float | None = None

    def __post_init__(self) -> None:
        if not self.keys:
            raise InvalidInput("the server's set is empty")
        if len(self.keys) > MAX_SET_SIZE:
            raise InvalidInput(f"the server's set exceeds {MAX_SET_SIZE} keys")
        if self.values is not None and len(self.values) != len(self.keys):
            raise InvalidInput("one value per key is needed for intersection-sum")
        if self.min_intersection < 0:
            raise InvalidInput("min_intersection must be non-negative")
        if self.values is not None:
            if self.value_format is None or self.value_bound < 1:
                raise InvalidInput("intersection-sum needs a declared bound on the values")
            if any(abs(v) > self.value_bound for v in self.values):
                raise InvalidInput("a value exceeds the declared bound")


@dataclass(frozen=True, slots=True)
class PsiServerState:
    stage: ServerStage
    offer: ServerOffer
    key: Scalar
    session: bytes = b""
    mode: PsiMode | None = None
    client_set_size: int = 0
    received: tuple[bytes, ...] = ()
    next_chunk: int = 0
    paillier: PaillierPrivateKey | None = None
    released: bool | None = None
    claimed_count: int | None = None



def server_start(offer: ServerOffer, key: Scalar) -> PsiServerState:
    """A server waiting for a client's hello. ``key`` should be fresh for each session."""
    if key.is_zero():
        raise InvalidInput("the PSI key must be non-zero")
    return PsiServerState(stage=ServerStage.AWAIT_HELLO, offer=offer, key=key)


def _server_hello(
    state: PsiServerState, msg: dict[str, Any], rng: RandomSource | None
) -> tuple[PsiServerState, list[dict[str, Any]]]:
    msg = HELLO.validate(msg)
    offer = state.offer
    if msg["version"] != PROTOCOL_VERSION:
        raise _abort(AbortReason.CONFIG_MISMATCH, f"protocol version {msg['version']}")
    if not hmac.compare_digest(msg["key_spec"].encode(), offer.key_spec.encode()):
        raise _abort(
            AbortReason.CONFIG_MISMATCH,
            "the parties normalise identifiers differently (key specification fingerprints differ)",
        )
    mode = PsiMode(msg["mode"])
    if mode not in offer.allowed_modes:
        raise PolicyViolation(f"mode {mode.value!r} is not allowed by the server's policy")
    if msg["set_size"] > offer.max_client_set_size:
        raise PolicyViolation(
            f"the client's set ({msg['set_size']}) exceeds the server's limit "
            f"({offer.max_client_set_size})"
        )
    paillier: PaillierPrivateKey | None = None
    pk_bytes = b""
    frac_bits = 0
    max_abs = 0
    if mode is PsiMode.SUM:
        if offer.values is None or offer.value_format is None:
            raise UnsupportedParameter("intersection-sum needs values and a declared bound")
        paillier = PaillierPrivateKey.generate(offer.paillier_bits, rng=rng)
        pk_bytes = paillier.public_key.to_bytes()
        frac_bits = offer.value_format.frac_bits
        max_abs = _sum_bound(offer)
        if max_abs * 2 >= paillier.public_key.n:
            raise UnsupportedParameter("values too large for the Paillier modulus")
    new = replace(
        state,
        stage=ServerStage.AWAIT_BLINDED,
        session=msg["session"],
        mode=mode,
        client_set_size=msg["set_size"],
        paillier=paillier,
    )
    accept = {
        "type": ACCEPT.name,
        "session": msg["session"],
        "server_set_size": len(offer.keys),
        "min_intersection": offer.min_intersection,
        "paillier_public_key": pk_bytes,
        "value_frac_bits": frac_bits,
        "value_max_abs": int_to_bytes(max_abs),
    }
    return new, [accept]


def _sum_noise(offer: ServerOffer) -> DiscreteLaplace | None:
    """The discrete Laplace noise added to a released sum (sensitivity: the declared bound)."""
    if offer.dp_epsilon is None:
        return None
    return DiscreteLaplace.for_epsilon(offer.dp_epsilon, max(1, offer.value_bound))


def noise_margin(noise: DiscreteLaplace | None) -> int:
    """Room left for noise in the overflow check: 60 scales (exceeded with probability < e^-60)."""
    return 0 if noise is None else math.ceil(60 * noise.scale)


def _sum_bound(offer: ServerOffer) -> int:
    """Largest absolute encoded sum if every key were in the intersection (set size × declared
    bound), plus room for DP noise. Derived from public figures only, never from the values."""
    return max(1, len(offer.keys) * offer.value_bound) + noise_margin(_sum_noise(offer))


def _server_blinded(
    state: PsiServerState, msg: dict[str, Any], rng: RandomSource | None
) -> tuple[PsiServerState, list[dict[str, Any]]]:
    msg = BLINDED.validate(msg)
    _check_session(msg, state.session)
    if msg["chunk"] != state.next_chunk:
        raise _abort(AbortReason.UNEXPECTED, f"expected chunk {state.next_chunk}")
    received = state.received + tuple(_unpack(msg["elements"], 32, "blinded elements"))
    if len(received) > state.client_set_size:
        raise _abort(AbortReason.CHECK_FAILED, "client sent more elements than it announced")
    state = replace(state, received=received, next_chunk=state.next_chunk + 1)
    expected_chunks = chunk_count(state.client_set_size, ELEMENT_CHUNK)
    if state.next_chunk < expected_chunks:
        return state, []
    if len(received) != state.client_set_size:
        raise _abort(AbortReason.CHECK_FAILED, "client sent fewer elements than it announced")
    try:
        evaluated = raw_batch_scalar_mult(list(received), state.key)
    except InvalidInput as exc:
        raise _abort(AbortReason.MALFORMED, f"invalid blinded element: {exc}") from exc
    if state.mode is not PsiMode.INTERSECTION:
        evaluated = shuffle(evaluated, rng)
    offer = state.offer
    own = raw_batch_hash_and_mult(list(offer.keys), HASH_TO_GROUP_DST, state.key)
    tags = _tags(state.session, own)
    order = shuffle(list(range(len(tags))), rng)
    tags = [tags[i] for i in order]
    outbox: list[dict[str, Any]] = []
    for c, lo in enumerate(range(0, len(evaluated), ELEMENT_CHUNK)):
        outbox.append(
            {
                "type": EVALUATED.name,
                "session": state.session,
                "chunk": c,
                "elements": b"".join(evaluated[lo : lo + ELEMENT_CHUNK]),
            }
        )
    ciphertexts: list[bytes] = []
    if state.mode is PsiMode.SUM:
        if state.paillier is None or offer.values is None:
            raise _abort(AbortReason.UNEXPECTED, "sum mode without a key")
        pk = state.paillier.public_key
        encoder = PaillierEncoder(pk, _sum_bound(offer))
        plain = [encoder.encode(offer.values[i]) for i in order]
        ciphertexts = [c.to_bytes() for c in pk.encrypt_many(plain, rng=rng)]
    step = CIPHERTEXT_CHUNK if ciphertexts else ELEMENT_CHUNK
    for c, lo in enumerate(range(0, len(tags), step)):
        outbox.append(
            {
                "type": TAGS.name,
                "session": state.session,
                "chunk": c,
                "tags": b"".join(tags[lo : lo + step]),
                "values": ciphertexts[lo : lo + step],
            }
        )
    nxt = ServerStage.AWAIT_MASKED_SUM if state.mode is PsiMode.SUM else ServerStage.AWAIT_FINISH
    return replace(state, stage=nxt, received=()), outbox


def _server_masked_sum(
    state: PsiServerState, msg: dict[str, Any], rng: RandomSource | None
) -> tuple[PsiServerState, list[dict[str, Any]]]:
    if msg.get("type") == FINISH.name:  # the client refused to release: no sum is decrypted
        return _server_finish(state, msg)
    msg = MASKED_SUM.validate(msg)
    _check_session(msg, state.session)
    if state.paillier is None:
        raise _abort(AbortReason.UNEXPECTED, "no Paillier key in this session")
    count = msg["count"]
    if count > min(state.client_set_size, len(state.offer.keys)):
        raise _abort(AbortReason.CHECK_FAILED, "claimed intersection larger than either set")
    if count < state.offer.min_intersection:
        raise PolicyViolation(
            f"intersection of {count} is below the minimum of {state.offer.min_intersection}: "
            "the sum is not released"
        )
    try:
        ciphertext = PaillierCiphertext.from_bytes(state.paillier.public_key, msg["ciphertext"])
    except InvalidInput as exc:
        raise _abort(AbortReason.MALFORMED, f"invalid ciphertext: {exc}") from exc
    masked = state.paillier.decrypt(ciphertext)
    noise = _sum_noise(state.offer)
    if noise is not None:  # the releasing party adds the noise: the client sees sum + r + η
        masked = (masked + noise.sample(rng)) % state.paillier.public_key.n
    nbytes = (state.paillier.public_key.n.bit_length() + 7) // 8
    reply = {
        "type": UNMASKED.name,
        "session": state.session,
        "value": masked.to_bytes(nbytes, "big"),
    }
    return replace(state, stage=ServerStage.AWAIT_FINISH, claimed_count=count), [reply]


def _server_finish(
    state: PsiServerState, msg: dict[str, Any]
) -> tuple[PsiServerState, list[dict[str, Any]]]:
    msg = FINISH.validate(msg)
    _check_session(msg, state.session)
    return replace(state, stage=ServerStage.DONE, released=msg["released"], paillier=None), []


def server_step(
    state: PsiServerState, message: dict[str, Any], *, rng: RandomSource | None = None
) -> tuple[PsiServerState, list[dict[str, Any]]]:
    """Consume one client message; return the new state and the messages to send."""
    stage = state.stage
    if stage is ServerStage.AWAIT_HELLO:
        return _server_hello(state, message, rng)
    if stage is ServerStage.AWAIT_BLINDED:
        return _server_blinded(state, message, rng)
    if stage is ServerStage.AWAIT_MASKED_SUM:
        return _server_masked_sum(state, message, rng)
    if stage is ServerStage.AWAIT_FINISH:
        return _server_finish(state, message)
    raise _abort(AbortReason.UNEXPECTED, f"message after stage {stage.value}")


# --------------------------------------------------------------------------- client


class ClientStage(enum.Enum):
    AWAIT_ACCEPT = "await-accept"
    AWAIT_EVALUATED = "await-evaluated"
    AWAIT_TAGS = "await-tags"
    AWAIT_UNMASKED = "await-unmasked"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class PsiClientState:
    """Client state. ``blind`` and ``mask`` are secrets: never log or send them."""

    stage: ClientStage
    session: bytes
    mode: PsiMode
    keys: tuple[bytes, ...]
    blind: Scalar
    min_intersection: int
    server_set_size: int = 0
    server_min_intersection: int = 0
    unblinded_tags: tuple[bytes, ...] = ()
    evaluated: tuple[bytes, ...] = ()
    next_chunk: int = 0
    server_tags: tuple[bytes, ...] = ()
    ciphertexts: tuple[bytes, ...] = ()
    paillier: PaillierPublicKey | None = None
    frac_bits: int = 0
    max_abs: int = 0
    mask: int = 0
    size: int = 0
    matches: tuple[int, ...] | None = None
    result: PsiResult | None = None
    refusal: str | None = field(default=None)

    @property
    def threshold(self) -> int:
        return max(self.min_intersection, self.server_min_intersection)


def client_start(
    keys: Sequence[bytes],
    *,
    mode: PsiMode,
    key_spec: str,
    session: bytes,
    min_intersection: int,
    rng: RandomSource | None = None,
) -> tuple[PsiClientState, list[dict[str, Any]]]:
    """Start a session: the hello message. ``keys`` are normalised, de-duplicated identifiers."""
    if not keys:
        raise InvalidInput("the client's set is empty")
    if len(keys) > MAX_SET_SIZE:
        raise InvalidInput(f"the client's set exceeds {MAX_SET_SIZE} keys")
    if len(set(keys)) != len(keys):
        raise InvalidInput("the client's keys contain duplicates: de-duplicate them first")
    if len(session) != SESSION_BYTES:
        raise InvalidInput(f"session id must be {SESSION_BYTES} bytes")
    if min_intersection < 0:
        raise InvalidInput("min_intersection must be non-negative")
    state = PsiClientState(
        stage=ClientStage.AWAIT_ACCEPT,
        session=bytes(session),
        mode=PsiMode(mode),
        keys=tuple(keys),
        blind=Scalar.random(rng),
        min_intersection=min_intersection,
    )
    hello = {
        "type": HELLO.name,
        "version": PROTOCOL_VERSION,
        "session": state.session,
        "mode": state.mode.value,
        "key_spec": key_spec,
        "set_size": len(keys),
    }
    return state, [hello]


def _client_accept(
    state: PsiClientState, msg: dict[str, Any]
) -> tuple[PsiClientState, list[dict[str, Any]]]:
    msg = ACCEPT.validate(msg)
    _check_session(msg, state.session)
    paillier = None
    if state.mode is PsiMode.SUM:
        try:
            paillier = PaillierPublicKey.from_bytes(msg["paillier_public_key"])
        except InvalidInput as exc:
            raise _abort(AbortReason.MALFORMED, f"invalid Paillier key: {exc}") from exc
        if paillier.n.bit_length() < 2048:
            raise _abort(AbortReason.CHECK_FAILED, "server's Paillier key is too short")
        max_abs = int.from_bytes(msg["value_max_abs"], "big")
        if max_abs * 2 >= paillier.n or max_abs < 1:
            raise _abort(AbortReason.CHECK_FAILED, "server's value bound does not fit its key")
    blinded = raw_batch_hash_and_mult(list(state.keys), HASH_TO_GROUP_DST, state.blind)
    outbox = [
        {
            "type": BLINDED.name,
            "session": state.session,
            "chunk": c,
            "elements": b"".join(blinded[lo : lo + ELEMENT_CHUNK]),
        }
        for c, lo in enumerate(range(0, len(blinded), ELEMENT_CHUNK))
    ]
    new = replace(
        state,
        stage=ClientStage.AWAIT_EVALUATED,
        server_set_size=msg["server_set_size"],
        server_min_intersection=msg["min_intersection"],
        paillier=paillier,
        frac_bits=msg["value_frac_bits"],
        max_abs=int.from_bytes(msg["value_max_abs"], "big"),
    )
    return new, outbox


def _client_evaluated(
    state: PsiClientState, msg: dict[str, Any]
) -> tuple[PsiClientState, list[dict[str, Any]]]:
    msg = EVALUATED.validate(msg)
    _check_session(msg, state.session)
    if msg["chunk"] != state.next_chunk:
        raise _abort(AbortReason.UNEXPECTED, f"expected evaluated chunk {state.next_chunk}")
    evaluated = state.evaluated + tuple(_unpack(msg["elements"], 32, "evaluated elements"))
    if len(evaluated) > len(state.keys):
        raise _abort(AbortReason.CHECK_FAILED, "server returned more elements than were sent")
    nxt = state.next_chunk + 1
    if nxt < chunk_count(len(state.keys), ELEMENT_CHUNK):
        return replace(state, evaluated=evaluated, next_chunk=nxt), []
    if len(evaluated) != len(state.keys):
        raise _abort(AbortReason.CHECK_FAILED, "server returned fewer elements than were sent")
    try:
        unblinded = raw_batch_scalar_mult(list(evaluated), state.blind.invert())
    except InvalidInput as exc:
        raise _abort(AbortReason.MALFORMED, f"invalid evaluated element: {exc}") from exc
    return (
        replace(
            state,
            stage=ClientStage.AWAIT_TAGS,
            evaluated=(),
            unblinded_tags=tuple(_tags(state.session, unblinded)),
            next_chunk=0,
        ),
        [],
    )


def _client_tags(
    state: PsiClientState, msg: dict[str, Any], rng: RandomSource | None
) -> tuple[PsiClientState, list[dict[str, Any]]]:
    msg = TAGS.validate(msg)
    _check_session(msg, state.session)
    if msg["chunk"] != state.next_chunk:
        raise _abort(AbortReason.UNEXPECTED, f"expected tags chunk {state.next_chunk}")
    want_values = state.mode is PsiMode.SUM
    chunk_tags = _unpack(msg["tags"], TAG_BYTES, "tags")
    if want_values != bool(msg["values"]) or (
        want_values and len(msg["values"]) != len(chunk_tags)
    ):
        raise _abort(AbortReason.CHECK_FAILED, "values do not match the tags")
    tags = state.server_tags + tuple(chunk_tags)
    cts = state.ciphertexts + tuple(msg["values"])
    if len(tags) > state.server_set_size:
        raise _abort(AbortReason.CHECK_FAILED, "server sent more tags than it announced")
    step = CIPHERTEXT_CHUNK if want_values else ELEMENT_CHUNK
    nxt = state.next_chunk + 1
    if nxt < chunk_count(state.server_set_size, step):
        return replace(state, server_tags=tags, ciphertexts=cts, next_chunk=nxt), []
    if len(tags) != state.server_set_size:
        raise _abort(AbortReason.CHECK_FAILED, "server sent fewer tags than it announced")
    index = {t: i for i, t in enumerate(tags)}
    if len(index) != len(tags):
        raise _abort(AbortReason.CHECK_FAILED, "server sent duplicate tags")
    hits = [(mine, index[t]) for mine, t in enumerate(state.unblinded_tags) if t in index]
    size = len(hits)
    done = replace(state, server_tags=(), ciphertexts=(), size=size, next_chunk=0)
    if size < state.threshold:
        refusal = (
            f"intersection of {size} is below the minimum of {state.threshold}: "
            "nothing is released"
        )
        finish = {"type": FINISH.name, "session": state.session, "released": False}
        return replace(done, stage=ClientStage.DONE, refusal=refusal), [finish]
    if state.mode is PsiMode.SUM:
        if state.paillier is None:
            raise _abort(AbortReason.UNEXPECTED, "sum mode without a key")
        pk = state.paillier
        try:
            selected = [PaillierCiphertext.from_bytes(pk, cts[j]) for _, j in hits]
        except InvalidInput as exc:
            raise _abort(AbortReason.MALFORMED, f"invalid ciphertext: {exc}") from exc
        mask = random_below(pk.n, rng)
        masked = pk.encrypt(mask, rng=rng)
        if selected:
            masked = sum_ciphertexts([*selected, masked])
        message = {
            "type": MASKED_SUM.name,
            "session": state.session,
            "count": size,
            "ciphertext": masked.to_bytes(),
        }
        return replace(done, stage=ClientStage.AWAIT_UNMASKED, mask=mask), [message]
    matches = tuple(mine for mine, _ in hits) if state.mode is PsiMode.INTERSECTION else None
    result = PsiResult(
        mode=state.mode,
        size=size,
        client_set_size=len(state.keys),
        server_set_size=state.server_set_size,
        matches=matches,
    )
    finish = {"type": FINISH.name, "session": state.session, "released": True}
    return replace(done, stage=ClientStage.DONE, result=result), [finish]


def _client_unmasked(
    state: PsiClientState, msg: dict[str, Any]
) -> tuple[PsiClientState, list[dict[str, Any]]]:
    msg = UNMASKED.validate(msg)
    _check_session(msg, state.session)
    if state.paillier is None:
        raise _abort(AbortReason.UNEXPECTED, "no Paillier key in this session")
    n = state.paillier.n
    masked = int.from_bytes(msg["value"], "big")
    if masked >= n:
        raise _abort(AbortReason.MALFORMED, "unmasked value out of range")
    encoder = PaillierEncoder(state.paillier, state.max_abs)
    try:
        total_int = encoder.decode((masked - state.mask) % n)
    except InvalidInput as exc:
        raise _abort(AbortReason.CHECK_FAILED, f"sum out of range: {exc}") from exc
    total = total_int / (1 << state.frac_bits)
    result = PsiResult(
        mode=state.mode,
        size=state.size,
        client_set_size=len(state.keys),
        server_set_size=state.server_set_size,
        total=total,
    )
    finish = {"type": FINISH.name, "session": state.session, "released": True}
    return replace(state, stage=ClientStage.DONE, mask=0, result=result), [finish]


def client_step(
    state: PsiClientState, message: dict[str, Any], *, rng: RandomSource | None = None
) -> tuple[PsiClientState, list[dict[str, Any]]]:
    """Consume one server message; return the new state and the messages to send."""
    stage = state.stage
    if stage is ClientStage.AWAIT_ACCEPT:
        return _client_accept(state, message)
    if stage is ClientStage.AWAIT_EVALUATED:
        return _client_evaluated(state, message)
    if stage is ClientStage.AWAIT_TAGS:
        return _client_tags(state, message, rng)
    if stage is ClientStage.AWAIT_UNMASKED:
        return _client_unmasked(state, message)
    raise _abort(AbortReason.UNEXPECTED, f"message after stage {stage.value}")
