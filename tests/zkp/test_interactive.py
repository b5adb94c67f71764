"""Interactive presentations and Sigma proofs: the pure stage machines (every invalid transition),
the API over in-memory channels (refusals, rejections, timeouts, audit contents), and a verifier and
a holder in separate processes over mutual TLS on loopback."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from petsuite.core.audit import AuditLog
from petsuite.core.errors import (
    AbortReason,
    InvalidInput,
    PolicyViolation,
    ProtocolAbort,
    VerificationFailed,
)
from petsuite.core.rng import DeterministicRandom
from petsuite.net.pki import init_ca, issue, load_identity
from petsuite.net.transport import Limits, TLSChannel, connect, memory_pair, serve_sessions
from petsuite.primitives.group import Point, Scalar
from petsuite.zkp import interactive as ia
from petsuite.zkp.api import (
    answer_presentation,
    prove_ownership,
    request_presentation,
    verify_ownership,
)
from petsuite.zkp.credentials import (
    AccountKey,
    CredentialBook,
    IssuerKey,
    TrustedIssuer,
    TrustStore,
    Wallet,
    issue_book,
)
from petsuite.zkp.presentation import Challenge, Statement
from petsuite.zkp.verifier_store import NonceStore

T = TypeVar("T")
DOB = date(1990, 7, 14)


def _today() -> date:
    return datetime.now(UTC).date()


def _rng(tag: str) -> DeterministicRandom:
    return DeterministicRandom(tag.encode().ljust(32, b"."), insecure_for_testing=True)


def run(coro: Awaitable[T], timeout: float = 20.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@dataclass(frozen=True)
class Setup:
    issuer: IssuerKey
    trust: TrustStore
    book: CredentialBook
    account: AccountKey


@pytest.fixture(scope="module")
def setup() -> Setup:
    issuer = IssuerKey.generate(_rng("issuer"))
    today = _today()
    trust = TrustStore([TrustedIssuer("registry", issuer.public_key, date(2020, 1, 1),
                                      date(2100, 1, 1))])  # fmt: skip
    book = issue_book(issuer, "age", DOB, issued=date(2020, 1, 1), expires=date(2100, 1, 1),
                      count=8, rng=_rng("book"))  # fmt: skip
    assert book.entries[0].credential.issued <= today
    return Setup(issuer, trust, book, AccountKey.generate(_rng("acct")))


def _challenge(threshold: int = 18, verifier: str = "shop", on: date | None = None) -> Challenge:
    return Challenge(verifier, bytes(range(32)), on or _today(), Statement.AGE, threshold)


def _policy(threshold: int = 18, verifier: str = "shop") -> ia.ProverPolicy:
    return ia.ProverPolicy(Statement.AGE, threshold, verifier, _today())


# --------------------------------------------------------------------------- pure machines


def test_presentation_machines_complete(setup: Setup) -> None:
    vstate, out = ia.verifier_start(_challenge())
    pstate = ia.prover_start(_policy())
    pstate, none = ia.prover_step(pstate, out[0])
    assert none == [] and pstate.stage is ia.ProverStage.READY
    pstate, out = ia.prover_present(pstate, entry=setup.book.entries[0], account=None)
    vstate, out = ia.verifier_step(vstate, out[0], trust=setup.trust)
    assert vstate.accepted and vstate.claim is not None and vstate.credential_id is not None
    pstate, _ = ia.prover_step(pstate, out[0])
    assert pstate.stage is ia.ProverStage.DONE and pstate.description is not None
    assert pstate.description.startswith("age >= 18")
    with pytest.raises(ProtocolAbort) as info:
        ia.verifier_step(vstate, out[0], trust=setup.trust)
    assert info.value.reason is AbortReason.UNEXPECTED
    with pytest.raises(ProtocolAbort):
        ia.prover_step(pstate, out[0])


def test_verifier_rejects_garbage_and_says_so(setup: Setup) -> None:
    vstate, _ = ia.verifier_start(_challenge())
    done, out = ia.verifier_step(
        vstate, ia.PRESENTATION.message(presentation=b"{not json"), trust=setup.trust
    )
    assert done.accepted is False and out[0]["accepted"] is False
    with pytest.raises(ProtocolAbort) as info:  # a message of another type
        ia.verifier_step(vstate, ia.RESULT.message(accepted=True, statement=""), trust=setup.trust)
    assert info.value.reason is AbortReason.UNEXPECTED
    with pytest.raises(ProtocolAbort) as info:  # the right type with an extra field
        ia.verifier_step(vstate, {"type": "zkp.presentation", "presentation": b"x", "extra": 1},
                         trust=setup.trust)  # fmt: skip
    assert info.value.reason is AbortReason.MALFORMED


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"threshold": 21}, "not the statement"),
        ({"statement": "balance", "threshold": 18}, "not the statement"),
        ({"verifier": "casino"}, "another verifier"),
        ({"date": "2000-01-01"}, "too far from today"),
    ],
)
def test_holder_refuses_other_challenges(change: dict[str, Any], why: str) -> None:
    message = {**ia.challenge_message(_challenge()), **change}
    with pytest.raises(PolicyViolation, match=why):
        ia.prover_step(ia.prover_start(_policy()), message)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"date": "26/11/2026"}, AbortReason.MALFORMED),
        ({"date": "2026-W48-4"}, AbortReason.MALFORMED),
        ({"nonce": b"short"}, AbortReason.MALFORMED),
        ({"account_key": b"\xff" * 32}, AbortReason.MALFORMED),
        ({"version": 9}, AbortReason.CONFIG_MISMATCH),
        ({"type": "zkp.result"}, AbortReason.UNEXPECTED),
    ],
)
def test_malformed_challenges_abort(change: dict[str, Any], reason: AbortReason) -> None:
    message = {**ia.challenge_message(_challenge()), **change}
    with pytest.raises(ProtocolAbort) as info:
        ia.prover_step(ia.prover_start(_policy()), message)
    assert info.value.reason is reason


def test_prover_invalid_transitions(setup: Setup) -> None:
    state = ia.prover_start(_policy())
    with pytest.raises(InvalidInput):
        ia.prover_present(state, entry=setup.book.entries[0], account=None)
    ready, _ = ia.prover_step(state, ia.challenge_message(_challenge()))
    with pytest.raises(ProtocolAbort) as info:
        ia.prover_step(ready, ia.RESULT.message(accepted=True, statement=""))
    assert info.value.reason is AbortReason.UNEXPECTED
    waiting = replace(ready, stage=ia.ProverStage.AWAIT_RESULT)
    with pytest.raises(VerificationFailed):
        ia.prover_step(waiting, ia.RESULT.message(accepted=False, statement=""))


def test_sigma_machines(setup: Setup) -> None:
    pstate = ia.sigma_prover_start(setup.account, verifier="bank", rng=_rng("p"))
    vstate, out = ia.sigma_verifier_start("bank", setup.account.public_key)
    pstate, out = ia.sigma_prover_step(pstate, out[0])
    vstate, out = ia.sigma_verifier_step(vstate, out[0], rng=_rng("v"))
    pstate, out = ia.sigma_prover_step(pstate, out[0])
    vstate, out = ia.sigma_verifier_step(vstate, out[0])
    assert vstate.accepted and out[0]["accepted"]
    pstate, _ = ia.sigma_prover_step(pstate, out[0])
    assert pstate.stage is ia.SigmaProverStage.DONE
    with pytest.raises(ProtocolAbort):
        ia.sigma_verifier_step(vstate, out[0])
    with pytest.raises(ProtocolAbort):
        ia.sigma_prover_step(pstate, out[0])


def _sigma_run(account: AccountKey, expected: Point | None, tamper: bool) -> bool:
    pstate = ia.sigma_prover_start(account, verifier="bank")
    vstate, out = ia.sigma_verifier_start("bank", expected)
    pstate, out = ia.sigma_prover_step(pstate, out[0])
    vstate, out = ia.sigma_verifier_step(vstate, out[0])
    pstate, out = ia.sigma_prover_step(pstate, out[0])
    if tamper:
        responses = [(Scalar.from_bytes(out[0]["responses"][0]) + Scalar.from_int(1)).to_bytes()]
        out = [ia.SIGMA_RESPONSE.message(responses=responses)]
    vstate, out = ia.sigma_verifier_step(vstate, out[0])
    assert out[0]["accepted"] is bool(vstate.accepted)
    return bool(vstate.accepted)


def test_sigma_rejections(setup: Setup) -> None:
    assert _sigma_run(setup.account, None, tamper=False)
    assert not _sigma_run(setup.account, None, tamper=True)
    assert not _sigma_run(setup.account, AccountKey.generate().public_key, tamper=False)
    state = ia.sigma_prover_start(setup.account, verifier="bank")
    _, out = ia.sigma_prover_step(state, ia.sigma_verifier_start("bank")[1][0])
    bad_point = {**out[0], "commitments": [b"\xff" * 32]}
    two = {**out[0], "commitments": out[0]["commitments"] * 2}
    for message in (bad_point, two, {**out[0], "public_key": bytes(32)}):
        with pytest.raises(ProtocolAbort) as info:
            ia.sigma_verifier_step(ia.sigma_verifier_start("bank")[0], message)
        assert info.value.reason is AbortReason.MALFORMED
    waiting, _ = ia.sigma_prover_step(state, ia.sigma_verifier_start("bank")[1][0])
    with pytest.raises(ProtocolAbort):  # a non-canonical challenge scalar
        ia.sigma_prover_step(waiting, ia.SIGMA_CHALLENGE.message(challenge=b"\xff" * 32))


def test_sigma_holder_refuses_a_relayed_request(setup: Setup) -> None:
    state = ia.sigma_prover_start(setup.account, verifier="bank")
    with pytest.raises(PolicyViolation, match="another verifier"):
        ia.sigma_prover_step(state, ia.sigma_verifier_start("casino")[1][0])
    with pytest.raises(ProtocolAbort) as info:  # a presentation challenge where a request belongs
        ia.sigma_prover_step(state, ia.challenge_message(_challenge()))
    assert info.value.reason is AbortReason.UNEXPECTED


# --------------------------------------------------------------------------- API over memory


def _wallet(tmp_path: Path, setup: Setup, name: str = "wallet.db") -> Wallet:
    wallet = Wallet(tmp_path / name)
    wallet.add_book(setup.book)
    return wallet


def test_api_age_over_memory_with_audit(tmp_path: Path, setup: Setup) -> None:
    holder_ch, verifier_ch = memory_pair("alice", "shop")
    with (
        _wallet(tmp_path, setup) as wallet,
        NonceStore(tmp_path / "v.db") as store,
        AuditLog(tmp_path / "holder-audit.db") as holder_audit,
        AuditLog(tmp_path / "verifier-audit.db") as verifier_audit,
    ):

        async def main() -> tuple[Any, str]:
            return await asyncio.gather(
                request_presentation(verifier_ch, store=store, trust=setup.trust, verifier="shop",
                                     statement="age", threshold=18, audit=verifier_audit),
                answer_presentation(holder_ch, statement="age", threshold=18, wallet=wallet,
                                    audit=holder_audit),
            )  # fmt: skip

        claim, accepted = run(main())
        assert claim.issuer == "registry" and accepted == claim.describe()
        assert wallet.remaining("age", on=_today()) == 7
        assert store.pending(now=datetime.now(UTC)) == 0
        entries = verifier_audit.entries() + holder_audit.entries()
        assert [e.operation for e in entries] == ["zkp.verify", "zkp.present"]
        dump = repr([(e.parameters, e.result_digest) for e in entries])
        for secret in (DOB.isoformat(), "1990", str((DOB - date(1970, 1, 1)).days)):
            assert secret not in dump


def test_api_rejection_reaches_both_sides(tmp_path: Path, setup: Setup) -> None:
    holder_ch, verifier_ch = memory_pair("alice", "shop")
    with _wallet(tmp_path, setup) as wallet, NonceStore(tmp_path / "v.db") as store:

        async def main() -> Any:
            return await asyncio.gather(
                request_presentation(verifier_ch, store=store, trust=TrustStore(),
                                     verifier="shop", statement="age", threshold=18),
                answer_presentation(holder_ch, statement="age", threshold=18, wallet=wallet),
                return_exceptions=True,
            )  # fmt: skip

        results = run(main())
        assert all(isinstance(r, VerificationFailed) for r in results), results


def test_api_holder_refusal_aborts_the_verifier(tmp_path: Path, setup: Setup) -> None:
    holder_ch, verifier_ch = memory_pair("alice", "shop")
    with _wallet(tmp_path, setup) as wallet, NonceStore(tmp_path / "v.db") as store:

        async def main() -> Any:
            return await asyncio.gather(
                request_presentation(verifier_ch, store=store, trust=setup.trust,
                                     verifier="shop", statement="age", threshold=25),
                answer_presentation(holder_ch, statement="age", threshold=18, wallet=wallet),
                return_exceptions=True,
            )  # fmt: skip

        verifier_result, holder_result = run(main())
        assert isinstance(holder_result, PolicyViolation)
        assert isinstance(verifier_result, ProtocolAbort)
        assert verifier_result.reason is AbortReason.PEER_ABORTED
        assert wallet.remaining("age", on=_today()) == 8  # nothing was taken


def test_api_verifier_id_must_be_the_peer(tmp_path: Path, setup: Setup) -> None:
    """A verifier 'casino' relaying a challenge that names 'shop' is refused by the holder."""
    holder_ch, verifier_ch = memory_pair("alice", "casino")
    with _wallet(tmp_path, setup) as wallet, NonceStore(tmp_path / "v.db") as store:

        async def main() -> Any:
            return await asyncio.gather(
                request_presentation(verifier_ch, store=store, trust=setup.trust,
                                     verifier="shop", statement="age", threshold=18),
                answer_presentation(holder_ch, statement="age", threshold=18, wallet=wallet),
                return_exceptions=True,
            )  # fmt: skip

        _, holder_result = run(main())
        assert isinstance(holder_result, PolicyViolation)


def test_api_timeout(tmp_path: Path, setup: Setup) -> None:
    _holder_ch, verifier_ch = memory_pair("alice", "shop", Limits(recv_timeout_s=0.2))
    with NonceStore(tmp_path / "v.db") as store:
        with pytest.raises(ProtocolAbort) as info:
            run(request_presentation(verifier_ch, store=store, trust=setup.trust,
                                     verifier="shop", statement="age", threshold=18))  # fmt: skip
        assert info.value.reason is AbortReason.TIMEOUT


def test_api_ownership_over_memory(tmp_path: Path, setup: Setup) -> None:
    holder_ch, verifier_ch = memory_pair("alice", "bank")

    async def main() -> Any:
        return await asyncio.gather(
            verify_ownership(verifier_ch, verifier="bank", expected_key=setup.account.public_key),
            prove_ownership(holder_ch, account=setup.account),
        )

    key, description = run(main())
    assert key == setup.account.public_key and key.to_bytes().hex() in description
    holder_ch, verifier_ch = memory_pair("alice", "bank")

    async def wrong() -> Any:
        return await asyncio.gather(
            verify_ownership(
                verifier_ch, verifier="bank", expected_key=AccountKey.generate().public_key
            ),
            prove_ownership(holder_ch, account=setup.account),
            return_exceptions=True,
        )

    results = run(wrong())
    assert all(isinstance(r, VerificationFailed) for r in results), results


def test_api_anonymous_ownership_presentation(tmp_path: Path, setup: Setup) -> None:
    holder_ch, verifier_ch = memory_pair("alice", "registry")
    keys = [AccountKey.generate(_rng(f"k{i}")).public_key for i in range(3)]
    keys.append(setup.account.public_key)
    with NonceStore(tmp_path / "v.db") as store:

        async def main() -> Any:
            return await asyncio.gather(
                request_presentation(verifier_ch, store=store, trust=TrustStore(),
                                     verifier="registry", statement="ownership", threshold=0,
                                     anonymity_set=keys),
                answer_presentation(holder_ch, statement="ownership", threshold=0,
                                    account=setup.account),
            )  # fmt: skip

        claim, accepted = run(main())
        assert claim.anonymity_set_size == 4 and claim.account_key is None
        assert accepted == "controls one of 4 account keys (not which)"


def test_api_mismatched_protocols_fail_fast(tmp_path: Path, setup: Setup) -> None:
    """A holder expecting an age challenge meets a verifier asking for ownership: both sides get
    a typed error at once, not a timeout."""
    holder_ch, verifier_ch = memory_pair("alice", "bank", Limits(recv_timeout_s=10.0))
    with _wallet(tmp_path, setup) as wallet:

        async def main() -> Any:
            return await asyncio.gather(
                verify_ownership(verifier_ch, verifier="bank"),
                answer_presentation(holder_ch, statement="age", threshold=18, wallet=wallet),
                return_exceptions=True,
            )

        started = datetime.now(UTC)
        verifier_result, holder_result = run(main())
        assert (datetime.now(UTC) - started).total_seconds() < 5
        assert isinstance(holder_result, ProtocolAbort)
        assert holder_result.reason is AbortReason.UNEXPECTED
        assert isinstance(verifier_result, ProtocolAbort)
        assert verifier_result.reason is AbortReason.PEER_ABORTED


# --------------------------------------------------------------------------- real processes, TLS


def _verifier_process(pki_dir: str, state_dir: str, ports: Any, results: Any) -> None:
    """A verifier serving one interactive age presentation as 'shop' over mutual TLS."""
    state = Path(state_dir)
    trust = TrustStore.load(state / "trust.json")

    async def main() -> None:
        with NonceStore(state / "verifier.db") as store, AuditLog(state / "v-audit.db") as audit:

            async def handler(channel: TLSChannel) -> None:
                try:
                    claim = await request_presentation(
                        channel, store=store, trust=trust, verifier="shop", statement="age",
                        threshold=18, audit=audit,
                    )  # fmt: skip
                    results.put(("ok", channel.peer, claim.describe()))
                except Exception as exc:  # report any failure to the test
                    results.put(("error", channel.peer, repr(exc)))

            await serve_sessions(
                "127.0.0.1", 0, handler, sessions=1, identity=load_identity(Path(pki_dir), "shop"),
                allowed_peers={"alice"}, ready=ports.put, timeout_s=60,
            )  # fmt: skip

    asyncio.run(main())


def _holder_process(pki_dir: str, account_file: str, port: int, results: Any) -> None:
    """A holder proving control of its account key to 'bank' over mutual TLS."""
    account = AccountKey.load(account_file)

    async def main() -> str:
        channel = await connect("127.0.0.1", port, identity=load_identity(Path(pki_dir), "alice"),
                                peer_name="bank")  # fmt: skip
        async with channel:
            return await prove_ownership(channel, account=account)

    try:
        results.put(("ok", asyncio.run(main())))
    except Exception as exc:
        results.put(("error", repr(exc)))


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("zkp-pki")
    init_ca(directory)
    for party in ("shop", "bank", "alice"):
        issue(directory, party)
    return directory


def _stop(proc: Any) -> None:
    proc.join(15)
    if proc.is_alive():
        proc.terminate()
        proc.join(5)


@pytest.mark.timeout(90)
def test_age_presentation_between_processes_over_tls(
    tmp_path: Path, setup: Setup, pki_dir: Path
) -> None:
    setup.trust.save(tmp_path / "trust.json")
    ctx = multiprocessing.get_context("spawn")
    ports: Any = ctx.Queue()
    results: Any = ctx.Queue()
    proc = ctx.Process(target=_verifier_process,
                       args=(str(pki_dir), str(tmp_path), ports, results), daemon=True)  # fmt: skip
    proc.start()
    try:
        port = ports.get(timeout=60)
        with _wallet(tmp_path, setup) as wallet:

            async def main() -> str:
                channel = await connect("127.0.0.1", port, identity=load_identity(pki_dir, "alice"),
                                        peer_name="shop")  # fmt: skip
                async with channel:
                    return await answer_presentation(channel, statement="age", threshold=18,
                                                     wallet=wallet)  # fmt: skip

            accepted = run(main(), timeout=30)
        status, peer, text = results.get(timeout=30)
        assert (status, peer) == ("ok", "alice"), text
        assert accepted == text and text.startswith("age >= 18 years")
    finally:
        _stop(proc)


@pytest.mark.timeout(90)
def test_ownership_sigma_between_processes_over_tls(
    tmp_path: Path, setup: Setup, pki_dir: Path
) -> None:
    account_file = tmp_path / "account.json"
    setup.account.save(account_file)
    verified: list[Point] = []

    async def main() -> None:
        async def handler(channel: TLSChannel) -> None:
            key = await verify_ownership(
                channel, verifier="bank", expected_key=setup.account.public_key
            )
            verified.append(key)

        ctx = multiprocessing.get_context("spawn")
        results: Any = ctx.Queue()
        procs: list[Any] = []

        def ready(port: int) -> None:
            args = (str(pki_dir), str(account_file), port, results)
            proc = ctx.Process(target=_holder_process, args=args, daemon=True)
            proc.start()
            procs.append(proc)

        try:
            await serve_sessions(
                "127.0.0.1", 0, handler, sessions=1, identity=load_identity(pki_dir, "bank"),
                allowed_peers={"alice"}, ready=ready, timeout_s=60,
            )  # fmt: skip
            status, text = await asyncio.get_running_loop().run_in_executor(
                None, lambda: results.get(timeout=30)
            )
            assert status == "ok", text
        finally:
            for proc in procs:
                _stop(proc)

    run(main(), timeout=80)
    assert verified == [setup.account.public_key]
