"""ristretto255 wrappers: RFC 9496 vectors, rejection of bad encodings, algebra, batch = loop."""

from __future__ import annotations

import copy
import hashlib
import os
import pickle
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from petsuite.core import parallel
from petsuite.core.errors import InvalidInput
from petsuite.core.rng import DeterministicRandom
from petsuite.primitives import group
from petsuite.primitives.group import (
    GROUP_ORDER,
    Point,
    Scalar,
    batch_invert,
    expand_message_xmd,
    raw_batch_hash_and_mult,
    raw_batch_hash_and_mult_each,
    raw_batch_hash_to_group,
    raw_batch_scalar_mult,
    raw_batch_scalar_mult_each,
)

RISTRETTO_FILE = "ristretto255/ristretto255.json"
L = GROUP_ORDER
DST = b"petsuite-test-HashToGroup"

scalar_ints = st.integers(min_value=0, max_value=L - 1)
nonzero_ints = st.integers(min_value=1, max_value=L - 1)


def drng(tag: bytes = b"") -> DeterministicRandom:
    return DeterministicRandom(hashlib.sha256(tag).digest(), insecure_for_testing=True)


# --- known answers (RFC 9496 Appendix A) -------------------------------------------------------


def test_group_order_constant() -> None:
    assert L == 2**252 + 27742317777372353535851937790883648493


def test_small_multiples(load_vectors: Callable[[str], Any]) -> None:
    data = load_vectors(RISTRETTO_FILE)
    encodings = data["encodings_of_small_multiples"]
    assert len(encodings) == 16
    acc = Point.identity()
    for i, hex_enc in enumerate(encodings):
        enc = bytes.fromhex(hex_enc)
        assert Point.base_mul(Scalar.from_int(i)).to_bytes() == enc
        assert acc.to_bytes() == enc
        assert Point.from_bytes(enc, allow_identity=True).to_bytes() == enc
        acc = acc + Point.generator()
    assert Point.generator().to_bytes() == bytes.fromhex(encodings[1])
    with pytest.raises(InvalidInput, match="identity"):
        Point.from_bytes(bytes.fromhex(encodings[0]))


def test_bad_encodings_rejected(load_vectors: Callable[[str], Any]) -> None:
    bad = [bytes.fromhex(h) for h in load_vectors(RISTRETTO_FILE)["bad_encodings"]]
    assert len(bad) == 29
    for enc in bad:
        with pytest.raises(InvalidInput):
            Point.from_bytes(enc)
        with pytest.raises(InvalidInput):
            Point.from_bytes(enc, allow_identity=True)
        with pytest.raises(InvalidInput):
            Point(enc)


def test_bad_encodings_rejected_in_batch(load_vectors: Callable[[str], Any]) -> None:
    bad = [bytes.fromhex(h) for h in load_vectors(RISTRETTO_FILE)["bad_encodings"]]
    good = Point.generator().to_bytes()
    s = Scalar.random(drng())
    for enc in bad:
        with pytest.raises(InvalidInput, match="element 1 "):
            raw_batch_scalar_mult([good, enc, good], s, allow_identity=True)


def test_high_bit_rejected(load_vectors: Callable[[str], Any]) -> None:
    """bit 255 set makes the integer >= p (RFC 9496 §4.3.1); rbcl's libsodium would ignore it."""
    s = Scalar.from_int(2)
    for hex_enc in load_vectors(RISTRETTO_FILE)["encodings_of_small_multiples"]:
        enc = bytearray.fromhex(hex_enc)
        enc[31] |= 0x80
        with pytest.raises(InvalidInput, match="canonical"):
            Point.from_bytes(bytes(enc), allow_identity=True)
        with pytest.raises(InvalidInput, match="element 0 "):
            raw_batch_scalar_mult([bytes(enc)], s, allow_identity=True)


def test_hash_to_points(load_vectors: Callable[[str], Any]) -> None:
    data = load_vectors(RISTRETTO_FILE)
    assert len(data["labels"]) == len(data["encoded_hash_to_points"]) == 7
    for label, expected in zip(data["labels"], data["encoded_hash_to_points"], strict=True):
        wide = hashlib.sha512(label.encode()).digest()
        assert Point.from_uniform_bytes(wide).to_bytes().hex() == expected


# --- scalars ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [L, L + 1, 2**255 - 19, 2**256 - 1, 2**253])
def test_non_canonical_scalars_rejected(value: int) -> None:
    with pytest.raises(InvalidInput, match="non-canonical"):
        Scalar.from_bytes(value.to_bytes(32, "little"))


