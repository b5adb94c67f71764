"""The persistent privacy ledger: exact accounting, every scope at once, races, tamper evidence."""

from __future__ import annotations

import math
import multiprocessing
import queue
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from petsuite.core.audit import AuditLog
from petsuite.core.errors import IntegrityError, InvalidInput, PrivacyBudgetExceeded
from petsuite.dp.accounting import PrivacyLoss, zcdp_to_approx_epsilon
from petsuite.dp.ledger import (
    BudgetKind,
    BudgetScope,
    PrivacyLedger,
    ScopeKind,
)

_NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def _ledger(path: Path, **kwargs: Any) -> PrivacyLedger:
    return PrivacyLedger(path, clock=lambda: _NOW, **kwargs)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[PrivacyLedger]:
    with _ledger(tmp_path / "ledger.db", actor="dpo@example.org") as led:
        yield led


def _pure(eps: float) -> PrivacyLoss:
    return PrivacyLoss(epsilon=eps)


def _charge(
    led: PrivacyLedger, loss: PrivacyLoss, *, dataset: str = "patients", analyst: str = "alice"
) -> None:
    led.charge(
        dataset=dataset, analyst=analyst, loss=loss, description="count", parameters={"q": 1}
    )


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


# -- exact accounting --------------------------------------------------------------------------------


def test_pure_budget_is_exhausted_exactly(ledger: PrivacyLedger) -> None:
    scope = BudgetScope.dataset("patients")
    ledger.create_budget(scope, BudgetKind.PURE, epsilon=1.0)
    for eps in (0.25, 0.25, 0.5):
        _charge(ledger, _pure(eps))
    status = ledger.status(scope)
    assert status.spent.epsilon == Decimal(1)
    assert status.remaining.epsilon == Decimal(0)
    assert status.spend_count == 3
    assert status.exhausted
    with pytest.raises(PrivacyBudgetExceeded, match=r"dataset 'patients'.*remaining 0\b"):
        _charge(ledger, _pure(1e-9))
    assert ledger.status(scope) == status
    assert len(ledger.spends()) == 3


def test_ten_tenths_make_exactly_one(ledger: PrivacyLedger) -> None:
    # Float accounting drifts: sum([0.1] * 10) == 0.9999999999999999, which would admit 1e-16 more.
    assert sum([0.1] * 10) < 1.0
    scope = BudgetScope.dataset("patients")
    ledger.create_budget(scope, "pure", epsilon=1.0)
    for _ in range(10):
        _charge(ledger, _pure(0.1))
    assert ledger.status(scope).spent.epsilon == Decimal(1)
    with pytest.raises(PrivacyBudgetExceeded):
        _charge(ledger, _pure(1e-16))
    with pytest.raises(PrivacyBudgetExceeded):
        _charge(ledger, _pure(0.1))


def test_approx_budget_sums_epsilon_and_delta(ledger: PrivacyLedger) -> None:
    scope = BudgetScope.dataset("patients")
    ledger.create_budget(scope, BudgetKind.APPROX, epsilon=1.0, delta=1e-5)
    _charge(ledger, PrivacyLoss(0.3, 4e-6))
    _charge(ledger, PrivacyLoss(0.2, 6e-6))
    _charge(ledger, PrivacyLoss(0.1))  # pure losses fit an approx budget
    status = ledger.status(scope)
    assert status.spent.epsilon == Decimal("0.6")
    assert status.spent.delta == Decimal("0.00001")
    assert status.remaining.delta == 0
    assert not status.exhausted  # pure losses still fit
    with pytest.raises(PrivacyBudgetExceeded, match=r"delta limit 1e-05.*remaining 0"):
        _charge(ledger, PrivacyLoss(0.1, 1e-12))
    with pytest.raises(PrivacyBudgetExceeded, match=r"epsilon limit 1, spent 0\.6, remaining 0\.4"):
        _charge(ledger, PrivacyLoss(0.5))
    with pytest.raises(PrivacyBudgetExceeded, match="no finite epsilon"):
        _charge(ledger, PrivacyLoss(math.inf, 0.0, 0.01))
    assert ledger.status(scope) == status


def test_pure_budget_refuses_delta(ledger: PrivacyLedger) -> None:
    ledger.create_budget(BudgetScope.dataset("patients"), "pure", epsilon=10.0)
    with pytest.raises(PrivacyBudgetExceeded, match=r"pure.*delta > 0"):
        _charge(ledger, PrivacyLoss(0.1, 1e-9))
    assert ledger.spends() == []


