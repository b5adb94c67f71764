"""Pedersen commitments and the nothing-up-my-sleeve generators."""

from __future__ import annotations

import pytest

from petsuite.core.errors import InvalidInput, VerificationFailed
from petsuite.core.rng import DeterministicRandom
from petsuite.primitives.group import Point, Scalar
from petsuite.zkp import generators
from petsuite.zkp.pedersen import PedersenParams, commit, verify_opening

RNG_SEED = b"pedersen-tests".ljust(32, b".")


def _rng() -> DeterministicRandom:
    return DeterministicRandom(RNG_SEED, insecure_for_testing=True)


def test_generators_are_hash_derived_and_distinct() -> None:
    g, h = generators.pedersen_generators()
    assert g == Point.hash_to_group(b"g", b"petsuite-zkp-v1-pedersen")
    assert h == Point.hash_to_group(b"h", b"petsuite-zkp-v1-pedersen")
    gs, hs = generators.vector_generators(8)
    q = generators.ipa_generator()
    assert gs[3] == Point.hash_to_group(b"G\x00\x00\x00\x03", b"petsuite-zkp-v1-bulletproofs")
    assert hs[0] == Point.hash_to_group(b"H\x00\x00\x00\x00", b"petsuite-zkp-v1-bulletproofs")
    assert q == Point.hash_to_group(b"Q", b"petsuite-zkp-v1-bulletproofs")
    everything = [g, h, q, Point.generator(), *gs, *hs]
    assert len({p.to_bytes() for p in everything}) == len(everything)
    # prefixes agree across lengths
    assert generators.vector_generators(4)[0] == gs[:4]
    with pytest.raises(InvalidInput):
        generators.vector_generators(0)
    with pytest.raises(InvalidInput):
        generators.vector_generators(generators.MAX_VECTOR_GENERATORS + 1)


def test_commit_is_v_g_plus_r_h() -> None:
    p = PedersenParams.default()
    r = Scalar.random(_rng())
    assert commit(5, r) == Scalar.from_int(5) * p.g + r * p.h
    assert commit(Scalar.from_int(5), r, p) == commit(5, r)
    assert commit(-1, r) == -p.g + r * p.h


def test_homomorphic() -> None:
    rng = _rng()
    r, s = Scalar.random(rng), Scalar.random(rng)
    assert commit(3, r) + commit(4, s) == commit(7, r + s)


def test_hiding_blinding_changes_commitment() -> None:
    rng = _rng()
    assert commit(1, Scalar.random(rng)) != commit(1, Scalar.random(rng))


def test_verify_opening() -> None:
    r = Scalar.random(_rng())
    c = commit(10, r)
    verify_opening(c, 10, r)
    with pytest.raises(VerificationFailed):
        verify_opening(c, 11, r)
    with pytest.raises(VerificationFailed):
        verify_opening(c, 10, r + Scalar.from_int(1))
    with pytest.raises(VerificationFailed):
        verify_opening(c, 1.5, r)  # type: ignore[arg-type]


def test_params_validation() -> None:
    g, _h = generators.pedersen_generators()
    with pytest.raises(InvalidInput):
        PedersenParams(g, g)
    with pytest.raises(InvalidInput):
        PedersenParams(g, Point.identity())
    with pytest.raises(InvalidInput):
        commit(True, Scalar.from_int(1))
    with pytest.raises(InvalidInput):
        commit(1, 1)  # type: ignore[arg-type]
