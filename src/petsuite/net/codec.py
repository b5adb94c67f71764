"""Canonical CBOR payloads for protocol messages, with a strict decoder for untrusted bytes.

A message is a CBOR map with text keys whose values are only maps, arrays, text, byte strings,
integers (64-bit range), floats, booleans and null. Everything else is refused:

* every CBOR semantic tag (dates, bignums, shared references, sets, ...), found by a structural
  scan of the raw bytes *before* ``cbor2`` runs, so no tag decoder ever executes on peer input;
* indefinite-length items, simple values other than false/true/null, trailing bytes;
* duplicate map keys (a map that means different things to different parsers);
* nesting deeper than ``max_depth``.

Threat model: the bytes come from a peer who may be malicious. Decoding costs time linear in the
input size (which :mod:`petsuite.net.framing` bounds) and never recurses deeper than ``max_depth``.
Every failure is a :class:`~petsuite.core.errors.ProtocolAbort` with reason ``MALFORMED``.
The encoding itself hides nothing: confidentiality comes from the transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cbor2

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort

__all__ = ["DEFAULT_MAX_DEPTH", "decode_message", "encode_message"]

#: Default bound on the nesting of maps and arrays (the top-level map is depth 1).
DEFAULT_MAX_DEPTH = 32

_INT_MIN = -(2**64)
_INT_MAX = 2**64 - 1

# CBOR major types.
_UINT, _NINT, _BSTR, _TSTR, _ARRAY, _MAP, _TAG, _SIMPLE = range(8)
#: Simple values false, true and null; floats use additional information 25-27.
_ALLOWED_SIMPLE = frozenset({20, 21, 22})


def _malformed(detail: str) -> ProtocolAbort:
    return ProtocolAbort(AbortReason.MALFORMED, detail)


def encode_message(msg: Mapping[str, Any], *, max_depth: int = DEFAULT_MAX_DEPTH) -> bytes:
    """Encode a message as canonical CBOR (RFC 8949 §4.2.3 length-first key order).

    Parameters
    ----------
    msg:
        A mapping with ``str`` keys; values may be mappings, lists or tuples (encoded as arrays),
        ``str``, ``bytes``, ``int`` (64-bit range), ``float``, ``bool`` or ``None``.
    max_depth:
        The deepest nesting allowed, as on decoding.

    Raises
    ------
    InvalidInput
        If the message holds another type, a non-``str`` key, an out-of-range integer or is
        nested too deeply: a local programming error, not a peer's fault.
    """
    if not isinstance(msg, Mapping):
        raise InvalidInput(f"a message must be a mapping, not {type(msg).__name__}")
    _check_encodable(msg, max_depth)
    try:
        data: bytes = cbor2.dumps(msg, canonical=True)
    except (cbor2.CBORError, ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(f"cannot encode message: {exc}") from exc
    return data


def _check_encodable(msg: Mapping[str, Any], max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(msg, 1)]
    while stack:
        value, depth = stack.pop()
        if value is None or isinstance(value, bool | str | bytes):
            continue
        if isinstance(value, int):
            if not _INT_MIN <= value <= _INT_MAX:
                raise InvalidInput(
                    "integers in messages must fit in 64 bits (CBOR major types 0/1)"
                )
            continue
        if isinstance(value, float):
            continue
        if isinstance(value, Mapping | list | tuple):
            if depth > max_depth:
                raise InvalidInput(f"message nested deeper than {max_depth} levels")
            if isinstance(value, Mapping):
                for key, item in value.items():
                    if not isinstance(key, str):
                        raise InvalidInput(f"message keys must be str, not {type(key).__name__}")
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)
            continue
        raise InvalidInput(f"cannot put a {type(value).__name__} in a message")


def decode_message(data: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> dict[str, Any]:
    """Decode one message from untrusted bytes.

    Parameters
    ----------
    data:
        Exactly one CBOR data item, a map with text keys.
    max_depth:
        The deepest nesting of maps and arrays accepted (the top-level map is depth 1).

    Returns
    -------
    dict
        Containing only ``dict``, ``list``, ``str``, ``bytes``, ``int``, ``float``, ``bool`` and
        ``None`` values.

    Raises
    ------
    ProtocolAbort
        With reason ``MALFORMED`` for anything else, including every ``cbor2`` error.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput(f"expected bytes, not {type(data).__name__}")
    data = bytes(data)
    if not data or data[0] >> 5 != _MAP:
        raise _malformed("a message must be a CBOR map")
    map_pairs = _scan(data, max_depth)
    try:
        value = cbor2.loads(data, tag_hook=_refuse_tag)
    except ProtocolAbort:
        raise
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError, EOFError) as exc:
        raise _malformed(f"invalid CBOR: {exc}") from exc
    if not isinstance(value, dict):
        raise _malformed(f"a message must be a CBOR map, not {type(value).__name__}")
    if _check_decoded(value) != map_pairs:
        raise _malformed("duplicate map key")
    return value


