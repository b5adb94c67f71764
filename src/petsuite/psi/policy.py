"""The safeguards the guidance asks of PSI: thresholds, rate limits, set-size and value bounds.

A small intersection singles people out, and repeated queries with slightly different sets
re-identify them (over-analysis). The party that releases enforces a :class:`PsiPolicy` before anything
leaves it; rate limits per counterparty persist in SQLite so that restarting the server does not reset
them. A refused run is audited and releases nothing.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from petsuite.core.errors import IntegrityError, InvalidInput, PolicyViolation
from petsuite.core.store import open_database, transaction
from petsuite.psi.protocol import MAX_SET_SIZE, PsiMode

__all__ = ["PsiPolicy", "RateLimit", "RateLimiter"]

_UNITS = {"s": 1, "min": 60, "h": 3600, "hour": 3600, "day": 86400, "d": 86400, "week": 604800}


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``max_runs`` runs per counterparty in any window of ``window_s`` seconds."""

    max_runs: int
    window_s: float

    def __post_init__(self) -> None:
        if self.max_runs < 1:
            raise InvalidInput("a rate limit needs max_runs >= 1")
        if not self.window_s > 0:
            raise InvalidInput("a rate limit needs a positive window")

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Parse ``"10/day"``, ``"3/h"``, ``"100/week"`` or ``"5/30min"``."""
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*", text)
        if m is None or m.group(3) not in _UNITS:
            raise InvalidInput(
                f"rate limit {text!r} not understood: use e.g. 10/day, 3/h, 5/30min, 100/week"
            )
        count = int(m.group(2) or 1)
        return cls(int(m.group(1)), count * _UNITS[m.group(3)])

    def describe(self) -> str:
        return f"{self.max_runs} runs per {timedelta(seconds=self.window_s)}"


@dataclass(frozen=True, slots=True)
class PsiPolicy:
    """What a PSI server allows. The defaults are the conservative ones.

    Parameters
    ----------
    min_intersection:
        Smallest intersection whose size (or sum) may be released.
    max_set_size:
        Largest client set accepted (and the largest own set served).
    allowed_modes:
        Modes a client may ask for; revealing *which* records match (``intersection``) is off by
        default.
    rate_limit:
        Runs per counterparty per window; ``None`` disables it (not recommended).
    value_bound:
        Declared bound on the absolute value of each associated value (sum mode). Never read from
        the data.
    outliers:
        What to do with a value beyond the bound: ``refuse`` the run, or ``drop`` the record.
    dp_epsilon:
        Discrete Laplace noise on the sum this server releases (sum mode), charged to a
        :class:`~petsuite.dp.ledger.PrivacyLedger` when one is given.
    """

    min_intersection: int = 10
    max_set_size: int = 10_000_000
    allowed_modes: frozenset[PsiMode] = field(
        default_factory=lambda: frozenset({PsiMode.CARDINALITY, PsiMode.SUM})
    )
    rate_limit: RateLimit | None = field(default_factory=lambda: RateLimit(10, 86400.0))
    value_bound: float | None = None
    outliers: Literal["refuse", "drop"] = "refuse"
    dp_epsilon: float | None = None

    def __post_init__(self) -> None:
        if self.dp_epsilon is not None and not (
            math.isfinite(self.dp_epsilon) and self.dp_epsilon > 0
        ):
            raise InvalidInput("dp_epsilon must be a positive, finite number")
        if self.min_intersection < 0:
            raise InvalidInput("min_intersection must be non-negative")
        if not 1 <= self.max_set_size <= MAX_SET_SIZE:
            raise InvalidInput(f"max_set_size must be between 1 and {MAX_SET_SIZE}")
        if not self.allowed_modes:
            raise InvalidInput("a policy must allow at least one mode")
        if self.value_bound is not None and not self.value_bound > 0:
            raise InvalidInput("value_bound must be positive")
        if self.outliers not in ("refuse", "drop"):
            raise InvalidInput("outliers must be 'refuse' or 'drop'")

    @staticmethod
    def parse_modes(names: Iterable[str]) -> frozenset[PsiMode]:
        try:
            return frozenset(PsiMode(n.strip()) for n in names if n.strip())
        except ValueError as exc:
            known = ", ".join(m.value for m in PsiMode)
            raise InvalidInput(f"unknown PSI mode: use one or more of {known}") from exc

    def to_dict(self) -> dict[str, Any]:
        """The policy as recorded in audit entries."""
        return {
            "min_intersection": self.min_intersection,
            "max_set_size": self.max_set_size,
            "allowed_modes": sorted(m.value for m in self.allowed_modes),
            "rate_limit": None if self.rate_limit is None else self.rate_limit.describe(),
            "value_bound": self.value_bound,
            "outliers": self.outliers,
            "dp_epsilon": self.dp_epsilon,
        }


_SCHEMA = """
CREATE TABLE IF NOT EXISTS psi_runs (
    id INTEGER PRIMARY KEY,
    counterparty TEXT NOT NULL,
    started REAL NOT NULL
)
"""


class RateLimiter:
    """Runs per counterparty, persisted in SQLite and checked atomically across processes."""

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self._clock = clock if clock is not None else (lambda: datetime.now(UTC))
        self._conn = open_database(self.path)
        try:
            with transaction(self._conn) as conn:
                conn.execute(_SCHEMA)
                conn.execute(
                    "CREATE INDEX IF NOT EXISTS psi_runs_by_party ON psi_runs (counterparty, started)"
                )
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"{self.path} is not a petsuite rate-limit store: {exc}") from exc

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> RateLimiter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def acquire(self, counterparty: str, limit: RateLimit) -> int:
        """Record one run for ``counterparty``, or raise :class:`PolicyViolation` when it is over
        its limit (nothing is recorded then). Returns the runs used in the window, this one
        included."""
        now = self._clock().timestamp()
        since = now - limit.window_s
        with transaction(self._conn) as conn:
            rows = conn.execute(
                "SELECT started FROM psi_runs WHERE counterparty = ? AND started > ? "
                "ORDER BY started",
                (counterparty, since),
            ).fetchall()
            if len(rows) >= limit.max_runs:
                oldest = float(rows[len(rows) - limit.max_runs][0])
                retry = datetime.fromtimestamp(oldest + limit.window_s, UTC)
                raise PolicyViolation(
                    f"counterparty {counterparty!r} reached its rate limit of "
                    f"{limit.describe()}; next run allowed after {retry.isoformat(timespec='seconds')}"
                )
            conn.execute(
                "INSERT INTO psi_runs (counterparty, started) VALUES (?, ?)", (counterparty, now)
            )
        return len(rows) + 1

    def used(self, counterparty: str, limit: RateLimit) -> int:
        """Runs recorded for ``counterparty`` in the current window."""
        since = self._clock().timestamp() - limit.window_s
        row = self._conn.execute(
            "SELECT COUNT(*) FROM psi_runs WHERE counterparty = ? AND started > ?",
            (counterparty, since),
        ).fetchone()
        return int(row[0])
