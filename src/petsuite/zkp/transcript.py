"""A Fiat–Shamir transcript: the one place where zero-knowledge proofs turn statements into challenges.

Merlin-like semantics over SHA-512 (``hashlib``): a transcript starts with a protocol label, every
public value the prover sends or the verifier knows is absorbed with a label, and a challenge is a
function of everything absorbed so far. After a challenge is drawn it is itself absorbed, so each
later challenge depends on every earlier one. Prover and verifier must append the same items in the
same order; any difference (another protocol, another statement, another commitment) gives
unrelated challenges, which is what makes "Frozen Heart" attacks (a statement element left out of
the hash) impossible as long as every statement element is appended.

Encoding (injective): the running SHA-512 state absorbs

* at construction: ``b"petsuite/zkp/transcript/v1"`` then ``lp(protocol)``;
* per item: a one-byte operation code (``M`` message, ``C`` challenge request, ``R`` challenge
  output), ``lp(label)``, ``lp(data)``, where ``lp(x)`` is the 8-byte big-endian length of ``x``
  followed by ``x``. Points and scalars are their canonical 32-byte encodings; integers are a sign
  byte and the minimal big-endian magnitude.

A challenge with label ``L`` absorbs ``C || lp(L) || lp("")``, takes the SHA-512 digest of a copy
of the state (64 bytes), reduces it modulo the group order with
:meth:`~petsuite.primitives.group.Scalar.from_uniform_bytes` (bias < 2**-250), and absorbs
``R || lp(L) || lp(digest)``.

Threat model and what leaks: everything in a transcript is public (it is hashed, not hidden); the
transcript protects soundness of non-interactive proofs in the random-oracle model, not secrecy.
SHA-512 is modelled as a random oracle; the prefix-free encoding rules out ambiguity between items.
"""

from __future__ import annotations

import hashlib

from petsuite.core.errors import InvalidInput
from petsuite.primitives.group import Point, Scalar

__all__ = ["TRANSCRIPT_DOMAIN", "Transcript"]

#: Domain tag absorbed before the protocol label: separates these transcripts from any other use
#: of SHA-512 in petsuite.
TRANSCRIPT_DOMAIN = b"petsuite/zkp/transcript/v1"

_OP_MESSAGE = b"M"
_OP_CHALLENGE = b"C"
_OP_OUTPUT = b"R"


def _bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise InvalidInput(f"{what} must be bytes, got {type(value).__name__}")


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def _int_bytes(value: int) -> bytes:
    magnitude = abs(value)
    sign = b"-" if value < 0 else b"+"
    return sign + magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "big")


class Transcript:
    """A running Fiat–Shamir hash with labelled, length-prefixed items.

    Parameters
    ----------
    protocol:
        Domain-separation label of the protocol, for example ``b"petsuite/zkp/range/v1"``;
        must be non-empty.
    """

    __slots__ = ("_state",)

    def __init__(self, protocol: bytes) -> None:
        label = _bytes(protocol, "protocol label")
        if not label:
            raise InvalidInput("the protocol label must not be empty")
        self._state = hashlib.sha512()
        self._state.update(_lp(TRANSCRIPT_DOMAIN))
        self._state.update(_lp(label))

    def _absorb(self, op: bytes, label: object, data: bytes) -> None:
        self._state.update(op + _lp(_bytes(label, "label")) + _lp(data))

    def append_message(self, label: bytes, data: bytes) -> None:
        """Absorb ``data`` under ``label`` (both length-prefixed)."""
        self._absorb(_OP_MESSAGE, label, _bytes(data, "data"))

    def append_point(self, label: bytes, point: Point) -> None:
        """Absorb a point's canonical encoding (the identity is allowed: it is 32 zero bytes)."""
        if not isinstance(point, Point):
            raise InvalidInput(f"expected a Point, got {type(point).__name__}")
        self._absorb(_OP_MESSAGE, label, point.to_bytes())

    def append_scalar(self, label: bytes, scalar: Scalar) -> None:
        """Absorb a scalar's canonical encoding."""
        if not isinstance(scalar, Scalar):
            raise InvalidInput(f"expected a Scalar, got {type(scalar).__name__}")
        self._absorb(_OP_MESSAGE, label, scalar.to_bytes())

    def append_int(self, label: bytes, value: int) -> None:
        """Absorb an integer of any size and sign (sign byte, minimal big-endian magnitude)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"expected an int, got {type(value).__name__}")
        self._absorb(_OP_MESSAGE, label, _int_bytes(value))

    def challenge_scalar(self, label: bytes) -> Scalar:
        """A challenge derived from everything absorbed so far; it is absorbed in turn."""
        self._absorb(_OP_CHALLENGE, label, b"")
        digest = self._state.copy().digest()
        self._absorb(_OP_OUTPUT, label, digest)
        return Scalar.from_uniform_bytes(digest)

    def copy(self) -> Transcript:
        """An independent transcript with the same state (for forking a prover and a verifier)."""
        twin = object.__new__(Transcript)
        twin._state = self._state.copy()
        return twin

    def __repr__(self) -> str:
        return "Transcript(<state hidden>)"
