"""The end-to-end showcase behind ``petsuite demo``, on embedded defaults.

Two organisations run as separate processes and talk over mutual TLS on loopback. Organisation B runs a
blind pseudonymisation service (an RFC 9497 OPRF); organisation A turns its identifiers into keyed
pseudonyms without B ever seeing an identifier. Both write hash-chained audit logs, which are verified,
and a tampered copy is caught. Each later capability adds its own step here.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import shutil
import sqlite3
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from petsuite.core.audit import AuditLog
from petsuite.core.errors import (
    AbortReason,
    PetsError,
    PolicyViolation,
    PrivacyBudgetExceeded,
    ProtocolAbort,
)
from petsuite.core.schema import Schema
from petsuite.core.tables import Table
from petsuite.dp.api import private_query
from petsuite.dp.ledger import BudgetKind, BudgetScope, PrivacyLedger
from petsuite.dp.query import Bounds, Contribution
from petsuite.he.api import LinearModel, compute_server, outsource
from petsuite.he.keys import KeyStore
from petsuite.mpc.runtime import run_local_peer_statistic
from petsuite.mpc.stats import StatisticResult
from petsuite.net import pki
from petsuite.net.transport import Channel, Limits, connect, serve, serve_sessions
from petsuite.oprf.api import OprfKey, pseudonymise, serve_pseudonyms
from petsuite.oprf.protocol import REQUEST
from petsuite.psi import PsiDataset, PsiMode, PsiPolicy, PsiResult, RateLimit, RateLimiter
from petsuite.psi.api import query_psi, serve_psi
from petsuite.psi.matching import KeySpec
from petsuite.zkp.api import answer_presentation, check_presentation, request_presentation
from petsuite.zkp.credentials import (
    IssuerKey,
    IssuerPublicKey,
    TrustedIssuer,
    TrustStore,
    Wallet,
    issue_book,
)
from petsuite.zkp.presentation import present
from petsuite.zkp.verifier_store import NonceStore

__all__ = ["DemoReporter", "DemoResult", "run_demo"]

_HOST = "127.0.0.1"
_SERVER_START_TIMEOUT_S = 60.0
_LIMITS = Limits(recv_timeout_s=60.0)


class DemoReporter(Protocol):
    """How the demo talks to whoever runs it (the CLI renders this with rich)."""

    def step(self, title: str) -> None: ...

    def info(self, message: str) -> None: ...

    def progress(
        self, label: str, total: int
    ) -> AbstractContextManager[Callable[[int, int], None]]: ...


@dataclass
class DemoResult:
    """What the demo established; every field was checked, not assumed."""

    identifiers: int = 0
    shared_identifiers: int = 0
    matching_pseudonyms: int = 0
    repeated_blinded_elements: int = 0
    foreign_ca_rejected: bool = False
    audit_entries: dict[str, int] = field(default_factory=dict)
    audit_chains_ok: bool = False
    psi_size: int | None = None
    psi_expected_size: int = 0
    psi_sum: float | None = None
    psi_expected_sum: float = 0.0
    psi_probe_refused: bool = False
    dp_rows: int = 0
    dp_refused: bool = False
    dp_spent: float = 0.0
    he_mean_error: float = 1.0
    he_score_error: float = 1.0
    mpc_means: dict[str, float] = field(default_factory=dict)
    mpc_out_of_bounds_refused: bool = False
    zkp_accepted: str = ""
    zkp_minor_refused: bool = False
    zkp_replay_refused: bool = False
    tamper_detected_at: int | None = None


class _RecordingChannel:
    """Wraps org-b's channel to keep the blinded elements it received: what B could look at."""

    def __init__(self, inner: Channel) -> None:
        self._inner = inner
        self.peer = inner.peer
        self.elements: set[bytes] = set()

    async def send(self, message: Mapping[str, Any]) -> None:
        await self._inner.send(message)

    async def recv(self, schema: Any, *, timeout_s: float | None = None) -> dict[str, Any]:
        message = await self._inner.recv(schema, timeout_s=timeout_s)
        if message.get("type") == REQUEST.name:
            self.elements.update(message["elements"])
        return message

    async def abort(self, reason: AbortReason, detail: str) -> None:
        await self._inner.abort(reason, detail)

    async def close(self) -> None:
        await self._inner.close()

    async def __aenter__(self) -> _RecordingChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _identifiers(start: int, count: int) -> list[bytes]:
    """Synthetic identifiers (made-up patient numbers): no real person is in the demo."""
    return [f"demo-patient-{i:07d}".encode() for i in range(start, start + count)]


