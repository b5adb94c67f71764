"""Versioned envelopes for proofs, credentials and presentations: canonical JSON, strict parsing.

An envelope is the JSON object ``{"body": {...}, "kind": "...", "version": N}``. :func:`dumps`
writes canonical JSON (sorted keys, no whitespace, UTF-8) and encodes every ``bytes`` value in the
body as unpadded base64url text; :func:`loads` accepts only an envelope of the expected kind and
one of the expected versions, with exactly those three keys, no duplicate keys, no floats, NaN or
infinities, and at most :data:`MAX_ENVELOPE_BYTES`. Body fields come back as JSON values (bytes
stay base64url text): decode them with :func:`b64decode` and check the field set with
:func:`expect_fields`; both raise :class:`~petsuite.core.errors.VerificationFailed`.

Threat model: envelopes come from untrusted parties. Parsing is bounded and strict, and every
failure is the opaque VerificationFailed so that a verifier leaks nothing about why it refused.
Envelopes are not authenticated by themselves: signatures and proofs inside them are.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Final, NoReturn

from petsuite.core.encoding import canonical_json
from petsuite.core.errors import InvalidInput, PetsError, VerificationFailed

__all__ = [
    "MAX_ENVELOPE_BYTES",
    "b64decode",
    "b64encode",
    "dumps",
    "expect_fields",
    "loads",
]

#: Largest envelope :func:`loads` reads.
MAX_ENVELOPE_BYTES: Final = 4 * 1024 * 1024
_ENVELOPE_KEYS: Final = frozenset({"body", "kind", "version"})
_MAX_DEPTH: Final = 32


def b64encode(data: bytes) -> str:
    """Unpadded base64url text of ``data``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput("b64encode takes bytes")
    return base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode("ascii")


def b64decode(
    text: object,
    what: str = "value",
    *,
    length: int | None = None,
    error: type[PetsError] = VerificationFailed,
) -> bytes:
    """Strict inverse of :func:`b64encode` (only its exact output decodes; optional exact length).

    Raises
    ------
    VerificationFailed
        (or ``error``: the holder's and issuer's own files raise :class:`InvalidInput`) on
        anything else: not a string, padding, characters outside base64url, non-zero trailing
        bits, or the wrong decoded length. ``what`` names the field in the message.
    """
    if not isinstance(text, str) or not text.isascii():
        raise error(f"{what}: malformed base64url")
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise error(f"{what}: malformed base64url") from exc
    if b64encode(data) != text:
        raise error(f"{what}: non-canonical base64url")
    if length is not None and len(data) != length:
        raise error(f"{what}: base64url value has the wrong length")
    return data


def _encode_value(value: object, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise InvalidInput("envelope body nested too deeply")
    if isinstance(value, bytes | bytearray | memoryview):
        return b64encode(bytes(value))
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidInput("envelope keys must be strings")
            out[k] = _encode_value(v, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_encode_value(v, depth + 1) for v in value]
    raise InvalidInput(f"cannot put a {type(value).__name__} in an envelope (no floats)")


def dumps(kind: str, version: int, body: Mapping[str, Any]) -> str:
    """The canonical JSON envelope of ``body`` (bytes values become base64url text).

    Raises
    ------
    InvalidInput
        For an empty kind, a version that is not a positive int, or a body value that is not
        bytes, str, int, bool, None, a list/tuple or a string-keyed mapping of those.
    """
    if not isinstance(kind, str) or not kind:
        raise InvalidInput("envelope kind must be a non-empty string")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInput("envelope version must be a positive int")
    if not isinstance(body, Mapping):
        raise InvalidInput("envelope body must be a mapping")
    envelope = {"body": _encode_value(body, 0), "kind": kind, "version": version}
    return canonical_json(envelope).decode("utf-8")


def _reject(_: str) -> NoReturn:
    raise VerificationFailed("malformed envelope: float, NaN or infinity")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise VerificationFailed("malformed envelope: duplicate key")
        out[k] = v
    return out


def loads(text: str | bytes, kind: str, *, versions: Collection[int]) -> dict[str, Any]:
    """Parse an envelope of ``kind`` with a version in ``versions``; return its body.

    Raises
    ------
    VerificationFailed
        If the text is not strict JSON, too large, not an envelope with exactly ``body``, ``kind``
        and ``version``, of another kind or of an unknown version, or the body is not an object.
    """
    if isinstance(text, bytes | bytearray | memoryview):
        raw = bytes(text)
        if len(raw) > MAX_ENVELOPE_BYTES:
            raise VerificationFailed("envelope too large")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise VerificationFailed("envelope is not UTF-8") from exc
    if not isinstance(text, str):
        raise VerificationFailed("envelope must be text")
    if len(text) > MAX_ENVELOPE_BYTES:
        raise VerificationFailed("envelope too large")
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_reject,
            parse_constant=_reject,
        )
    except (ValueError, RecursionError) as exc:
        raise VerificationFailed("malformed envelope: not JSON") from exc
    if not isinstance(value, dict) or set(value) != _ENVELOPE_KEYS:
        raise VerificationFailed("malformed envelope: wrong fields")
    got_kind = value["kind"]
    got_version = value["version"]
    if not isinstance(got_kind, str) or got_kind != kind:
        raise VerificationFailed("envelope of another kind")
    if isinstance(got_version, bool) or not isinstance(got_version, int):
        raise VerificationFailed("malformed envelope: bad version")
    if got_version not in versions:
        raise VerificationFailed("unsupported envelope version")
    body = value["body"]
    if not isinstance(body, dict):
        raise VerificationFailed("malformed envelope: body is not an object")
    return body


def expect_fields(
    body: object, required: Iterable[str], optional: Iterable[str] = ()
) -> dict[str, Any]:
    """``body`` as a dict if it has every ``required`` field and nothing outside ``optional``.

    Raises
    ------
    VerificationFailed
        If ``body`` is not an object, misses a required field or has an unknown one.
    """
    if not isinstance(body, dict):
        raise VerificationFailed("malformed envelope: expected an object")
    req = set(required)
    allowed = req | set(optional)
    keys = set(body)
    if not req <= keys or not keys <= allowed:
        raise VerificationFailed("malformed envelope: missing or unknown fields")
    return body
