"""The naive range proof, for comparison with Bulletproofs: commit to every bit, prove each bit
commitment opens to 0 or 1 with an OR proof, and check that the bits recompose the commitment.

For ``V = v*g + r*h`` and ``n`` bits the prover publishes ``C_i = b_i*g + r_i*h`` with random
``r_1..r_{n-1}`` and ``r_0 = r - sum_{i>0} 2**i r_i``, so that ``sum_i 2**i C_i == V``; per bit, a
Cramer–Damgård–Schoenmakers OR proof of ``C_i = r_i*h`` or ``C_i - g = r_i*h``. The proof is linear
in ``n`` (160 bytes per bit: 10 243 bytes for 64 bits, against 676 for a Bulletproof) and so is its
cost; it exists as the baseline of ``benchmarks/bench_zkp.py`` and as an independent
cross-check in the tests. Prefer :mod:`petsuite.zkp.bulletproofs`.

Threat model and what leaks: honest-verifier zero-knowledge in the random-oracle model, like the
Sigma protocols it is built from; the proof reveals ``n`` and nothing about ``v`` beyond
``0 <= v < 2**n``. Every rejection raises :class:`~petsuite.core.errors.VerificationFailed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from petsuite.core.errors import InvalidInput, VerificationFailed
from petsuite.core.rng import RandomSource, resolve
from petsuite.primitives.group import (
    POINT_BYTES,
    SCALAR_BYTES,
    Point,
    Scalar,
    multiscalar_mul,
)
from petsuite.zkp.pedersen import PedersenParams, commit
from petsuite.zkp.sigma import LinearRelation, OrProof, prove_or, verify_or
from petsuite.zkp.transcript import Transcript

__all__ = ["BITRANGE_VERSION", "BitRangeProof", "prove_bitrange", "verify_bitrange"]

#: Version byte leading every serialised bit-decomposition proof.
BITRANGE_VERSION: Final = 1
_TAG: Final = 0x4E  # "N"
_SUPPORTED_BITS: Final = (8, 16, 32, 64)
_PER_BIT: Final = POINT_BYTES + 4 * SCALAR_BYTES


@dataclass(frozen=True)
class BitRangeProof:
    """Bit commitments and one two-branch OR proof per bit.

    Encoding (``to_bytes``): version byte ``0x01``, tag ``b"N"``, ``bits`` (one byte), then per bit
    ``C_i``, ``c_0``, ``s_0``, ``c_1``, ``s_1`` (32 bytes each).
    """

    bits: int
    bit_commitments: tuple[Point, ...]
    or_proofs: tuple[OrProof, ...]

    def __post_init__(self) -> None:
        if self.bits not in _SUPPORTED_BITS:
            raise VerificationFailed("malformed bit-range proof: unsupported bits")
        if (
            len(self.bit_commitments) != self.bits
            or len(self.or_proofs) != self.bits
            or not all(isinstance(c, Point) for c in self.bit_commitments)
            or not all(
                isinstance(p, OrProof)
                and len(p.challenges) == 2
                and len(p.responses) == 2
                and all(len(r) == 1 for r in p.responses)
                for p in self.or_proofs
            )
        ):
            raise VerificationFailed("malformed bit-range proof")

    def to_bytes(self) -> bytes:
        out = bytearray([BITRANGE_VERSION, _TAG, self.bits])
        for c, p in zip(self.bit_commitments, self.or_proofs, strict=True):
            out += c.to_bytes()
            for ch, rs in zip(p.challenges, p.responses, strict=True):
                out += ch.to_bytes() + rs[0].to_bytes()
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> BitRangeProof:
        """Strict decoding; raises VerificationFailed on any malformed input."""
        raw: object = data
        if isinstance(raw, bytearray | memoryview):
            raw = bytes(raw)
        if not isinstance(raw, bytes) or len(raw) < 3:
            raise VerificationFailed("malformed bit-range proof")
        if raw[0] != BITRANGE_VERSION or raw[1] != _TAG or raw[2] not in _SUPPORTED_BITS:
            raise VerificationFailed("malformed bit-range proof: bad header")
        bits = raw[2]
        if len(raw) != 3 + bits * _PER_BIT:
            raise VerificationFailed("malformed bit-range proof: wrong length")
        commitments: list[Point] = []
        proofs: list[OrProof] = []
        try:
            for i in range(bits):
                off = 3 + i * _PER_BIT
                commitments.append(Point.from_bytes(raw[off : off + 32]))
                s = [Scalar.from_bytes(raw[off + 32 * k : off + 32 * (k + 1)]) for k in range(1, 5)]
                proofs.append(OrProof((s[0], s[2]), ((s[1],), (s[3],))))
        except InvalidInput as exc:
            raise VerificationFailed("malformed bit-range proof: bad point or scalar") from exc
        return cls(bits, tuple(commitments), tuple(proofs))


def _bit_relations(c: Point, p: PedersenParams) -> tuple[LinearRelation, LinearRelation]:
    zero = LinearRelation("bit-is-0", ("r",), ((c, ((0, p.h),)),))
    one = LinearRelation("bit-is-1", ("r",), ((c - p.g, ((0, p.h),)),))
    return zero, one


def _bind(
    t: Transcript, bits: int, commitment: Point, cs: Sequence[Point], p: PedersenParams
) -> None:
    t.append_message(b"proof-type", b"bitrange/v1")
    t.append_int(b"bits", bits)
    t.append_point(b"g", p.g)
    t.append_point(b"h", p.h)
    t.append_point(b"V", commitment)
    for c in cs:
        t.append_point(b"C", c)


def prove_bitrange(  # noqa: PLR0917 - same positional order as prove_interval
    value: int,
    blinding: Scalar,
    bits: int,
    transcript: Transcript,
    params: PedersenParams | None = None,
    rng: RandomSource | None = None,
) -> tuple[BitRangeProof, Point]:
    """Prove ``0 <= value < 2**bits`` for ``V = commit(value, blinding)``; returns ``(proof, V)``.

    Raises
    ------
    InvalidInput
        If ``bits`` is unsupported or ``value`` is out of range.
    """
    p = PedersenParams.default() if params is None else params
    if isinstance(bits, bool) or bits not in _SUPPORTED_BITS:
        raise InvalidInput(f"bits must be one of {_SUPPORTED_BITS}")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise InvalidInput(f"the value is outside [0, 2^{bits})")
    if not isinstance(blinding, Scalar):
        raise InvalidInput("the blinding must be a Scalar")
    source = resolve(rng)
    rs = [Scalar.from_int(0)] + [Scalar.random(source) for _ in range(bits - 1)]
    r0 = blinding
    for i in range(1, bits):
        r0 = r0 - Scalar.from_int(1 << i) * rs[i]
    rs[0] = r0
    big_v = commit(value, blinding, p)
    cs = [commit((value >> i) & 1, rs[i], p) for i in range(bits)]
    _bind(transcript, bits, big_v, cs, p)
    proofs = [
        prove_or(_bit_relations(c, p), (value >> i) & 1, [rs[i]], transcript, source)
        for i, c in enumerate(cs)
    ]
    return BitRangeProof(bits, tuple(cs), tuple(proofs)), big_v


def verify_bitrange(
    proof: BitRangeProof,
    commitment: Point,
    bits: int,
    transcript: Transcript,
    params: PedersenParams | None = None,
) -> None:
    """Check a :func:`prove_bitrange` proof; raises VerificationFailed if it fails."""
    p = PedersenParams.default() if params is None else params
    if not isinstance(proof, BitRangeProof) or proof.bits != bits:
        raise VerificationFailed("bit-range proof made for another bit length")
    if not isinstance(commitment, Point) or commitment.is_identity():
        raise VerificationFailed("the commitment must be a non-identity point")
    weights = [Scalar.from_int(1 << i) for i in range(bits)]
    recomposed = multiscalar_mul(
        [*weights, Scalar.from_int(-1)], [*proof.bit_commitments, commitment]
    )
    if not recomposed.is_identity():
        raise VerificationFailed("bit commitments do not recompose the commitment")
    _bind(transcript, bits, commitment, proof.bit_commitments, p)
    for c, or_proof in zip(proof.bit_commitments, proof.or_proofs, strict=True):
        verify_or(_bit_relations(c, p), or_proof, transcript)