def _refuse_tag(_decoder: object, tag: object) -> object:
    raise _malformed(f"CBOR tag {getattr(tag, 'tag', '?')} not allowed")


def _scan(data: bytes, max_depth: int) -> int:
    """Walk the raw item structure; refuse tags, indefinite lengths and trailing bytes.

    Returns the total number of map key/value pairs, to detect duplicate keys after decoding.
    """
    n = len(data)
    pos = 0
    pairs = 0
    # Each entry: the number of items still expected in an open container.
    remaining: list[int] = []
    first = True
    while first or remaining:
        first = False
        if pos >= n:
            raise _malformed("truncated CBOR item")
        initial = data[pos]
        pos += 1
        major, info = initial >> 5, initial & 0x1F
        if info < 24:
            arg = info
        elif info <= 27:
            width = 1 << (info - 24)
            if pos + width > n:
                raise _malformed("truncated CBOR item header")
            arg = int.from_bytes(data[pos : pos + width], "big")
            pos += width
        elif info == 31:
            raise _malformed("indefinite-length CBOR items not allowed")
        else:
            raise _malformed(f"reserved CBOR additional information {info}")
        children = 0
        if major in (_BSTR, _TSTR):
            if arg > n - pos:
                raise _malformed("CBOR string longer than the message")
            pos += arg
        elif major in (_ARRAY, _MAP):
            if len(remaining) + 1 > max_depth:
                raise _malformed(f"message nested deeper than {max_depth} levels")
            children = arg if major == _ARRAY else 2 * arg
            if major == _MAP:
                pairs += arg
            if children > n - pos:
                raise _malformed("CBOR container claims more items than the message holds")
        elif major == _TAG:
            raise _malformed(f"CBOR tag {arg} not allowed")
        elif major == _SIMPLE and info <= 24 and arg not in _ALLOWED_SIMPLE:
            raise _malformed(f"CBOR simple value {arg} not allowed")
        if remaining:
            remaining[-1] -= 1
        if children:
            remaining.append(children)
        while remaining and remaining[-1] == 0:
            remaining.pop()
    if pos != n:
        raise _malformed(f"{n - pos} trailing bytes after the CBOR message")
    return pairs


def _check_decoded(value: dict[str, Any]) -> int:
    """Check every decoded value has an allowed type; return the number of map entries."""
    entries = 0
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, bool | int | str | bytes):
            continue
        if isinstance(item, float):
            continue
        if isinstance(item, dict):
            entries += len(item)
            for key, sub in item.items():
                if not isinstance(key, str):
                    raise _malformed(f"map keys must be text, not {type(key).__name__}")
                stack.append(sub)
            continue
        if isinstance(item, list):
            stack.extend(item)
            continue
        raise _malformed(f"value of type {type(item).__name__} not allowed")
    return entries
