"""Secure multi-party computation: secret sharing, engines, and secure statistics recipes.

Deployment models (see docs/mpc.md): *peer* (every party inputs and computes; Shamir t-of-n over
F_p, p = 2**61 - 1, semi-honest, honest majority, no dealer: :class:`ShamirEngine`) and
*delegated*/*hybrid* (input clients, 2 or 3 compute servers and a preprocessing dealer; SPDZ2k
with MACs, active security with abort: ``petsuite.mpc.spdz2k``). Recipes
(:func:`run_statistic`) are written once against the :class:`Engine` interface and reveal only
the statistic (see :mod:`petsuite.mpc.stats` for exactly what each one opens).
"""

from petsuite.mpc.engine import Engine, IntArray, Shared
from petsuite.mpc.memory import MemoryNetwork, memory_networks
from petsuite.mpc.network import PartyNetwork
from petsuite.mpc.shamir import ShamirEngine
from petsuite.mpc.stats import (
    NoiseSpec,
    PartyInput,
    Statistic,
    StatisticResult,
    StatisticSpec,
    client_steps,
    encode_input,
    run_statistic,
)

__all__ = [
    "Engine",
    "IntArray",
    "MemoryNetwork",
    "NoiseSpec",
    "PartyInput",
    "PartyNetwork",
    "ShamirEngine",
    "Shared",
    "Statistic",
    "StatisticResult",
    "StatisticSpec",
    "client_steps",
    "encode_input",
    "memory_networks",
    "run_statistic",
]
