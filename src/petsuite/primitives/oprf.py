"""RFC 9497 oblivious PRF, base mode (``modeOPRF = 0x00``), suite ``ristretto255-SHA512``.

Pure functions, no I/O: the protocol layer moves the messages. The client blinds its input
(:func:`blind`), the server multiplies by its key (:func:`blind_evaluate`), the client unblinds and
hashes (:func:`finalize`). The server can compute the same output directly (:func:`evaluate`).

Threat model and what leaks
---------------------------
* The server learns nothing about the client's input from a blinded element (it is uniformly
  distributed for a uniform blind); the client learns ``F(sk, input)``, nothing else about ``sk``.
* Base mode is *not verifiable*: a malicious server can evaluate with another key, and the client
  cannot tell. Use VOPRF (mode 0x01) where that matters; it is not implemented here.
* The server sees how many elements it evaluates. Outputs are 64-byte PRF values: anyone holding an
  output can test candidate inputs only with the server's help (or its key).
* Batch functions use :mod:`petsuite.primitives.group`'s raw batch functions, which may send the
  key or blinds, as bytes, to local worker processes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

from petsuite.core.encoding import i2osp
from petsuite.core.errors import InvalidInput, UnsupportedParameter
from petsuite.core.rng import RandomSource, resolve
from petsuite.primitives.group import (
    POINT_BYTES,
    UNIFORM_BYTES,
    Backend,
    Point,
    Scalar,
    batch_invert,
    expand_message_xmd,
    raw_batch_hash_and_mult,
    raw_batch_hash_and_mult_each,
    raw_batch_scalar_mult,
    raw_batch_scalar_mult_each,
)

__all__ = [
    "HASH_TO_GROUP_DST",
    "MAX_INPUT_BYTES",
    "MODE_OPRF",
    "OUTPUT_BYTES",
    "SEED_BYTES",
    "SUITE_ID",
    "blind",
    "blind_batch",
    "blind_evaluate",
    "blind_evaluate_batch",
    "context_string",
    "derive_key_pair",
    "evaluate",
    "evaluate_batch",
    "finalize",
    "finalize_batch",
    "hash_to_scalar",
]

#: Base mode of RFC 9497 (§3.1).
MODE_OPRF: Final = 0x00
#: The one ciphersuite implemented (RFC 9497 §4.1).
SUITE_ID: Final = b"ristretto255-SHA512"
#: Nh: length of an OPRF output (SHA-512).
OUTPUT_BYTES: Final = 64
#: Nseed: length of the DeriveKeyPair seed.
SEED_BYTES: Final = 32
#: Inputs are length-prefixed with two bytes, so at most 65535 bytes.
MAX_INPUT_BYTES: Final = 0xFFFF
_MAX_DERIVE_TRIES: Final = 256
_FINALIZE_LABEL: Final = b"Finalize"


def context_string(mode: int = MODE_OPRF) -> bytes:
    """``"OPRFV1-" || I2OSP(mode, 1) || "-" || identifier`` (RFC 9497 §3.1).

    Modes 0x00 (OPRF), 0x01 (VOPRF) and 0x02 (POPRF) are recognised; only 0x00 is implemented.
    """
    if isinstance(mode, bool) or mode not in (0x00, 0x01, 0x02):
        raise UnsupportedParameter(f"unknown RFC 9497 mode {mode!r}")
    return b"OPRFV1-" + i2osp(mode, 1) + b"-" + SUITE_ID


_CONTEXT: Final = context_string(MODE_OPRF)
#: DST of HashToGroup in base mode: ``"HashToGroup-" || contextString``.
HASH_TO_GROUP_DST: Final = b"HashToGroup-" + _CONTEXT
_HASH_TO_SCALAR_DST: Final = b"HashToScalar-" + _CONTEXT
_DERIVE_KEY_PAIR_DST: Final = b"DeriveKeyPair" + _CONTEXT


def hash_to_scalar(msg: bytes, dst: bytes = _HASH_TO_SCALAR_DST) -> Scalar:
    """RFC 9497 §4.1 HashToScalar: ``expand_message_xmd(msg, dst, 64)`` reduced modulo L."""
    return Scalar.from_uniform_bytes(expand_message_xmd(msg, dst, UNIFORM_BYTES, "sha512"))


def _input_bytes(value: object, what: str = "input") -> bytes:
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, bytearray | memoryview):
        data = bytes(value)
    else:
        raise InvalidInput(f"{what} must be bytes, got {type(value).__name__}")
    if len(data) > MAX_INPUT_BYTES:
        raise InvalidInput(f"{what} longer than {MAX_INPUT_BYTES} bytes")
    return data


def _inputs(values: Sequence[bytes]) -> list[bytes]:
    if isinstance(values, bytes | bytearray | memoryview | str):
        raise InvalidInput("inputs must be a sequence of byte strings, not one string")
    return [_input_bytes(v, f"inputs[{i}]") for i, v in enumerate(values)]


def _secret_key(sk: Scalar) -> Scalar:
    if not isinstance(sk, Scalar):
        raise InvalidInput(f"the key must be a Scalar, got {type(sk).__name__}")
    if sk.is_zero():
        raise InvalidInput("the zero scalar is not a valid OPRF key")
    return sk


def _finalize_hash(data: bytes, element: bytes) -> bytes:
    return hashlib.sha512(
        i2osp(len(data), 2) + data + i2osp(len(element), 2) + element + _FINALIZE_LABEL
    ).digest()


def derive_key_pair(seed: bytes, info: bytes) -> tuple[Scalar, Point]:
    """RFC 9497 §3.2.1 DeriveKeyPair: a deterministic key pair from a 32-byte secret seed.

    Parameters
    ----------
    seed:
        :data:`SEED_BYTES` secret, uniformly random bytes; whoever knows it knows the key.
    info:
        Public key-derivation context (at most 65535 bytes).

    Returns
    -------
    tuple[Scalar, Point]
        ``(skS, pkS)`` with ``pkS = skS * B``.
    """
    seed_b = _input_bytes(seed, "seed")
    if len(seed_b) != SEED_BYTES:
        raise InvalidInput(f"seed must be {SEED_BYTES} bytes, got {len(seed_b)}")
    info_b = _input_bytes(info, "info")
    derive_input = seed_b + i2osp(len(info_b), 2) + info_b
    for counter in range(_MAX_DERIVE_TRIES):
        sk = hash_to_scalar(derive_input + i2osp(counter, 1), _DERIVE_KEY_PAIR_DST)
        if not sk.is_zero():
            return sk, Point.base_mul(sk)
    raise InvalidInput("DeriveKeyPairError: no nonzero scalar in 256 tries")  # pragma: no cover


def blind(
    input: bytes,
    rng: RandomSource | None = None,
    *,
    blind: Scalar | None = None,
) -> tuple[Scalar, Point]:
    """RFC 9497 §3.3.1 Blind: ``(r, r * HashToGroup(input))`` for a fresh random ``r``.

    ``blind`` fixes ``r`` (test vectors only: a reused blind links requests). The blinded element
    reveals nothing about ``input``; ``r`` must stay with the client until :func:`finalize`.

    Raises
    ------
    InvalidInput
        If ``input`` hashes to the identity (negligible probability), is too long, or ``blind`` is
        zero.
    """
    data = _input_bytes(input)
    r = Scalar.random(resolve(rng)) if blind is None else blind
    if not isinstance(r, Scalar) or r.is_zero():
        raise InvalidInput("the blind must be a nonzero Scalar")
    element = Point.hash_to_group(data, HASH_TO_GROUP_DST)
    if element.is_identity():
        raise InvalidInput("input hashes to the identity element")
    return r, element * r


def blind_evaluate(sk: Scalar, blinded: Point) -> Point:
    """RFC 9497 §3.3.1 BlindEvaluate (server): ``sk * blindedElement``; refuses the identity."""
    key = _secret_key(sk)
    if not isinstance(blinded, Point):
        raise InvalidInput("the blinded element must be a Point")
    if blinded.is_identity():
        raise InvalidInput("the blinded element is the identity")
    return blinded * key


def finalize(input: bytes, blind: Scalar, evaluated: Point) -> bytes:
    """RFC 9497 §3.3.1 Finalize (client): unblind and hash to the 64-byte PRF output.

    ``Hash(I2OSP(len(input), 2) || input || I2OSP(32, 2) || (1/r) * evaluated || "Finalize")``.
    """
    data = _input_bytes(input)
    if not isinstance(blind, Scalar) or blind.is_zero():
        raise InvalidInput("the blind must be a nonzero Scalar")
    if not isinstance(evaluated, Point) or evaluated.is_identity():
        raise InvalidInput("the evaluated element must be a non-identity Point")
    unblinded = evaluated * blind.invert()
    return _finalize_hash(data, unblinded.to_bytes())


def evaluate(sk: Scalar, input: bytes) -> bytes:
    """RFC 9497 §3.3.1 Evaluate (server-side, no client): the same output as :func:`finalize`."""
    key = _secret_key(sk)
    data = _input_bytes(input)
    element = Point.hash_to_group(data, HASH_TO_GROUP_DST)
    if element.is_identity():
        raise InvalidInput("input hashes to the identity element")
    return _finalize_hash(data, (element * key).to_bytes())


def _check_no_identity(encodings: Sequence[bytes], what: str) -> None:
    zero = bytes(POINT_BYTES)
    for i, e in enumerate(encodings):
        if e == zero:
            raise InvalidInput(f"{what} {i} is the identity element")


def blind_batch(
    inputs: Sequence[bytes],
    rng: RandomSource | None = None,
    *,
    workers: int | None = None,
    parallel_threshold: int | None = None,
    backend: Backend = "process",
) -> tuple[list[Scalar], list[bytes]]:
    """:func:`blind` for many inputs: fresh blinds and the blinded-element encodings."""
    data = _inputs(inputs)
    source = resolve(rng)
    blinds = [Scalar.random(source) for _ in data]
    blinded = raw_batch_hash_and_mult_each(
        data,
        HASH_TO_GROUP_DST,
        blinds,
        workers=workers,
        parallel_threshold=parallel_threshold,
        backend=backend,
    )
    _check_no_identity(blinded, "input")
    return blinds, blinded


def blind_evaluate_batch(
    sk: Scalar,
    encodings: Sequence[bytes],
    *,
    workers: int | None = None,
    parallel_threshold: int | None = None,
    backend: Backend = "process",
) -> list[bytes]:
    """:func:`blind_evaluate` for many blinded-element encodings (each validated, identity refused).

    Raises
    ------
    InvalidInput
        Naming the index of the first invalid or identity encoding.
    """
    key = _secret_key(sk)
    return raw_batch_scalar_mult(
        encodings,
        key,
        allow_identity=False,
        workers=workers,
        parallel_threshold=parallel_threshold,
        backend=backend,
    )


def finalize_batch(
    inputs: Sequence[bytes],
    blinds: Sequence[Scalar],
    evaluated_encodings: Sequence[bytes],
    *,
    workers: int | None = None,
    parallel_threshold: int | None = None,
    backend: Backend = "process",
) -> list[bytes]:
    """:func:`finalize` for many inputs, inverting the blinds with one field inversion."""
    data = _inputs(inputs)
    if not len(data) == len(blinds) == len(evaluated_encodings):
        raise InvalidInput(
            f"{len(data)} inputs, {len(blinds)} blinds and "
            f"{len(evaluated_encodings)} evaluated elements: lengths differ"
        )
    inverses = batch_invert(blinds)
    unblinded = raw_batch_scalar_mult_each(
        evaluated_encodings,
        inverses,
        allow_identity=False,
        workers=workers,
        parallel_threshold=parallel_threshold,
        backend=backend,
    )
    return [_finalize_hash(d, u) for d, u in zip(data, unblinded, strict=True)]


def evaluate_batch(
    sk: Scalar,
    inputs: Sequence[bytes],
    *,
    workers: int | None = None,
    parallel_threshold: int | None = None,
    backend: Backend = "process",
) -> list[bytes]:
    """:func:`evaluate` for many inputs (the PSI-server hot path)."""
    key = _secret_key(sk)
    data = _inputs(inputs)
    elements = raw_batch_hash_and_mult(
        data,
        HASH_TO_GROUP_DST,
        key,
        workers=workers,
        parallel_threshold=parallel_threshold,
        backend=backend,
    )
    _check_no_identity(elements, "input")
    return [_finalize_hash(d, e) for d, e in zip(data, elements, strict=True)]
