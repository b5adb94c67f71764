"""Core services every other layer builds on: errors, randomness, encodings, storage, audit log."""

from petsuite.core.errors import (
    AttestationFailed,
    IntegrityError,
    InvalidInput,
    PetsError,
    PolicyViolation,
    PrivacyBudgetExceeded,
    ProtocolAbort,
    UnsupportedParameter,
    VerificationFailed,
)

__all__ = [
    "AttestationFailed",
    "IntegrityError",
    "InvalidInput",
    "PetsError",
    "PolicyViolation",
    "PrivacyBudgetExceeded",
    "ProtocolAbort",
    "UnsupportedParameter",
    "VerificationFailed",
]