async def _serve_org_b(
    identity: pki.TLSIdentity,
    handler: Callable[[Channel], Awaitable[None]],
    sessions: int,
    ports: Any,
) -> None:
    """Organisation B's listener for one demo step: only org-a may connect; the port goes back to
    the parent through ``ports``."""
    await serve_sessions(
        _HOST, 0, handler, sessions=sessions, identity=identity, limits=_LIMITS,
        allowed_peers={"org-a"}, ready=ports.put, timeout_s=300,
    )  # fmt: skip


def _org_b_main(pki_dir: str, audit_path: str, sessions: int, ports: Any) -> None:
    """Organisation B's process: serve ``sessions`` pseudonymisation sessions, then exit.

    It reports back what it saw (counts only): the number of blinded elements per session and how
    many elements two sessions had in common, which is what B could use to link them.
    """

    async def main() -> None:
        identity = pki.load_identity(Path(pki_dir), "org-b")
        key = OprfKey.generate()
        seen: list[set[bytes]] = []
        with AuditLog(audit_path) as audit:

            async def handler(channel: Channel) -> None:
                recorder = _RecordingChannel(channel)
                try:
                    await serve_pseudonyms(recorder, key, audit=audit, actor="org-b")
                finally:
                    seen.append(recorder.elements)

            await _serve_org_b(identity, handler, sessions, ports)
        common = len(set.intersection(*seen)) if seen else 0
        ports.put({"elements_seen": sum(len(s) for s in seen), "common": common})

    asyncio.run(main())


def _psi_records(start: int, count: int) -> Table:
    """Synthetic patient records: an id column and a cost column (made-up numbers)."""
    ids = [f"P{i:07d}" for i in range(start, start + count)]
    costs = [str(100 + (i * 37) % 900) for i in range(start, start + count)]
    columns: dict[str, list[str | None]] = {"patient_id": list(ids), "cost": list(costs)}
    return Table(columns, count, f"synthetic records {start}+")


_PSI_SPEC = "patient_id:text"
_PSI_SERVER_ROWS = (5_000, 8_000)  # org-b holds patients 5,000 .. 12,999


def _org_b_psi_main(pki_dir: str, b_dir: str, sessions: int, ports: Any) -> None:
    """Organisation B's PSI server: cardinality and sum allowed, threshold 10, rate-limited."""

    async def main() -> None:
        identity = pki.load_identity(Path(pki_dir), "org-b")
        dataset = PsiDataset.from_table(
            _psi_records(*_PSI_SERVER_ROWS), KeySpec.parse(_PSI_SPEC), value_column="cost"
        )
        policy = PsiPolicy(
            min_intersection=10, value_bound=1000.0, rate_limit=RateLimit.parse("5/day")
        )
        with (
            AuditLog(Path(b_dir) / "audit.db") as audit,
            RateLimiter(Path(b_dir) / "psi-rate-limits.db") as limiter,
        ):

            async def handler(channel: Channel) -> None:
                # refusals are audited by serve_psi and reported to the client
                with contextlib.suppress(PetsError):
                    await serve_psi(
                        channel, dataset, policy, audit=audit, rate_limiter=limiter, actor="org-b"
                    )

            await _serve_org_b(identity, handler, sessions, ports)

    asyncio.run(main())


async def _psi_query(
    port: int, identity: pki.TLSIdentity, table: Table, mode: PsiMode, audit: AuditLog
) -> PsiResult:
    channel = await connect(_HOST, port, identity=identity, peer_name="org-b", limits=_LIMITS)
    async with channel:
        return await query_psi(
            channel,
            PsiDataset.from_table(table, KeySpec.parse(_PSI_SPEC)),
            mode=mode,
            audit=audit,
            actor="org-a",
        )