def test_zcdp_budget_sums_rho_and_reports_epsilon(ledger: PrivacyLedger) -> None:
    scope = BudgetScope.dataset("patients")
    ledger.create_budget(scope, BudgetKind.ZCDP, rho=0.5)
    for _ in range(4):
        _charge(ledger, PrivacyLoss(epsilon=math.inf, rho=0.125))
    status = ledger.status(scope, at_delta=1e-6)
    assert status.spent.rho == Decimal("0.5")
    assert status.remaining.rho == 0
    assert status.spent.epsilon is None
    assert status.implied_epsilon_spent == zcdp_to_approx_epsilon(0.5, 1e-6)
    assert status.implied_epsilon_limit == status.implied_epsilon_spent
    assert status.implied_epsilon_spent < 0.5 + 2 * math.sqrt(0.5 * math.log(1e6))
    assert status.to_dict()["at_delta"] == 1e-6
    with pytest.raises(PrivacyBudgetExceeded, match=r"rho limit 0\.5"):
        _charge(ledger, PrivacyLoss(epsilon=math.inf, rho=1e-12))
    with pytest.raises(PrivacyBudgetExceeded, match="no finite rho"):
        _charge(ledger, PrivacyLoss(epsilon=0.0))  # rho = inf
    with pytest.raises(InvalidInput):
        ledger.status(scope, at_delta=0.0)


def test_budget_validation(ledger: PrivacyLedger) -> None:
    ds = BudgetScope.dataset("d")
    bad: list[dict[str, Any]] = [
        {"kind": "pure"},
        {"kind": "pure", "epsilon": 0.0},
        {"kind": "pure", "epsilon": -1.0},
        {"kind": "pure", "epsilon": math.inf},
        {"kind": "pure", "epsilon": math.nan},
        {"kind": "pure", "epsilon": True},
        {"kind": "pure", "epsilon": 1.0, "delta": 1e-6},
        {"kind": "approx", "epsilon": 1.0, "delta": 1.0},
        {"kind": "approx", "epsilon": 1.0, "delta": -1e-9},
        {"kind": "approx", "epsilon": 1.0, "rho": 0.1},
        {"kind": "zcdp"},
        {"kind": "zcdp", "rho": 0.0},
        {"kind": "zcdp", "rho": math.inf},
        {"kind": "zcdp", "rho": 0.1, "epsilon": 1.0},
        {"kind": "renyi", "epsilon": 1.0},
    ]
    for kwargs in bad:
        kind = kwargs.pop("kind")
        with pytest.raises(InvalidInput):
            ledger.create_budget(ds, kind, **kwargs)
    assert ledger.budgets() == []
    ledger.create_budget(ds, "approx", epsilon=Decimal("0.5"), delta=0.0)
    with pytest.raises(InvalidInput, match="already has a budget"):
        ledger.create_budget(ds, "pure", epsilon=1.0)
    assert len(ledger.budgets()) == 1
    with pytest.raises(InvalidInput):
        BudgetScope.group("team", "alice")
    with pytest.raises(InvalidInput):
        BudgetScope.group("team", [])
    with pytest.raises(InvalidInput):
        BudgetScope.dataset("")
    with pytest.raises(InvalidInput):
        BudgetScope(ScopeKind.ANALYST, "a", ("b",))


# -- scopes ------------------------------------------------------------------------------------------


