"""Fiat–Shamir transcript: determinism, domain separation, injectivity, chaining of challenges."""

from __future__ import annotations

import pytest

from petsuite.core.errors import InvalidInput
from petsuite.primitives.group import Point, Scalar
from petsuite.zkp.transcript import Transcript


def _challenge(t: Transcript) -> Scalar:
    return t.challenge_scalar(b"c")


def test_deterministic() -> None:
    a, b = Transcript(b"proto"), Transcript(b"proto")
    for t in (a, b):
        t.append_message(b"m", b"hello")
        t.append_int(b"n", 42)
    assert _challenge(a) == _challenge(b)


def test_protocol_label_separates() -> None:
    assert _challenge(Transcript(b"proto-a")) != _challenge(Transcript(b"proto-b"))


def test_label_and_data_boundaries_are_injective() -> None:
    a, b = Transcript(b"p"), Transcript(b"p")
    a.append_message(b"ab", b"c")
    b.append_message(b"a", b"bc")
    assert _challenge(a) != _challenge(b)
    c, d = Transcript(b"p"), Transcript(b"p")
    c.append_message(b"x", b"12")
    d.append_message(b"x", b"1")
    d.append_message(b"x", b"2")
    assert _challenge(c) != _challenge(d)


def test_challenge_label_matters_and_challenges_chain() -> None:
    a, b = Transcript(b"p"), Transcript(b"p")
    assert a.challenge_scalar(b"x") != b.challenge_scalar(b"y")
    c = Transcript(b"p")
    first = c.challenge_scalar(b"x")
    second = c.challenge_scalar(b"x")
    assert first != second  # the first challenge was absorbed


def test_int_encoding_is_signed_and_unbounded() -> None:
    values = [0, 1, -1, 255, 256, 2**64, -(2**64), 2**300]
    outs = set()
    for v in values:
        t = Transcript(b"p")
        t.append_int(b"v", v)
        outs.add(_challenge(t).to_bytes())
    assert len(outs) == len(values)


def test_point_and_scalar_equal_their_encodings_as_messages() -> None:
    p = Point.generator()
    s = Scalar.from_int(7)
    a, b = Transcript(b"p"), Transcript(b"p")
    a.append_point(b"P", p)
    a.append_scalar(b"s", s)
    b.append_message(b"P", p.to_bytes())
    b.append_message(b"s", s.to_bytes())
    assert _challenge(a) == _challenge(b)


def test_copy_is_independent() -> None:
    a = Transcript(b"p")
    a.append_message(b"m", b"1")
    b = a.copy()
    assert _challenge(a.copy()) == _challenge(b.copy())
    b.append_message(b"m", b"2")
    assert _challenge(a) != _challenge(b)


def test_rejects_bad_input() -> None:
    with pytest.raises(InvalidInput):
        Transcript(b"")
    with pytest.raises(InvalidInput):
        Transcript("proto")  # type: ignore[arg-type]
    t = Transcript(b"p")
    with pytest.raises(InvalidInput):
        t.append_message(b"m", "text")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        t.append_int(b"n", True)
    with pytest.raises(InvalidInput):
        t.append_point(b"P", b"\x00" * 32)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        t.append_scalar(b"s", 3)  # type: ignore[arg-type]
