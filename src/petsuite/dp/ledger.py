"""A persistent privacy ledger: budgets per dataset, per analyst, per group and overall, in SQLite.

The ICO's guidance asks whether a privacy budget is set "per user or globally (or both)" and warns
that analysts can pool what they learn. The ledger keeps budgets in four scopes, all enforced at once:

* :meth:`BudgetScope.dataset` — the total every analyst may spend on one dataset (required: a dataset
  without one is refused);
* :meth:`BudgetScope.analyst` — what one analyst may spend, over all datasets;
* :meth:`BudgetScope.group` — a declared group of analysts sharing one budget, for analysts who may
  collude (share results): their spends add up there;
* :meth:`BudgetScope.everyone` — one budget over everything, if wanted.

Each budget is kept in one currency (:class:`BudgetKind`): pure ε-DP, approximate (ε, δ)-DP under
basic composition, or ρ-zCDP. :meth:`PrivacyLedger.charge` records a release's
:class:`~petsuite.dp.accounting.PrivacyLoss` against every applicable budget in one ``BEGIN
IMMEDIATE`` transaction, or refuses it and records nothing. Draw noise only after ``charge`` returns.

Exactness
---------
Amounts are exact decimals. A float is read as the shortest decimal that round-trips to it (its
``repr``: the number the caller wrote), stored as canonical decimal text and summed exactly, so ten
charges of ``0.1`` spend exactly ``1`` and the comparison ``spent + charge <= limit`` is exact, with
no tolerance either way: the decimals the caller wrote never exceed a limit by any amount. Each
decimal is within half a unit in the last place of its float, so measured in the floats' binary
values a full budget is exceeded by at most ``2**-52`` of its limit — no more than the rounding of
one float sum. Float summation instead drifts with every spend (``sum([0.1] * 10)`` is
``0.9999999999999999``, which would admit another ``1e-16``), and exact binary values would refuse the
tenth ``0.1`` of a budget of ``1`` (0.1 is slightly above one tenth in binary).

Threat model
------------
Protects against: overspending (every applicable budget is checked before anything is recorded);
concurrent analysts and processes (the check and the insert share one write-locked transaction);
collusion *within declared groups* (their spends add up in the group's budget); silent corruption
or tampering of single rows (budget and spend rows form one SHA-256 hash chain, verified together with
``PRAGMA integrity_check`` when the ledger is opened: a damaged ledger raises
:class:`~petsuite.core.errors.IntegrityError` and is never reset or recreated).

Does not protect against: analysts who collude outside any declared group; someone who can write the
file and rebuilds the whole chain consistently (or drops the latest rows together with the stored
head) — unless the ledger's :meth:`~PrivacyLedger.head`, or the head of the
:class:`~petsuite.core.audit.AuditLog` that records every spend's hash, was recorded out of band and
is checked with ``verify(expected_head=...)``. Timestamps are only as honest as the machine's clock.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import math
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, Inexact, InvalidOperation, Rounded, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

from petsuite.core.audit import MAX_PARAMETERS_BYTES, AuditLog
from petsuite.core.encoding import canonical_json, encode_parts
from petsuite.core.errors import IntegrityError, InvalidInput, PrivacyBudgetExceeded
from petsuite.core.store import open_database, transaction
from petsuite.dp.accounting import PrivacyLoss, zcdp_to_approx_epsilon

__all__ = [
    "Amounts",
    "Budget",
    "BudgetKind",
    "BudgetScope",
    "BudgetStatus",
    "PrivacyLedger",
    "ScopeKind",
    "Spend",
]

_FORMAT = "petsuite.dp.ledger"
_SCHEMA_VERSION = "1"
_GENESIS = hashlib.sha256(b"petsuite/dp-ledger/genesis/v1").hexdigest()
_BUDGET_DOMAIN = b"petsuite/dp-ledger/budget/v1"
_SPEND_DOMAIN = b"petsuite/dp-ledger/spend/v1"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_MAX_LABEL = 256
_MAX_TEXT = 4096
#: A spend's description and parameters together, so that its audit entry fits the audit log's
#: limit with room for the other fields (dataset, analyst, budget ids, hashes, a refusal reason).
_MAX_DESCRIBED = MAX_PARAMETERS_BYTES - 4096
_MAX_REASON = 2048
_EVERYONE_NAME = "*"
_SUM_DIGITS = 4000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_budgets (
    id INTEGER PRIMARY KEY,
    chain_seq INTEGER NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    scope_kind TEXT NOT NULL,
    scope_name TEXT NOT NULL,
    members TEXT NOT NULL,
    kind TEXT NOT NULL,
    epsilon TEXT,
    delta TEXT,
    rho TEXT,
    note TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL,
    UNIQUE (scope_kind, scope_name)
);
CREATE TABLE IF NOT EXISTS ledger_spends (
    id INTEGER PRIMARY KEY,
    chain_seq INTEGER NOT NULL UNIQUE,
    timestamp TEXT NOT NULL,
    actor TEXT NOT NULL,
    dataset TEXT NOT NULL,
    analyst TEXT NOT NULL,
    epsilon TEXT,
    delta TEXT NOT NULL,
    rho TEXT,
    description TEXT NOT NULL,
    parameters TEXT NOT NULL,
    budgets TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_spend_budgets (
    budget_id INTEGER NOT NULL REFERENCES ledger_budgets (id),
    spend_id INTEGER NOT NULL REFERENCES ledger_spends (id),
    PRIMARY KEY (budget_id, spend_id)
);
"""

_BUDGET_COLUMNS = (
    "id, chain_seq, created_at, actor, scope_kind, scope_name, members, kind, epsilon, delta, rho, "
    "note, prev_hash, row_hash"
)
_SPEND_COLUMNS = (
    "id, chain_seq, timestamp, actor, dataset, analyst, epsilon, delta, rho, description, "
    "parameters, budgets, prev_hash, row_hash"
)


# ---------------------------------------------------------------------------------------------------
# Exact amounts


