"""A small typed schema language for protocol messages.

Every message is a map ``{"type": <schema name>, <field>: <value>, ...}`` holding exactly the
declared fields. Field specs bound every size: byte and text strings need a maximum length and
lists a maximum number of items, so a schema admits only messages of bounded size
(:meth:`Schema.max_encoded_size`).

Threat model: messages come from a peer who may be malicious. :meth:`Schema.validate` turns any
deviation into :class:`~petsuite.core.errors.ProtocolAbort` (``MALFORMED``, or ``UNEXPECTED`` for a
well-formed message of another type) whose detail names the schema and field, never the value.
Validation checks shape only: whether a group element or ciphertext is *valid* is the protocol's
job.
"""

from __future__ import annotations

import abc
import math
import types
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort

__all__ = [
    "Bool",
    "Bytes",
    "FieldSpec",
    "Float",
    "Int",
    "ListOf",
    "MessageSpec",
    "OneOf",
    "Optional",
    "Schema",
    "Str",
]

_INT_MIN = -(2**64)
_INT_MAX = 2**64 - 1
_HEADER = 9  # the longest CBOR item header: one initial byte and an 8-byte argument
_MAX_NAME = 64


def _malformed(where: str, why: str) -> ProtocolAbort:
    return ProtocolAbort(AbortReason.MALFORMED, f"{where}: {why}")


