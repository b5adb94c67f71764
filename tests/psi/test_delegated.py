"""Delegated PSI: two owners, a delegate, the recipient; thresholds enforced by the delegate."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from petsuite.core.audit import AuditLog
from petsuite.core.errors import (
    AbortReason,
    InvalidInput,
    PolicyViolation,
    PrivacyBudgetExceeded,
    ProtocolAbort,
)
from petsuite.net.transport import memory_pair
from petsuite.psi.api import delegate_psi, submit_to_delegate
from petsuite.psi.delegated import DelegateConfig, keyed_tags
from petsuite.psi.protocol import PsiMode
from tests.psi.helpers import dataset, ids, run

KEY = bytes(range(32))


async def _run(
    a_ids: list[str],
    b_ids: list[str],
    *,
    mode: PsiMode = PsiMode.CARDINALITY,
    b_values: list[float] | None = None,
    min_intersection: int = 5,
    key_b: bytes = KEY,
    audit: AuditLog | None = None,
) -> list[Any]:
    a_owner, a_delegate = memory_pair("hospital-a", "delegate")
    b_owner, b_delegate = memory_pair("hospital-b", "delegate")
    config = DelegateConfig(
        run="run-1",
        owners=("hospital-a", "hospital-b"),
        recipient="hospital-a",
        min_intersection=min_intersection,
    )
    return await asyncio.gather(
        submit_to_delegate(a_owner, dataset(a_ids), matching_key=KEY, run="run-1", mode=mode,
                           recipient=True),
        submit_to_delegate(b_owner, dataset(b_ids, b_values), matching_key=key_b, run="run-1",
                           mode=mode, value_bound=100.0),
        delegate_psi({"hospital-a": a_delegate, "hospital-b": b_delegate}, config, audit=audit),
        return_exceptions=True,
    )


def test_cardinality_goes_to_recipient_only(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "d.db") as audit:
        a, b, size = run(_run(ids(0, 100), ids(60, 200), audit=audit))
        (entry,) = audit.entries()
    assert a.size == 40 and a.total is None
    assert b is None
    assert size == 40
    assert entry.operation == "psi.delegate" and entry.parameters["intersection_size"] == 40


def test_sum_of_the_other_owners_values() -> None:
    values = [float(i % 10) for i in range(100)]  # b holds ids 50..149
    expected = sum(v for i, v in zip(range(50, 150), values, strict=True) if i < 80)
    a, b, size = run(
        _run(ids(0, 80), ids(50, 150), mode=PsiMode.SUM, b_values=values), timeout=120
    )
    assert a.size == 30 and size == 30
    assert a.total == pytest.approx(expected, abs=1e-3)
    assert b is None


def test_threshold_refuses_and_releases_nothing() -> None:
    a, b, d = run(_run(ids(0, 10), ids(8, 20), min_intersection=5))
    assert isinstance(d, PolicyViolation)
    assert isinstance(a, PolicyViolation) and isinstance(b, PolicyViolation)


def test_different_matching_keys_find_nothing() -> None:
    _, _, d = run(_run(ids(0, 50), ids(0, 50), key_b=bytes(32), min_intersection=1))
    assert isinstance(d, PolicyViolation)  # intersection 0 < 1


def test_delegate_sees_only_keyed_tags() -> None:
    tags = keyed_tags(KEY, list(dataset(ids(0, 3)).keys))
    assert all(len(t) == 32 for t in tags)
    assert all(b"person" not in t for t in tags)
    assert tags != keyed_tags(bytes(32), list(dataset(ids(0, 3)).keys))
    with pytest.raises(InvalidInput):
        keyed_tags(b"short", [])


def test_config_validation() -> None:
    with pytest.raises(InvalidInput):
        DelegateConfig(run="r", owners=("a", "a"), recipient="a")
    with pytest.raises(InvalidInput):
        DelegateConfig(run="r", owners=("a", "b"), recipient="c")


def test_owner_with_wrong_run_name_is_refused() -> None:
    async def main() -> Any:
        a_owner, a_delegate = memory_pair("hospital-a", "delegate")
        b_owner, b_delegate = memory_pair("hospital-b", "delegate")
        config = DelegateConfig(run="run-1", owners=("hospital-a", "hospital-b"),
                                recipient="hospital-a")
        return await asyncio.gather(
            submit_to_delegate(a_owner, dataset(ids(0, 20)), matching_key=KEY, run="other",
                               recipient=True),
            submit_to_delegate(b_owner, dataset(ids(0, 20)), matching_key=KEY, run="run-1"),
            delegate_psi({"hospital-a": a_delegate, "hospital-b": b_delegate}, config),
            return_exceptions=True,
        )

    a, b, d = run(main())
    assert isinstance(d, ProtocolAbort) and d.reason is AbortReason.CONFIG_MISMATCH
    assert isinstance(a, ProtocolAbort) and isinstance(b, ProtocolAbort)


def test_dp_noise_is_charged_before_release(tmp_path: Path) -> None:
    from petsuite.dp.accounting import PrivacyLoss
    from petsuite.dp.ledger import BudgetKind, BudgetScope, PrivacyLedger

    async def main(ledger: PrivacyLedger) -> list[Any]:
        a_owner, a_delegate = memory_pair("hospital-a", "delegate")
        b_owner, b_delegate = memory_pair("hospital-b", "delegate")
        config = DelegateConfig(run="run-dp", owners=("hospital-a", "hospital-b"),
                                recipient="hospital-a", min_intersection=5, dp_epsilon=1.0)
        return await asyncio.gather(
            submit_to_delegate(a_owner, dataset(ids(0, 300)), matching_key=KEY, run="run-dp",
                               mode=PsiMode.SUM, recipient=True),
            submit_to_delegate(b_owner, dataset(ids(100, 400), [1.0] * 300), matching_key=KEY,
                               run="run-dp", mode=PsiMode.SUM, value_bound=10.0),
            delegate_psi({"hospital-a": a_delegate, "hospital-b": b_delegate}, config,
                         ledger=ledger),
            return_exceptions=True,
        )

    with PrivacyLedger(tmp_path / "l.db") as ledger:
        ledger.create_budget(BudgetScope.dataset("run-dp"), BudgetKind.PURE, epsilon=1.5)
        a, b, size = run(main(ledger), timeout=120)
        assert b is None
        assert a.size == size and abs(size - 200) < 40  # noisy count, scale 2
        assert a.total is not None and abs(a.total - 200) < 400  # noisy sum, scale 20
        assert ledger.status(BudgetScope.dataset("run-dp")).spend_count == 1
        again = run(main(ledger), timeout=120)  # 1.0 more would exceed 1.5: refused, unspent
        assert isinstance(again[2], PrivacyBudgetExceeded)
        assert isinstance(again[0], PolicyViolation)
        assert ledger.status(BudgetScope.dataset("run-dp")).spend_count == 1
        assert PrivacyLoss(1.0).epsilon == 1.0