def _exact(value: object, name: str) -> Fraction:
    """The exact decimal value of a finite, non-negative number (a float as its ``repr``)."""
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be a number, not a boolean")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{name} must be finite")
        exact = Fraction(Decimal(repr(value)))
    elif isinstance(value, int):
        exact = Fraction(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidInput(f"{name} must be finite")
        exact = Fraction(value)
    else:
        raise InvalidInput(f"{name} must be a float, int or Decimal")
    if exact < 0:
        raise InvalidInput(f"{name} must be non-negative")
    return exact


def _decimal(value: Fraction) -> Decimal:
    """``value`` as an exact :class:`Decimal`; it must be a terminating decimal."""
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1:
        raise InvalidInput("amount is not a terminating decimal")
    places = max(twos, fives)
    scaled = value.numerator * 10**places // value.denominator
    while places > 0 and scaled % 10 == 0:
        scaled //= 10
        places -= 1
    digits = tuple(int(c) for c in str(abs(scaled)))
    return Decimal((1 if scaled < 0 else 0, digits, -places))


def _text(value: Fraction) -> str:
    """Canonical decimal text of an exact amount (one text per value)."""
    return str(_decimal(value))


def _parse(text: object, where: str) -> Fraction:
    """Parse a stored amount; anything but canonical non-negative decimal text is corruption."""
    if not isinstance(text, str):
        raise IntegrityError(f"{where}: stored amount is not text")
    try:
        dec = Decimal(text)
    except InvalidOperation as exc:
        raise IntegrityError(f"{where}: stored amount {text!r} is not a number") from exc
    if not dec.is_finite() or dec < 0:
        raise IntegrityError(f"{where}: stored amount {text!r} is not a finite non-negative number")
    value = Fraction(dec)
    if _text(value) != text:
        raise IntegrityError(f"{where}: stored amount {text!r} is not in canonical form")
    return value


def _exact_sum(texts: Iterable[object], where: str) -> Fraction:
    """The exact sum of stored amounts.

    Summed as :class:`Decimal` under a context that traps any rounding (fast, and exact: stored
    amounts come from float reprs, so a sum needs a few hundred digits at most), falling back to
    :class:`Fraction` if a sum would ever need more.
    """
    values: list[Decimal] = []
    for text in texts:
        try:
            value = Decimal(text) if isinstance(text, str) else None
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or value < 0:
            raise IntegrityError(f"{where}: stored amount {text!r} is not a non-negative number")
        values.append(value)
    try:
        with localcontext() as ctx:
            ctx.prec = _SUM_DIGITS
            ctx.traps[Inexact] = True
            ctx.traps[Rounded] = True
            return Fraction(sum(values, Decimal(0)))
    except (Inexact, Rounded):
        return sum((Fraction(v) for v in values), Fraction(0))


def _optional_parse(text: object, where: str) -> Fraction | None:
    return None if text is None else _parse(text, where)


def _loss_text(value: float, name: str) -> str | None:
    """A loss component as stored: ``None`` for infinity (no guarantee in that currency)."""
    return None if math.isinf(value) else _text(_exact(value, name))


def _up(value: Fraction) -> float:
    """The smallest float at least ``value``: reported costs round up, never down."""
    f = float(value)
    return math.nextafter(f, math.inf) if Fraction(f) < value else f


# ---------------------------------------------------------------------------------------------------
# Public types


class ScopeKind(enum.StrEnum):
    """Who a budget covers."""

    DATASET = "dataset"
    ANALYST = "analyst"
    GROUP = "group"
    EVERYONE = "everyone"


class BudgetKind(enum.StrEnum):
    """The currency a budget is kept in.

    ``pure``: a limit on Σε; refuses any loss with δ > 0. ``approx``: limits on Σε and Σδ (basic
    composition). ``zcdp``: a limit on Σρ; refuses any loss without a finite ρ.
    """

    PURE = "pure"
    APPROX = "approx"
    ZCDP = "zcdp"


def _check_label(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_LABEL or "\x00" in value:
        raise InvalidInput(f"{what} must be a non-empty string of at most {_MAX_LABEL} characters")
    return value


@dataclass(frozen=True, slots=True)
class BudgetScope:
    """What a budget covers: a dataset, an analyst, a declared group of analysts, or everything.

    Build with :meth:`dataset`, :meth:`analyst`, :meth:`group` or :meth:`everyone`. A group's members
    are kept sorted and without duplicates.
    """

    kind: ScopeKind
    name: str
    members: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.kind, ScopeKind):
            raise InvalidInput("scope kind must be a ScopeKind")
        _check_label(self.name, "scope name")
        given: object = self.members
        if isinstance(given, str) or not isinstance(given, tuple | list):
            raise InvalidInput("group members must be a sequence of names, not one string")
        members = tuple(sorted({_check_label(m, "group member") for m in given}))
        if self.kind is ScopeKind.GROUP:
            if not members:
                raise InvalidInput("a group budget needs at least one member")
        elif members:
            raise InvalidInput("only a group scope has members")
        if self.kind is ScopeKind.EVERYONE and self.name != _EVERYONE_NAME:
            raise InvalidInput(f"the everyone scope is named {_EVERYONE_NAME!r}")
        object.__setattr__(self, "members", members)

    @classmethod
    def dataset(cls, name: str) -> BudgetScope:
        """The budget of one dataset, shared by every analyst who queries it."""
        return cls(ScopeKind.DATASET, name)

    @classmethod
    def analyst(cls, name: str) -> BudgetScope:
        """The budget of one analyst, over every dataset."""
        return cls(ScopeKind.ANALYST, name)

    @classmethod
    def group(cls, name: str, members: Sequence[str]) -> BudgetScope:
        """One budget shared by analysts who may pool their results (the collusion case)."""
        if isinstance(members, str):
            raise InvalidInput("group members must be a sequence of names, not one string")
        return cls(ScopeKind.GROUP, name, tuple(members))

    @classmethod
    def everyone(cls) -> BudgetScope:
        """One budget over every dataset and analyst."""
        return cls(ScopeKind.EVERYONE, _EVERYONE_NAME)

    @property
    def label(self) -> str:
        """A short human-readable name, for example ``dataset 'patients'``."""
        if self.kind is ScopeKind.EVERYONE:
            return "the global budget"
        return f"{self.kind.value} {self.name!r}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "name": self.name}
        if self.kind is ScopeKind.GROUP:
            out["members"] = list(self.members)
        return out


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class Amounts:
    """Exact ε, δ and ρ amounts; ``None`` where the budget's currency does not track a component."""

    epsilon: Decimal | None = None
    delta: Decimal | None = None
    rho: Decimal | None = None

    def to_dict(self) -> dict[str, float | None]:
        """JSON-friendly form (floats; the exact values are the :class:`Decimal` fields)."""
        return {
            "epsilon": _number(self.epsilon),
            "delta": _number(self.delta),
            "rho": _number(self.rho),
        }


@dataclass(frozen=True, slots=True)
class Budget:
    """A privacy budget as stored: its scope, currency, limit and place in the hash chain."""

    id: int
    scope: BudgetScope
    kind: BudgetKind
    limit: Amounts
    note: str
    created_at: str
    actor: str
    entry_hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scope": self.scope.to_dict(),
            "kind": self.kind.value,
            "limit": self.limit.to_dict(),
            "note": self.note,
            "created_at": self.created_at,
            "actor": self.actor,
            "entry_hash": self.entry_hash,
        }


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """A budget's limit, what has been spent, what remains, and how many spends counted against it.

    For a zCDP budget asked ``at_delta``, ``implied_epsilon_spent`` and ``implied_epsilon_limit`` give
    the ε at which the spent ρ and the whole limit imply (ε, δ)-DP at that δ, by the tight conversion
    of :func:`~petsuite.dp.accounting.zcdp_to_approx_epsilon`.
    """

    budget: Budget
    spend_count: int
    spent: Amounts
    remaining: Amounts
    at_delta: float | None = None
    implied_epsilon_spent: float | None = None
    implied_epsilon_limit: float | None = None

    @property
    def limit(self) -> Amounts:
        return self.budget.limit

    @property
    def exhausted(self) -> bool:
        """Whether nothing remains of ε (pure, approx) or ρ (zcdp): every non-free charge is refused.

        An approx budget whose δ is spent but not its ε still takes pure (δ = 0) charges.
        """
        left = self.remaining.rho if self.budget.kind is BudgetKind.ZCDP else self.remaining.epsilon
        return left is not None and left <= 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "budget": self.budget.to_dict(),
            "spend_count": self.spend_count,
            "limit": self.limit.to_dict(),
            "spent": self.spent.to_dict(),
            "remaining": self.remaining.to_dict(),
        }
        if self.at_delta is not None:
            out["at_delta"] = self.at_delta
            out["implied_epsilon_spent"] = self.implied_epsilon_spent
            out["implied_epsilon_limit"] = self.implied_epsilon_limit
        return out