@contextlib.contextmanager
def _party_process(target: Callable[..., None], *args: object) -> Iterator[tuple[int, Any]]:
    """Run ``target(*args, ports)`` in its own process; yields the port it reports and the queue."""
    ctx = multiprocessing.get_context("spawn")
    ports: Any = ctx.Queue()
    proc = ctx.Process(
        target=target,
        args=(*args, ports),
        name="petsuite-demo-org-b",
        daemon=True,
    )
    proc.start()
    try:
        try:
            port = int(ports.get(timeout=_SERVER_START_TIMEOUT_S))
        except queue.Empty as exc:
            raise ProtocolAbort(
                AbortReason.TIMEOUT, "organisation B's process did not start in time"
            ) from exc
        yield port, ports
        proc.join(timeout=30)
    finally:
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)


async def _client_session(
    port: int, identity: pki.TLSIdentity, inputs: list[bytes], audit: AuditLog, tick: Any
) -> list[bytes]:
    channel = await connect(_HOST, port, identity=identity, peer_name="org-b", limits=_LIMITS)
    async with channel:
        pseudonyms, _ = await pseudonymise(
            channel, inputs, audit=audit, actor="org-a", chunk_size=4096, progress=tick
        )
    return pseudonyms


def run_demo(workdir: Path, reporter: DemoReporter, *, identifiers: int = 10_000) -> DemoResult:
    """Run the showcase in ``workdir`` (created; existing demo files are replaced)."""
    result = DemoResult()
    if workdir.exists():
        shutil.rmtree(workdir)
    pki_dir = workdir / "pki"
    a_dir, b_dir = workdir / "org-a", workdir / "org-b"
    a_dir.mkdir(parents=True)
    b_dir.mkdir(parents=True)

    reporter.step("1. A certificate authority for the collaboration (mutual TLS 1.3)")
    pki.init_ca(pki_dir)
    identity_a = pki.issue(pki_dir, "org-a")
    pki.issue(pki_dir, "org-b")
    reporter.info(f"CA fingerprint (compare out of band): {pki.ca_fingerprint(pki_dir)[:32]}…")
    reporter.info(f"issued party certificates for org-a and org-b in {pki_dir}")

    reporter.step("2. Blind pseudonymisation between two processes (RFC 9497 OPRF, ristretto255)")
    half = identifiers // 2
    first = _identifiers(0, identifiers)
    second = _identifiers(half, identifiers)  # shares `identifiers - half` with the first batch
    result.identifiers = identifiers
    result.shared_identifiers = identifiers - half
    with (
        AuditLog(a_dir / "audit.db") as audit_a,
        _party_process(_org_b_main, str(pki_dir), str(b_dir / "audit.db"), 2) as (
            port,
            org_b_reports,
        ),
    ):
        reporter.info(f"org-b serves on {_HOST}:{port} in its own process; only org-a may connect")
        outputs: list[list[bytes]] = []
        for n, batch in enumerate((first, second), start=1):
            with reporter.progress(f"session {n}: {len(batch):,} identifiers", len(batch)) as tick:
                outputs.append(asyncio.run(_client_session(port, identity_a, batch, audit_a, tick)))
        seen_by_b = org_b_reports.get(timeout=30)
    by_id_1 = dict(zip(first, outputs[0], strict=True))
    by_id_2 = dict(zip(second, outputs[1], strict=True))
    shared = set(first) & set(second)
    result.matching_pseudonyms = sum(by_id_1[x] == by_id_2[x] for x in shared)
    distinct = len(set(outputs[0]) | set(outputs[1]))
    reporter.info(
        f"org-a: {result.matching_pseudonyms:,} of {len(shared):,} shared identifiers got the same "
        f"64-byte pseudonym in both sessions; {distinct:,} distinct pseudonyms in all"
    )
    result.repeated_blinded_elements = int(seen_by_b["common"])
    reporter.info(
        f"org-b: saw {seen_by_b['elements_seen']:,} blinded elements and no identifier; the two "
        f"sessions had {result.repeated_blinded_elements} elements in common, so org-b cannot "
        "tell which identifiers were asked for twice"
    )

    reporter.step("3. Private set intersection with the guidance's safeguards")
    _run_psi_step(
        pki_dir, a_dir=a_dir, b_dir=b_dir, identity_a=identity_a, reporter=reporter, result=result
    )

    reporter.step("4. Differential privacy with a budget that persists")
    _run_dp_step(workdir, a_dir, reporter, result)

    reporter.step("5. Homomorphic encryption: a server computes on data it cannot read")
    _run_he_step(
        pki_dir, workdir=workdir, a_dir=a_dir, identity_a=identity_a, reporter=reporter,
        result=result,
    )  # fmt: skip

    reporter.step("6. Multi-party computation: an average without pooling the figures")
    _run_mpc_step(workdir, reporter, result)

    reporter.step("7. Zero-knowledge proof: over 18, without the date of birth")
    _run_zkp_step(pki_dir, b_dir=b_dir, a_dir=a_dir, identity_a=identity_a, reporter=reporter,
                  result=result)  # fmt: skip

    reporter.step("8. A party with a certificate from another CA is refused")
    rogue_dir = workdir / "rogue-pki"
    pki.init_ca(rogue_dir, name="someone else's CA")
    rogue = pki.issue(rogue_dir, "org-a")
    result.foreign_ca_rejected = asyncio.run(_rogue_attempt(pki_dir, rogue))
    reporter.info(
        "handshake refused: "
        + ("yes, typed ProtocolAbort(handshake-failed)" if result.foreign_ca_rejected else "NO")
    )

    reporter.step("9. Tamper-evident audit trail on both sides")
    chains_ok = []
    for name, path in (("org-a", a_dir / "audit.db"), ("org-b", b_dir / "audit.db")):
        with AuditLog(path) as log:
            report = log.verify()
            result.audit_entries[name] = report.entries
            chains_ok.append(report.ok and report.entries > 0)
            reporter.info(
                f"{name}: {report.entries} entries, chain {'intact' if report.ok else 'BROKEN'}, "
                f"head {str(report.head)[:16]}…"
            )
    result.audit_chains_ok = all(chains_ok)
    tampered = workdir / "org-b-audit-tampered.db"
    shutil.copy(b_dir / "audit.db", tampered)
    with contextlib.closing(sqlite3.connect(tampered)) as raw, raw:
        raw.execute(
            "UPDATE audit_entries SET parameters = replace(parameters, 'org-a', 'org-x') "
            "WHERE seq = 1"
        )
    with AuditLog(tampered) as log:
        report = log.verify()
    result.tamper_detected_at = report.first_bad_seq
    reporter.info(
        f"edited entry 1 of a copy of org-b's log: verify reports entry {report.first_bad_seq} "
        f"({report.reason})"
    )
    return result


