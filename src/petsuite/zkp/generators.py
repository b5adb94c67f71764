"""Nothing-up-my-sleeve generators for petsuite's zero-knowledge proofs, from hash-to-group.

Every generator is ``Point.hash_to_group(msg, dst)`` (RFC 9380 ``hash_to_ristretto255``, suite
``ristretto255_XMD:SHA-512_R255MAP_RO_``) of a fixed, public message under a fixed, public DST, so
anybody can recompute them and nobody knows a discrete-logarithm relation between any two of them
(or between them and the ristretto255 base point). That independence is what makes Pedersen
commitments binding and Bulletproofs sound.

Domain-separation tags and messages (version 1; changing any of them changes every proof):

============================  ===================================  ==============================
generator                     DST                                  message
============================  ===================================  ==============================
Pedersen ``g`` (value)        ``b"petsuite-zkp-v1-pedersen"``      ``b"g"``
Pedersen ``h`` (blinding)     ``b"petsuite-zkp-v1-pedersen"``      ``b"h"``
Bulletproofs ``G_i``          ``b"petsuite-zkp-v1-bulletproofs"``  ``b"G" || I2OSP(i, 4)``
Bulletproofs ``H_i``          ``b"petsuite-zkp-v1-bulletproofs"``  ``b"H" || I2OSP(i, 4)``
inner-product ``Q``           ``b"petsuite-zkp-v1-bulletproofs"``  ``b"Q"``
============================  ===================================  ==============================

``i`` counts from 0. Results are cached (:func:`functools.lru_cache`); they are public constants.
"""

from __future__ import annotations

import functools
from typing import Final

from petsuite.core.errors import InvalidInput
from petsuite.primitives.group import Point, raw_batch_hash_to_group

__all__ = [
    "BULLETPROOFS_DST",
    "MAX_VECTOR_GENERATORS",
    "PEDERSEN_DST",
    "ipa_generator",
    "pedersen_generators",
    "vector_generators",
]

#: DST of the Pedersen generators ``g`` and ``h``.
PEDERSEN_DST: Final = b"petsuite-zkp-v1-pedersen"
#: DST of the Bulletproofs vector generators ``G_i``, ``H_i`` and the inner-product generator ``Q``.
BULLETPROOFS_DST: Final = b"petsuite-zkp-v1-bulletproofs"
#: Largest vector length served (64 bits x 16 aggregated values).
MAX_VECTOR_GENERATORS: Final = 1024


def _nonidentity(encoding: bytes) -> Point:
    # The identity appears with negligible probability; refuse it rather than weaken binding.
    return Point.from_bytes(encoding)


@functools.lru_cache(maxsize=1)
def pedersen_generators() -> tuple[Point, Point]:
    """``(g, h)``: the value and blinding generators of Pedersen commitments."""
    g = Point.hash_to_group(b"g", PEDERSEN_DST)
    h = Point.hash_to_group(b"h", PEDERSEN_DST)
    return _nonidentity(g.to_bytes()), _nonidentity(h.to_bytes())


@functools.lru_cache(maxsize=1)
def ipa_generator() -> Point:
    """``Q``: the generator that carries the inner product in the inner-product argument."""
    return _nonidentity(Point.hash_to_group(b"Q", BULLETPROOFS_DST).to_bytes())


@functools.lru_cache(maxsize=16)
def vector_generators(n: int) -> tuple[tuple[Point, ...], tuple[Point, ...]]:
    """``((G_0..G_{n-1}), (H_0..H_{n-1}))`` for Bulletproofs; the first ``n`` of fixed sequences."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_VECTOR_GENERATORS:
        raise InvalidInput(f"vector length must lie in [1, {MAX_VECTOR_GENERATORS}]")
    msgs = [b"G" + i.to_bytes(4, "big") for i in range(n)]
    msgs += [b"H" + i.to_bytes(4, "big") for i in range(n)]
    encodings = raw_batch_hash_to_group(msgs, BULLETPROOFS_DST, parallel_threshold=1 << 30)
    points = [_nonidentity(e) for e in encodings]
    return tuple(points[:n]), tuple(points[n:])