@dataclass(frozen=True, slots=True)
class Spend:
    """One recorded charge. ``cost`` holds its exact amounts (``None`` for an infinite component)."""

    id: int
    timestamp: str
    actor: str
    dataset: str
    analyst: str
    cost: Amounts
    description: str
    parameters: Mapping[str, Any]
    budget_ids: tuple[int, ...]
    entry_hash: str

    @property
    def loss(self) -> PrivacyLoss:
        """The charged loss as a :class:`PrivacyLoss` (floats)."""
        eps, delta, rho = self.cost.epsilon, self.cost.delta, self.cost.rho
        return PrivacyLoss(
            epsilon=math.inf if eps is None else float(eps),
            delta=0.0 if delta is None else float(delta),
            rho=math.inf if rho is None else float(rho),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "timestamp": self.timestamp,
            "actor": self.actor,
            "dataset": self.dataset,
            "analyst": self.analyst,
            "cost": self.cost.to_dict(),
            "description": self.description,
            "parameters": dict(self.parameters),
            "budget_ids": list(self.budget_ids),
            "entry_hash": self.entry_hash,
        }


# ---------------------------------------------------------------------------------------------------
# Rows and the hash chain


def _row_hash(domain: bytes, prev_hash: str, fields: Mapping[str, Any]) -> str:
    body = encode_parts([domain, prev_hash.encode("ascii"), canonical_json(dict(fields))])
    return hashlib.sha256(body).hexdigest()


def _budget_fields(row: Sequence[Any]) -> dict[str, Any]:
    keys = _BUDGET_COLUMNS.split(", ")[:-2]
    return dict(zip(keys, row[: len(keys)], strict=True))


def _spend_fields(row: Sequence[Any]) -> dict[str, Any]:
    keys = _SPEND_COLUMNS.split(", ")[:-2]
    return dict(zip(keys, row[: len(keys)], strict=True))


def _budget_from_row(row: Sequence[Any]) -> Budget:
    where = f"budget {row[0]}"
    try:
        members = json.loads(row[6])
        scope = BudgetScope(ScopeKind(row[4]), row[5], tuple(members))
        kind = BudgetKind(row[7])
    except (TypeError, ValueError) as exc:
        raise IntegrityError(f"{where}: stored scope or kind is not valid") from exc
    limit = Amounts(
        epsilon=None if row[8] is None else _decimal(_parse(row[8], where)),
        delta=None if row[9] is None else _decimal(_parse(row[9], where)),
        rho=None if row[10] is None else _decimal(_parse(row[10], where)),
    )
    return Budget(
        id=int(row[0]),
        scope=scope,
        kind=kind,
        limit=limit,
        note=str(row[11]),
        created_at=str(row[2]),
        actor=str(row[3]),
        entry_hash=str(row[13]),
    )


