"""The message schema language: what conforms, and what is refused with which reason."""

from __future__ import annotations

import math
from typing import Any

import pytest

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort
from petsuite.core.schema import (
    Bool,
    Bytes,
    Float,
    Int,
    ListOf,
    OneOf,
    Optional,
    Schema,
    Str,
)
from petsuite.net.codec import encode_message

OFFER = Schema(
    "offer",
    {
        "session": Bytes(exact_len=16),
        "count": Int(min=0, max=100),
        "weight": Float(min=0.0, max=1.0),
        "label": Str(max_len=10),
        "mode": Str(choices=("fast", "safe")),
        "final": Bool(),
        "items": ListOf(Bytes(max_len=4), max_items=3),
        "note": Optional(Str(max_len=5)),
    },
)
ACCEPT = Schema("accept", {"ok": Bool()})


def good(**changes: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "type": "offer",
        "session": bytes(16),
        "count": 3,
        "weight": 0.5,
        "label": "hello",
        "mode": "safe",
        "final": False,
        "items": [b"ab", b""],
        "note": None,
    }
    msg.update(changes)
    return msg


def rejected(schema: Schema | OneOf, msg: Any, reason: AbortReason = AbortReason.MALFORMED) -> str:
    with pytest.raises(ProtocolAbort) as info:
        schema.validate(msg)
    assert info.value.reason is reason
    return info.value.detail


def test_good_message() -> None:
    assert OFFER.validate(good()) == good()
    assert OFFER.validate(good(note="hi"))["note"] == "hi"


def test_optional_field_may_be_left_out() -> None:
    msg = good()
    del msg["note"]
    assert OFFER.validate(msg)["note"] is None


def test_missing_field() -> None:
    msg = good()
    del msg["count"]
    assert rejected(OFFER, msg) == "offer.count: missing"


def test_extra_field() -> None:
    assert "unknown field(s) 'extra'" in rejected(OFFER, good(extra=1))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("session", "not bytes"),
        ("session", bytes(15)),
        ("count", "3"),
        ("count", 3.0),
        ("count", True),  # bool is not an int here
        ("count", 101),
        ("count", -1),
        ("weight", 1),  # int is not a float
        ("weight", math.nan),
        ("weight", math.inf),
        ("weight", 1.5),
        ("label", b"bytes"),
        ("label", "x" * 11),
        ("mode", "slow"),
        ("final", 0),
        ("items", (b"a",)),
        ("items", [b"a"] * 4),  # oversize list
        ("items", [b"abcde"]),  # oversize bytes
        ("items", [1]),
        ("note", "too long"),
    ],
)
def test_wrong_values(field: str, value: Any) -> None:
    detail = rejected(OFFER, good(**{field: value}))
    assert detail.startswith(f"offer.{field}")


def test_list_item_path_in_detail() -> None:
    assert rejected(OFFER, good(items=[b"ok", b"toolong"])).startswith("offer.items[1]:")


def test_not_a_map_or_no_type() -> None:
    rejected(OFFER, [1, 2])
    no_type = good()
    del no_type["type"]
    assert rejected(OFFER, no_type).startswith("offer.type")
    rejected(OFFER, good(type=5))


def test_other_type_is_unexpected() -> None:
    rejected(OFFER, {"type": "accept", "ok": True}, AbortReason.UNEXPECTED)


def test_one_of() -> None:
    either = OneOf(OFFER, ACCEPT)
    assert either.validate({"type": "accept", "ok": True}) == {"type": "accept", "ok": True}
    assert either.validate(good())["count"] == 3
    rejected(either, {"type": "reject"}, AbortReason.UNEXPECTED)
    rejected(either, {"type": "accept", "ok": 1})
    rejected(either, {"ok": True})
    rejected(either, "accept")
    with pytest.raises(InvalidInput):
        OneOf(ACCEPT, Schema("accept", {}))
    with pytest.raises(InvalidInput):
        OneOf()


def test_message_builder() -> None:
    assert ACCEPT.message(ok=True) == {"type": "accept", "ok": True}
    with pytest.raises(InvalidInput, match=r"accept\.ok"):
        ACCEPT.message(ok="yes")


def test_unbounded_specs_refused() -> None:
    with pytest.raises(InvalidInput):
        Bytes()
    with pytest.raises(InvalidInput):
        Str()
    with pytest.raises(TypeError):
        ListOf(Int())  # type: ignore[call-arg]
    with pytest.raises(InvalidInput):
        Bytes(max_len=2, min_len=3)
    with pytest.raises(InvalidInput):
        Bytes(max_len=2, exact_len=3)
    with pytest.raises(InvalidInput):
        Int(min=5, max=4)
    with pytest.raises(InvalidInput):
        Int(max=2**64)
    with pytest.raises(InvalidInput):
        Float(min=math.nan)
    with pytest.raises(InvalidInput):
        Str(choices="ab")
    with pytest.raises(InvalidInput):
        ListOf(Int(), max_items=-1)
    with pytest.raises(InvalidInput):
        ListOf("int", max_items=1)  # type: ignore[arg-type]


def test_schema_definition_checks() -> None:
    with pytest.raises(InvalidInput):
        Schema("", {})
    with pytest.raises(InvalidInput):
        Schema("x", {"type": Int()})
    with pytest.raises(InvalidInput):
        Schema("x", {"n": int})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput):
        Optional(int)  # type: ignore[arg-type]


def test_max_encoded_size_bounds_the_largest_message() -> None:
    biggest = good(
        count=100,
        label="\U0001f600" * 10,
        mode="fast",
        items=[b"abcd"] * 3,
        note="\U0001f600" * 5,
        weight=0.1,
    )
    assert len(encode_message(OFFER.validate(biggest))) <= OFFER.max_encoded_size()
    assert OneOf(OFFER, ACCEPT).max_encoded_size() == OFFER.max_encoded_size()


def test_reprs() -> None:
    assert "offer" in repr(OFFER)
    assert "Bytes(exact_len=16)" in repr(OFFER)
    assert "accept" in repr(OneOf(ACCEPT))
