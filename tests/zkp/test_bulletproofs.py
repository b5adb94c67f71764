"""Bulletproofs range and interval proofs: completeness, aggregation, edges, soundness against a
cheating prover, and the "Frozen Heart" test over every statement element."""

from __future__ import annotations

import pytest

from petsuite.core.errors import InvalidInput, VerificationFailed
from petsuite.core.rng import DeterministicRandom
from petsuite.primitives.group import Point, Scalar
from petsuite.zkp import bulletproofs
from petsuite.zkp.bulletproofs import (
    RangeProof,
    interval_bits,
    prove_interval,
    prove_range,
    verify_interval,
    verify_range,
)
from petsuite.zkp.pedersen import PedersenParams, commit
from petsuite.zkp.transcript import Transcript

LABEL = b"petsuite/test/range/v1"


def _rng(tag: bytes = b"bp") -> DeterministicRandom:
    return DeterministicRandom(tag.ljust(32, b"."), insecure_for_testing=True)


def _t(label: bytes = LABEL) -> Transcript:
    t = Transcript(label)
    t.append_message(b"nonce", b"n-1")
    return t


def _blindings(n: int, rng: DeterministicRandom) -> list[Scalar]:
    return [Scalar.random(rng) for _ in range(n)]


@pytest.mark.parametrize("bits", [8, 16, 32, 64])
@pytest.mark.parametrize("edge", ["zero", "max", "middle"])
def test_single_completeness(bits: int, edge: str) -> None:
    rng = _rng(b"single-%d" % bits)
    value = {"zero": 0, "max": (1 << bits) - 1, "middle": 1 << (bits - 1)}[edge]
    blinding = Scalar.random(rng)
    proof, vs = prove_range([value], [blinding], bits, _t(), rng=rng)
    assert vs == (commit(value, blinding),)
    verify_range(proof, vs, bits, _t())
    data = proof.to_bytes()
    assert len(data) == 4 + 32 * (9 + 2 * bits.bit_length() - 2)
    verify_range(RangeProof.from_bytes(data), vs, bits, _t())


def test_64_bit_size_is_672_plus_header() -> None:
    rng = _rng()
    proof, _ = prove_range([123456789], [Scalar.random(rng)], 64, _t(), rng=rng)
    assert len(proof.to_bytes()) == 676


@pytest.mark.parametrize(("bits", "count"), [(8, 2), (16, 4), (32, 8), (8, 16)])
def test_aggregated_completeness(bits: int, count: int) -> None:
    rng = _rng(b"agg-%d-%d" % (bits, count))
    values = [(i * 2654435761) % (1 << bits) for i in range(count)]
    values[0] = (1 << bits) - 1
    proof, vs = prove_range(values, _blindings(count, rng), bits, _t(), rng=rng)
    verify_range(RangeProof.from_bytes(proof.to_bytes()), vs, bits, _t())
    # order of the commitments is part of the statement
    with pytest.raises(VerificationFailed):
        verify_range(proof, vs[::-1], bits, _t())


def test_aggregated_64_by_16() -> None:
    rng = _rng(b"agg-64-16")
    values = [(1 << 64) - 1 - i for i in range(16)]
    proof, vs = prove_range(values, _blindings(16, rng), 64, _t(), rng=rng)
    verify_range(proof, vs, 64, _t())
    assert len(proof.to_bytes()) == 4 + 32 * (9 + 2 * 10)


def test_params_are_respected() -> None:
    rng = _rng(b"params")
    g, h = Point.hash_to_group(b"g", b"other"), Point.hash_to_group(b"h", b"other")
    params = PedersenParams(g, h)
    blinding = Scalar.random(rng)
    proof, vs = prove_range([7], [blinding], 8, _t(), params, rng)
    assert vs[0] == commit(7, blinding, params)
    verify_range(proof, vs, 8, _t(), params)
    with pytest.raises(VerificationFailed):
        verify_range(proof, vs, 8, _t())


@pytest.mark.parametrize(
    ("values", "bits"),
    [([256], 8), ([-1], 8), ([1 << 64], 64), ([True], 8), ([1, 2, 3], 8), ([1], 12), ([], 8)],
)
def test_prover_refuses_bad_input(values: list[int], bits: int) -> None:
    rng = _rng(b"refuse")
    with pytest.raises(InvalidInput):
        prove_range(values, _blindings(len(values), rng), bits, _t(), rng=rng)


def test_prover_refuses_mismatched_blindings() -> None:
    with pytest.raises(InvalidInput):
        prove_range([1, 2], [Scalar.from_int(1)], 8, _t())


@pytest.mark.parametrize("value", [256, 300, (1 << 20) + 5])
def test_cheating_prover_out_of_range_fails(value: int) -> None:
    """Drive the internal prover with a value outside [0, 2^8): the proof must not verify."""
    rng = _rng(b"cheat")
    gamma = Scalar.random(rng)
    v = commit(value, gamma)
    proof = bulletproofs._prove(
        [value], [gamma], (v,), n=8, m=1, t=_t(), p=PedersenParams.default(), rng=rng
    )
    with pytest.raises(VerificationFailed):
        verify_range(proof, (v,), 8, _t())


def test_cheating_prover_negative_value_fails() -> None:
    rng = _rng(b"cheat-neg")
    gamma = Scalar.random(rng)
    v = commit(-1, gamma)
    proof = bulletproofs._prove(
        [255], [gamma], (v,), n=8, m=1, t=_t(), p=PedersenParams.default(), rng=rng
    )
    with pytest.raises(VerificationFailed):
        verify_range(proof, (v,), 8, _t())