def test_every_scope_is_enforced_together(ledger: PrivacyLedger) -> None:
    dataset = BudgetScope.dataset("patients")
    alice = BudgetScope.analyst("alice")
    team = BudgetScope.group("team", ["bob", "alice", "bob"])
    everyone = BudgetScope.everyone()
    ledger.create_budget(dataset, "pure", epsilon=1.0)
    ledger.create_budget(alice, "pure", epsilon=0.5)
    ledger.create_budget(team, "pure", epsilon=0.6, note="alice and bob share results")
    ledger.create_budget(everyone, "approx", epsilon=10.0, delta=1e-6)
    ledger.create_budget(BudgetScope.dataset("other"), "pure", epsilon=5.0)
    assert team.members == ("alice", "bob")
    scopes = [b.scope for b in ledger.applicable("patients", "alice")]
    assert scopes == [dataset, alice, team, everyone]
    assert [b.scope for b in ledger.applicable("patients", "carol")] == [dataset, everyone]

    _charge(ledger, _pure(0.4), analyst="alice")
    with pytest.raises(PrivacyBudgetExceeded, match=r"analyst 'alice' \(pure\).*remaining 0\.1\b"):
        _charge(ledger, _pure(0.2), analyst="alice")
    _charge(ledger, _pure(0.2), analyst="bob")  # the team has now spent 0.6
    before = ledger.status(team)
    with pytest.raises(PrivacyBudgetExceeded, match=r"refused: group 'team'.*remaining 0\b"):
        _charge(ledger, _pure(0.1), analyst="bob")
    assert ledger.status(team) == before
    _charge(ledger, _pure(0.3), analyst="carol")  # not in the team: only the dataset binds
    assert ledger.status(dataset).spent.epsilon == Decimal("0.9")
    with pytest.raises(PrivacyBudgetExceeded, match=r"dataset 'patients'.*remaining 0\.1\b"):
        _charge(ledger, _pure(0.2), analyst="carol")
    # alice's own budget also spans other datasets
    with pytest.raises(PrivacyBudgetExceeded, match="analyst 'alice'"):
        _charge(ledger, _pure(0.15), dataset="other", analyst="alice")

    assert ledger.status(alice).spent.epsilon == Decimal("0.4")
    assert ledger.status(everyone).spent.epsilon == Decimal("0.9")
    assert ledger.status(everyone).spend_count == 3
    assert [s.analyst for s in ledger.spends(scope=team)] == ["alice", "bob"]
    assert [s.analyst for s in ledger.spends(dataset="patients", analyst="carol")] == ["carol"]
    with pytest.raises(InvalidInput, match="declared with members"):
        ledger.status(BudgetScope.group("team", ["alice"]))
    with pytest.raises(InvalidInput, match="has no budget"):
        ledger.status(BudgetScope.analyst("bob"))


def test_dataset_without_budget_is_refused(ledger: PrivacyLedger) -> None:
    ledger.create_budget(BudgetScope.analyst("alice"), "pure", epsilon=1.0)
    with pytest.raises(PrivacyBudgetExceeded, match=r"no privacy budget.*create_budget"):
        _charge(ledger, _pure(0.1), dataset="unbudgeted")
    assert ledger.spends() == []
    assert ledger.status(BudgetScope.analyst("alice")).spend_count == 0


def test_spend_records_and_serialises(ledger: PrivacyLedger) -> None:
    ledger.create_budget(BudgetScope.dataset("patients"), "approx", epsilon=2.0, delta=1e-6)
    spend = ledger.charge(
        dataset="patients",
        analyst="alice",
        loss=PrivacyLoss(0.5, 1e-7),
        description="mean age",
        parameters={"column": "age", "bounds": [0, 120]},
    )
    assert spend.id == 1 and spend.cost.delta == Decimal("1E-7")
    assert spend.loss == PrivacyLoss(0.5, 1e-7)
    assert spend.timestamp.startswith("2026-03-04T05:06:07")
    assert spend.to_dict()["cost"] == {"epsilon": 0.5, "delta": 1e-7, "rho": None}
    assert spend.to_dict()["parameters"] == {"column": "age", "bounds": [0, 120]}
    assert ledger.spends() == [spend]
    status = ledger.status(BudgetScope.dataset("patients")).to_dict()
    assert status["remaining"] == {"epsilon": 1.5, "delta": 9e-7, "rho": None}
    assert ledger.budgets()[0].to_dict()["scope"] == {"kind": "dataset", "name": "patients"}


# -- persistence ------------------------------------------------------------------------------------


def test_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with _ledger(path) as led:
        led.create_budget(BudgetScope.dataset("patients"), "pure", epsilon=1.0)
        led.create_budget(BudgetScope.group("team", ["alice", "bob"]), "pure", epsilon=0.5)
        _charge(led, _pure(0.25))
        head = led.head()
        first = led.spends()
    with _ledger(path) as led:
        assert led.spends() == first
        led.verify(expected_head=head)
        assert led.status(BudgetScope.group("team", ["alice", "bob"])).spent.epsilon == Decimal(
            "0.25"
        )
        _charge(led, _pure(0.25), analyst="bob")
        with pytest.raises(PrivacyBudgetExceeded, match="group 'team'"):
            _charge(led, _pure(0.25), analyst="alice")
        assert led.head() != head
    with _ledger(path) as led:
        assert led.status(BudgetScope.dataset("patients")).spent.epsilon == Decimal("0.5")
        led.verify(expected_head=head)


# -- concurrency ------------------------------------------------------------------------------------

_WORKERS = 8
_ATTEMPTS = 4


