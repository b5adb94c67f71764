"""Oblivious pseudonymisation with the RFC 9497 OPRF: keyed pseudonyms for identifiers the key holder
never sees. The building block of private set intersection (:mod:`petsuite.psi`)."""

from petsuite.oprf.api import OprfKey, OprfRunSummary, pseudonymise, serve_pseudonyms

__all__ = ["OprfKey", "OprfRunSummary", "pseudonymise", "serve_pseudonyms"]
