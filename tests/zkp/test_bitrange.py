"""The naive bit-decomposition range proof: completeness, soundness checks, serialisation."""

from __future__ import annotations

import pytest

from petsuite.core.errors import InvalidInput, VerificationFailed
from petsuite.core.rng import DeterministicRandom
from petsuite.primitives.group import Point, Scalar
from petsuite.zkp.bitrange import BitRangeProof, prove_bitrange, verify_bitrange
from petsuite.zkp.pedersen import PedersenParams, commit
from petsuite.zkp.sigma import LinearRelation, prove_or
from petsuite.zkp.transcript import Transcript

LABEL = b"petsuite/test/bitrange/v1"


def _rng(tag: bytes = b"bitrange") -> DeterministicRandom:
    return DeterministicRandom(tag.ljust(32, b"."), insecure_for_testing=True)


@pytest.mark.parametrize(("bits", "value"), [(8, 0), (8, 255), (16, 40000), (64, (1 << 64) - 1)])
def test_completeness(bits: int, value: int) -> None:
    rng = _rng()
    blinding = Scalar.random(rng)
    proof, v = prove_bitrange(value, blinding, bits, Transcript(LABEL), rng=rng)
    assert v == commit(value, blinding)
    data = proof.to_bytes()
    assert len(data) == 3 + 160 * bits
    verify_bitrange(BitRangeProof.from_bytes(data), v, bits, Transcript(LABEL))


def test_prover_refuses_out_of_range() -> None:
    for value, bits in [(256, 8), (-1, 8), (1, 12)]:
        with pytest.raises(InvalidInput):
            prove_bitrange(value, Scalar.from_int(1), bits, Transcript(LABEL))


def test_wrong_commitment_and_statement() -> None:
    rng = _rng(b"wrong")
    proof, v = prove_bitrange(7, Scalar.random(rng), 8, Transcript(LABEL), rng=rng)
    with pytest.raises(VerificationFailed):
        verify_bitrange(proof, v + PedersenParams.default().g, 8, Transcript(LABEL))
    with pytest.raises(VerificationFailed):
        verify_bitrange(proof, v, 16, Transcript(LABEL))
    with pytest.raises(VerificationFailed):
        verify_bitrange(proof, v, 8, Transcript(b"petsuite/test/other/v1"))
    with pytest.raises(VerificationFailed):
        verify_bitrange(proof, Point.identity(), 8, Transcript(LABEL))


def test_non_bit_commitment_cannot_be_proven() -> None:
    """Bit commitments to 2 and 0 recompose V = 2*g + r*h, but the OR proofs cannot verify."""
    rng = _rng(b"cheat")
    p = PedersenParams.default()
    blinding = Scalar.random(rng)
    honest, v = prove_bitrange(2, blinding, 8, Transcript(LABEL), rng=rng)
    verify_bitrange(honest, v, 8, Transcript(LABEL))
    cs = list(honest.bit_commitments)
    cs[0] = cs[0] + p.g + p.g  # now commits to 2
    cs[1] = cs[1] - p.g  # now commits to 0; the weighted sum is unchanged
    forged = BitRangeProof(8, tuple(cs), honest.or_proofs)
    with pytest.raises(VerificationFailed):
        verify_bitrange(forged, v, 8, Transcript(LABEL))
    # and the OR prover refuses to claim that a commitment to 2 is a bit
    c_two = cs[0]
    zero = LinearRelation("bit-is-0", ("r",), ((c_two, ((0, p.h),)),))
    one = LinearRelation("bit-is-1", ("r",), ((c_two - p.g, ((0, p.h),)),))
    for known in (0, 1):
        with pytest.raises(InvalidInput):
            prove_or([zero, one], known, [Scalar.random(rng)], Transcript(LABEL), rng)


def test_malformed_structure() -> None:
    with pytest.raises(VerificationFailed):
        BitRangeProof(8, (), ())
    with pytest.raises(VerificationFailed):
        BitRangeProof.from_bytes(b"\x01N\x08")