def _race_worker(path: str, audit_path: str, start: Any, results: Any, worker: int) -> None:
    audit = AuditLog(audit_path)
    led = PrivacyLedger(path, audit=audit, actor=f"worker-{worker}")
    start.wait(30)
    won = refused = 0
    for attempt in range(_ATTEMPTS):
        try:
            led.charge(
                dataset="patients",
                analyst=f"analyst-{worker}",
                loss=PrivacyLoss(0.1),
                description=f"count {worker}/{attempt}",
            )
            won += 1
        except PrivacyBudgetExceeded:
            refused += 1
    led.close()
    audit.close()
    results.put((worker, won, refused))


@pytest.mark.timeout(60)
def test_concurrent_processes_never_overspend(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    audit_path = tmp_path / "audit.db"
    with _ledger(path) as led:
        led.create_budget(BudgetScope.dataset("patients"), "pure", epsilon=1.0)
    AuditLog(audit_path).close()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_race_worker, args=(str(path), str(audit_path), start, results, i))
        for i in range(_WORKERS)
    ]
    for proc in procs:
        proc.start()
    start.set()
    outcomes = []
    deadline = time.monotonic() + 45
    try:
        for _ in procs:
            outcomes.append(results.get(timeout=max(0.1, deadline - time.monotonic())))
    except queue.Empty:
        pytest.fail(f"only {len(outcomes)} of {_WORKERS} workers reported in time")
    finally:
        for proc in procs:
            proc.join(timeout=max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(5)
    assert all(proc.exitcode == 0 for proc in procs)
    assert sum(won for _, won, _ in outcomes) == 10
    assert sum(won + refused for _, won, refused in outcomes) == _WORKERS * _ATTEMPTS
    with _ledger(path) as led:
        spends = led.spends()
        assert len(spends) == 10
        assert sum(Decimal(repr(s.loss.epsilon)) for s in spends) == Decimal(1)
        assert led.status(BudgetScope.dataset("patients")).spent.epsilon == Decimal(1)
    with AuditLog(audit_path) as audit:
        assert audit.verify().ok
        ops = [e.operation for e in audit.entries()]
        assert ops.count("dp.charge") == 10
        assert ops.count("dp.charge.refused") == _WORKERS * _ATTEMPTS - 10


# -- tamper and corruption evidence ---------------------------------------------------------------


def _filled(path: Path) -> None:
    with _ledger(path) as led:
        led.create_budget(BudgetScope.dataset("patients"), "pure", epsilon=1.0)
        for eps in (0.1, 0.25, 0.2, 0.05):
            _charge(led, _pure(eps))


def _tamper(path: Path, *statements: str) -> bytes:
    raw = _raw(path)
    for statement in statements:
        raw.execute(statement)
    raw.close()
    return path.read_bytes()


def _assert_refused_unchanged(path: Path, before: bytes, match: str) -> None:
    with pytest.raises(IntegrityError, match=match):
        _ledger(path)
    assert path.read_bytes() == before


def test_edited_spend_is_detected_and_named(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    _filled(path)
    before = _tamper(path, "UPDATE ledger_spends SET epsilon = '0.025' WHERE id = 2")
    _assert_refused_unchanged(path, before, r"spend 2 was edited")


def test_edited_budget_limit_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    _filled(path)
    before = _tamper(path, "UPDATE ledger_budgets SET epsilon = '100' WHERE id = 1")
    _assert_refused_unchanged(path, before, r"budget 1 was edited")


def test_deleted_spend_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    _filled(path)
    before = _tamper(
        path,
        "DELETE FROM ledger_spend_budgets WHERE spend_id = 2",
        "DELETE FROM ledger_spends WHERE id = 2",
    )
    _assert_refused_unchanged(path, before, r"spend 3 .*missing")


def test_deleted_last_spend_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    _filled(path)
    before = _tamper(
        path,
        "DELETE FROM ledger_spend_budgets WHERE spend_id = 4",
        "DELETE FROM ledger_spends WHERE id = 4",
    )
    _assert_refused_unchanged(path, before, "rows were removed")


def test_deleted_link_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    _filled(path)
    before = _tamper(path, "DELETE FROM ledger_spend_budgets WHERE spend_id = 3")
    _assert_refused_unchanged(path, before, "spend 3: its budget links were altered")


def test_renumbered_rows_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    _filled(path)
    before = _tamper(path, "UPDATE ledger_spends SET chain_seq = chain_seq + 10 WHERE id = 1")
    _assert_refused_unchanged(path, before, "spend 2")


def test_verify_without_verifying_on_open(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    _filled(path)
    _tamper(path, "UPDATE ledger_spends SET description = 'other' WHERE id = 3")
    with (
        _ledger(path, verify_on_open=False) as led,
        pytest.raises(IntegrityError, match="spend 3 was edited"),
    ):
        led.verify()


def test_truncation_detected_against_recorded_head(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    _filled(path)
    with _ledger(path) as led:
        head = led.head()
    # A writer who also rewinds the stored head is caught only by a head recorded elsewhere.
    raw = _raw(path)
    prev = raw.execute("SELECT prev_hash FROM ledger_spends WHERE id = 4").fetchone()[0]
    raw.execute("DELETE FROM ledger_spend_budgets WHERE spend_id = 4")
    raw.execute("DELETE FROM ledger_spends WHERE id = 4")
    raw.execute("UPDATE ledger_meta SET value = ? WHERE key = 'chain_head'", (prev,))
    raw.execute("UPDATE ledger_meta SET value = '4' WHERE key = 'chain_length'")
    raw.close()
    with _ledger(path) as led:
        led.verify()
        with pytest.raises(IntegrityError, match="expected head"):
            led.verify(expected_head=head)


@pytest.mark.parametrize(
    "content",
    [b"garbage" * 1000, b"", b"SQLite format 3\x00" + b"\x00" * 200],
    ids=["garbage", "empty", "truncated"],
)
def test_not_a_ledger(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(content)
    _assert_refused_unchanged(path, content, "not a petsuite privacy ledger")


def test_other_sqlite_file_is_not_a_ledger(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    raw = _raw(path)  # a rollback-journal database: opening it in WAL mode would rewrite it
    raw.execute("CREATE TABLE t (x INTEGER)")
    raw.execute("INSERT INTO t VALUES (1)")
    raw.close()
    before = path.read_bytes()
    _assert_refused_unchanged(path, before, "not a petsuite privacy ledger")
    with AuditLog(tmp_path / "audit.db"):
        pass
    audit_bytes = (tmp_path / "audit.db").read_bytes()
    _assert_refused_unchanged(tmp_path / "audit.db", audit_bytes, "not a petsuite privacy ledger")


# -- audit ------------------------------------------------------------------------------------------


def test_audit_entries_for_create_charge_and_refusal(tmp_path: Path) -> None:
    with (
        AuditLog(tmp_path / "audit.db") as audit,
        _ledger(tmp_path / "ledger.db", audit=audit, actor="dp-service") as led,
    ):
        led.create_budget(BudgetScope.dataset("patients"), "approx", epsilon=1.0, delta=1e-6)
        spend = led.charge(
            dataset="patients",
            analyst="alice",
            loss=PrivacyLoss(0.5, 1e-7),
            description="histogram",
            parameters={"column": "ward"},
        )
        with pytest.raises(PrivacyBudgetExceeded):
            _charge(led, _pure(0.75))
        entries = audit.entries()
        assert [e.operation for e in entries] == [
            "dp.budget.create",
            "dp.charge",
            "dp.charge.refused",
        ]
        assert all(e.actor == "dp-service" for e in entries)
        created, charged, refused = entries
        assert created.parameters["scope"] == {"kind": "dataset", "name": "patients"}
        assert created.parameters["limit"] == {"epsilon": "1", "delta": "0.000001", "rho": None}
        assert charged.privacy_cost == {"epsilon": "0.5", "delta": "1E-7", "rho": None}
        assert charged.parameters["entry_hash"] == spend.entry_hash == led.head()
        assert charged.parameters["query"] == {"column": "ward"}
        assert "epsilon limit 1, spent 0.5, remaining 0.5" in refused.parameters["reason"]
        assert audit.verify().ok
        with pytest.raises(InvalidInput, match="different file"):
            PrivacyLedger(tmp_path / "audit.db", audit=audit)


def test_long_descriptions_fit_the_audit_log_and_data_does_not(tmp_path: Path) -> None:
    with (
        AuditLog(tmp_path / "audit.db") as audit,
        _ledger(tmp_path / "ledger.db", audit=audit) as led,
    ):
        led.create_budget(BudgetScope.dataset("patients"), "pure", epsilon=1.0)
        sql = "SELECT COUNT(*) FROM patients WHERE " + " OR ".join(["ward = 'x'"] * 400)
        led.charge(
            dataset="patients",
            analyst="alice",
            loss=_pure(0.1),
            description=sql,
            parameters={"query": sql},
        )
        with pytest.raises(InvalidInput, match="describe the query"):
            led.charge(
                dataset="patients",
                analyst="alice",
                loss=_pure(0.1),
                description="dump",
                parameters={"rows": "x" * 20_000},
            )
        assert len(led.spends()) == 1
        assert [e.operation for e in audit.entries()] == ["dp.budget.create", "dp.charge"]