# --- intervals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lower", "upper", "value"),
    [
        (18, 130, 18),  # lower edge
        (18, 130, 130),  # upper edge
        (18, 130, 40),
        (-1000, 1000, -1000),
        (0, (1 << 64) - 1, (1 << 64) - 1),
        (5, 5, 5),
    ],
)
def test_interval_completeness(lower: int, upper: int, value: int) -> None:
    rng = _rng(b"interval")
    blinding = Scalar.random(rng)
    proof, v = prove_interval(value, blinding, lower, upper, _t(), rng=rng)
    assert v == commit(value, blinding)
    assert proof.count == 2 and proof.bits == interval_bits(lower, upper)
    verify_interval(proof, v, lower, upper, _t())
    verify_interval(RangeProof.from_bytes(proof.to_bytes()), v, lower, upper, _t())


def test_interval_outside_refused_and_not_transferable() -> None:
    rng = _rng(b"interval-out")
    blinding = Scalar.random(rng)
    with pytest.raises(InvalidInput):
        prove_interval(17, blinding, 18, 130, _t(), rng=rng)
    with pytest.raises(InvalidInput):
        prove_interval(131, blinding, 18, 130, _t(), rng=rng)
    proof, v = prove_interval(18, blinding, 18, 130, _t(), rng=rng)
    # the same proof does not convince for an interval that excludes the value
    with pytest.raises(VerificationFailed):
        verify_interval(proof, v, 19, 130, _t())
    with pytest.raises(VerificationFailed):
        verify_interval(proof, v, 18, 129, _t())


def test_cheating_interval_prover_fails() -> None:
    """A value below the interval, pushed through the internal prover, does not verify."""
    rng = _rng(b"interval-cheat")
    gamma = Scalar.random(rng)
    lower, upper, value = 18, 130, 17
    v = commit(value, gamma)
    p = PedersenParams.default()
    low, high = bulletproofs._interval_commitments(v, lower, upper, p)
    t = _t()
    bulletproofs._bind_interval(t, v, lower, upper)
    proof = bulletproofs._prove(
        [(value - lower) % (1 << 8), upper - value],
        [gamma, -gamma],
        (low, high),
        n=8,
        m=2,
        t=t,
        p=p,
        rng=rng,
    )
    with pytest.raises(VerificationFailed):
        verify_interval(proof, v, lower, upper, _t())


def test_interval_bits_and_bounds() -> None:
    assert interval_bits(0, 255) == 8
    assert interval_bits(0, 256) == 16
    assert interval_bits(-5, 5) == 8
    assert interval_bits(0, (1 << 64) - 1) == 64
    for lower, upper in [(1, 0), (0, 1 << 64), (0, 1 << 200)]:
        with pytest.raises(InvalidInput):
            interval_bits(lower, upper)
    with pytest.raises(VerificationFailed):
        verify_interval(_dummy_proof(), commit(1, Scalar.from_int(1)), 5, 1, _t())


def _dummy_proof() -> RangeProof:
    rng = _rng(b"dummy")
    proof, _ = prove_range([1, 2], _blindings(2, rng), 8, _t(), rng=rng)
    return proof


# --- Frozen Heart --------------------------------------------------------------------------------


def test_frozen_heart_range() -> None:
    rng = _rng(b"frozen")
    values = [3, 200]
    proof, vs = prove_range(values, _blindings(2, rng), 8, _t(), rng=rng)
    verify_range(proof, vs, 8, _t())
    bump = Point.hash_to_group(b"bump", b"test")
    for j in range(len(vs)):  # each commitment V_j
        changed = list(vs)
        changed[j] = vs[j] + bump
        with pytest.raises(VerificationFailed):
            verify_range(proof, changed, 8, _t())
    with pytest.raises(VerificationFailed):  # bits
        verify_range(proof, vs, 16, _t())
    with pytest.raises(VerificationFailed):  # count
        verify_range(proof, vs[:1], 8, _t())
    with pytest.raises(VerificationFailed):  # count, more commitments
        verify_range(proof, [*vs, vs[0], vs[1]], 8, _t())
    with pytest.raises(VerificationFailed):  # protocol label
        verify_range(proof, vs, 8, _t(b"petsuite/test/other/v1"))
    other = Transcript(LABEL)
    other.append_message(b"nonce", b"n-2")
    with pytest.raises(VerificationFailed):  # caller context
        verify_range(proof, vs, 8, other)
    g, h = PedersenParams.default().g, PedersenParams.default().h
    for params in (PedersenParams(g + bump, h), PedersenParams(g, h + bump)):  # each generator
        with pytest.raises(VerificationFailed):
            verify_range(proof, vs, 8, _t(), params)


def test_frozen_heart_interval() -> None:
    rng = _rng(b"frozen-interval")
    proof, v = prove_interval(50, Scalar.random(rng), 18, 130, _t(), rng=rng)
    verify_interval(proof, v, 18, 130, _t())
    bump = Point.hash_to_group(b"bump", b"test")
    for lower, upper, commitment in [(17, 130, v), (18, 131, v), (18, 130, v + bump)]:
        with pytest.raises(VerificationFailed):
            verify_interval(proof, commitment, lower, upper, _t())
    with pytest.raises(VerificationFailed):
        verify_interval(proof, v, 18, 130, _t(b"petsuite/test/other/v1"))