def _spend_from_row(row: Sequence[Any]) -> Spend:
    where = f"spend {row[0]}"
    try:
        parameters = json.loads(row[10])
        budget_ids = tuple(int(b) for b in json.loads(row[11]))
    except (TypeError, ValueError) as exc:
        raise IntegrityError(f"{where}: stored parameters or budget list is not valid") from exc
    eps = _optional_parse(row[6], where)
    rho = _optional_parse(row[8], where)
    cost = Amounts(
        epsilon=None if eps is None else _decimal(eps),
        delta=_decimal(_parse(row[7], where)),
        rho=None if rho is None else _decimal(rho),
    )
    return Spend(
        id=int(row[0]),
        timestamp=str(row[2]),
        actor=str(row[3]),
        dataset=str(row[4]),
        analyst=str(row[5]),
        cost=cost,
        description=str(row[9]),
        parameters=parameters,
        budget_ids=budget_ids,
        entry_hash=str(row[13]),
    )


@dataclass(slots=True)
class _Totals:
    epsilon: Fraction
    delta: Fraction
    rho: Fraction
    count: int


def _validate_limits(
    kind: BudgetKind, epsilon: object, delta: object, rho: object
) -> tuple[str | None, str | None, str | None]:
    """Check a new budget's limits for its currency; return them as stored text."""
    if kind in (BudgetKind.PURE, BudgetKind.APPROX):
        if epsilon is None:
            raise InvalidInput(f"a {kind.value} budget needs an epsilon limit")
        eps = _exact(epsilon, "epsilon")
        if eps <= 0:
            raise InvalidInput("the epsilon limit must be positive")
        if rho is not None:
            raise InvalidInput(f"a {kind.value} budget has no rho limit: use kind 'zcdp'")
        dlt = _exact(delta, "delta")
        if dlt >= 1:
            raise InvalidInput("the delta limit must be below 1")
        if kind is BudgetKind.PURE and dlt != 0:
            raise InvalidInput("a pure budget has delta 0: use kind 'approx' for a delta limit")
        return _text(eps), _text(dlt), None
    if rho is None:
        raise InvalidInput("a zcdp budget needs a rho limit")
    rh = _exact(rho, "rho")
    if rh <= 0:
        raise InvalidInput("the rho limit must be positive")
    if epsilon is not None or _exact(delta, "delta") != 0:
        raise InvalidInput(
            "a zcdp budget limits rho only; ask status(scope, at_delta=...) for the implied epsilon"
        )
    return None, None, _text(rh)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _fmt(value: Fraction) -> str:
    """Amounts in messages: 10 significant digits (the ledger itself keeps them exactly)."""
    return f"{float(value):.10g}"


