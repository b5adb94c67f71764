"""The error hierarchy and its catalogue."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import petsuite
from petsuite.core import errors
from petsuite.core.errors import (
    CATALOGUE,
    AbortReason,
    InvalidInput,
    PetsError,
    ProtocolAbort,
    UnsupportedParameter,
    all_error_classes,
    catalogue_entry,
)


def _import_everything() -> None:
    """Import every petsuite module so that every PetsError subclass is defined."""
    for info in pkgutil.walk_packages(petsuite.__path__, prefix="petsuite."):
        importlib.import_module(info.name)


def test_catalogue_covers_every_error_class() -> None:
    _import_everything()
    missing = [cls.__qualname__ for cls in all_error_classes() if cls not in CATALOGUE]
    assert missing == []


def test_exit_codes_and_messages_are_distinct() -> None:
    codes = [entry.exit_code for entry in CATALOGUE.values()]
    assert len(codes) == len(set(codes))
    assert all(code not in (0, 1, 2) for code in codes)
    assert all(entry.public_message for entry in CATALOGUE.values())


def test_invalid_input_is_a_value_error() -> None:
    assert issubclass(InvalidInput, ValueError)
    assert issubclass(UnsupportedParameter, InvalidInput)


def test_most_specific_entry_wins() -> None:
    assert catalogue_entry(UnsupportedParameter("x")) == CATALOGUE[UnsupportedParameter]
    assert catalogue_entry(ProtocolAbort(AbortReason.TIMEOUT)).http_status == 502

    class Custom(InvalidInput):
        pass

    assert catalogue_entry(Custom("y")) == CATALOGUE[InvalidInput]
    assert catalogue_entry(RuntimeError("z")).exit_code == 1


def test_protocol_abort_carries_reason_and_peer() -> None:
    exc = ProtocolAbort(AbortReason.OVERSIZED, "frame of 99 bytes", peer="hospital-b")
    assert exc.reason is AbortReason.OVERSIZED
    assert "hospital-b" in str(exc)
    assert "oversized" in str(exc)


def test_every_error_is_a_pets_error() -> None:
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, PetsError)


def test_abort_reasons_are_unique() -> None:
    values = [r.value for r in AbortReason]
    assert len(values) == len(set(values))


@pytest.mark.parametrize("cls", list(CATALOGUE))
def test_each_error_can_be_raised_and_caught_as_root(cls: type[PetsError]) -> None:
    args: tuple[object, ...] = (AbortReason.MALFORMED,) if cls is ProtocolAbort else ("boom",)
    with pytest.raises(PetsError):
        raise cls(*args)  # type: ignore[arg-type]
