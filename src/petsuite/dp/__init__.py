"""Differential privacy: noisy statistics with a persistent privacy budget, and local DP.

Central DP: :func:`private_query` answers aggregate queries over CSV, Parquet or database tables with
exact discrete noise, charging a :class:`PrivacyLedger` before any noise is drawn. Local DP
(:mod:`petsuite.dp.local`): devices randomise their own values; the server only estimates.
"""

from petsuite.dp.accounting import PrivacyLoss
from petsuite.dp.api import DpPolicy, DpRelease, Estimate, private_query
from petsuite.dp.ledger import BudgetKind, BudgetScope, PrivacyLedger
from petsuite.dp.query import Bounds, Contribution

__all__ = [
    "Bounds",
    "BudgetKind",
    "BudgetScope",
    "Contribution",
    "DpPolicy",
    "DpRelease",
    "Estimate",
    "PrivacyLedger",
    "PrivacyLoss",
    "private_query",
]
