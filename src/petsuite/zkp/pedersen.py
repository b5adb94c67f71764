"""Pedersen commitments ``C = v*g + r*h`` over ristretto255 with hash-derived generators.

Threat model and what leaks: a commitment with a uniformly random blinding ``r`` hides ``v``
perfectly (information-theoretically); it binds computationally, under the discrete-logarithm
assumption, because nobody knows ``log_g(h)`` (both come from hash-to-group with public DSTs, see
:mod:`petsuite.zkp.generators`). Commitments are additively homomorphic:
``commit(a, r) + commit(b, s) == commit(a + b, r + s)``, which range and interval proofs use.
Values are taken modulo the group order; a blinding reused for two values leaks their difference
(``C1 - C2 = (v1 - v2)*g``), so draw a fresh one per commitment.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from petsuite.core.errors import InvalidInput, VerificationFailed
from petsuite.primitives.group import Point, Scalar, multiscalar_mul
from petsuite.zkp.generators import pedersen_generators

__all__ = ["PedersenParams", "commit", "verify_opening"]


@dataclass(frozen=True)
class PedersenParams:
    """The generators of a Pedersen commitment: ``g`` carries the value, ``h`` the blinding."""

    g: Point
    h: Point

    def __post_init__(self) -> None:
        if not isinstance(self.g, Point) or not isinstance(self.h, Point):
            raise InvalidInput("Pedersen generators must be Points")
        if self.g.is_identity() or self.h.is_identity() or self.g == self.h:
            raise InvalidInput("Pedersen generators must be distinct non-identity points")

    @classmethod
    def default(cls) -> PedersenParams:
        """The generators of :func:`petsuite.zkp.generators.pedersen_generators`."""
        g, h = pedersen_generators()
        return cls(g, h)


def _value_scalar(value: int | Scalar) -> Scalar:
    if isinstance(value, Scalar):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(
            f"a committed value must be an int or a Scalar, not {type(value).__name__}"
        )
    return Scalar.from_int(value)


def commit(value: int | Scalar, blinding: Scalar, params: PedersenParams | None = None) -> Point:
    """``value*g + blinding*h``; an ``int`` value is reduced modulo the group order."""
    if not isinstance(blinding, Scalar):
        raise InvalidInput("the blinding must be a Scalar")
    p = PedersenParams.default() if params is None else params
    return multiscalar_mul([_value_scalar(value), blinding], [p.g, p.h])


def verify_opening(
    commitment: Point,
    value: int | Scalar,
    blinding: Scalar,
    params: PedersenParams | None = None,
) -> None:
    """Check that ``(value, blinding)`` opens ``commitment``; raises VerificationFailed if not."""
    if not isinstance(commitment, Point):
        raise VerificationFailed("commitment is not a Point")
    try:
        expected = commit(value, blinding, params)
    except InvalidInput as exc:
        raise VerificationFailed("malformed opening") from exc
    if not hmac.compare_digest(expected.to_bytes(), commitment.to_bytes()):
        raise VerificationFailed("the opening does not match the commitment")
