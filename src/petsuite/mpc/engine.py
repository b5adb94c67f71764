"""The engine interface the secure-statistics recipes are written against, and shared helpers.

An :class:`Engine` holds one party's view of secret-shared vectors (:class:`Shared`) and offers
linear operations (local, no communication) and interactive ones (``mul``, ``trunc``, ``ltz``,
``open``), each of which is one or a few network rounds over a whole vector. Two implementations:
``petsuite.mpc.shamir.ShamirEngine`` (peer model, Shamir over F_p, semi-honest, honest majority)
and ``petsuite.mpc.spdz2k.Spdz2kEngine`` (delegated model, SPDZ2k, active security with abort).

Plaintext values handed to an engine are signed 64-bit integers (:data:`IntArray`) that are
already fixed-point encoded (``petsuite.mpc.fixedpoint``); an engine accepts values with
``|x| < 2**(value_bits - 1)``. What leaks: only what ``open`` reveals, to the parties it names.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort

__all__ = [
    "Engine",
    "IntArray",
    "Shared",
    "U64Array",
    "as_int_array",
    "decode_u64",
    "encode_u64",
]

#: Signed plaintext values (already fixed-point encoded).
IntArray = npt.NDArray[np.int64]
#: Raw 64-bit words: field elements, ring elements, share limbs.
U64Array = npt.NDArray[np.uint64]


@dataclass(frozen=True)
class Shared:
    """A secret-shared vector of ``size`` values: opaque to recipes.

    ``data`` holds the engine-specific arrays (this party's shares, MACs, limbs), each of length
    ``size``. Recipes never look inside; they pass ``Shared`` values back to the engine that made
    them.
    """

    size: int
    data: tuple[U64Array, ...]


@runtime_checkable
class Engine(Protocol):
    """One party's handle on a secure computation engine.

    Threat model and leakage depend on the engine (see its docstring); the interface promises that
    nothing but ``open``'s output (and sizes, which are public) is revealed.
    """

    @property
    def parties(self) -> tuple[str, ...]:
        """The compute parties still live."""
        ...

    @property
    def me(self) -> str:
        """This party's name."""
        ...

    @property
    def value_bits(self) -> int:
        """Values must satisfy ``|x| < 2**(value_bits - 1)``."""
        ...

    @property
    def compare_bits(self) -> int:
        """The largest ``bits`` accepted by :meth:`ltz`."""
        ...

    def public(self, values: IntArray) -> Shared:
        """A trivial sharing of public ``values`` (no communication)."""
        ...

    async def input(self, owner: str, values: IntArray | None, size: int) -> Shared:
        """Secret-share ``owner``'s ``values`` (``None`` on other parties); ``size`` is public."""
        ...

    async def public_input(self, owner: str, values: IntArray | None, size: int) -> IntArray:
        """``owner`` sends public ``values`` (e.g. its row count) to every compute party."""
        ...

    def add(self, a: Shared, b: Shared) -> Shared:
        """Element-wise ``a + b``."""
        ...

    def sub(self, a: Shared, b: Shared) -> Shared:
        """Element-wise ``a - b``."""
        ...

    def neg(self, a: Shared) -> Shared:
        """Element-wise ``-a``."""
        ...

    def add_public(self, a: Shared, c: IntArray | int) -> Shared:
        """Element-wise ``a + c`` for public ``c``."""
        ...

    def mul_public(self, a: Shared, c: IntArray | int) -> Shared:
        """Element-wise ``a * c`` for public ``c``."""
        ...

    def sum(self, a: Shared) -> Shared:
        """The total of ``a`` as a size-1 sharing."""
        ...

    def take(self, a: Shared, index: npt.NDArray[np.intp] | slice) -> Shared:
        """The elements of ``a`` selected by ``index``."""
        ...

    def concat(self, parts: Sequence[Shared]) -> Shared:
        """The concatenation of ``parts``."""
        ...

    async def mul(self, a: Shared, b: Shared) -> Shared:
        """Element-wise product (one round over the whole vector)."""
        ...

    async def trunc(self, a: Shared, bits: int) -> Shared:
        """``a / 2**bits`` with a rounding error of at most 1."""
        ...

    async def ltz(self, a: Shared, *, bits: int) -> Shared:
        """1 where ``a < 0`` else 0, for ``|a| < 2**(bits - 1)``."""
        ...

    async def open(self, a: Shared, *, to: Collection[str] | None = None) -> IntArray | None:
        """Reveal ``a`` to ``to`` (default: every compute party); others get ``None``."""
        ...

    async def check(self) -> None:
        """Integrity check of every value opened so far (MACs); a no-op for semi-honest engines."""
        ...


def encode_u64(words: U64Array) -> bytes:
    """A vector of 64-bit words as little-endian bytes (8 per word)."""
    return np.ascontiguousarray(words, dtype="<u8").tobytes()


def decode_u64(payload: bytes, size: int, *, peer: str | None = None, what: str = "") -> U64Array:
    """Parse exactly ``size`` little-endian 64-bit words; the wrong length -> ``MALFORMED``.

    Returns a writable native-endian ``uint64`` array.
    """
    if len(payload) != 8 * size:
        raise ProtocolAbort(
            AbortReason.MALFORMED,
            f"{what or 'payload'}: {len(payload)} bytes, expected {8 * size}",
            peer=peer,
        )
    return np.frombuffer(payload, dtype="<u8").astype(np.uint64)


def as_int_array(values: object, size: int | None = None, *, what: str = "values") -> IntArray:
    """Validate plaintext ``values`` as a 1-D ``int64`` array (of length ``size`` if given)."""
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what}: not an integer array") from exc
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
        raise InvalidInput(f"{what}: expected a 1-D integer array")
    if arr.dtype == np.uint64 and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise InvalidInput(f"{what}: value out of the int64 range")
    if size is not None and arr.size != size:
        raise InvalidInput(f"{what}: expected {size} values, got {arr.size}")
    return arr.astype(np.int64)