def _run_psi_step(
    pki_dir: Path,
    *,
    a_dir: Path,
    b_dir: Path,
    identity_a: pki.TLSIdentity,
    reporter: DemoReporter,
    result: DemoResult,
) -> None:
    client_rows = (0, 6_000)  # org-a holds patients 0 .. 5,999: 1,000 in common with org-b
    lo = max(client_rows[0], _PSI_SERVER_ROWS[0])
    hi = min(sum(client_rows), sum(_PSI_SERVER_ROWS))
    result.psi_expected_size = hi - lo
    result.psi_expected_sum = float(sum(100 + (i * 37) % 900 for i in range(lo, hi)))
    with (
        AuditLog(a_dir / "audit.db") as audit_a,
        _party_process(_org_b_psi_main, str(pki_dir), str(b_dir), 3) as (port, _),
    ):
        reporter.info(
            f"org-b serves PSI on {_HOST}:{port}: modes cardinality and sum, minimum intersection "
            "10, at most 5 runs a day per counterparty, a fresh key every session"
        )
        records = _psi_records(*client_rows)
        card = asyncio.run(_psi_query(port, identity_a, records, PsiMode.CARDINALITY, audit_a))
        result.psi_size = card.size
        reporter.info(
            f"cardinality: org-a learns that {card.size:,} of its {card.client_set_size:,} "
            f"patients are also among org-b's {card.server_set_size:,} — and not which ones"
        )
        total = asyncio.run(_psi_query(port, identity_a, records, PsiMode.SUM, audit_a))
        result.psi_sum = total.total
        reporter.info(
            f"intersection-sum: their total cost at org-b is {total.total:,.2f} "
            "(Paillier-encrypted values, masked before org-b decrypts)"
        )
        probe = _psi_records(_PSI_SERVER_ROWS[0], 3)
        try:
            asyncio.run(_psi_query(port, identity_a, probe, PsiMode.CARDINALITY, audit_a))
        except PolicyViolation as exc:
            result.psi_probe_refused = True
            reporter.info(f"a probe with 3 records is refused: {exc}")