def _require_count(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{what} must be a non-negative int")
    return value


class FieldSpec(abc.ABC):
    """The type and bounds of one field value."""

    __slots__ = ()

    @abc.abstractmethod
    def validate(self, value: Any, where: str = "value") -> Any:
        """Return ``value`` if it conforms; raise ``ProtocolAbort(MALFORMED)`` naming ``where``."""

    @abc.abstractmethod
    def max_encoded_size(self) -> int:
        """An upper bound on the canonical CBOR size of a conforming value, in bytes."""


class Bytes(FieldSpec):
    """A byte string of bounded length: give ``max_len`` or ``exact_len``."""

    __slots__ = ("exact_len", "max_len", "min_len")

    def __init__(
        self, *, max_len: int | None = None, min_len: int = 0, exact_len: int | None = None
    ) -> None:
        if exact_len is not None:
            exact_len = _require_count(exact_len, "exact_len")
            if max_len is not None and max_len != exact_len:
                raise InvalidInput("give either exact_len or max_len, not both")
            min_len = max_len = exact_len
        if max_len is None:
            raise InvalidInput("Bytes needs max_len or exact_len: no unbounded fields")
        self.max_len = _require_count(max_len, "max_len")
        self.min_len = _require_count(min_len, "min_len")
        self.exact_len = exact_len
        if self.min_len > self.max_len:
            raise InvalidInput("min_len exceeds max_len")

    def validate(self, value: Any, where: str = "value") -> bytes:
        if not isinstance(value, bytes):
            raise _malformed(where, f"expected bytes, got {type(value).__name__}")
        if self.exact_len is not None and len(value) != self.exact_len:
            raise _malformed(where, f"expected exactly {self.exact_len} bytes, got {len(value)}")
        if not self.min_len <= len(value) <= self.max_len:
            raise _malformed(where, f"length {len(value)} outside [{self.min_len}, {self.max_len}]")
        return value

    def max_encoded_size(self) -> int:
        return _HEADER + self.max_len

    def __repr__(self) -> str:
        if self.exact_len is not None:
            return f"Bytes(exact_len={self.exact_len})"
        return f"Bytes(min_len={self.min_len}, max_len={self.max_len})"


class Int(FieldSpec):
    """An integer in ``[min, max]`` (default: CBOR's 64-bit range). ``bool`` is refused."""

    __slots__ = ("max", "min")

    def __init__(self, *, min: int = _INT_MIN, max: int = _INT_MAX) -> None:
        for bound in (min, max):
            if isinstance(bound, bool) or not isinstance(bound, int):
                raise InvalidInput("Int bounds must be int")
        if not _INT_MIN <= min <= max <= _INT_MAX:
            raise InvalidInput("Int bounds must satisfy -2**64 <= min <= max <= 2**64 - 1")
        self.min = min
        self.max = max

    def validate(self, value: Any, where: str = "value") -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _malformed(where, f"expected int, got {type(value).__name__}")
        if not self.min <= value <= self.max:
            raise _malformed(where, f"integer outside [{self.min}, {self.max}]")
        return value

    def max_encoded_size(self) -> int:
        return _HEADER

    def __repr__(self) -> str:
        return f"Int(min={self.min}, max={self.max})"


class Float(FieldSpec):
    """A finite float, optionally in ``[min, max]``. Integers are refused, as are NaN and inf."""

    __slots__ = ("max", "min")

    def __init__(self, *, min: float = -math.inf, max: float = math.inf) -> None:
        if math.isnan(min) or math.isnan(max) or min > max:
            raise InvalidInput("Float bounds must satisfy min <= max")
        self.min = float(min)
        self.max = float(max)

    def validate(self, value: Any, where: str = "value") -> float:
        if not isinstance(value, float):
            raise _malformed(where, f"expected float, got {type(value).__name__}")
        if not math.isfinite(value):
            raise _malformed(where, "float must be finite")
        if not self.min <= value <= self.max:
            raise _malformed(where, f"float outside [{self.min}, {self.max}]")
        return value

    def max_encoded_size(self) -> int:
        return _HEADER

    def __repr__(self) -> str:
        return f"Float(min={self.min}, max={self.max})"


class Str(FieldSpec):
    """A text string of at most ``max_len`` characters, or one of ``choices``."""

    __slots__ = ("choices", "max_len", "min_len")

    def __init__(
        self,
        *,
        max_len: int | None = None,
        min_len: int = 0,
        choices: Iterable[str] | None = None,
    ) -> None:
        self.choices: frozenset[str] | None = None
        if choices is not None:
            if isinstance(choices, str):
                raise InvalidInput("choices must be a collection of str, not one str")
            self.choices = frozenset(choices)
            if not self.choices or not all(isinstance(c, str) for c in self.choices):
                raise InvalidInput("choices must be a non-empty collection of str")
            if max_len is None:
                max_len = max(len(c) for c in self.choices)
        if max_len is None:
            raise InvalidInput("Str needs max_len or choices: no unbounded fields")
        self.max_len = _require_count(max_len, "max_len")
        self.min_len = _require_count(min_len, "min_len")
        if self.min_len > self.max_len:
            raise InvalidInput("min_len exceeds max_len")

    def validate(self, value: Any, where: str = "value") -> str:
        if not isinstance(value, str):
            raise _malformed(where, f"expected str, got {type(value).__name__}")
        if not self.min_len <= len(value) <= self.max_len:
            raise _malformed(where, f"length {len(value)} outside [{self.min_len}, {self.max_len}]")
        if self.choices is not None and value not in self.choices:
            raise _malformed(where, f"not one of {sorted(self.choices)}")
        return value

    def max_encoded_size(self) -> int:
        return _HEADER + 4 * self.max_len  # UTF-8 takes at most 4 bytes per character

    def __repr__(self) -> str:
        if self.choices is not None:
            return f"Str(choices={sorted(self.choices)})"
        return f"Str(min_len={self.min_len}, max_len={self.max_len})"


class Bool(FieldSpec):
    """``True`` or ``False`` (never 0 or 1)."""

    __slots__ = ()

    def validate(self, value: Any, where: str = "value") -> bool:
        if not isinstance(value, bool):
            raise _malformed(where, f"expected bool, got {type(value).__name__}")
        return value

    def max_encoded_size(self) -> int:
        return 1

    def __repr__(self) -> str:
        return "Bool()"


class ListOf(FieldSpec):
    """A list of ``min_items`` to ``max_items`` values, each conforming to ``item``."""

    __slots__ = ("item", "max_items", "min_items")

    def __init__(self, item: FieldSpec, *, max_items: int, min_items: int = 0) -> None:
        if not isinstance(item, FieldSpec):
            raise InvalidInput("ListOf needs a FieldSpec for its items")
        self.item = item
        self.max_items = _require_count(max_items, "max_items")
        self.min_items = _require_count(min_items, "min_items")
        if self.min_items > self.max_items:
            raise InvalidInput("min_items exceeds max_items")

    def validate(self, value: Any, where: str = "value") -> list[Any]:
        if not isinstance(value, list):
            raise _malformed(where, f"expected list, got {type(value).__name__}")
        if not self.min_items <= len(value) <= self.max_items:
            raise _malformed(
                where, f"{len(value)} items outside [{self.min_items}, {self.max_items}]"
            )
        return [self.item.validate(v, f"{where}[{i}]") for i, v in enumerate(value)]

    def max_encoded_size(self) -> int:
        return _HEADER + self.max_items * self.item.max_encoded_size()

    def __repr__(self) -> str:
        return f"ListOf({self.item!r}, min_items={self.min_items}, max_items={self.max_items})"


class Optional(FieldSpec):
    """``None`` or a value conforming to ``spec``. An optional field may also be left out."""

    __slots__ = ("spec",)

    def __init__(self, spec: FieldSpec) -> None:
        if not isinstance(spec, FieldSpec):
            raise InvalidInput("Optional needs a FieldSpec")
        self.spec = spec

    def validate(self, value: Any, where: str = "value") -> Any:
        return None if value is None else self.spec.validate(value, where)

    def max_encoded_size(self) -> int:
        return max(1, self.spec.max_encoded_size())

    def __repr__(self) -> str:
        return f"Optional({self.spec!r})"


class Schema:
    """One message type: ``{"type": name}`` plus exactly the declared fields.

    Parameters
    ----------
    name:
        The value of the ``"type"`` key, 1 to 64 characters.
    fields:
        Field name to spec. ``"type"`` is reserved. Fields wrapped in :class:`Optional` may be
        left out (they read as ``None``); every other field is required, and unknown fields are
        refused.
    """

    __slots__ = ("fields", "name")

    def __init__(self, name: str, fields: Mapping[str, FieldSpec]) -> None:
        if not isinstance(name, str) or not 0 < len(name) <= _MAX_NAME:
            raise InvalidInput(f"a schema name must be a str of 1 to {_MAX_NAME} characters")
        checked: dict[str, FieldSpec] = {}
        for key, spec in fields.items():
            if not isinstance(key, str) or not key:
                raise InvalidInput(f"schema {name}: field names must be non-empty str")
            if key == "type":
                raise InvalidInput(f"schema {name}: the field name 'type' is reserved")
            if not isinstance(spec, FieldSpec):
                raise InvalidInput(f"schema {name}: field {key} needs a FieldSpec")
            checked[key] = spec
        self.name = name
        self.fields: Mapping[str, FieldSpec] = types.MappingProxyType(checked)

    def validate(self, obj: Any) -> dict[str, Any]:
        """Check a decoded message and return it as a new dict (optional fields filled in).

        Raises
        ------
        ProtocolAbort
            ``UNEXPECTED`` if the message is of another type, else ``MALFORMED`` with a detail
            ``"<schema>.<field>: why"``.
        """
        if not isinstance(obj, Mapping):
            raise _malformed(self.name, f"expected a map, got {type(obj).__name__}")
        kind = obj.get("type")
        if not isinstance(kind, str):
            raise _malformed(f"{self.name}.type", "missing or not a str")
        if kind != self.name:
            raise ProtocolAbort(
                AbortReason.UNEXPECTED, f"expected a {self.name!r} message, got {kind[:64]!r}"
            )
        unknown = [k for k in obj if k != "type" and k not in self.fields]
        if unknown:
            shown = ", ".join(repr(str(k)[:64]) for k in unknown[:5])
            raise _malformed(self.name, f"unknown field(s) {shown}")
        out: dict[str, Any] = {"type": self.name}
        for key, spec in self.fields.items():
            where = f"{self.name}.{key}"
            if key not in obj:
                if isinstance(spec, Optional):
                    out[key] = None
                    continue
                raise _malformed(where, "missing")
            out[key] = spec.validate(obj[key], where)
        return out

    def message(self, **fields: Any) -> dict[str, Any]:
        """Build an outgoing message of this type, checked against the schema.

        Raises
        ------
        InvalidInput
            If the fields do not conform: a local mistake, not a peer's.
        """
        try:
            return self.validate({**fields, "type": self.name})
        except ProtocolAbort as exc:
            raise InvalidInput(f"outgoing message does not conform: {exc.detail}") from exc

    def max_encoded_size(self) -> int:
        """An upper bound on the canonical CBOR size of a conforming message, in bytes."""
        size = _HEADER + 1 + 4 + _HEADER + 4 * len(self.name)
        for key, spec in self.fields.items():
            size += _HEADER + 4 * len(key) + spec.max_encoded_size()
        return size

    def __repr__(self) -> str:
        return f"Schema({self.name!r}, {dict(self.fields)!r})"


class OneOf:
    """Several schemas told apart by the message's ``"type"``."""

    __slots__ = ("schemas",)

    def __init__(self, *schemas: Schema) -> None:
        if not schemas:
            raise InvalidInput("OneOf needs at least one schema")
        by_name: dict[str, Schema] = {}
        for schema in schemas:
            if not isinstance(schema, Schema):
                raise InvalidInput("OneOf takes Schema objects")
            if schema.name in by_name:
                raise InvalidInput(f"two schemas named {schema.name!r}")
            by_name[schema.name] = schema
        self.schemas: Mapping[str, Schema] = types.MappingProxyType(by_name)

    def validate(self, obj: Any) -> dict[str, Any]:
        """Validate against the schema named by ``obj["type"]``; see :meth:`Schema.validate`."""
        if not isinstance(obj, Mapping):
            raise _malformed("message", f"expected a map, got {type(obj).__name__}")
        kind = obj.get("type")
        if not isinstance(kind, str):
            raise _malformed("message.type", "missing or not a str")
        schema = self.schemas.get(kind)
        if schema is None:
            raise ProtocolAbort(
                AbortReason.UNEXPECTED,
                f"expected one of {sorted(self.schemas)}, got {kind[:64]!r}",
            )
        return schema.validate(obj)

    def max_encoded_size(self) -> int:
        """The largest bound among the schemas."""
        return max(s.max_encoded_size() for s in self.schemas.values())

    def __repr__(self) -> str:
        return f"OneOf({', '.join(map(repr, self.schemas))})"


class MessageSpec(Protocol):
    """What :meth:`petsuite.net.transport.Channel.recv` accepts: a :class:`Schema`, a :class:`OneOf`
    or anything else that validates a decoded message the same way."""

    def validate(self, obj: Any) -> dict[str, Any]:
        """Return the checked message, or raise :class:`~petsuite.core.errors.ProtocolAbort`."""
        ...
