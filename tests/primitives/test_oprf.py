"""RFC 9497 OPRF (mode 0x00, ristretto255-SHA512): official vectors, negatives, properties."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from petsuite.core.errors import InvalidInput, UnsupportedParameter
from petsuite.core.rng import DeterministicRandom
from petsuite.primitives import oprf
from petsuite.primitives.group import Point, Scalar

OPRF_FILE = "oprf/allVectors.json"


def drng(tag: bytes = b"") -> DeterministicRandom:
    return DeterministicRandom(hashlib.sha256(tag).digest(), insecure_for_testing=True)


@pytest.fixture(scope="module")
def suite(load_vectors: Callable[[str], Any]) -> dict[str, Any]:
    entries = [
        e
        for e in load_vectors(OPRF_FILE)
        if e["identifier"] == "ristretto255-SHA512" and e["mode"] == 0
    ]
    assert len(entries) == 1
    entry: dict[str, Any] = entries[0]
    return entry


def _split(value: str) -> list[bytes]:
    """Batch > 1 vectors hold comma-separated hex values."""
    return [bytes.fromhex(v) for v in value.split(",")]


@pytest.fixture(scope="module")
def key(suite: dict[str, Any]) -> Scalar:
    sk, _ = oprf.derive_key_pair(bytes.fromhex(suite["seed"]), bytes.fromhex(suite["keyInfo"]))
    return sk


def test_context_and_dst(suite: dict[str, Any]) -> None:
    assert oprf.context_string(0) == b"OPRFV1-\x00-ristretto255-SHA512"
    assert oprf.context_string(2) == b"OPRFV1-\x02-ristretto255-SHA512"
    assert oprf.HASH_TO_GROUP_DST.hex() == suite["groupDST"]
    with pytest.raises(UnsupportedParameter):
        oprf.context_string(3)
    with pytest.raises(UnsupportedParameter):
        oprf.context_string(True)


def test_derive_key_pair(suite: dict[str, Any]) -> None:
    sk, pk = oprf.derive_key_pair(bytes.fromhex(suite["seed"]), bytes.fromhex(suite["keyInfo"]))
    assert sk.to_bytes().hex() == suite["skSm"]
    assert pk == Point.base_mul(sk)
    if "pkSm" in suite:
        assert pk.to_bytes().hex() == suite["pkSm"]


def test_vectors_single(suite: dict[str, Any], key: Scalar) -> None:
    assert suite["vectors"]
    for v in suite["vectors"]:
        rows = zip(
            _split(v["Input"]),
            _split(v["Blind"]),
            _split(v["BlindedElement"]),
            _split(v["EvaluationElement"]),
            _split(v["Output"]),
            strict=True,
        )
        for inp, blind_b, blinded_b, evaluated_b, output in rows:
            r = Scalar.from_bytes(blind_b)
            r_out, blinded = oprf.blind(inp, blind=r)
            assert r_out == r
            assert blinded.to_bytes() == blinded_b
            evaluated = oprf.blind_evaluate(key, blinded)
            assert evaluated.to_bytes() == evaluated_b
            assert oprf.finalize(inp, r, evaluated) == output
            assert oprf.evaluate(key, inp) == output


@pytest.mark.parametrize("threshold", [None, 1])
def test_vectors_batch(
    worker_pool: None, suite: dict[str, Any], key: Scalar, threshold: int | None
) -> None:
    kw: dict[str, Any] = {"workers": 2, "parallel_threshold": threshold}
    inputs: list[bytes] = []
    blinds: list[Scalar] = []
    evaluated: list[bytes] = []
    blinded: list[bytes] = []
    outputs: list[bytes] = []
    for v in suite["vectors"]:
        inputs += _split(v["Input"])
        blinds += [Scalar.from_bytes(b) for b in _split(v["Blind"])]
        blinded += _split(v["BlindedElement"])
        evaluated += _split(v["EvaluationElement"])
        outputs += _split(v["Output"])
    assert oprf.blind_evaluate_batch(key, blinded, **kw) == evaluated
    assert oprf.finalize_batch(inputs, blinds, evaluated, **kw) == outputs
    assert oprf.evaluate_batch(key, inputs, **kw) == outputs


@settings(max_examples=40)
@given(st.binary(max_size=100), st.binary(min_size=32, max_size=32))
def test_unblinding_equals_evaluate(data: bytes, seed: bytes) -> None:
    sk, _ = oprf.derive_key_pair(seed, b"property")
    rng = DeterministicRandom(seed, insecure_for_testing=True)
    r, blinded = oprf.blind(data, rng)
    out = oprf.finalize(data, r, oprf.blind_evaluate(sk, blinded))
    assert out == oprf.evaluate(sk, data)
    assert len(out) == oprf.OUTPUT_BYTES


@pytest.mark.parametrize(
    ("threshold", "backend"), [(None, "process"), (8, "process"), (8, "thread")]
)
def test_batch_round_trip(worker_pool: None, threshold: int | None, backend: str) -> None:
    kw: dict[str, Any] = {"workers": 2, "parallel_threshold": threshold, "backend": backend}
    sk = Scalar.random(drng(b"key"))
    inputs = [b"id-%d" % i for i in range(37)] + [b""]
    blinds, blinded = oprf.blind_batch(inputs, drng(b"blinds"), **kw)
    assert len(blinds) == len(blinded) == len(inputs)
    assert len(set(blinded)) == len(inputs)
    for inp, r, b in zip(inputs, blinds, blinded, strict=True):
        assert oprf.blind(inp, blind=r)[1].to_bytes() == b
    evaluated = oprf.blind_evaluate_batch(sk, blinded, **kw)
    assert evaluated == [oprf.blind_evaluate(sk, Point.from_bytes(b)).to_bytes() for b in blinded]
    outputs = oprf.finalize_batch(inputs, blinds, evaluated, **kw)
    assert outputs == oprf.evaluate_batch(sk, inputs, **kw)
    assert outputs == [oprf.evaluate(sk, i) for i in inputs]
    assert oprf.blind_batch([], **kw) == ([], [])


def test_blinds_are_fresh() -> None:
    r1, b1 = oprf.blind(b"same")
    r2, b2 = oprf.blind(b"same")
    assert r1 != r2 and b1 != b2
    blinds, _ = oprf.blind_batch([b"a", b"a"])
    assert blinds[0] != blinds[1]


def test_rejections() -> None:
    sk = Scalar.random(drng(b"neg"))
    zero = Scalar.from_int(0)
    g = Point.generator()
    identity = Point.identity()
    with pytest.raises(InvalidInput):
        oprf.derive_key_pair(bytes(31), b"")
    with pytest.raises(InvalidInput):
        oprf.derive_key_pair(bytes(32), b"x" * 65536)
    with pytest.raises(InvalidInput):
        oprf.blind(b"x" * 65536)
    with pytest.raises(InvalidInput):
        oprf.blind(b"x", blind=zero)
    with pytest.raises(InvalidInput):
        oprf.blind("text")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        oprf.blind_evaluate(sk, identity)
    with pytest.raises(InvalidInput):
        oprf.blind_evaluate(zero, g)
    with pytest.raises(InvalidInput):
        oprf.blind_evaluate(sk, g.to_bytes())  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        oprf.finalize(b"x", sk, identity)
    with pytest.raises(InvalidInput):
        oprf.finalize(b"x", zero, g)
    with pytest.raises(InvalidInput):
        oprf.evaluate(zero, b"x")
    with pytest.raises(InvalidInput):
        oprf.evaluate_batch(sk, b"not a list")  # type: ignore[arg-type]


def test_batch_rejections() -> None:
    sk = Scalar.random(drng(b"neg-batch"))
    inputs = [b"a", b"b", b"c"]
    blinds, blinded = oprf.blind_batch(inputs)
    bad = list(blinded)
    bad[2] = b"\xff" * 32
    with pytest.raises(InvalidInput, match="element 2 "):
        oprf.blind_evaluate_batch(sk, bad)
    bad[2] = bytes(32)
    with pytest.raises(InvalidInput, match="element 2 is the identity"):
        oprf.blind_evaluate_batch(sk, bad)
    evaluated = oprf.blind_evaluate_batch(sk, blinded)
    with pytest.raises(InvalidInput, match="element 1 is the identity"):
        oprf.finalize_batch(inputs, blinds, [evaluated[0], bytes(32), evaluated[2]])
    with pytest.raises(InvalidInput, match="lengths differ"):
        oprf.finalize_batch(inputs, blinds[:2], evaluated)
    with pytest.raises(InvalidInput, match=r"scalars\[0\]"):
        oprf.finalize_batch(inputs, [Scalar.from_int(0), *blinds[1:]], evaluated)
    with pytest.raises(InvalidInput, match=r"inputs\[1\]"):
        oprf.evaluate_batch(sk, [b"a", b"x" * 65536])
    with pytest.raises(InvalidInput):
        oprf.blind_evaluate_batch(Scalar.from_int(0), blinded)


def test_identity_hash_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A message hashing to the identity (negligible in practice) is refused, with its index."""

    def fake_hash_and_mult(msgs: list[bytes], *args: Any, **kwargs: Any) -> list[bytes]:
        return [bytes(32) if m == b"evil" else b"\x01" * 32 for m in msgs]

    monkeypatch.setattr(oprf, "raw_batch_hash_and_mult", fake_hash_and_mult)
    monkeypatch.setattr(oprf, "raw_batch_hash_and_mult_each", fake_hash_and_mult)
    sk = Scalar.from_int(5)
    with pytest.raises(InvalidInput, match="input 1 is the identity"):
        oprf.evaluate_batch(sk, [b"ok", b"evil"])
    with pytest.raises(InvalidInput, match="input 0 is the identity"):
        oprf.blind_batch([b"evil"])


def test_hash_to_scalar_definition() -> None:
    from petsuite.primitives.hash_to_field import expand_message_xmd

    dst = b"HashToScalar-" + oprf.context_string()
    expected = Scalar.from_uniform_bytes(expand_message_xmd(b"m", dst, 64))
    assert oprf.hash_to_scalar(b"m") == expected
