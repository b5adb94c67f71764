"""Negative suite at proof level: every tampered, malformed, replayed or misapplied proof and every
malformed envelope is rejected with VerificationFailed (never False, never another error)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

import pytest

from petsuite.core.errors import VerificationFailed
from petsuite.core.rng import DeterministicRandom
from petsuite.primitives.group import GROUP_ORDER, Point, Scalar
from petsuite.zkp import serialization
from petsuite.zkp.bitrange import BitRangeProof, prove_bitrange, verify_bitrange
from petsuite.zkp.bulletproofs import RangeProof, prove_range, verify_range
from petsuite.zkp.pedersen import commit
from petsuite.zkp.sigma import (
    OrProof,
    SigmaProof,
    check_interactive,
    pedersen_opening,
    prove,
    prove_or,
    schnorr,
    verify,
    verify_or,
)
from petsuite.zkp.transcript import Transcript

LABEL = b"petsuite/test/negative/v1"
BITS = 16
COUNT = 2
ROUNDS = 5  # log2(16 * 2)


def _rng(tag: bytes) -> DeterministicRandom:
    return DeterministicRandom(tag.ljust(32, b"."), insecure_for_testing=True)


def _t(nonce: bytes = b"nonce-1", label: bytes = LABEL) -> Transcript:
    t = Transcript(label)
    t.append_message(b"nonce", nonce)
    return t


@functools.lru_cache(maxsize=1)
def _range_case() -> tuple[bytes, tuple[Point, ...]]:
    rng = _rng(b"negative-range")
    blindings = [Scalar.random(rng) for _ in range(COUNT)]
    proof, vs = prove_range([12345, 65535], blindings, BITS, _t(), rng=rng)
    return proof.to_bytes(), vs


def _check_range(
    data: bytes, vs: tuple[Point, ...] | None = None, t: Transcript | None = None
) -> None:
    _good, good_vs = _range_case()
    verify_range(RangeProof.from_bytes(data), good_vs if vs is None else vs, BITS, t or _t())


# Offsets of the components of the serialised range proof.
_HEADER = 4
_OFF = {
    "A": 4,
    "S": 36,
    "T1": 68,
    "T2": 100,
    "tau_x": 132,
    "mu": 164,
    "t_hat": 196,
    **{f"L{k}": 228 + 64 * k for k in range(ROUNDS)},
    **{f"R{k}": 260 + 64 * k for k in range(ROUNDS)},
    "a": 228 + 64 * ROUNDS,
    "b": 260 + 64 * ROUNDS,
}


def test_sanity_untampered_range_proof_verifies() -> None:
    data, _ = _range_case()
    assert len(data) == _OFF["b"] + 32
    _check_range(data)


@pytest.mark.parametrize("component", sorted(_OFF))
@pytest.mark.parametrize("byte", [0, 17])
def test_range_flip_byte_in_each_component(component: str, byte: int) -> None:
    data = bytearray(_range_case()[0])
    data[_OFF[component] + byte] ^= 0x01
    with pytest.raises(VerificationFailed):
        _check_range(bytes(data))


def _replace(data: bytes, component: str, value: bytes) -> bytes:
    off = _OFF[component]
    return data[:off] + value + data[off + 32 :]


NON_CANONICAL = (GROUP_ORDER + 1).to_bytes(32, "little")
BIT_255_ZERO = bytes(31) + b"\x80"


def _set_bit_255(data: bytes, component: str) -> bytes:
    off = _OFF[component]
    chunk = bytearray(data[off : off + 32])
    chunk[31] |= 0x80
    return _replace(data, component, bytes(chunk))


def _swap_lr(data: bytes) -> bytes:
    out = data
    for k in range(ROUNDS):
        left = data[_OFF[f"L{k}"] : _OFF[f"L{k}"] + 32]
        right = data[_OFF[f"R{k}"] : _OFF[f"R{k}"] + 32]
        out = _replace(_replace(out, f"L{k}", right), f"R{k}", left)
    return out


def _swap_rounds(data: bytes) -> bytes:
    first = data[_OFF["L0"] : _OFF["L0"] + 64]
    second = data[_OFF["L1"] : _OFF["L1"] + 64]
    return data[: _OFF["L0"]] + second + first + data[_OFF["L1"] + 64 :]


RANGE_TAMPERING: dict[str, Callable[[bytes], bytes]] = {
    "truncated-by-one": lambda d: d[:-1],
    "truncated-by-a-scalar": lambda d: d[:-32],
    "extended-by-one": lambda d: d + b"\x00",
    "extended-by-a-round": lambda d: d[:-64] + d[_OFF["L0"] : _OFF["L0"] + 64] + d[-64:],
    "empty": lambda d: b"",
    "header-only": lambda d: d[:_HEADER],
    "wrong-version": lambda d: b"\x02" + d[1:],
    "wrong-tag": lambda d: d[:1] + b"S" + d[2:],
    "wrong-bits-byte": lambda d: d[:2] + bytes([32]) + d[3:],
    "unsupported-bits-byte": lambda d: d[:2] + bytes([12]) + d[3:],
    "wrong-count-byte": lambda d: d[:3] + bytes([1]) + d[4:],
    "unsupported-count-byte": lambda d: d[:3] + bytes([3]) + d[4:],
    "non-canonical-tau_x": lambda d: _replace(d, "tau_x", NON_CANONICAL),
    "non-canonical-a": lambda d: _replace(d, "a", NON_CANONICAL),
    "non-canonical-b-plus-order": lambda d: _replace(
        d,
        "b",
        (
            (int.from_bytes(d[_OFF["b"] : _OFF["b"] + 32], "little") + GROUP_ORDER) % (1 << 256)
        ).to_bytes(32, "little"),
    ),
    "all-ones-scalar-mu": lambda d: _replace(d, "mu", b"\xff" * 32),
    "bit-255-A": lambda d: _set_bit_255(d, "A"),
    "bit-255-L0": lambda d: _set_bit_255(d, "L0"),
    "bit-255-identity-T1": lambda d: _replace(d, "T1", BIT_255_ZERO),
    "identity-A": lambda d: _replace(d, "A", bytes(32)),
    "identity-S": lambda d: _replace(d, "S", bytes(32)),
    "identity-R2": lambda d: _replace(d, "R2", bytes(32)),
    "invalid-point-T2": lambda d: _replace(d, "T2", b"\x01" + bytes(31)),
    "non-canonical-point-S": lambda d: _replace(d, "S", b"\xff" * 31 + b"\x7f"),
    "swapped-L-R": _swap_lr,
    "swapped-rounds": _swap_rounds,
    "zero-tau_x": lambda d: _replace(d, "tau_x", bytes(32)),
    "A-replaced-by-S": lambda d: _replace(d, "A", d[_OFF["S"] : _OFF["S"] + 32]),
}


@pytest.mark.parametrize("case", sorted(RANGE_TAMPERING))
def test_range_tampering(case: str) -> None:
    data, _ = _range_case()
    with pytest.raises(VerificationFailed):
        _check_range(RANGE_TAMPERING[case](data))


def test_range_replayed_against_other_context() -> None:
    data, _ = _range_case()
    with pytest.raises(VerificationFailed):
        _check_range(data, t=_t(b"nonce-2"))
    with pytest.raises(VerificationFailed):
        _check_range(data, t=_t(label=b"petsuite/test/other/v1"))


def test_range_against_other_commitments() -> None:
    data, vs = _range_case()
    rng = _rng(b"other-commitment")
    other = commit(12345, Scalar.random(rng))
    with pytest.raises(VerificationFailed):
        _check_range(data, vs=(other, vs[1]))
    with pytest.raises(VerificationFailed):
        _check_range(data, vs=(vs[1], vs[0]))
    with pytest.raises(VerificationFailed):
        _check_range(data, vs=(Point.identity(), vs[1]))


def test_range_not_bytes() -> None:
    with pytest.raises(VerificationFailed):
        RangeProof.from_bytes("not bytes")  # type: ignore[arg-type]
    with pytest.raises(VerificationFailed):
        verify_range("proof", [], BITS, _t())  # type: ignore[arg-type]


# --- Sigma and OR proofs -------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _sigma_case() -> tuple[bytes, Point]:
    rng = _rng(b"negative-sigma")
    value, blinding = Scalar.random(rng), Scalar.random(rng)
    c = commit(value, blinding)
    proof = prove(pedersen_opening(c), [value, blinding], _t(), rng)
    return proof.to_bytes(), c


SIGMA_TAMPERING: dict[str, Callable[[bytes], bytes]] = {
    "flip-challenge": lambda d: d[:4] + bytes([d[4] ^ 1]) + d[5:],
    "flip-response-0": lambda d: d[:36] + bytes([d[36] ^ 1]) + d[37:],
    "flip-response-1": lambda d: d[:-32] + bytes([d[-32] ^ 1]) + d[-31:],
    "truncated": lambda d: d[:-1],
    "extended": lambda d: d + b"\x00",
    "dropped-response": lambda d: d[:2] + (1).to_bytes(2, "big") + d[4:-32],
    "extra-response": lambda d: d[:2] + (3).to_bytes(2, "big") + d[4:] + bytes(32),
    "count-mismatch": lambda d: d[:2] + (3).to_bytes(2, "big") + d[4:],
    "non-canonical-challenge": lambda d: d[:4] + NON_CANONICAL + d[36:],
    "non-canonical-response": lambda d: d[:-32] + NON_CANONICAL,
    "wrong-version": lambda d: b"\x00" + d[1:],
    "or-tag": lambda d: d[:1] + b"O" + d[2:],
    "swapped-responses": lambda d: d[:36] + d[-32:] + d[36:-32],
    "empty": lambda d: b"",
}


@pytest.mark.parametrize("case", sorted(SIGMA_TAMPERING))
def test_sigma_tampering(case: str) -> None:
    data, c = _sigma_case()
    with pytest.raises(VerificationFailed):
        verify(pedersen_opening(c), SigmaProof.from_bytes(SIGMA_TAMPERING[case](data)), _t())


def test_sigma_replay_and_wrong_statement() -> None:
    data, c = _sigma_case()
    proof = SigmaProof.from_bytes(data)
    verify(pedersen_opening(c), proof, _t())
    with pytest.raises(VerificationFailed):
        verify(pedersen_opening(c), proof, _t(b"nonce-2"))
    with pytest.raises(VerificationFailed):
        verify(pedersen_opening(c + Point.generator()), proof, _t())
    with pytest.raises(VerificationFailed):
        verify(schnorr(c), SigmaProof(proof.challenge, proof.responses[:1]), _t())


@functools.lru_cache(maxsize=1)
def _or_case() -> tuple[bytes, list[Point]]:
    rng = _rng(b"negative-or")
    x = Scalar.random(rng)
    pks = [Point.base_mul(x), Point.hash_to_group(b"other", b"test")]
    proof = prove_or([schnorr(pk) for pk in pks], 0, [x], _t(), rng)
    return proof.to_bytes(), pks


OR_TAMPERING: dict[str, Callable[[bytes], bytes]] = {
    "flip-branch-challenge": lambda d: d[:6] + bytes([d[6] ^ 1]) + d[7:],
    "flip-last-response": lambda d: d[:-32] + bytes([d[-32] ^ 1]) + d[-31:],
    "one-branch": lambda d: d[:2] + (1).to_bytes(2, "big") + d[4 : 4 + 66],
    "branch-count-3": lambda d: d[:2] + (3).to_bytes(2, "big") + d[4:],
    "response-count-0": lambda d: d[:4] + (0).to_bytes(2, "big") + d[6:],
    "trailing": lambda d: d + b"\x00",
    "truncated": lambda d: d[:-5],
    "swapped-branches": lambda d: d[:4] + d[4 + 66 :] + d[4 : 4 + 66],
    "non-canonical": lambda d: d[:6] + NON_CANONICAL + d[38:],
}


@pytest.mark.parametrize("case", sorted(OR_TAMPERING))
def test_or_tampering(case: str) -> None:
    data, pks = _or_case()
    verify_or([schnorr(pk) for pk in pks], OrProof.from_bytes(data), _t())
    with pytest.raises(VerificationFailed):
        verify_or([schnorr(pk) for pk in pks], OrProof.from_bytes(OR_TAMPERING[case](data)), _t())


def test_interactive_rejects_malformed() -> None:
    rel = schnorr(Point.generator())
    with pytest.raises(VerificationFailed):
        check_interactive(rel, [b"x" * 32], Scalar.from_int(1), [Scalar.from_int(1)])  # type: ignore[list-item]
    with pytest.raises(VerificationFailed):
        check_interactive(rel, [Point.generator()], 1, [Scalar.from_int(1)])  # type: ignore[arg-type]


# --- naive bit-decomposition proof ---------------------------------------------------------------


def test_bitrange_tampering() -> None:
    rng = _rng(b"negative-bitrange")
    proof, v = prove_bitrange(200, Scalar.random(rng), 8, _t(), rng=rng)
    data = proof.to_bytes()
    verify_bitrange(BitRangeProof.from_bytes(data), v, 8, _t())
    cases = [
        data[:-1],
        data + b"\x00",
        data[:3] + bytes([data[3] ^ 1]) + data[4:],  # first bit commitment
        data[:-32] + NON_CANONICAL,
        data[:2] + bytes([16]) + data[3:],
    ]
    for bad in cases:
        with pytest.raises(VerificationFailed):
            verify_bitrange(BitRangeProof.from_bytes(bad), v, 8, _t())
    with pytest.raises(VerificationFailed):
        verify_bitrange(proof, v, 8, _t(b"nonce-2"))


# --- envelopes -----------------------------------------------------------------------------------

KIND = "petsuite.zkp.range-proof"
GOOD = serialization.dumps(KIND, 1, {"proof": b"\x00\x01\xfe\xff", "bits": 64})

ENVELOPE_TAMPERING: dict[str, str | bytes] = {
    "not-json": "{",
    "not-utf8": b"\xff\xfe",
    "array": "[]",
    "unknown-kind": serialization.dumps("petsuite.other", 1, {"proof": b""}),
    "unknown-version": serialization.dumps(KIND, 2, {"proof": b""}),
    "bool-version": GOOD.replace('"version":1', '"version":true'),
    "string-version": GOOD.replace('"version":1', '"version":"1"'),
    "float": GOOD.replace('"bits":64', '"bits":64.0'),
    "nan": GOOD.replace('"bits":64', '"bits":NaN'),
    "extra-field": GOOD[:-1] + ',"extra":1}',
    "missing-body": json.dumps({"kind": KIND, "version": 1}),
    "body-not-object": json.dumps({"body": [], "kind": KIND, "version": 1}),
    "duplicate-key": GOOD[:-1] + ',"kind":"' + KIND + '"}',
    "too-large": " " * (serialization.MAX_ENVELOPE_BYTES + 1),
}


@pytest.mark.parametrize("case", sorted(ENVELOPE_TAMPERING))
def test_envelope_rejected(case: str) -> None:
    with pytest.raises(VerificationFailed):
        serialization.loads(ENVELOPE_TAMPERING[case], KIND, versions={1})


def test_envelope_roundtrip_and_fields() -> None:
    body = serialization.loads(GOOD, KIND, versions={1})
    assert serialization.expect_fields(body, ["proof", "bits"]) == body
    assert serialization.b64decode(body["proof"]) == b"\x00\x01\xfe\xff"
    assert serialization.dumps(KIND, 1, {"bits": 64, "proof": b"\x00\x01\xfe\xff"}) == GOOD
    assert serialization.loads(GOOD.encode(), KIND, versions={1}) == body
    with pytest.raises(VerificationFailed):
        serialization.expect_fields(body, ["proof"])  # extra field "bits"
    with pytest.raises(VerificationFailed):
        serialization.expect_fields(body, ["proof", "bits", "nonce"])  # missing field
    with pytest.raises(VerificationFailed):
        serialization.expect_fields([], ["proof"])


@pytest.mark.parametrize("text", ["AAE=", "AAE", "AA+/", "AAF", "A", "AAE\n", "ÄÄ", 5, "AA E"])
def test_bad_base64(text: object) -> None:
    if text == "AAE":
        assert serialization.b64decode(text) == b"\x00\x01"
        with pytest.raises(VerificationFailed):
            serialization.b64decode(text, length=3)
        return
    with pytest.raises(VerificationFailed):
        serialization.b64decode(text)
