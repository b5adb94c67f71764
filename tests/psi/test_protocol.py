"""Client–server PSI: every mode against plaintext answers, and every way a peer can misbehave."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from petsuite.core.audit import AuditLog
from petsuite.core.errors import AbortReason, InvalidInput, PolicyViolation, ProtocolAbort
from petsuite.net.transport import Limits, memory_pair
from petsuite.primitives.group import Point, Scalar
from petsuite.psi import protocol
from petsuite.psi.api import query_psi, serve_psi
from petsuite.psi.policy import PsiPolicy, RateLimit, RateLimiter
from petsuite.psi.protocol import PsiMode
from tests.psi.helpers import SPEC, dataset, ids, run

ALL_MODES = frozenset(PsiMode)


def _policy(**kw: Any) -> PsiPolicy:
    base: dict[str, Any] = {"allowed_modes": ALL_MODES, "min_intersection": 5, "rate_limit": None}
    base.update(kw)
    return PsiPolicy(**base)


async def _session(client_ids: list[str], server_ids: list[str], mode: PsiMode, **kw: Any) -> Any:
    values = kw.pop("values", None)
    policy = kw.pop("policy", _policy(value_bound=1000.0))
    a, b = memory_pair("client", "server")
    results = await asyncio.gather(
        query_psi(a, dataset(client_ids), mode=mode, min_intersection=kw.pop("min_client", 0)),
        serve_psi(b, dataset(server_ids, values), policy),
        return_exceptions=True,
    )
    return results


def test_cardinality() -> None:
    client, server = run(_session(ids(0, 300), ids(150, 400), PsiMode.CARDINALITY))
    assert client.size == 150
    assert client.matches is None and client.total is None
    assert client.server_set_size == 250 and client.client_set_size == 300
    assert server.client_set_size == 300 and server.released


def test_intersection_reports_which_rows() -> None:
    client_ids = ids(0, 50)
    server_ids = ids(40, 90)
    client, _ = run(_session(client_ids, server_ids, PsiMode.INTERSECTION))
    assert client.size == 10
    assert sorted(client.matches) == list(range(40, 50))


def test_sum_over_intersection() -> None:
    server_ids = ids(20, 60)
    values = [float(i % 7) - 2.5 for i in range(40)]
    expected = sum(v for i, v in zip(range(20, 60), values, strict=True) if i < 30)
    client, server = run(_session(ids(0, 30), server_ids, PsiMode.SUM, values=values), timeout=120)
    assert client.size == 10
    assert client.total == pytest.approx(expected, abs=1e-3)
    assert server.claimed_count == 10


def test_below_threshold_releases_nothing(tmp_path: Path) -> None:
    async def main() -> Any:
        a, b = memory_pair("client", "server")
        with AuditLog(tmp_path / "c.db") as ac, AuditLog(tmp_path / "s.db") as as_:
            res = await asyncio.gather(
                query_psi(a, dataset(ids(0, 10)), audit=ac, min_intersection=0),
                serve_psi(b, dataset(ids(7, 20)), _policy(min_intersection=5), audit=as_),
                return_exceptions=True,
            )
            return res, [e.operation for e in ac.entries()], [e.operation for e in as_.entries()]

    (client, server), client_ops, server_ops = run(main())
    assert isinstance(client, PolicyViolation)
    assert "below the minimum" in str(client)
    assert client_ops == ["psi.query.refused"]
    assert server_ops == ["psi.serve"]  # the server audits the run; it never learned the size
    assert not server.released


def test_sum_threshold_enforced_by_server() -> None:
    """A client that lies about the threshold is still refused by the server before decrypting."""
    server = protocol.server_start(_sum_offer(), Scalar.random())
    client, (hello,) = protocol.client_start(
        dataset(ids(0, 3)).keys,
        mode=PsiMode.SUM,
        key_spec=SPEC.fingerprint(),
        session=b"\x01" * 16,
        min_intersection=0,
    )
    server, (accept,) = protocol.server_step(server, hello)
    client, blinded = protocol.client_step(client, accept)
    for msg in blinded:
        server, replies = protocol.server_step(server, msg)
    for msg in replies:
        client, out = protocol.client_step(client, msg)
    assert client.stage is protocol.ClientStage.DONE  # client's own check (threshold 5) refused
    assert out[0]["type"] == "psi.finish" and out[0]["released"] is False
    forged = {"type": "psi.masked_sum", "session": b"\x01" * 16, "count": 3, "ciphertext": b"\x01"}
    with pytest.raises(PolicyViolation):
        protocol.server_step(server, forged)


def _sum_offer() -> protocol.ServerOffer:
    from petsuite.core.encoding import FixedPoint

    fmt = FixedPoint(frac_bits=16, int_bits=8)
    return protocol.ServerOffer(
        keys=tuple(dataset(ids(0, 20)).keys),
        key_spec=SPEC.fingerprint(),
        allowed_modes=ALL_MODES,
        min_intersection=5,
        max_client_set_size=100,
        values=tuple(fmt.encode(i) for i in range(20)),
        value_format=fmt,
        value_bound=fmt.encode(100),
    )


def _server_after_hello(n_client: int = 4) -> tuple[Any, Any]:
    offer = protocol.ServerOffer(
        keys=tuple(dataset(ids(0, 20)).keys),
        key_spec=SPEC.fingerprint(),
        allowed_modes=ALL_MODES,
        min_intersection=0,
        max_client_set_size=100,
    )
    server = protocol.server_start(offer, Scalar.random())
    client, (hello,) = protocol.client_start(
        dataset(ids(0, n_client)).keys,
        mode=PsiMode.CARDINALITY,
        key_spec=SPEC.fingerprint(),
        session=b"\x02" * 16,
        min_intersection=0,
    )
    server, (accept,) = protocol.server_step(server, hello)
    return server, client, accept


def test_server_rejects_invalid_points() -> None:
    server, _, _ = _server_after_hello(1)
    good = Point.hash_to_group(b"x", b"dst").to_bytes()
    for bad in (b"\xff" * 32, Point.identity().to_bytes(), good[:31] + bytes([good[31] | 0x80])):
        msg = {"type": "psi.blinded", "session": b"\x02" * 16, "chunk": 0, "elements": bad}
        with pytest.raises(ProtocolAbort) as exc:
            protocol.server_step(server, msg)
        assert exc.value.reason is AbortReason.MALFORMED


def test_server_rejects_wrong_counts() -> None:
    server, _, _ = _server_after_hello(4)
    point = Point.hash_to_group(b"x", b"dst").to_bytes()
    too_few = {"type": "psi.blinded", "session": b"\x02" * 16, "chunk": 0, "elements": point * 3}
    with pytest.raises(ProtocolAbort) as exc:
        protocol.server_step(server, too_few)
    assert exc.value.reason is AbortReason.CHECK_FAILED
    too_many = {**too_few, "elements": point * 5}
    with pytest.raises(ProtocolAbort):
        protocol.server_step(server, too_many)
    wrong_session = {**too_few, "elements": point * 4, "session": b"\x03" * 16}
    with pytest.raises(ProtocolAbort) as exc:
        protocol.server_step(server, {**too_few, "elements": point * 3 + b"\x01"})
    assert exc.value.reason is AbortReason.MALFORMED  # not a whole number of elements
    with pytest.raises(ProtocolAbort):
        protocol.server_step(server, wrong_session)


def test_client_rejects_bad_server_answers() -> None:
    server, client, accept = _server_after_hello(4)
    client, blinded = protocol.client_step(client, accept)
    server, replies = protocol.server_step(server, blinded[0])
    evaluated, tags = replies[0], replies[1]
    with pytest.raises(ProtocolAbort):
        protocol.client_step(client, {**evaluated, "elements": evaluated["elements"][:96]})
    with pytest.raises(ProtocolAbort):
        protocol.client_step(client, {**evaluated, "elements": b"\xff" * 128})
    with pytest.raises(ProtocolAbort):
        protocol.client_step(client, tags)  # tags before evaluated
    client2, _ = protocol.client_step(client, evaluated)
    with pytest.raises(ProtocolAbort):
        protocol.client_step(client2, {**tags, "tags": tags["tags"][: 5 * 32]})  # fewer than announced
    with pytest.raises(ProtocolAbort):
        protocol.client_step(client2, {**tags, "tags": tags["tags"][:32] * 20})  # duplicates


def test_config_mismatch_and_disallowed_mode() -> None:
    async def main(**kw: Any) -> Any:
        a, b = memory_pair("client", "server")
        ds = dataset(ids(0, 10))
        if "spec" in kw:
            from petsuite.psi.matching import KeySpec

            ds = type(ds)(ds.keys, ds.row_index, KeySpec.parse("id:text"), ds.report, "x")
        return await asyncio.gather(
            query_psi(a, ds, mode=kw.get("mode", PsiMode.CARDINALITY)),
            serve_psi(b, dataset(ids(0, 10)), PsiPolicy(rate_limit=None, min_intersection=0)),
            return_exceptions=True,
        )

    client, server = run(main(spec=True))
    assert isinstance(client, ProtocolAbort) and isinstance(server, ProtocolAbort)
    assert server.reason is AbortReason.CONFIG_MISMATCH
    client, server = run(main(mode=PsiMode.INTERSECTION))  # not allowed by default
    assert isinstance(client, PolicyViolation) and isinstance(server, PolicyViolation)


def test_set_over_limit_and_empty_and_duplicates() -> None:
    client, server = run(
        _session(ids(0, 30), ids(0, 30), PsiMode.CARDINALITY, policy=_policy(max_set_size=40))
    )
    assert client.size == 30
    client, server = run(
        _session(ids(0, 50), ids(0, 30), PsiMode.CARDINALITY, policy=_policy(max_set_size=40))
    )
    assert isinstance(client, PolicyViolation) and "exceeds" in str(server)
    with pytest.raises(InvalidInput):
        protocol.client_start(
            [], mode=PsiMode.CARDINALITY, key_spec="x", session=b"\x00" * 16, min_intersection=0
        )
    with pytest.raises(InvalidInput):
        protocol.client_start(
            [b"a", b"a"],
            mode=PsiMode.CARDINALITY,
            key_spec="x",
            session=b"\x00" * 16,
            min_intersection=0,
        )


def test_rate_limit_refuses_and_persists(tmp_path: Path) -> None:
    db = tmp_path / "limits.db"

    async def once() -> Any:
        a, b = memory_pair("client", "server")
        with RateLimiter(db) as limiter:
            return await asyncio.gather(
                query_psi(a, dataset(ids(0, 20)), min_intersection=0),
                serve_psi(
                    b,
                    dataset(ids(0, 20)),
                    _policy(rate_limit=RateLimit(2, 3600)),
                    rate_limiter=limiter,
                ),
                return_exceptions=True,
            )

    assert run(once())[0].size == 20
    assert run(once())[0].size == 20
    client, server = run(once())  # a new RateLimiter object: the count survived
    assert isinstance(server, PolicyViolation) and "rate limit" in str(server)
    assert isinstance(client, PolicyViolation)


def test_stalled_client_times_out() -> None:
    async def main() -> Any:
        a, b = memory_pair("client", "server", Limits(recv_timeout_s=0.3))
        await a.send(
            {
                "type": "psi.hello",
                "version": 1,
                "session": b"\x00" * 16,
                "mode": "cardinality",
                "key_spec": SPEC.fingerprint(),
                "set_size": 5,
            }
        )
        with pytest.raises(ProtocolAbort) as exc:
            await serve_psi(b, dataset(ids(0, 10)), _policy())
        return exc.value.reason

    assert run(main(), timeout=10) is AbortReason.TIMEOUT


def test_vanished_client_is_audited(tmp_path: Path) -> None:
    async def main() -> Any:
        a, b = memory_pair("client", "server", Limits(recv_timeout_s=5))
        await a.send({"type": "psi.hello", "version": 1, "session": b"\x00" * 16,
                      "mode": "cardinality", "key_spec": SPEC.fingerprint(), "set_size": 5})
        with AuditLog(tmp_path / "s.db") as audit:
            task = asyncio.create_task(serve_psi(b, dataset(ids(0, 10)), _policy(), audit=audit))
            await a.recv(protocol.ACCEPT)
            await a.close()  # the client goes away mid-session
            with pytest.raises(ProtocolAbort) as exc:
                await task
            return exc.value.reason, [e.operation for e in audit.entries()]

    reason, ops = run(main(), timeout=10)
    assert reason is AbortReason.PEER_CLOSED
    assert ops == ["psi.serve.aborted"]


def test_server_adds_dp_noise_to_the_sum(tmp_path: Path) -> None:
    from petsuite.dp.ledger import BudgetKind, BudgetScope, PrivacyLedger

    with PrivacyLedger(tmp_path / "l.db") as ledger:
        ledger.create_budget(BudgetScope.dataset("test"), BudgetKind.PURE, epsilon=1.0)

        async def main() -> Any:
            a, b = memory_pair("client", "server")
            return await asyncio.gather(
                query_psi(a, dataset(ids(0, 100)), mode=PsiMode.SUM, min_intersection=0),
                serve_psi(b, dataset(ids(50, 150), [1.0] * 100),
                          _policy(value_bound=5.0, dp_epsilon=0.5), ledger=ledger),
                return_exceptions=True,
            )

        client, _ = run(main(), timeout=120)
        assert client.size == 50  # the client computes the size itself: exact
        assert client.total != 50.0 and abs(client.total - 50) < 200  # noise scale 10
        assert ledger.status(BudgetScope.dataset("test")).spend_count == 1


def test_shuffle_is_uniform() -> None:
    """Chi-square over the 6 permutations of 3 items; false-failure probability below 1e-6."""
    from collections import Counter

    from petsuite.core.rng import DeterministicRandom

    rng = DeterministicRandom(b"\x09" * 32, insecure_for_testing=True)
    draws = 60_000
    counts = Counter(tuple(protocol.shuffle([0, 1, 2], rng)) for _ in range(draws))
    assert len(counts) == 6
    expected = draws / 6
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi2 < 37.0  # 5 degrees of freedom: P(X > 37) < 1e-6
    assert protocol.shuffle([], rng) == [] and protocol.shuffle([7], rng) == [7]