def _run_dp_step(workdir: Path, a_dir: Path, reporter: DemoReporter, result: DemoResult) -> None:
    data = workdir / "clinic_visits.csv"
    lines = ["patient_id,clinic,minutes"]
    for i in range(6_000):  # synthetic: 2,000 patients, 3 visits each to their own clinic
        patient = i % 2_000
        clinic = ("north", "south", "east")[patient % 3]
        lines.append(f"P{patient:05d},{clinic},{5 + (i * 7) % 55}")
    data.write_text("\n".join(lines) + "\n")
    sql = "SELECT clinic, COUNT(*) AS visits, AVG(minutes) AS mean_minutes FROM visits GROUP BY clinic"
    with (
        AuditLog(a_dir / "audit.db") as audit,
        PrivacyLedger(a_dir / "privacy-ledger.db", audit=audit, actor="dpo") as ledger,
    ):
        ledger.create_budget(BudgetScope.dataset("clinic_visits"), BudgetKind.PURE, epsilon=1.0)
        reporter.info(
            "the DPO sets a budget of ε = 1 for clinic_visits; it lives in a SQLite ledger"
        )
        release = private_query(
            data, sql, epsilon=0.6, unit="patient_id", bounds={"minutes": Bounds(0, 60)},
            contribution=Contribution(max_groups=1, max_rows=3),
            groups={"clinic": ["north", "south", "east"]}, ledger=ledger,
            dataset="clinic_visits", analyst="analyst-1", audit=audit,
        )  # fmt: skip
        for rec in release.records():
            reporter.info(
                f"{rec['clinic']:>6}: visits {rec['visits']:,.0f} "
                f"[{rec['visits_ci_low']:,.0f}, {rec['visits_ci_high']:,.0f}], mean minutes "
                f"{rec['mean_minutes']:.1f} [{rec['mean_minutes_ci_low']:.1f}, "
                f"{rec['mean_minutes_ci_high']:.1f}] (95%)"
            )
        result.dp_rows = len(release.rows)
        try:
            private_query(
                data, sql, epsilon=0.6, unit="patient_id", bounds={"minutes": Bounds(0, 60)},
                contribution=Contribution(max_groups=1, max_rows=3),
                groups={"clinic": ["north", "south", "east"]}, ledger=ledger,
                dataset="clinic_visits", analyst="analyst-2", audit=audit,
            )  # fmt: skip
        except PrivacyBudgetExceeded as exc:
            result.dp_refused = True
            reporter.info(f"a second query at ε = 0.6 is refused before any noise: {exc}")
        status = ledger.status(BudgetScope.dataset("clinic_visits"))
        result.dp_spent = float(status.spent.epsilon or 0)
        reporter.info(
            f"ledger: ε spent {result.dp_spent:.4f} of 1 in {status.spend_count} query; "
            "a restart keeps it"
        )


def _org_b_he_main(pki_dir: str, b_dir: str, jobs: int, ports: Any) -> None:
    """Organisation B's compute server: holds a linear model, never a secret key."""

    async def main() -> None:
        identity = pki.load_identity(Path(pki_dir), "org-b")
        model = LinearModel(weights=(0.03, 0.01), bias=-2.0, features=("age", "minutes"))
        with AuditLog(Path(b_dir) / "audit.db") as audit:

            async def handler(channel: Channel) -> None:
                await compute_server(channel, model=model, audit=audit, actor="org-b")

            await _serve_org_b(identity, handler, jobs, ports)

    asyncio.run(main())