class PrivacyLedger:
    """A persistent, hash-chained privacy ledger in a SQLite file (WAL mode).

    Parameters
    ----------
    path:
        The ledger file. Created if it does not exist; an existing file must be a valid ledger, or
        :class:`~petsuite.core.errors.IntegrityError` is raised and the file is left untouched.
        Create a ledger once (and its budgets) before several processes share it: a process that
        finds a half-created file refuses it rather than initialise it.
    audit:
        Optional audit log (a different file): every budget creation, charge and refused charge is
        recorded there, with the privacy cost and the ledger row's hash, never the data.
    actor:
        Who this process acts as, in ledger rows and audit entries.
    clock:
        Returns the current time (UTC); injectable for tests.
    verify_on_open:
        Verify the whole chain and run ``PRAGMA integrity_check`` when opening (default).

    Notes
    -----
    Threat model: see the module docstring. In short, it refuses overspending, also under concurrent
    processes, and collusion inside declared groups, and detects edited, deleted or inserted rows; it
    cannot see collusion outside declared groups, nor a consistent rewrite of the whole file unless a
    head (:meth:`head`, or the audit log's) was recorded out of band.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        audit: AuditLog | None = None,
        actor: str = "ledger",
        clock: Callable[[], datetime] | None = None,
        verify_on_open: bool = True,
    ) -> None:
        self.path = Path(path)
        self._actor = _check_label(actor, "actor")
        self._clock = _utc_now if clock is None else clock
        self._audit = audit
        if audit is not None and _same_file(Path(audit.path), self.path):
            raise InvalidInput("the audit log must be a different file from the ledger")
        if self.path.exists():
            self._probe_existing()
            self._conn = open_database(self.path, create=False)
            try:
                self._check_meta()
                if verify_on_open:
                    self.verify()
            except BaseException:
                self._conn.close()
                raise
        else:
            self._conn = open_database(self.path)
            try:
                self._create_schema()
            except BaseException:
                self._conn.close()
                raise

    # -- opening -------------------------------------------------------------------------------------

    def _probe_existing(self) -> None:
        """Check, read-only, that an existing file is a petsuite ledger before opening it for writing."""
        try:
            with self.path.open("rb") as fh:
                magic = fh.read(len(_SQLITE_MAGIC))
        except OSError as exc:
            raise IntegrityError(f"{self.path}: cannot read the ledger: {exc}") from exc
        if magic != _SQLITE_MAGIC:
            raise IntegrityError(f"{self.path} is not a petsuite privacy ledger (not SQLite)")
        try:
            probe = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise IntegrityError(f"{self.path}: cannot open the ledger: {exc}") from exc
        try:
            _read_format(probe, self.path)
        finally:
            probe.close()

    def _check_meta(self) -> None:
        _read_format(self._conn, self.path)

    def _create_schema(self) -> None:
        try:
            with transaction(self._conn) as conn:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.executemany(
                    "INSERT OR IGNORE INTO ledger_meta (key, value) VALUES (?, ?)",
                    [
                        ("format", _FORMAT),
                        ("schema_version", _SCHEMA_VERSION),
                        ("chain_length", "0"),
                        ("chain_head", _GENESIS),
                    ],
                )
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"{self.path}: cannot create the ledger: {exc}") from exc
        _read_format(self._conn, self.path)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> PrivacyLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A consistent read-only view (one deferred read transaction)."""
        try:
            self._conn.execute("BEGIN")
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"{self.path}: cannot read the ledger: {exc}") from exc
        try:
            yield self._conn
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"{self.path}: cannot read the ledger: {exc}") from exc
        finally:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.DatabaseError:
                with contextlib.suppress(sqlite3.DatabaseError):
                    self._conn.execute("ROLLBACK")

    # -- budgets -------------------------------------------------------------------------------------

    def create_budget(
        self,
        scope: BudgetScope,
        kind: BudgetKind | str,
        *,
        epsilon: float | Decimal | None = None,
        delta: float | Decimal = 0.0,
        rho: float | Decimal | None = None,
        note: str = "",
    ) -> Budget:
        """Create the budget of ``scope`` in currency ``kind``; a scope has at most one budget.

        ``pure`` takes ``epsilon``; ``approx`` takes ``epsilon`` and ``delta``; ``zcdp`` takes
        ``rho``. Limits must be finite with ε > 0, 0 ≤ δ < 1, ρ > 0. Budgets cannot be changed or
        removed: the chain keeps every one.
        """
        if not isinstance(scope, BudgetScope):
            raise InvalidInput("scope must be a BudgetScope")
        try:
            kind = BudgetKind(kind)
        except ValueError as exc:
            raise InvalidInput(f"unknown budget kind {kind!r}") from exc
        eps_t, delta_t, rho_t = _validate_limits(kind, epsilon, delta, rho)
        if not isinstance(note, str) or len(note) > _MAX_TEXT:
            raise InvalidInput(f"note must be a string of at most {_MAX_TEXT} characters")
        created_at = self._timestamp()
        try:
            with transaction(self._conn) as conn:
                existing = conn.execute(
                    "SELECT id FROM ledger_budgets WHERE scope_kind = ? AND scope_name = ?",
                    (scope.kind.value, scope.name),
                ).fetchone()
                if existing is not None:
                    raise InvalidInput(f"{scope.label} already has a budget (id {existing[0]})")
                seq, prev = self._chain_tip(conn)
                budget_id = int(
                    conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM ledger_budgets").fetchone()[
                        0
                    ]
                )
                row: tuple[Any, ...] = (
                    budget_id,
                    seq,
                    created_at,
                    self._actor,
                    scope.kind.value,
                    scope.name,
                    canonical_json(list(scope.members)).decode("utf-8"),
                    kind.value,
                    eps_t,
                    delta_t,
                    rho_t,
                    note,
                    prev,
                )
                row_hash = _row_hash(_BUDGET_DOMAIN, prev, _budget_fields(row))
                row = (*row, row_hash)
                conn.execute(
                    f"INSERT INTO ledger_budgets ({_BUDGET_COLUMNS}) "  # noqa: S608
                    f"VALUES ({', '.join('?' * len(row))})",
                    row,
                )
                self._advance_chain(conn, seq, row_hash)
                budget = _budget_from_row(row)
                if self._audit is not None:
                    self._audit.append(
                        actor=self._actor,
                        operation="dp.budget.create",
                        parameters={
                            "ledger": str(self.path),
                            "budget_id": budget.id,
                            "scope": scope.to_dict(),
                            "kind": kind.value,
                            "limit": {"epsilon": eps_t, "delta": delta_t, "rho": rho_t},
                            "note": note,
                            "entry_hash": row_hash,
                        },
                    )
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"{self.path}: could not create the budget: {exc}") from exc
        return budget

    def budgets(self) -> list[Budget]:
        """Every budget, in creation order."""
        with self._snapshot() as conn:
            return self._all_budgets(conn)

    def _all_budgets(self, conn: sqlite3.Connection) -> list[Budget]:
        query = f"SELECT {_BUDGET_COLUMNS} FROM ledger_budgets ORDER BY id"  # noqa: S608
        return [_budget_from_row(row) for row in conn.execute(query)]

    def _find(self, conn: sqlite3.Connection, scope: BudgetScope) -> Budget:
        if not isinstance(scope, BudgetScope):
            raise InvalidInput("scope must be a BudgetScope")
        for budget in self._all_budgets(conn):
            if budget.scope.kind is scope.kind and budget.scope.name == scope.name:
                if budget.scope.members != scope.members:
                    raise InvalidInput(
                        f"{scope.label} was declared with members {list(budget.scope.members)}"
                    )
                return budget
        raise InvalidInput(f"{scope.label} has no budget")

    def _applicable(self, conn: sqlite3.Connection, dataset: str, analyst: str) -> list[Budget]:
        by_kind: dict[ScopeKind, list[Budget]] = {k: [] for k in ScopeKind}
        for budget in self._all_budgets(conn):
            scope = budget.scope
            if (
                (scope.kind is ScopeKind.DATASET and scope.name == dataset)
                or (scope.kind is ScopeKind.ANALYST and scope.name == analyst)
                or (scope.kind is ScopeKind.GROUP and analyst in scope.members)
                or scope.kind is ScopeKind.EVERYONE
            ):
                by_kind[scope.kind].append(budget)
        by_kind[ScopeKind.GROUP].sort(key=lambda b: b.scope.name)
        return [b for kind in ScopeKind for b in by_kind[kind]]

    def applicable(self, dataset: str, analyst: str) -> list[Budget]:
        """The budgets a charge by ``analyst`` on ``dataset`` counts against.

        In order: the dataset's, the analyst's, every group the analyst belongs to (by name), and the
        global one, each if it exists.
        """
        _check_label(dataset, "dataset")
        _check_label(analyst, "analyst")
        with self._snapshot() as conn:
            return self._applicable(conn, dataset, analyst)

    def _totals(self, conn: sqlite3.Connection, budget_id: int) -> _Totals:
        rows = conn.execute(
            "SELECT s.epsilon, s.delta, s.rho FROM ledger_spends AS s "
            "JOIN ledger_spend_budgets AS l ON l.spend_id = s.id WHERE l.budget_id = ?",
            (budget_id,),
        ).fetchall()
        where = f"a spend of budget {budget_id}"
        return _Totals(
            epsilon=_exact_sum((r[0] for r in rows if r[0] is not None), where),
            delta=_exact_sum((r[1] for r in rows), where),
            rho=_exact_sum((r[2] for r in rows if r[2] is not None), where),
            count=len(rows),
        )

    def status(self, scope: BudgetScope, *, at_delta: float | None = None) -> BudgetStatus:
        """The limit, spent and remaining amounts of ``scope``'s budget, and its number of spends.

        ``at_delta`` (zCDP budgets only) adds the ε that the spent ρ and the limit imply at that δ.
        """
        if at_delta is not None and (
            isinstance(at_delta, bool)
            or not isinstance(at_delta, int | float)
            or not 0 < at_delta < 1
        ):
            raise InvalidInput("at_delta must be a number strictly between 0 and 1")
        with self._snapshot() as conn:
            budget = self._find(conn, scope)
            totals = self._totals(conn, budget.id)
        return _status(budget, totals, at_delta)

    # -- charging ------------------------------------------------------------------------------------

    def charge(
        self,
        *,
        dataset: str,
        analyst: str,
        loss: PrivacyLoss,
        description: str,
        parameters: Mapping[str, Any] | None = None,
    ) -> Spend:
        """Record ``loss`` against every applicable budget, or refuse it and record nothing.

        One ``BEGIN IMMEDIATE`` transaction reads every applicable budget's total, checks that the
        loss fits all of them exactly, and only then inserts the spend. Draw noise only after this
        returns. With an audit log, the ``dp.charge`` entry (cost, spend id and hash) is appended
        inside that transaction: if the audit append fails, nothing is spent; if the ledger's commit
        fails after it, the audit log over-reports, which is the safe direction. Each charge reads
        the spends of its budgets, so its cost grows with their number (about 3 ms at 350 spends).

        Raises
        ------
        PrivacyBudgetExceeded
            The dataset has no budget, a budget's currency cannot account for this loss (δ > 0 on a
            pure budget, no finite ρ on a zCDP one), or the loss would exceed a budget. The message
            names the binding budget and what remains in it. Nothing is spent; with an audit log, a
            ``dp.charge.refused`` entry records the reason.
        """
        _check_label(dataset, "dataset")
        _check_label(analyst, "analyst")
        if not isinstance(loss, PrivacyLoss):
            raise InvalidInput("loss must be a PrivacyLoss")
        if not isinstance(description, str) or not description:
            raise InvalidInput("description must be a non-empty string")
        params_text = canonical_json(dict(parameters or {})).decode("utf-8")
        if len(description.encode("utf-8")) + len(params_text.encode("utf-8")) > _MAX_DESCRIBED:
            raise InvalidInput(
                f"description and parameters exceed {_MAX_DESCRIBED} bytes: "
                "describe the query, not the data"
            )
        eps_t = _loss_text(loss.epsilon, "epsilon")
        delta_t = _loss_text(loss.delta, "delta")
        rho_t = _loss_text(loss.rho, "rho")
        if delta_t is None:
            raise InvalidInput("delta must be finite")
        cost = {"epsilon": eps_t, "delta": delta_t, "rho": rho_t}
        timestamp = self._timestamp()
        refusal: str | None = None
        spend: Spend | None = None
        try:
            with transaction(self._conn) as conn:
                budgets = self._applicable(conn, dataset, analyst)
                refusal = self._refusal(
                    conn,
                    dataset=dataset,
                    budgets=budgets,
                    eps_t=eps_t,
                    delta_t=delta_t,
                    rho_t=rho_t,
                )
                if refusal is None:
                    spend = self._insert_spend(
                        conn,
                        timestamp=timestamp,
                        dataset=dataset,
                        analyst=analyst,
                        cost=(eps_t, delta_t, rho_t),
                        description=description,
                        params_text=params_text,
                        budget_ids=[b.id for b in budgets],
                    )
                    if self._audit is not None:
                        self._audit.append(
                            actor=self._actor,
                            operation="dp.charge",
                            parameters={
                                "ledger": str(self.path),
                                "spend_id": spend.id,
                                "entry_hash": spend.entry_hash,
                                "dataset": dataset,
                                "analyst": analyst,
                                "description": description,
                                "budget_ids": [b.id for b in budgets],
                                "query": json.loads(params_text),
                            },
                            privacy_cost=cost,
                        )
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"{self.path}: could not record the charge: {exc}") from exc
        if spend is not None:
            return spend
        reason = refusal or "refused"
        if self._audit is not None:
            self._audit.append(
                actor=self._actor,
                operation="dp.charge.refused",
                parameters={
                    "ledger": str(self.path),
                    "dataset": dataset,
                    "analyst": analyst,
                    "description": description,
                    "reason": reason[:_MAX_REASON],
                },
                privacy_cost=cost,
            )
        raise PrivacyBudgetExceeded(reason)

    def _refusal(
        self,
        conn: sqlite3.Connection,
        *,
        dataset: str,
        budgets: list[Budget],
        eps_t: str | None,
        delta_t: str,
        rho_t: str | None,
    ) -> str | None:
        """Why this loss cannot be charged, or ``None`` if it fits every budget."""
        if not any(b.scope.kind is ScopeKind.DATASET for b in budgets):
            return (
                f"dataset {dataset!r} has no privacy budget: the DPO must create one first, e.g. "
                f"create_budget(BudgetScope.dataset({dataset!r}), 'pure', epsilon=...)"
            )
        eps = None if eps_t is None else _parse(eps_t, "charge")
        delta = _parse(delta_t, "charge")
        rho = None if rho_t is None else _parse(rho_t, "charge")
        reasons: list[str] = []
        for budget in budgets:
            totals = self._totals(conn, budget.id)
            reason = _does_not_fit(budget, totals, eps, delta, rho)
            if reason is not None:
                reasons.append(reason)
        if not reasons:
            return None
        more = f" (also: {'; '.join(reasons[1:])})" if len(reasons) > 1 else ""
        return f"refused: {reasons[0]}{more}"

    def _insert_spend(
        self,
        conn: sqlite3.Connection,
        *,
        timestamp: str,
        dataset: str,
        analyst: str,
        cost: tuple[str | None, str, str | None],
        description: str,
        params_text: str,
        budget_ids: list[int],
    ) -> Spend:
        seq, prev = self._chain_tip(conn)
        spend_id = int(
            conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM ledger_spends").fetchone()[0]
        )
        row: tuple[Any, ...] = (
            spend_id,
            seq,
            timestamp,
            self._actor,
            dataset,
            analyst,
            *cost,
            description,
            params_text,
            canonical_json(budget_ids).decode("utf-8"),
            prev,
        )
        row_hash = _row_hash(_SPEND_DOMAIN, prev, _spend_fields(row))
        row = (*row, row_hash)
        conn.execute(
            f"INSERT INTO ledger_spends ({_SPEND_COLUMNS}) "  # noqa: S608
            f"VALUES ({', '.join('?' * len(row))})",
            row,
        )
        conn.executemany(
            "INSERT INTO ledger_spend_budgets (budget_id, spend_id) VALUES (?, ?)",
            [(b, spend_id) for b in budget_ids],
        )
        self._advance_chain(conn, seq, row_hash)
        return _spend_from_row(row)

    def spends(
        self,
        *,
        dataset: str | None = None,
        analyst: str | None = None,
        scope: BudgetScope | None = None,
    ) -> list[Spend]:
        """Recorded spends in order, optionally only those of a dataset, an analyst or a budget."""
        with self._snapshot() as conn:
            query = f"SELECT {_SPEND_COLUMNS} FROM ledger_spends ORDER BY id"  # noqa: S608
            rows = [_spend_from_row(row) for row in conn.execute(query)]
            budget_id = None if scope is None else self._find(conn, scope).id
        return [
            s
            for s in rows
            if (dataset is None or s.dataset == dataset)
            and (analyst is None or s.analyst == analyst)
            and (budget_id is None or budget_id in s.budget_ids)
        ]

    # -- the chain -----------------------------------------------------------------------------------

    def _timestamp(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="microseconds")

    def _chain_tip(self, conn: sqlite3.Connection) -> tuple[int, str]:
        """The next chain position and the previous row's hash, from the stored head."""
        meta = dict(conn.execute("SELECT key, value FROM ledger_meta").fetchall())
        try:
            length = int(meta["chain_length"])
            head = str(meta["chain_head"])
        except (KeyError, ValueError) as exc:
            raise IntegrityError(f"{self.path}: the ledger's chain head is missing") from exc
        return length + 1, head

    def _advance_chain(self, conn: sqlite3.Connection, seq: int, row_hash: str) -> None:
        conn.execute("UPDATE ledger_meta SET value = ? WHERE key = 'chain_length'", (str(seq),))
        conn.execute("UPDATE ledger_meta SET value = ? WHERE key = 'chain_head'", (row_hash,))

    def head(self) -> str:
        """The hash of the latest row (budget or spend): record it out of band to detect rewrites.

        An empty ledger's head is a fixed genesis value.
        """
        with self._snapshot() as conn:
            return self._chain_tip(conn)[1]

    def verify(self, *, expected_head: str | None = None) -> None:
        """Check the file and the whole chain; raise :class:`IntegrityError` naming the first bad row.

        Runs ``PRAGMA integrity_check``, recomputes every row's hash in chain order, checks that the
        stored head matches the last row (rows dropped from the end), that the spend-to-budget links
        match the hashed spend rows, and that no budget was ever overspent. ``expected_head`` is a
        head recorded earlier (:meth:`head`); it must still be in the chain.
        """
        with self._snapshot() as conn:
            try:
                check = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
            except sqlite3.DatabaseError as exc:
                raise IntegrityError(f"{self.path}: integrity check failed: {exc}") from exc
            if check != ["ok"]:
                raise IntegrityError(f"{self.path}: SQLite integrity check failed: {check[:3]}")
            budget_rows = conn.execute(
                f"SELECT {_BUDGET_COLUMNS} FROM ledger_budgets ORDER BY chain_seq"  # noqa: S608
            ).fetchall()
            spend_rows = conn.execute(
                f"SELECT {_SPEND_COLUMNS} FROM ledger_spends ORDER BY chain_seq"  # noqa: S608
            ).fetchall()
            links = set(
                conn.execute("SELECT spend_id, budget_id FROM ledger_spend_budgets").fetchall()
            )
            stored_length, stored_head = self._chain_tip(conn)
        self._verify_rows(
            budget_rows=budget_rows,
            spend_rows=spend_rows,
            links=links,
            stored_length=stored_length - 1,
            stored_head=stored_head,
            expected_head=expected_head,
        )

    def _verify_rows(
        self,
        *,
        budget_rows: list[tuple[Any, ...]],
        spend_rows: list[tuple[Any, ...]],
        links: set[tuple[Any, ...]],
        stored_length: int,
        stored_head: str,
        expected_head: str | None,
    ) -> None:
        chain: list[tuple[bool, tuple[Any, ...]]] = [(True, r) for r in budget_rows]
        chain += [(False, r) for r in spend_rows]
        chain.sort(key=lambda item: item[1][1] if isinstance(item[1][1], int) else -1)
        prev = _GENESIS
        seen_expected = expected_head is None
        budgets: dict[int, Budget] = {}
        totals: dict[int, _Totals] = {}
        linked: set[tuple[int, int]] = set()
        for position, (is_budget, row) in enumerate(chain, start=1):
            name = f"budget {row[0]}" if is_budget else f"spend {row[0]}"
            if not isinstance(row[1], int) or row[1] != position:
                why = (
                    "a row is missing before it"
                    if isinstance(row[1], int) and row[1] > position
                    else "out of order or renumbered"
                )
                raise IntegrityError(f"{self.path}: {name} (chain position {row[1]}): {why}")
            if row[12] != prev:
                raise IntegrityError(
                    f"{self.path}: {name}: chain broken (a row was deleted, inserted or reordered)"
                )
            fields = _budget_fields(row) if is_budget else _spend_fields(row)
            domain = _BUDGET_DOMAIN if is_budget else _SPEND_DOMAIN
            try:
                recomputed = _row_hash(domain, prev, fields)
            except InvalidInput as exc:
                raise IntegrityError(f"{self.path}: {name}: fields are not valid") from exc
            if recomputed != row[13]:
                raise IntegrityError(f"{self.path}: {name} was edited (hash mismatch)")
            if is_budget:
                budget = _budget_from_row(row)
                budgets[budget.id] = budget
                totals[budget.id] = _Totals(Fraction(0), Fraction(0), Fraction(0), 0)
            else:
                spend = _spend_from_row(row)
                self._replay(spend, name, budgets, totals)
                linked.update((spend.id, b) for b in spend.budget_ids)
            prev = str(row[13])
            if prev == expected_head:
                seen_expected = True
        if len(chain) != stored_length or prev != stored_head:
            raise IntegrityError(
                f"{self.path}: the stored head does not match the last row "
                f"({len(chain)} rows, head records {stored_length}): rows were removed or added"
            )
        if links != linked:
            bad = sorted(links ^ linked, key=repr)[0]
            raise IntegrityError(
                f"{self.path}: spend {bad[0]}: its budget links were altered (budget {bad[1]})"
            )
        if not seen_expected:
            raise IntegrityError(
                f"{self.path}: the expected head is not in the chain: rows removed"
            )

    def _replay(
        self, spend: Spend, name: str, budgets: dict[int, Budget], totals: dict[int, _Totals]
    ) -> None:
        """Re-apply one spend during verification: its budgets exist and were never overspent."""
        eps = None if spend.cost.epsilon is None else Fraction(spend.cost.epsilon)
        delta = Fraction(spend.cost.delta or 0)
        rho = None if spend.cost.rho is None else Fraction(spend.cost.rho)
        if len(set(spend.budget_ids)) != len(spend.budget_ids):
            raise IntegrityError(f"{self.path}: {name} lists a budget twice")
        for budget_id in spend.budget_ids:
            budget = budgets.get(budget_id)
            if budget is None:
                raise IntegrityError(
                    f"{self.path}: {name} counts against unknown budget {budget_id}"
                )
            reason = _does_not_fit(budget, totals[budget_id], eps, delta, rho)
            if reason is not None:
                raise IntegrityError(f"{self.path}: {name} overspends: {reason}")
            _add(totals[budget_id], eps, delta, rho)


