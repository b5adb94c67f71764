"""Private set intersection: find what two organisations' datasets have in common, and nothing else.

Modes: ``intersection`` (the client learns which of its records match), ``cardinality`` (only how
many), ``sum`` (how many and the sum of the server's values over them); a delegated mode runs through
a third party. Policies (minimum intersection size, rate limits, set-size and value bounds) are
enforced by the releasing party. See docs/psi.md for what each mode reveals to whom.
"""

from petsuite.psi.api import (
    MatchReport,
    PsiDataset,
    PsiServerSummary,
    ServerKey,
    matched_rows,
    query_psi,
    serve_psi,
)
from petsuite.psi.policy import PsiPolicy, RateLimit, RateLimiter
from petsuite.psi.protocol import PsiMode, PsiResult

__all__ = [
    "MatchReport",
    "PsiDataset",
    "PsiMode",
    "PsiPolicy",
    "PsiResult",
    "PsiServerSummary",
    "RateLimit",
    "RateLimiter",
    "ServerKey",
    "matched_rows",
    "query_psi",
    "serve_psi",
]
