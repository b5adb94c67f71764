"""Parties as separate processes over mutual TLS on loopback: results, failures, audit, DP."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest

from petsuite.core.audit import AuditLog
from petsuite.core.errors import (
    AbortReason,
    InvalidInput,
    PrivacyBudgetExceeded,
    ProtocolAbort,
)
from petsuite.dp.ledger import BudgetKind, BudgetScope, PrivacyLedger
from petsuite.mpc.config import CollaborationConfig, parse_config
from petsuite.mpc.runtime import LocalParty, Outcome, run_local
from petsuite.mpc.stats import StatisticResult
from tests.mpc.runtime_support import delegated_config, make_pki, peer_config

PEERS = ("org-a", "org-b", "org-c", "org-d")
SERVERS = ("srv-1", "srv-2", "srv-3")
CLIENTS = ("cli-a", "cli-b")


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"), [*PEERS, *SERVERS, *CLIENTS, "dealer"])


def write_csv(path: Path, header: str, rows: list[Any]) -> str:
    path.write_text(header + "\n" + "".join(f"{r}\n" for r in rows))
    return str(path)


def expenditure(tmp_path: Path, names: tuple[str, ...]) -> dict[str, str]:
    values = {
        "org-a": [8000, 9500, 11000, 11500],
        "org-b": [12000, 14000, 16000, 18000],
        "org-c": [17500, 19000, 21000, 22500],
        "org-d": [15000, 15000],
        "cli-a": [8000, 9500, 11000, 11500, 12000, 14000],
        "cli-b": [16000, 18000, 17500, 19000, 21000, 22500],
    }
    return {
        n: write_csv(tmp_path / f"{n}.csv", "expenditure", values[n]) + ":expenditure"
        for n in names
    }


def result_of(outcome: Outcome) -> StatisticResult:
    assert isinstance(outcome, StatisticResult), outcome
    return outcome


def test_peer_mean_three_processes_with_audit(tmp_path: Path, pki_dir: Path) -> None:
    names = PEERS[:3]
    cfg = parse_config(peer_config(names))
    inputs = expenditure(tmp_path, names)
    outcomes = run_local(
        cfg,
        pki_dir=pki_dir,
        parties={
            n: LocalParty(input_path=inputs[n], audit_log=tmp_path / f"{n}-audit.db") for n in names
        },
        timeout_s=60,
    )
    for n in names:
        result = result_of(outcomes[n])
        assert result.value == pytest.approx(15_000.0)
        assert result.count == 12
        assert result.per_party_rows == dict.fromkeys(names, 4)
    with AuditLog(tmp_path / "org-a-audit.db") as audit:
        assert audit.verify().ok
        (entry,) = [e for e in audit.entries() if e.operation == "mpc.run"]
    assert entry.parameters["config_hash"] == cfg.config_hash()
    assert entry.parameters["rows"] == 4 and entry.parameters["statistic"] == "mean"
    assert entry.result_digest is not None
    text = str(entry.parameters)
    assert "8000" not in text and "9500" not in text  # never input values


def test_delegated_two_servers_with_clients_and_dealer(tmp_path: Path, pki_dir: Path) -> None:
    cfg = parse_config(delegated_config(SERVERS[:2], CLIENTS, recipients=["cli-a", "srv-1"]))
    inputs = expenditure(tmp_path, CLIENTS)
    parties = {n: LocalParty() for n in [*SERVERS[:2], "dealer"]}
    parties.update({n: LocalParty(input_path=inputs[n]) for n in CLIENTS})
    outcomes = run_local(cfg, pki_dir=pki_dir, parties=parties, timeout_s=60)
    assert result_of(outcomes["cli-a"]).value == pytest.approx(15_000.0)
    assert result_of(outcomes["srv-1"]).value == pytest.approx(15_000.0)
    assert result_of(outcomes["cli-a"]).per_party_rows == {"cli-a": 6, "cli-b": 6}
    for n in ("srv-2", "dealer", "cli-b"):
        assert outcomes[n] is None, (n, outcomes[n])


def test_config_mismatch_aborts_every_side_without_output(tmp_path: Path, pki_dir: Path) -> None:
    names = PEERS[:3]
    text = peer_config(names)
    good = parse_config(text)
    bad = parse_config(text.replace("upper = 100000", "upper = 200000"))
    inputs = expenditure(tmp_path, names)
    # two runs side by side: org-b holds another config
    outcomes = _run_mixed({"org-a": good, "org-b": bad, "org-c": good}, pki_dir, inputs)
    for n in names:
        exc = outcomes[n]
        assert isinstance(exc, ProtocolAbort), (n, exc)
        assert exc.reason is AbortReason.CONFIG_MISMATCH
        assert exc.peer in (("org-a", "org-c") if n == "org-b" else ("org-b",))


def _run_mixed(
    configs: dict[str, CollaborationConfig], pki_dir: Path, inputs: dict[str, str]
) -> dict[str, Outcome]:
    """Each party with its own config, all as separate processes (run_local per config)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(configs)) as pool:
        futures = {
            n: pool.submit(
                run_local,
                cfg,
                pki_dir=pki_dir,
                parties={n: LocalParty(input_path=inputs[n])},
                timeout_s=40,
            )
            for n, cfg in configs.items()
        }
        return {n: f.result()[n] for n, f in futures.items()}