def _add(totals: _Totals, eps: Fraction | None, delta: Fraction, rho: Fraction | None) -> None:
    totals.epsilon += 0 if eps is None else eps
    totals.delta += delta
    totals.rho += 0 if rho is None else rho
    totals.count += 1


def _does_not_fit(
    budget: Budget,
    totals: _Totals,
    eps: Fraction | None,
    delta: Fraction,
    rho: Fraction | None,
) -> str | None:
    """Why a loss does not fit ``budget`` given what it has spent, or ``None``. Exact arithmetic."""
    label = f"{budget.scope.label} ({budget.kind.value})"
    limit = budget.limit
    if budget.kind is BudgetKind.ZCDP:
        if rho is None:
            return f"{label} is kept in rho (zCDP) and this loss has no finite rho"
        rho_limit = Fraction(limit.rho or 0)
        if totals.rho + rho > rho_limit:
            return (
                f"{label} would be exceeded: rho limit {_fmt(rho_limit)}, spent "
                f"{_fmt(totals.rho)}, remaining {_fmt(rho_limit - totals.rho)}, "
                f"this charge {_fmt(rho)}"
            )
        return None
    if eps is None:
        return f"{label} is kept in epsilon and this loss has no finite epsilon"
    if budget.kind is BudgetKind.PURE and delta != 0:
        return f"{label} is pure epsilon-DP and refuses a loss with delta > 0 (delta {_fmt(delta)})"
    eps_limit = Fraction(limit.epsilon or 0)
    delta_limit = Fraction(limit.delta or 0)
    if totals.epsilon + eps > eps_limit:
        return (
            f"{label} would be exceeded: epsilon limit {_fmt(eps_limit)}, spent "
            f"{_fmt(totals.epsilon)}, remaining {_fmt(eps_limit - totals.epsilon)}, "
            f"this charge {_fmt(eps)}"
        )
    if totals.delta + delta > delta_limit:
        return (
            f"{label} would be exceeded: delta limit {_fmt(delta_limit)}, spent "
            f"{_fmt(totals.delta)}, remaining {_fmt(delta_limit - totals.delta)}, "
            f"this charge {_fmt(delta)}"
        )
    return None