def _run_he_step(
    pki_dir: Path,
    *,
    workdir: Path,
    a_dir: Path,
    identity_a: pki.TLSIdentity,
    reporter: DemoReporter,
    result: DemoResult,
) -> None:
    from petsuite.he.seal import CkksParameters, HeSecretKeyring  # noqa: PLC0415 - `fhe` extra

    ages = [float(20 + (i * 7) % 60) for i in range(2_000)]
    minutes = [float(5 + (i * 11) % 55) for i in range(2_000)]
    passphrase = "demo passphrase, never use it for real keys"  # noqa: S105 - demo only
    with (
        AuditLog(a_dir / "audit.db") as audit,
        KeyStore(a_dir / "keys", audit=audit, actor="org-a") as store,
    ):
        info = store.generate_paillier(2048, passphrase=passphrase, note="demo")
        paillier = store.load_paillier_private(info.key_id, passphrase)
        ring = HeSecretKeyring.generate(CkksParameters.choose(depth=1))
        store.store_secret("ckks", ring.secret_bytes(), ring.evaluation_context().to_bytes(),
                           passphrase, "demo")  # fmt: skip
        reporter.info(
            "org-a keeps its Paillier (2048-bit) and CKKS secret keys in a key store, encrypted "
            "under a passphrase (scrypt + ChaCha20-Poly1305); org-b gets public keys only"
        )

        async def job(columns: list[list[float]], operation: str, key: Any) -> Any:
            channel = await connect(
                _HOST,
                port,
                identity=identity_a,
                peer_name="org-b",
                limits=Limits(recv_timeout_s=120.0, max_frame_bytes=32 << 20),
            )
            async with channel:
                return await outsource(channel, columns, operation=operation,  # type: ignore[arg-type]
                                       key=key, audit=audit, actor="org-a")  # fmt: skip

        with _party_process(_org_b_he_main, str(pki_dir), str(workdir / "org-b"), 2) as (port, _):
            mean = asyncio.run(job([minutes], "mean", paillier))
            scores = asyncio.run(job([ages, minutes], "linear", ring))
    true_mean = sum(minutes) / len(minutes)
    true_scores = [0.03 * a + 0.01 * m - 2.0 for a, m in zip(ages, minutes, strict=True)]
    result.he_mean_error = abs((mean.value or 0.0) - true_mean)
    result.he_score_error = max(abs(x - y) for x, y in zip(scores.scores, true_scores, strict=True))
    reporter.info(
        f"Paillier: org-b summed 2,000 encrypted visit lengths; org-a decrypts the mean "
        f"{mean.value:.4f} (exact: {true_mean:.4f})"
    )
    reporter.info(
        f"CKKS: org-b scored 2,000 encrypted patients with its own linear model; largest error "
        f"after decryption {result.he_score_error:.1e}"
    )


def _run_mpc_step(workdir: Path, reporter: DemoReporter, result: DemoResult) -> None:
    """The guidance's SMPC example: three organisations average their expenditure."""
    spend = {"org-a": [10_000.0], "org-b": [15_000.0], "org-c": [20_000.0]}
    reporter.info(
        "org-a, org-b and org-c each hold one expenditure figure (£10,000, £15,000, £20,000); "
        "each runs in its own process and splits its figure into Shamir shares (t=1 of 3)"
    )
    outcomes = run_local_peer_statistic(workdir / "mpc", spend, statistic="mean",
                                        upper=1_000_000.0)  # fmt: skip
    for party, outcome in outcomes.items():
        if isinstance(outcome, StatisticResult) and isinstance(outcome.value, float):
            result.mpc_means[party] = outcome.value
    shown = ", ".join(f"{p} £{v:,.0f}" for p, v in result.mpc_means.items())
    reporter.info(f"every party learned the mean and nothing else: {shown}")
    typo = {**spend, "org-c": [2_000_000.0]}
    outcomes = run_local_peer_statistic(workdir / "mpc-typo", typo, statistic="mean",
                                        upper=1_000_000.0)  # fmt: skip
    errors = [o for o in outcomes.values() if isinstance(o, PetsError)]
    result.mpc_out_of_bounds_refused = len(errors) == len(outcomes)
    detail = str(errors[0]) if errors else "no refusal"
    reporter.info(
        "org-c types £2,000,000 (declared bounds £0–£1,000,000): the range is checked inside the "
        f"computation and every party stops with no output: {detail}"
    )


def _zkp_trust(registry: bytes, today: date) -> TrustStore:
    public = IssuerPublicKey(registry)
    start, end = today.replace(year=today.year - 1), today.replace(year=today.year + 1)
    return TrustStore([TrustedIssuer("registry", public, start, end)])


def _org_b_zkp_main(pki_dir: str, b_dir: str, registry: bytes, today: str, ports: Any) -> None:
    """Organisation B as a verifier (a shop): asks "18 or over today?" and checks the answer."""

    async def main() -> None:
        identity = pki.load_identity(Path(pki_dir), "org-b")
        day = date.fromisoformat(today)
        trust = _zkp_trust(registry, day)
        with (
            AuditLog(Path(b_dir) / "audit.db") as audit,
            NonceStore(Path(b_dir) / "nonces.db") as store,
        ):

            async def handler(channel: Channel) -> None:
                with contextlib.suppress(PetsError):
                    claim = await request_presentation(
                        channel, store=store, trust=trust, verifier="org-b", statement="age",
                        threshold=18, on=day, audit=audit, actor="org-b",
                    )  # fmt: skip
                    ports.put(claim.describe())
                    return
                ports.put("")

            await _serve_org_b(identity, handler, 2, ports)

    asyncio.run(main())


