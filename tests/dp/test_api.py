"""Private queries end to end: accounting, refusals that spend nothing, accuracy, real data."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from petsuite.core.audit import AuditLog
from petsuite.core.errors import InvalidInput, PolicyViolation, PrivacyBudgetExceeded
from petsuite.core.rng import DeterministicRandom
from petsuite.dp.api import DpPolicy, private_query
from petsuite.dp.ledger import BudgetKind, BudgetScope, PrivacyLedger
from petsuite.dp.query import Bounds, Contribution

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
ADULT = SHARED / "adult" / "private-pgm" / "adult.csv"
PUMS_PID = SHARED / "pums" / "smartnoise" / "PUMS_pid.csv"


def _rng(seed: int = 1) -> DeterministicRandom:
    return DeterministicRandom(seed.to_bytes(32, "big"), insecure_for_testing=True)


@pytest.fixture
def people(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    rows = ["pid,region,age,income"]
    for p in range(2000):
        region = ["north", "south", "east"][p % 3]
        rows.append(f"{p},{region},{20 + p % 60},{(p * 37) % 90000}")
    rows += [f"7,north,40,{i}" for i in range(50)]  # one person with many rows
    rows.append("9999,rare-island,50,100")  # a region only one person has
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def ledger(tmp_path: Path) -> PrivacyLedger:
    book = PrivacyLedger(tmp_path / "ledger.db", audit=AuditLog(tmp_path / "audit.db"))
    book.create_budget(BudgetScope.dataset("people.csv"), BudgetKind.PURE, epsilon=1.0)
    return book


def test_charge_equals_requested_epsilon_and_is_audited(people: Path, ledger: PrivacyLedger,
                                                        tmp_path: Path) -> None:
    with AuditLog(tmp_path / "audit.db") as audit:
        release = private_query(
            people, "SELECT COUNT(*) AS n, AVG(age) FROM t", epsilon=0.5, unit="pid",
            bounds={"age": Bounds(0, 100)}, ledger=ledger, audit=audit, rng=_rng(),
        )  # fmt: skip
        ops = [e.operation for e in audit.entries()]
    assert release.privacy_loss.epsilon <= 0.5
    assert release.privacy_loss.epsilon == pytest.approx(0.5, rel=1e-9)
    status = ledger.status(BudgetScope.dataset("people.csv"))
    assert float(status.spent.epsilon or 0) == pytest.approx(0.5, rel=1e-9)
    assert ops == ["dp.budget.create", "dp.charge", "dp.release"]


def test_refused_query_spends_nothing_and_draws_nothing(people: Path,
                                                       ledger: PrivacyLedger) -> None:
    private_query(people, "SELECT COUNT(*) FROM t", epsilon=0.9, unit="pid", ledger=ledger)
    before = ledger.status(BudgetScope.dataset("people.csv"))

    class Exploding(DeterministicRandom):
        def random_bytes(self, n: int) -> bytes:
            if n != 16:  # the bounding salt is drawn before the charge; noise must not be
                raise AssertionError("noise drawn for a refused query")
            return super().random_bytes(n)

    with pytest.raises(PrivacyBudgetExceeded):
        private_query(
            people, "SELECT COUNT(*) FROM t", epsilon=0.2, unit="pid", ledger=ledger,
            rng=Exploding(b"\x05" * 32, insecure_for_testing=True),
        )  # fmt: skip
    after = ledger.status(BudgetScope.dataset("people.csv"))
    assert after.spent == before.spent and after.spend_count == before.spend_count


@pytest.mark.parametrize(
    ("sql", "kwargs"),
    [
        ("SELECT SUM(income) FROM t", {}),  # no bounds declared
        ("SELECT SUM(nope) FROM t", {"bounds": {"nope": Bounds(0, 1)}}),
        ("SELECT COUNT(*) FROM t", {"epsilon": 0.0}),
        ("SELECT COUNT(*) FROM t", {"epsilon": -1.0}),
        ("SELECT COUNT(*) FROM t", {"epsilon": math.inf}),
        ("SELECT COUNT(*) FROM t", {"delta": 1.0}),
        ("SELECT region, COUNT(*) FROM t GROUP BY region", {}),  # keys neither declared nor δ
        ("SELECT COUNT(*) FROM t", {"mechanism": "gaussian"}),  # needs δ
        ("SELECT SUM(region) FROM t", {"bounds": {"region": Bounds(0, 1)}}),  # not numeric
    ],
)
def test_bad_input_spends_nothing(people: Path, ledger: PrivacyLedger, sql: str,
                                  kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"epsilon": 0.1, "unit": "pid", "ledger": ledger}
    args.update(kwargs)
    with pytest.raises(InvalidInput):
        private_query(people, sql, **args)  # type: ignore[arg-type]
    assert ledger.status(BudgetScope.dataset("people.csv")).spend_count == 0


def test_policy_refuses_large_epsilon_and_warns(people: Path) -> None:
    with pytest.raises(PolicyViolation):
        private_query(people, "SELECT COUNT(*) FROM t", epsilon=6, unit="pid")
    release = private_query(people, "SELECT COUNT(*) FROM t", epsilon=3, unit="pid",
                            policy=DpPolicy(max_epsilon=10))
    assert release.warnings and "e^ε" in release.warnings[0]


def test_accuracy_at_large_epsilon_and_intervals(people: Path) -> None:
    release = private_query(
        people, "SELECT region, COUNT(*) AS n, SUM(income) AS s, AVG(age) AS a FROM t "
        "GROUP BY region", epsilon=4.0, unit="pid", bounds={"income": Bounds(0, 90000),
        "age": Bounds(0, 100)}, groups={"region": ["north", "south", "east"]},
        policy=DpPolicy(max_epsilon=5), rng=_rng(3),
    )  # fmt: skip
    rows = {r["region"]: r for r in release.records()}
    assert set(rows) == {"north", "south", "east"}  # the rare region is not declared: not shown
    # 667 people in north; person 7 counts once (max_rows=1)
    assert abs(rows["north"]["n"] - 667) <= rows["north"]["n"] - rows["north"]["n_ci_low"] + 5
    for r in rows.values():
        assert r["n_ci_low"] < r["n"] < r["n_ci_high"]
        assert 0 <= r["a"] <= 100
        assert r["a_ci_low"] <= r["a"] <= r["a_ci_high"]


def test_partition_selection_hides_a_rare_key(people: Path) -> None:
    release = private_query(
        people, "SELECT region, COUNT(*) FROM t GROUP BY region", epsilon=1.0, delta=1e-6,
        unit="pid", rng=_rng(4),
    )  # fmt: skip
    keys = {k for (k,), _ in release.rows}
    assert keys == {"north", "south", "east"}
    assert release.keys_released_by == "dp-partition-selection"
    assert release.privacy_loss.delta == pytest.approx(1e-6)


def test_gaussian_mechanism_under_zcdp_budget(people: Path, tmp_path: Path) -> None:
    with PrivacyLedger(tmp_path / "z.db") as book:
        book.create_budget(BudgetScope.dataset("people.csv"), BudgetKind.ZCDP, rho=0.5)
        release = private_query(
            people, "SELECT COUNT(*) FROM t", epsilon=1.0, delta=1e-6, unit="pid", ledger=book,
            mechanism="gaussian", rng=_rng(5),
        )  # fmt: skip
        assert release.privacy_loss.epsilon <= 1.0 + 1e-9
        assert 0 < release.privacy_loss.rho < 0.5
        spent = book.status(BudgetScope.dataset("people.csv")).spent.rho
        assert spent is not None and float(spent) == pytest.approx(release.privacy_loss.rho)


def test_median_on_clean_data(people: Path) -> None:
    release = private_query(
        people, "SELECT MEDIAN(age) AS m FROM t", epsilon=2.0, unit="pid",
        bounds={"age": Bounds(0, 100)}, rng=_rng(6),
    )  # fmt: skip
    assert abs(release.records()[0]["m"] - 49.5) < 5


@pytest.mark.skipif(not ADULT.exists(), reason="shared Adult data not present")
def test_on_adult() -> None:
    release = private_query(
        ADULT, 'SELECT sex, COUNT(*) AS n, AVG("hours-per-week") AS h FROM adult GROUP BY sex',
        epsilon=1.0, bounds={"hours-per-week": Bounds(0, 99)}, groups={"sex": ["0", "1"]},
        rng=_rng(7),
    )  # fmt: skip
    rows = {r["sex"]: r for r in release.records()}
    assert abs(rows[1]["n"] - 32650) < 100 and abs(rows[0]["n"] - 16192) < 100


@pytest.mark.skipif(not PUMS_PID.exists(), reason="shared PUMS data not present")
def test_on_pums_with_person_ids() -> None:
    release = private_query(
        PUMS_PID, "SELECT married, COUNT(*) AS n, AVG(income) AS inc FROM pums GROUP BY married",
        epsilon=1.0, unit="pid", bounds={"income": Bounds(0, 500000)},
        groups={"married": [0, 1]}, contribution=Contribution(max_groups=1, max_rows=1),
        rng=_rng(8),
    )  # fmt: skip
    assert sum(r["n"] for r in release.records()) == pytest.approx(1000, abs=60)