def test_canonical_edge_scalars() -> None:
    assert Scalar.from_bytes((L - 1).to_bytes(32, "little")) == Scalar.from_int(-1)
    assert Scalar.from_bytes(bytes(32)).is_zero()
    assert Scalar.from_int(L) == Scalar.from_int(0)


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_scalar_wrong_length(length: int) -> None:
    with pytest.raises(InvalidInput):
        Scalar.from_bytes(bytes(length))


def test_scalar_bad_types() -> None:
    with pytest.raises(InvalidInput):
        Scalar.from_bytes("00" * 32)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Scalar.from_int(True)
    with pytest.raises(InvalidInput):
        Scalar.from_int(1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Scalar.from_uniform_bytes(bytes(32))


def test_invert_zero() -> None:
    with pytest.raises(InvalidInput):
        Scalar.from_int(0).invert()
    with pytest.raises(InvalidInput, match=r"scalars\[1\]"):
        batch_invert([Scalar.from_int(3), Scalar.from_int(0)])


def test_scalar_random() -> None:
    a, b = Scalar.random(drng(b"x")), Scalar.random(drng(b"x"))
    assert a == b  # same deterministic stream
    assert not a.is_zero()
    assert Scalar.random() != Scalar.random()


class _ZeroThenOnes:
    """A source whose first draw reduces to zero: Scalar.random must draw again."""

    def __init__(self) -> None:
        self.calls = 0

    def random_bytes(self, n: int) -> bytes:
        self.calls += 1
        return bytes(n) if self.calls == 1 else b"\x01" * n


def test_scalar_random_retries_zero() -> None:
    src = _ZeroThenOnes()
    s = Scalar.random(src)
    assert src.calls == 2
    assert s == Scalar.from_uniform_bytes(b"\x01" * 64)


class _ShortSource:
    def random_bytes(self, n: int) -> bytes:
        return bytes(n - 1)


def test_scalar_random_rejects_short_source() -> None:
    with pytest.raises(InvalidInput):
        Scalar.random(_ShortSource())


def test_scalar_hides_value_and_is_immutable() -> None:
    s = Scalar.from_int(12345)
    assert "12345" not in repr(s) and s.to_bytes().hex() not in repr(s)
    with pytest.raises(AttributeError):
        s._b = bytes(32)
    with pytest.raises(AttributeError):
        s.other = 1
    assert pickle.loads(pickle.dumps(s)) == s  # noqa: S301 - our own bytes
    assert copy.deepcopy(s) == s
    assert hash(s) == hash(Scalar.from_int(12345))
    assert s != s.to_bytes()
    assert len({s, Scalar.from_int(12345), Scalar.from_int(1)}) == 2


@given(scalar_ints, nonzero_ints)
def test_scalar_mul_invert_round_trip(a: int, b: int) -> None:
    sa, sb = Scalar.from_int(a), Scalar.from_int(b)
    assert sa * sb * sb.invert() == sa
    assert sb * sb.invert() == Scalar.from_int(1)


@given(scalar_ints, scalar_ints)
def test_scalar_arithmetic_matches_integers(a: int, b: int) -> None:
    sa, sb = Scalar.from_int(a), Scalar.from_int(b)
    assert sa + sb == Scalar.from_int(a + b)
    assert sa - sb == Scalar.from_int(a - b)
    assert sa * sb == Scalar.from_int(a * b)
    assert -sa == Scalar.from_int(-a)
    assert (sa + sb) - sb == sa


@given(scalar_ints)
def test_scalar_encode_decode(a: int) -> None:
    s = Scalar.from_int(a)
    assert s.to_bytes() == a.to_bytes(32, "little")
    assert Scalar.from_bytes(s.to_bytes()) == s
    assert Scalar(s.to_bytes()) == s


@given(st.binary(min_size=64, max_size=64))
def test_scalar_from_uniform_bytes(wide: bytes) -> None:
    assert Scalar.from_uniform_bytes(wide) == Scalar.from_int(int.from_bytes(wide, "little"))


@settings(max_examples=25)
@given(st.lists(nonzero_ints, max_size=20))
def test_batch_invert_matches_invert(values: list[int]) -> None:
    scalars = [Scalar.from_int(v) for v in values]
    assert batch_invert(scalars) == [s.invert() for s in scalars]


# --- points -------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_point_wrong_length(length: int) -> None:
    with pytest.raises(InvalidInput):
        Point.from_bytes(bytes(length))
    if length != 64:
        with pytest.raises(InvalidInput):
            Point.from_uniform_bytes(bytes(length))


def test_point_bad_type() -> None:
    with pytest.raises(InvalidInput):
        Point.from_bytes(Point.generator().to_bytes().hex())  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Point.base_mul(1)  # type: ignore[arg-type]


def test_identity_behaviour() -> None:
    g, o = Point.generator(), Point.identity()
    zero = Scalar.from_int(0)
    assert o.is_identity() and not g.is_identity()
    assert o.to_bytes() == bytes(32)
    assert g * zero == o
    assert zero * g == o
    assert o * Scalar.from_int(5) == o
    assert Point.base_mul(zero) == o
    assert g - g == o
    assert g + o == g
    assert -g + g == o
    assert g * Scalar.from_int(-1) == -g
    assert Point.from_bytes(bytes(32), allow_identity=True) == o


def test_point_dunder() -> None:
    g = Point.generator()
    assert g.to_bytes().hex() in repr(g)
    assert pickle.loads(pickle.dumps(g)) == g  # noqa: S301
    assert pickle.loads(pickle.dumps(Point.identity())).is_identity()  # noqa: S301
    with pytest.raises(AttributeError):
        g._b = bytes(32)
    assert g != g.to_bytes()
    assert hash(g) == hash(Point.from_bytes(g.to_bytes()))
    assert hash(g) != hash(Scalar.from_int(1))


def test_hash_to_group_definition() -> None:
    msg = b"some input"
    wide = expand_message_xmd(msg, DST, 64, "sha512")
    assert Point.hash_to_group(msg, DST) == Point.from_uniform_bytes(wide)
    assert Point.hash_to_group(msg, DST) != Point.hash_to_group(msg, DST + b"!")
    with pytest.raises(InvalidInput):
        Point.hash_to_group(msg, b"")


@given(nonzero_ints)
def test_point_encode_decode(a: int) -> None:
    p = Point.base_mul(Scalar.from_int(a))
    assert Point.from_bytes(p.to_bytes()) == p
    assert Point(p.to_bytes()) == p


@settings(max_examples=50)
@given(st.binary(max_size=64), scalar_ints, scalar_ints)
def test_scalar_mult_commutes(msg: bytes, a: int, b: int) -> None:
    p = Point.hash_to_group(msg, DST)
    sa, sb = Scalar.from_int(a), Scalar.from_int(b)
    assert (p * sa) * sb == (p * sb) * sa == p * (sa * sb)
    assert sa * p + sb * p == p * (sa + sb)


@settings(max_examples=50)
@given(scalar_ints, scalar_ints)
def test_base_mul_is_homomorphic(a: int, b: int) -> None:
    sa, sb = Scalar.from_int(a), Scalar.from_int(b)
    assert Point.base_mul(sa) + Point.base_mul(sb) == Point.base_mul(sa + sb)
    assert Point.base_mul(sa) == Point.generator() * sa


# --- batches ------------------------------------------------------------------------------------


def _points(n: int, tag: bytes = b"p") -> list[bytes]:
    return [Point.hash_to_group(tag + i.to_bytes(4, "big"), DST).to_bytes() for i in range(n)]


def _msgs(n: int) -> list[bytes]:
    return [b"user-%d@example.org" % i for i in range(n)]


@pytest.mark.parametrize(
    ("n", "threshold", "backend"),
    [
        (0, None, "process"),
        (1, None, "process"),
        (40, None, "process"),
        (40, 8, "process"),
        (41, 8, "thread"),
    ],
)
def test_batches_equal_loops(
    worker_pool: None, n: int, threshold: int | None, backend: group.Backend
) -> None:
    kw: dict[str, Any] = {"workers": 2, "parallel_threshold": threshold, "backend": backend}
    s = Scalar.random(drng(b"batch"))
    pts = _points(n)
    msgs = _msgs(n)
    each = [Scalar.random(drng(b"each%d" % i)) for i in range(n)]
    assert raw_batch_scalar_mult(pts, s, **kw) == [
        (Point.from_bytes(p) * s).to_bytes() for p in pts
    ]
    assert raw_batch_scalar_mult_each(pts, each, **kw) == [
        (Point.from_bytes(p) * e).to_bytes() for p, e in zip(pts, each, strict=True)
    ]
    hashed = [Point.hash_to_group(m, DST) for m in msgs]
    assert raw_batch_hash_to_group(msgs, DST, **kw) == [h.to_bytes() for h in hashed]
    assert raw_batch_hash_and_mult(msgs, DST, s, **kw) == [(h * s).to_bytes() for h in hashed]
    assert raw_batch_hash_and_mult_each(msgs, DST, each, **kw) == [
        (h * e).to_bytes() for h, e in zip(hashed, each, strict=True)
    ]


def test_default_threshold_path_equals_loop(worker_pool: None) -> None:
    n = group.PARALLEL_THRESHOLD + 3  # exercises the shared pool at the real threshold
    s = Scalar.random(drng(b"default"))
    msgs = _msgs(n)
    expected = [(Point.hash_to_group(m, DST) * s).to_bytes() for m in msgs]
    assert raw_batch_hash_and_mult(msgs, DST, s, workers=2) == expected


@pytest.mark.parametrize(
    ("threshold", "backend"), [(None, "process"), (4, "process"), (4, "thread")]
)
def test_bad_point_in_batch_names_index(
    worker_pool: None, threshold: int | None, backend: group.Backend
) -> None:
    pts = _points(20)
    bad = bytearray(pts[13])
    bad[31] |= 0x80  # high bit set: never canonical
    pts[13] = bytes(bad)
    pts[17] = b"\xff" * 32
    s = Scalar.from_int(7)
    kw: dict[str, Any] = {"workers": 2, "parallel_threshold": threshold, "backend": backend}
    with pytest.raises(InvalidInput, match="element 13 "):
        raw_batch_scalar_mult(pts, s, **kw)
    with pytest.raises(InvalidInput, match="element 13 "):
        raw_batch_scalar_mult_each(pts, [s] * 20, **kw)


def test_identity_in_batch(worker_pool: None) -> None:
    pts = _points(10)
    pts[6] = bytes(32)
    s = Scalar.from_int(9)
    for threshold in (None, 2):
        with pytest.raises(InvalidInput, match="element 6 is the identity"):
            raw_batch_scalar_mult(pts, s, workers=2, parallel_threshold=threshold)
        out = raw_batch_scalar_mult(
            pts, s, allow_identity=True, workers=2, parallel_threshold=threshold
        )
        assert out[6] == bytes(32)
        assert out[5] == (Point.from_bytes(pts[5]) * s).to_bytes()


def test_zero_scalar_in_batch_gives_identity() -> None:
    zero = Scalar.from_int(0)
    assert raw_batch_scalar_mult(_points(3), zero) == [bytes(32)] * 3
    assert raw_batch_hash_and_mult(_msgs(3), DST, zero) == [bytes(32)] * 3


def test_batch_argument_validation() -> None:
    s = Scalar.from_int(2)
    pts = _points(3)
    with pytest.raises(InvalidInput, match="element 1 is 31 bytes"):
        raw_batch_scalar_mult([pts[0], pts[1][:31]], s)
    with pytest.raises(InvalidInput, match=r"encodings\[1\]"):
        raw_batch_scalar_mult([pts[0], "x" * 32], s)  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        raw_batch_scalar_mult(pts, 2)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="3 elements"):
        raw_batch_scalar_mult_each(pts, [s, s])
    with pytest.raises(InvalidInput):
        raw_batch_hash_to_group(b"not a list", DST)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"msgs\[0\]"):
        raw_batch_hash_to_group(["text"], DST)  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        raw_batch_hash_to_group([b"m"], b"")
    for bad_kw in (
        {"workers": 0},
        {"workers": True},
        {"parallel_threshold": 0},
        {"backend": "fork"},
    ):
        with pytest.raises(InvalidInput):
            raw_batch_scalar_mult(pts, s, **bad_kw)
    # bytes-like encodings are accepted
    like: list[Any] = [bytearray(p) for p in pts]
    assert raw_batch_scalar_mult(like, s) == raw_batch_scalar_mult(pts, s)


