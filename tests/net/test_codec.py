"""The CBOR codec: canonical round trips, and strict rejection of everything else."""

from __future__ import annotations

import datetime
import math
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort
from petsuite.net.codec import DEFAULT_MAX_DEPTH, decode_message, encode_message

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=40)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)
messages = st.dictionaries(st.text(max_size=8), values, max_size=6)


def same(a: Any, b: Any) -> bool:
    """Equality that also compares types, so True != 1 and 1.0 != 1."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return bool(a == b)


def malformed(data: bytes) -> ProtocolAbort:
    with pytest.raises(ProtocolAbort) as info:
        decode_message(data)
    assert info.value.reason is AbortReason.MALFORMED
    return info.value


@settings(deadline=None)
@given(messages)
def test_round_trip(msg: dict[str, Any]) -> None:
    data = encode_message(msg)
    back = decode_message(data)
    assert same(back, msg)
    assert encode_message(back) == data  # canonical: one encoding per value


@settings(deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_decode_or_abort(data: bytes) -> None:
    try:
        decoded = decode_message(data)
    except ProtocolAbort as exc:
        assert exc.reason is AbortReason.MALFORMED
    else:
        assert isinstance(decoded, dict)


def test_canonical_key_order() -> None:
    assert encode_message({"bb": 1, "a": 2}) == encode_message({"a": 2, "bb": 1})
    assert encode_message({"x": (1, 2)}) == encode_message({"x": [1, 2]})


@pytest.mark.parametrize(
    "value",
    [
        cbor2.CBORTag(1234, "x"),
        datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),  # tag 0
        2**64,  # bignum, tag 2
    ],
)
def test_tags_rejected(value: Any) -> None:
    data = cbor2.dumps({"k": [value]})
    assert "tag" in str(malformed(data))


@pytest.mark.parametrize(
    "hex_data",
    [
        "d9d9f7a0",  # self-described CBOR (tag 55799) around an empty map
        "a16174c11a514b67b0",  # epoch datetime (tag 1)
        "a16174d81c80",  # shareable (tag 28)
    ],
)
def test_raw_tags_rejected(hex_data: str) -> None:
    malformed(bytes.fromhex(hex_data))


@pytest.mark.parametrize(
    "hex_data",
    [
        "",  # nothing
        "ff",  # break code
        "a1",  # truncated map
        "a16161",  # map missing its value
        "a2616101616102",  # duplicate key
        "a10101",  # integer key
        "a1416101",  # byte-string key
        "a16161f7",  # undefined
        "a16161f0",  # simple value 16
        "a16161f820",  # simple value 32
        "bf6161ff",  # indefinite-length map
        "a161615f4101ff",  # indefinite-length byte string
        "a1616101ff",  # trailing byte
        "a161615bffffffffffffffff",  # byte string longer than the message
        "a161619bffffffffffffffff",  # array claiming 2**64 - 1 items
        "a1616162c328",  # invalid UTF-8 in a text string
        "a161617c",  # reserved additional information
    ],
)
def test_garbage_rejected(hex_data: str) -> None:
    malformed(bytes.fromhex(hex_data))


@pytest.mark.parametrize("value", [[1, 2], 5, "text", b"bytes", None])
def test_top_level_must_be_a_map(value: Any) -> None:
    assert "map" in str(malformed(cbor2.dumps(value)))


def test_deep_nesting_rejected() -> None:
    nested: Any = []
    for _ in range(DEFAULT_MAX_DEPTH - 1):  # map + 32 lists: depth 33, one too deep
        nested = [nested]
    data = cbor2.dumps({"k": nested})
    assert "deeper" in str(malformed(data))
    with pytest.raises(InvalidInput):
        encode_message({"k": nested})
    ok: Any = []
    for _ in range(DEFAULT_MAX_DEPTH - 2):  # map + 31 lists: exactly the limit
        ok = [ok]
    assert same(decode_message(encode_message({"k": ok})), {"k": ok})
    # a nesting bomb far past the limit is refused before cbor2 recurses
    malformed(b"\xa1\x61k" + b"\x81" * 100_000 + b"\x80")


@pytest.mark.parametrize(
    "msg",
    [
        {"k": {1, 2}},
        {"k": datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)},
        {"k": 2**64},
        {"k": -(2**64) - 1},
        {1: "int key"},
        {"k": object()},
    ],
)
def test_unencodable_rejected(msg: Any) -> None:
    with pytest.raises(InvalidInput):
        encode_message(msg)


def test_encode_needs_a_mapping() -> None:
    with pytest.raises(InvalidInput):
        encode_message([1, 2])  # type: ignore[arg-type]


def test_edge_integers_and_floats() -> None:
    msg = {"lo": -(2**64), "hi": 2**64 - 1, "nan": math.nan, "inf": -math.inf, "z": -0.0}
    back = decode_message(encode_message(msg))
    assert back["lo"] == -(2**64) and back["hi"] == 2**64 - 1
    assert math.isnan(back["nan"]) and back["inf"] == -math.inf
    assert math.copysign(1.0, back["z"]) == -1.0
