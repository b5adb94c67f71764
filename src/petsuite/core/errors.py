"""The one error hierarchy of petsuite, and the catalogue that maps each error to the outside world.

::

    PetsError
    ├── InvalidInput (ValueError)         bad data, file, parameter or encoding from the caller
    │   ├── InvalidRecord                 one value of a record could not be parsed or normalised
    │   └── UnsupportedParameter          a parameter petsuite knows but refuses (insecure, unbuilt)
    ├── PrivacyBudgetExceeded             the query would overspend a privacy budget; nothing spent
    ├── PolicyViolation                   a safeguard refused the release (threshold, rate limit)
    ├── ProtocolAbort                     a peer misbehaved, sent garbage, stalled or went away
    ├── VerificationFailed                a proof, MAC or signature did not verify (deliberately opaque)
    ├── AttestationFailed                 a TEE attestation did not verify
    └── IntegrityError                    stored state (audit log, ledger) was altered or corrupted

Third-party exceptions are mapped to one of these at the boundary with ``raise ... from``.
:data:`CATALOGUE` gives each class a CLI exit code, an HTTP status and a public message, which is
what leaves the process: the detailed message stays in logs for the operator.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "CATALOGUE",
    "AbortReason",
    "AttestationFailed",
    "CatalogueEntry",
    "IntegrityError",
    "InvalidInput",
    "InvalidRecord",
    "PetsError",
    "PolicyViolation",
    "PrivacyBudgetExceeded",
    "ProtocolAbort",
    "UnsupportedParameter",
    "VerificationFailed",
    "all_error_classes",
    "catalogue_entry",
]


class PetsError(Exception):
    """Root of every error petsuite raises on purpose."""


class InvalidInput(PetsError, ValueError):
    """The caller gave bad input: a malformed file, a wrong type, an out-of-range value."""


class InvalidRecord(InvalidInput):
    """One value of a personal record could not be parsed or normalised.

    The message is a short fixed reason (``reason``) and never contains the value itself, which is
    personal data.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class UnsupportedParameter(InvalidInput):
    """A parameter petsuite recognises but refuses, for example an insecure key size."""


class PrivacyBudgetExceeded(PetsError):
    """The operation would exceed a privacy budget. It was refused before any noise was drawn."""


class PolicyViolation(PetsError):
    """A safeguard refused the operation: a minimum result size, a rate limit, a maximum epsilon."""


class AbortReason(enum.StrEnum):
    """Why a multi-party protocol was aborted. Sent to the operator, never secrets."""

    TIMEOUT = "timeout"
    MALFORMED = "malformed"
    OVERSIZED = "oversized"
    TRUNCATED = "truncated"
    UNEXPECTED = "unexpected-message"
    PEER_CLOSED = "peer-closed"
    HANDSHAKE = "handshake-failed"
    CHECK_FAILED = "check-failed"
    CONFIG_MISMATCH = "config-mismatch"
    PEER_ABORTED = "peer-aborted"
    POLICY = "policy-refused"


class ProtocolAbort(PetsError):
    """A peer misbehaved, sent a malformed or oversized message, stalled past a deadline or left."""

    def __init__(self, reason: AbortReason, detail: str = "", *, peer: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.peer = peer
        who = f" (peer {peer})" if peer else ""
        super().__init__(f"protocol aborted: {reason.value}{who}{': ' + detail if detail else ''}")


class VerificationFailed(PetsError):
    """A proof, MAC or signature failed to verify. Deliberately says nothing about why."""

    def __init__(self, what: str = "verification failed") -> None:
        super().__init__(what)


class AttestationFailed(PetsError):
    """A trusted execution environment's attestation evidence did not verify."""


class IntegrityError(PetsError):
    """Stored state (an audit log, a privacy ledger, a key file) was altered or is corrupt."""


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """How an error leaves the process: CLI exit code, HTTP status, and the public message."""

    exit_code: int
    http_status: int
    public_message: str


#: Exit codes avoid 0 (success), 1 (unexpected crash) and 2 (usage error, reserved by the CLI).
CATALOGUE: dict[type[PetsError], CatalogueEntry] = {
    PetsError: CatalogueEntry(10, 500, "petsuite error"),
    InvalidInput: CatalogueEntry(11, 400, "invalid input"),
    UnsupportedParameter: CatalogueEntry(12, 400, "unsupported parameter"),
    InvalidRecord: CatalogueEntry(19, 400, "a record could not be parsed or normalised"),
    PrivacyBudgetExceeded: CatalogueEntry(13, 403, "privacy budget exceeded"),
    PolicyViolation: CatalogueEntry(14, 403, "refused by privacy policy"),
    ProtocolAbort: CatalogueEntry(15, 502, "protocol aborted by or because of a peer"),
    VerificationFailed: CatalogueEntry(16, 422, "verification failed"),
    AttestationFailed: CatalogueEntry(17, 422, "attestation failed"),
    IntegrityError: CatalogueEntry(18, 500, "stored state failed an integrity check"),
}


def all_error_classes() -> list[type[PetsError]]:
    """Every subclass of :class:`PetsError` defined so far, the root included."""
    seen: list[type[PetsError]] = []
    stack: list[type[PetsError]] = [PetsError]
    while stack:
        cls = stack.pop()
        if cls not in seen:
            seen.append(cls)
            stack.extend(cls.__subclasses__())
    return seen


def catalogue_entry(error: BaseException) -> CatalogueEntry:
    """The catalogue entry of ``error``'s most specific catalogued class."""
    for cls in type(error).__mro__:
        if cls in CATALOGUE:
            return CATALOGUE[cls]
    return CatalogueEntry(1, 500, "internal error")
