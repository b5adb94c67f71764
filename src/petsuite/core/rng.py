"""The one randomness module: every secret, mask, key and noise sample in petsuite comes from here.

Production code uses :class:`SystemRandom`, the operating system's CSPRNG (``os.urandom``, which is
``getrandom(2)`` on Linux). Functions that need randomness take an ``rng: RandomSource | None``
argument and call :func:`resolve` on it; ``None`` means the OS CSPRNG. The public API offers no seed.

:class:`DeterministicRandom` expands a seed with SHAKE-256. It exists so that tests can reproduce a run
and must never protect real data: it refuses to be built unless the caller says so explicitly.
:func:`expand_seed` is the one way to stretch a full-length seed into correlated randomness (masks).

Never use the ``random`` module or numpy's generators for anything in this package.
"""

from __future__ import annotations

import hashlib
import os
from typing import Protocol, runtime_checkable

from petsuite.core.errors import InvalidInput, UnsupportedParameter

__all__ = [
    "SEED_BYTES",
    "DeterministicRandom",
    "RandomSource",
    "SystemRandom",
    "expand_seed",
    "random_below",
    "random_bits",
    "resolve",
]

#: Length of a seed, in bytes, for SHAKE-256 expansion: 256 bits, never folded to fewer.
SEED_BYTES = 32


@runtime_checkable
class RandomSource(Protocol):
    """Anything that returns uniformly random bytes on request."""

    def random_bytes(self, n: int) -> bytes:
        """Return ``n`` uniformly random bytes."""
        ...


class SystemRandom:
    """The operating system's CSPRNG. The default everywhere."""

    __slots__ = ()

    def random_bytes(self, n: int) -> bytes:
        if n < 0:
            raise InvalidInput("cannot draw a negative number of random bytes")
        return os.urandom(n)

    def __repr__(self) -> str:
        return "SystemRandom()"


_SYSTEM = SystemRandom()


def resolve(rng: RandomSource | None) -> RandomSource:
    """The source to use: ``rng`` itself, or the OS CSPRNG when ``rng is None``."""
    return _SYSTEM if rng is None else rng


class DeterministicRandom:
    """A reproducible SHAKE-256 stream, for tests only.

    Parameters
    ----------
    seed:
        At least :data:`SEED_BYTES` bytes.
    insecure_for_testing:
        Must be ``True``: a reminder that anyone who knows the seed knows every output.
    """

    __slots__ = ("_counter", "_seed")

    def __init__(self, seed: bytes, *, insecure_for_testing: bool = False) -> None:
        if not insecure_for_testing:
            raise UnsupportedParameter(
                "DeterministicRandom is for tests only; pass insecure_for_testing=True"
            )
        if len(seed) < SEED_BYTES:
            raise InvalidInput(f"seed must be at least {SEED_BYTES} bytes")
        self._seed = bytes(seed)
        self._counter = 0

    def random_bytes(self, n: int) -> bytes:
        if n < 0:
            raise InvalidInput("cannot draw a negative number of random bytes")
        block = hashlib.shake_256(
            b"petsuite/rng/deterministic/v1" + self._counter.to_bytes(8, "big") + self._seed
        ).digest(n)
        self._counter += 1
        return block

    def __repr__(self) -> str:
        return "DeterministicRandom(<seed hidden>)"


def expand_seed(seed: bytes, length: int, *, label: bytes) -> bytes:
    """Expand a full-length seed into ``length`` pseudorandom bytes with SHAKE-256.

    ``label`` separates domains so that one seed can feed several independent masks.
    """
    if len(seed) < SEED_BYTES:
        raise InvalidInput(f"seed must be at least {SEED_BYTES} bytes")
    if length < 0:
        raise InvalidInput("length must be non-negative")
    prefix = b"petsuite/expand_seed/v1" + len(label).to_bytes(2, "big") + label
    return hashlib.shake_256(prefix + seed).digest(length)


def random_bits(k: int, rng: RandomSource | None = None) -> int:
    """A uniform integer in ``[0, 2**k)``."""
    if k < 0:
        raise InvalidInput("number of bits must be non-negative")
    if k == 0:
        return 0
    nbytes = (k + 7) // 8
    value = int.from_bytes(resolve(rng).random_bytes(nbytes), "big")
    return value >> (nbytes * 8 - k)


def random_below(n: int, rng: RandomSource | None = None) -> int:
    """A uniform integer in ``[0, n)`` by rejection sampling (no modulo bias)."""
    if n <= 0:
        raise InvalidInput("upper bound must be positive")
    k = n.bit_length()
    while True:
        value = random_bits(k, rng)
        if value < n:
            return value