def _status(budget: Budget, totals: _Totals, at_delta: float | None) -> BudgetStatus:
    limit = budget.limit
    if budget.kind is BudgetKind.ZCDP:
        rho_limit = Fraction(limit.rho or 0)
        spent = Amounts(rho=_decimal(totals.rho))
        remaining = Amounts(rho=_decimal(rho_limit - totals.rho))
        if at_delta is None:
            return BudgetStatus(budget, totals.count, spent, remaining)
        return BudgetStatus(
            budget,
            totals.count,
            spent,
            remaining,
            at_delta=float(at_delta),
            implied_epsilon_spent=zcdp_to_approx_epsilon(_up(totals.rho), float(at_delta)),
            implied_epsilon_limit=zcdp_to_approx_epsilon(_up(rho_limit), float(at_delta)),
        )
    if at_delta is not None:
        raise InvalidInput("at_delta applies to zcdp budgets only")
    eps_limit = Fraction(limit.epsilon or 0)
    delta_limit = Fraction(limit.delta or 0)
    spent = Amounts(epsilon=_decimal(totals.epsilon), delta=_decimal(totals.delta))
    remaining = Amounts(
        epsilon=_decimal(eps_limit - totals.epsilon), delta=_decimal(delta_limit - totals.delta)
    )
    return BudgetStatus(budget, totals.count, spent, remaining)


def _read_format(conn: sqlite3.Connection, path: Path) -> None:
    try:
        rows = dict(conn.execute("SELECT key, value FROM ledger_meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise IntegrityError(f"{path} is not a petsuite privacy ledger: {exc}") from exc
    if rows.get("format") != _FORMAT:
        raise IntegrityError(f"{path} is not a petsuite privacy ledger")
    if rows.get("schema_version") != _SCHEMA_VERSION:
        raise IntegrityError(
            f"{path}: ledger schema version {rows.get('schema_version')!r} is not supported"
        )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