def test_workers_one_runs_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(workers: int) -> None:
        raise AssertionError("pool must not be used")

    monkeypatch.setattr(parallel, "process_pool", no_pool)
    s = Scalar.from_int(3)
    pts = _points(5)
    assert raw_batch_scalar_mult(pts, s, workers=1, parallel_threshold=1) == [
        (Point.from_bytes(p) * s).to_bytes() for p in pts
    ]


def test_pool_recovers_from_a_dead_worker(worker_pool: None) -> None:
    s = Scalar.from_int(11)
    pts = _points(16)
    expected = [(Point.from_bytes(p) * s).to_bytes() for p in pts]
    assert raw_batch_scalar_mult(pts, s, workers=2, parallel_threshold=2) == expected
    pool = parallel._POOLS[2]
    victim = next(iter(pool._processes))
    os.kill(victim, signal.SIGKILL)  # a worker this test's pool started
    deadline = time.monotonic() + 10
    while not pool._broken and time.monotonic() < deadline:
        time.sleep(0.01)
    assert raw_batch_scalar_mult(pts, s, workers=2, parallel_threshold=2) == expected
    assert parallel._POOLS[2] is not pool


def test_shutdown_pool_then_reuse(worker_pool: None) -> None:
    s = Scalar.from_int(4)
    pts = _points(8)
    first = raw_batch_scalar_mult(pts, s, workers=2, parallel_threshold=2)
    group.shutdown_pool()
    assert parallel._POOLS == {}
    group.shutdown_pool()  # idempotent
    assert raw_batch_scalar_mult(pts, s, workers=2, parallel_threshold=2) == first