def _run_zkp_step(
    pki_dir: Path,
    *,
    b_dir: Path,
    a_dir: Path,
    identity_a: pki.TLSIdentity,
    reporter: DemoReporter,
    result: DemoResult,
) -> None:
    today = datetime.now(UTC).date()
    registry = IssuerKey.generate()
    adult_dob = today.replace(year=today.year - 30, day=1)
    minor_dob = today.replace(year=today.year - 16, day=1)
    expires = today + timedelta(days=30)
    adult = issue_book(registry, "age", adult_dob, issued=today, expires=expires, count=3)
    minor = issue_book(registry, "age", minor_dob, issued=today, expires=expires, count=1)
    reporter.info(
        "a registry checked two dates of birth and signed (Ed25519) books of Pedersen commitments "
        "to them: one credential per presentation, so presentations cannot be linked"
    )

    async def holder(port: int, wallet: Wallet, audit: AuditLog) -> str:
        channel = await connect(_HOST, port, identity=identity_a, peer_name="org-b", limits=_LIMITS)
        async with channel:
            return await answer_presentation(
                channel, statement="age", threshold=18, wallet=wallet, today=today, audit=audit,
                actor="org-a",
            )  # fmt: skip

    registry_key = registry.public_key.raw
    with (
        AuditLog(a_dir / "audit.db") as audit,
        Wallet(a_dir / "wallet-adult.db") as adult_wallet,
        Wallet(a_dir / "wallet-minor.db") as minor_wallet,
        _party_process(
            _org_b_zkp_main, str(pki_dir), str(b_dir), registry_key, today.isoformat()
        ) as (port, verdicts),
    ):
        adult_wallet.add_book(adult)
        minor_wallet.add_book(minor)
        asyncio.run(holder(port, adult_wallet, audit))
        result.zkp_accepted = str(verdicts.get(timeout=30))
        reporter.info(f"org-b accepted over mutual TLS: {result.zkp_accepted}")
        try:
            asyncio.run(holder(port, minor_wallet, audit))
        except PetsError as exc:
            result.zkp_minor_refused = True
            reporter.info(
                f"a 16-year-old's wallet cannot make the proof ({type(exc).__name__}); "
                "org-b learns only that no proof came"
            )
        verdicts.get(timeout=30)

    # A presentation copied from one session and replayed later is refused.
    trust = _zkp_trust(registry_key, today)
    with NonceStore(b_dir / "nonces-file.db") as store:
        now = datetime.now(UTC)
        challenge = store.issue(verifier="org-b", statement="age", threshold=18, on=today, now=now)
        text = present(challenge, entry=adult.entries[2]).to_json()
        check_presentation(text, store=store, trust=trust, now=now)
        try:
            check_presentation(text, store=store, trust=trust, now=now)
        except PetsError:
            result.zkp_replay_refused = True
    reporter.info(
        f"the presentation ({len(text):,} bytes, a 672-byte Bulletproof inside) holds no date of "
        "birth; replaying it is refused: " + ("yes" if result.zkp_replay_refused else "NO")
    )


async def _rogue_attempt(pki_dir: Path, rogue: pki.TLSIdentity) -> bool:
    """A rogue client (wrong CA) against a fresh org-b listener; True when the handshake fails."""
    identity_b = pki.load_identity(pki_dir, "org-b")

    async def handler(channel: Channel) -> None:  # never reached by the rogue
        await channel.close()

    async with await serve(_HOST, 0, handler, identity=identity_b, limits=_LIMITS) as server:
        try:
            channel = await connect(
                _HOST,
                server.port,
                identity=rogue,
                peer_name="org-b",
                limits=Limits(recv_timeout_s=5.0, connect_timeout_s=5.0, handshake_timeout_s=5.0),
            )
            async with channel:
                await channel.send({"type": "hello"})
                await channel.recv(Schema("hello", {}), timeout_s=5.0)
        except ProtocolAbort:
            return True
    return False