def test_absent_party_times_out_by_name(tmp_path: Path, pki_dir: Path) -> None:
    names = PEERS[:3]
    cfg = parse_config(peer_config(names, connect_s=2))
    inputs = expenditure(tmp_path, names)
    outcomes = run_local(
        cfg,
        pki_dir=pki_dir,
        parties={n: LocalParty(input_path=inputs[n]) for n in ("org-a", "org-c")},
        timeout_s=40,
    )
    for n in ("org-a", "org-c"):
        exc = outcomes[n]
        assert isinstance(exc, ProtocolAbort) and exc.reason is AbortReason.TIMEOUT, exc
        assert exc.peer == "org-b"


def test_out_of_bounds_input_refused_without_output(tmp_path: Path, pki_dir: Path) -> None:
    names = PEERS[:3]
    cfg = parse_config(peer_config(names, upper=20_000))
    inputs = expenditure(tmp_path, names)  # org-c has values above 20,000
    outcomes = run_local(
        cfg,
        pki_dir=pki_dir,
        parties={n: LocalParty(input_path=inputs[n]) for n in names},
        timeout_s=40,
    )
    for n in names:  # every party learns only which owner broke the bounds, and nothing else
        exc = outcomes[n]
        assert isinstance(exc, InvalidInput), (n, exc)
        assert "org-c" in str(exc)
        assert "21000" not in str(exc) and "22500" not in str(exc)


def _dp_ledger(path: Path, dataset: str, rho: float) -> Path:
    with PrivacyLedger(path, actor="dpo") as ledger:
        ledger.create_budget(BudgetScope.dataset(dataset), BudgetKind.ZCDP, rho=rho)
    return path


def test_dp_noise_is_charged_and_refused_over_budget(tmp_path: Path, pki_dir: Path) -> None:
    names = PEERS[:3]
    text = peer_config(names) + '\n[dp]\nrho = 0.5\ndataset = "spend"\n'
    cfg = parse_config(text)
    inputs = expenditure(tmp_path, names)
    ledgers = {n: _dp_ledger(tmp_path / f"{n}-ledger.db", "spend", 0.7) for n in names}
    parties = {n: LocalParty(input_path=inputs[n], ledger=ledgers[n]) for n in names}
    first = run_local(cfg, pki_dir=pki_dir, parties=parties, timeout_s=40)
    for n in names:
        result = result_of(first[n])
        assert result.noise is not None and result.noise.rho == 0.5
        assert math.isfinite(float(result.value))  # type: ignore[arg-type]
    # a second release would exceed every ledger's 0.7: refused, nothing spent, nothing sent
    second = run_local(cfg, pki_dir=pki_dir, parties=parties, timeout_s=40)
    for n in names:
        assert isinstance(second[n], PrivacyBudgetExceeded), second[n]
        with PrivacyLedger(ledgers[n]) as ledger:
            assert len(ledger.spends()) == 1


def _victim_main(
    config: CollaborationConfig, name: str, pki_dir: Path, source: str, inputs_before_exit: int
) -> None:
    """A party that crashes (os._exit) once every input has been shared."""
    from petsuite.mpc import runtime

    original = runtime.TLSPartyNetwork.exchange
    seen = 0

    async def exchange(self: Any, *args: Any, **kwargs: Any) -> dict[str, bytes]:
        nonlocal seen
        got = await original(self, *args, **kwargs)
        tag = args[2] if len(args) > 2 else kwargs["tag"]
        if "/input/" in tag:
            seen += 1
            if seen == inputs_before_exit:
                os._exit(17)
        return got

    runtime.TLSPartyNetwork.exchange = exchange  # type: ignore[method-assign]
    runtime.run_party(config, name, pki_dir=pki_dir, input_path=source)


def test_threshold_continuation_after_a_party_dies(tmp_path: Path, pki_dir: Path) -> None:
    import multiprocessing
    from concurrent.futures import ThreadPoolExecutor

    cfg = parse_config(peer_config(PEERS, threshold=1, statistic="sum"))
    inputs = expenditure(tmp_path, PEERS)
    ctx = multiprocessing.get_context("spawn")
    victim = ctx.Process(
        target=_victim_main,
        args=(cfg, "org-d", pki_dir, inputs["org-d"], len(PEERS)),
        daemon=True,
    )
    victim.start()
    try:
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(
                run_local,
                cfg,
                pki_dir=pki_dir,
                parties={n: LocalParty(input_path=inputs[n]) for n in PEERS[:3]},
                timeout_s=60,
            )
            outcomes = future.result()
    finally:
        victim.join(10)
        if victim.is_alive():
            victim.kill()
    total = 40_000 + 60_000 + 80_000 + 30_000
    for n in PEERS[:3]:
        result = result_of(outcomes[n])
        assert result.value == pytest.approx(total)
    assert victim.exitcode == 17  # it did die after the inputs


def test_run_local_peer_statistic_for_demos(tmp_path: Path) -> None:
    from petsuite.mpc.runtime import run_local_peer_statistic

    outcomes = run_local_peer_statistic(
        tmp_path / "demo", {"org-a": [10_000], "org-b": [15_000], "org-c": [20_000]}
    )
    assert {n: result_of(o).value for n, o in outcomes.items()} == dict.fromkeys(
        ["org-a", "org-b", "org-c"], 15_000.0
    )
    with AuditLog(tmp_path / "demo" / "org-b-audit.db") as audit:
        assert [e.operation for e in audit.entries()] == ["mpc.run"]
