"""Sigma protocols: completeness of every relation, AND/OR, interactive runs, serialisation, and the
"Frozen Heart" test (changing any statement element makes the proof fail)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest

from petsuite.core.errors import InvalidInput, VerificationFailed
from petsuite.core.rng import DeterministicRandom
from petsuite.primitives.group import Point, Scalar
from petsuite.zkp import sigma as sigma_module
from petsuite.zkp.pedersen import PedersenParams, commit
from petsuite.zkp.sigma import (
    LinearRelation,
    OrProof,
    SigmaProof,
    SigmaProver,
    check_interactive,
    conjunction,
    dleq,
    equal_committed_values,
    pedersen_opening,
    prove,
    prove_or,
    schnorr,
    verify,
    verify_or,
)
from petsuite.zkp.transcript import Transcript

LABEL = b"petsuite/test/sigma/v1"


def _rng(tag: bytes = b"sigma") -> DeterministicRandom:
    return DeterministicRandom(tag.ljust(32, b"."), insecure_for_testing=True)


def _t(label: bytes = LABEL) -> Transcript:
    t = Transcript(label)
    t.append_message(b"nonce", b"verifier-nonce-1")
    return t


def _other_point(tag: bytes) -> Point:
    return Point.hash_to_group(tag, b"petsuite-test-other")


Case = tuple[LinearRelation, list[Scalar]]


def _cases() -> dict[str, Case]:
    rng = _rng(b"cases")
    p = PedersenParams.default()
    x = Scalar.random(rng)
    v, r = Scalar.random(rng), Scalar.random(rng)
    k = Scalar.random(rng)
    g2, h2 = _other_point(b"g2"), _other_point(b"h2")
    r1, r2 = Scalar.random(rng), Scalar.random(rng)
    c1, c2 = commit(v, r1), commit(v, r2)
    base = _other_point(b"base")
    return {
        "schnorr": (schnorr(Point.base_mul(x)), [x]),
        "schnorr-base": (schnorr(x * base, base), [x]),
        "opening": (pedersen_opening(commit(v, r)), [v, r]),
        "dleq": (dleq(g2, k * g2, h2, k * h2), [k]),
        "equal": (equal_committed_values(c1, c2, p), [r1 - r2]),
        "and": (
            conjunction(schnorr(Point.base_mul(x)), pedersen_opening(commit(v, r))),
            [x, v, r],
        ),
    }


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_completeness(name: str) -> None:
    relation, ws = CASES[name]
    proof = prove(relation, ws, _t(), _rng())
    verify(relation, proof, _t())
    verify(relation, SigmaProof.from_bytes(proof.to_bytes()), _t())


@pytest.mark.parametrize("name", sorted(CASES))
def test_interactive(name: str) -> None:
    relation, ws = CASES[name]
    prover = SigmaProver(relation, ws, _rng())
    ts = prover.commitments()
    c = Scalar.random(_rng(b"verifier"))
    rs = prover.respond(c)
    check_interactive(relation, ts, c, rs)
    with pytest.raises(InvalidInput):
        prover.respond(c)  # nonces are single use
    with pytest.raises(VerificationFailed):
        check_interactive(relation, ts, c + Scalar.from_int(1), rs)
    with pytest.raises(VerificationFailed):
        check_interactive(relation, ts[:-1], c, rs)
    bad = (rs[0] + Scalar.from_int(1), *rs[1:])
    with pytest.raises(VerificationFailed):
        check_interactive(relation, ts, c, bad)


def test_false_statement_refused_by_prover() -> None:
    relation, ws = CASES["schnorr"]
    with pytest.raises(InvalidInput):
        prove(relation, [ws[0] + Scalar.from_int(1)], _t())
    with pytest.raises(InvalidInput):
        prove(relation, [], _t())
    with pytest.raises(InvalidInput):
        SigmaProver(relation, [Scalar.from_int(3)])


def test_wrong_witness_proof_does_not_verify() -> None:
    # A proof with a tampered response (as a cheating prover would produce) fails.
    relation, ws = CASES["opening"]
    proof = prove(relation, ws, _t(), _rng())
    bad = SigmaProof(proof.challenge, (proof.responses[0] + Scalar.from_int(1), proof.responses[1]))
    with pytest.raises(VerificationFailed):
        verify(relation, bad, _t())
    with pytest.raises(VerificationFailed):
        verify(relation, SigmaProof(proof.challenge, proof.responses[:1]), _t())


# --- Frozen Heart: every statement element is bound ----------------------------------------------


def _mutations(relation: LinearRelation) -> Iterator[tuple[str, LinearRelation]]:
    """Every single-element change of the statement: each lhs, each base, each index, the name."""
    bump = _other_point(b"bump")
    eqs = relation.equations
    for j, (lhs, terms) in enumerate(eqs):
        new = (*eqs[:j], (lhs + bump, terms), *eqs[j + 1 :])
        yield f"lhs[{j}]", dataclasses.replace(relation, equations=tuple(new))
        for t_i, (k, base) in enumerate(terms):
            new_terms = (*terms[:t_i], (k, base + bump), *terms[t_i + 1 :])
            new = (*eqs[:j], (lhs, new_terms), *eqs[j + 1 :])
            yield f"base[{j}][{t_i}]", dataclasses.replace(relation, equations=tuple(new))
    yield "name", dataclasses.replace(relation, name=relation.name + "'")
    names = relation.witness_names
    yield "witness-name", dataclasses.replace(relation, witness_names=(names[0] + "'", *names[1:]))


@pytest.mark.parametrize("name", sorted(CASES))
def test_frozen_heart_every_statement_element(name: str) -> None:
    relation, ws = CASES[name]
    proof = prove(relation, ws, _t(), _rng())
    count = 0
    for _what, mutated in _mutations(relation):
        with pytest.raises(VerificationFailed):
            verify(mutated, proof, _t())
        count += 1
    assert count >= 3
    # the protocol label and the caller's context
    with pytest.raises(VerificationFailed):
        verify(relation, proof, _t(b"petsuite/test/other/v1"))
    other = Transcript(LABEL)
    other.append_message(b"nonce", b"verifier-nonce-2")
    with pytest.raises(VerificationFailed):
        verify(relation, proof, other)


def test_frozen_heart_or() -> None:
    rels, known, ws = _or_case(0)
    proof = prove_or(rels, known, ws, _t(), _rng())
    verify_or(rels, proof, _t())
    for i, rel in enumerate(rels):
        for _, mutated in _mutations(rel):
            changed = [*rels[:i], mutated, *rels[i + 1 :]]
            with pytest.raises(VerificationFailed):
                verify_or(changed, proof, _t())
    with pytest.raises(VerificationFailed):
        verify_or(rels, proof, _t(b"petsuite/test/other/v1"))
    with pytest.raises(VerificationFailed):
        verify_or(list(reversed(rels)), proof, _t())


# --- OR ------------------------------------------------------------------------------------------


def _or_case(known: int) -> tuple[list[LinearRelation], int, list[Scalar]]:
    rng = _rng(b"or-case")
    secrets = [Scalar.random(rng) for _ in range(3)]
    rels = [schnorr(Point.base_mul(s)) for s in secrets]
    rels[2] = pedersen_opening(commit(5, secrets[2]))
    ws = [secrets[known]] if known < 2 else [Scalar.from_int(5), secrets[2]]
    return rels, known, ws


@pytest.mark.parametrize("known", [0, 1, 2])
def test_or_each_branch(known: int) -> None:
    rels, k, ws = _or_case(known)
    proof = prove_or(rels, k, ws, _t(), _rng())
    verify_or(rels, proof, _t())
    decoded = OrProof.from_bytes(proof.to_bytes())
    verify_or(rels, decoded, _t())
    assert proof.challenges[known] != proof.challenges[(known + 1) % 3]


def test_or_refuses_bad_prover_input() -> None:
    rels, _, ws = _or_case(0)
    with pytest.raises(InvalidInput):
        prove_or(rels, 1, ws, _t())  # witnesses belong to branch 0
    with pytest.raises(InvalidInput):
        prove_or(rels, 3, ws, _t())
    with pytest.raises(InvalidInput):
        prove_or(rels[:1], 0, ws, _t())


def test_or_challenge_split_is_checked() -> None:
    rels, k, ws = _or_case(1)
    proof = prove_or(rels, k, ws, _t(), _rng())
    one = Scalar.from_int(1)
    cs = (proof.challenges[0] + one, proof.challenges[1] - one, proof.challenges[2])
    with pytest.raises(VerificationFailed):
        verify_or(rels, OrProof(cs, proof.responses), _t())
    with pytest.raises(VerificationFailed):
        verify_or(rels[:2], proof, _t())


# --- relation validation -------------------------------------------------------------------------


BAD_RELATIONS: list[Callable[[], LinearRelation]] = [
    lambda: LinearRelation("", ("x",), ((Point.generator(), ((0, Point.generator()),)),)),
    lambda: LinearRelation("r", (), ((Point.generator(), ((0, Point.generator()),)),)),
    lambda: LinearRelation("r", ("x", "x"), ((Point.generator(), ((0, Point.generator()),)),)),
    lambda: LinearRelation("r", ("x",), ()),
    lambda: LinearRelation("r", ("x",), ((Point.generator(), ()),)),
    lambda: LinearRelation("r", ("x",), ((Point.generator(), ((1, Point.generator()),)),)),
    lambda: LinearRelation("r", ("x",), ((Point.generator(), ((0, Point.identity()),)),)),
    lambda: LinearRelation(
        "r", ("x",), ((Point.generator(), ((0, Point.generator()), (0, Point.generator()))),)
    ),
    lambda: LinearRelation("r", ("x", "y"), ((Point.generator(), ((0, Point.generator()),)),)),
    lambda: schnorr(Point.generator(), Point.identity()),
    conjunction,
]


@pytest.mark.parametrize("index", range(len(BAD_RELATIONS)))
def test_bad_relations_rejected(index: int) -> None:
    with pytest.raises(InvalidInput):
        BAD_RELATIONS[index]()


def test_frozen_heart_forgery_works_only_without_statement_binding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The classic weak Fiat–Shamir forgery: choose the response first, then a public key that
    fits the challenge. It fools a verifier whose transcript leaves the lhs out, not ours."""

    def weak_bind(self: LinearRelation, t: Transcript) -> None:  # lhs deliberately not absorbed
        t.append_message(b"relation", self.name.encode("utf-8"))
        for _, terms in self.equations:
            for _, base in terms:
                t.append_point(b"base", base)

    rng = _rng(b"forger")
    r, s = Scalar.random(rng), Scalar.random(rng)
    big_t = Point.base_mul(r)
    with monkeypatch.context() as patched:
        patched.setattr(LinearRelation, "bind", weak_bind)
        t = _t()
        t.append_message(b"proof-type", b"sigma/linear/v1")
        schnorr(Point.generator()).bind(t)  # the lhs does not matter to the weak binding
        sigma_module._bind_commitments(t, [big_t])
        c = t.challenge_scalar(b"challenge")
        forged_key = (Point.base_mul(s) - big_t) * c.invert()  # nobody knows its secret key
        forged = SigmaProof(c, (s,))
        verify(schnorr(forged_key), forged, _t())  # the weak verifier is fooled
    with pytest.raises(VerificationFailed):
        verify(schnorr(forged_key), forged, _t())
