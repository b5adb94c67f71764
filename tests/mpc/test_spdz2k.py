"""SPDZ2k delegated model: servers, a dealer and input clients as tasks in one event loop."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

import numpy as np
import pytest

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort, UnsupportedParameter
from petsuite.core.rng import DeterministicRandom
from petsuite.mpc import spdz2k
from petsuite.mpc.engine import Engine, IntArray, Shared
from petsuite.mpc.memory import MemoryNetwork, memory_networks
from petsuite.mpc.network import PartyNetwork
from petsuite.mpc.spdz2k import (
    Spdz2kEngine,
    provide_input,
    provide_public,
    receive_output,
    run_dealer,
)

from .helpers import NetworkWrapper

DEALER = "dealer"
TWO = ("s1", "s2")
THREE = ("s1", "s2", "s3")

ServerProg = Callable[[Spdz2kEngine], Awaitable[Any]]
ClientProg = Callable[[PartyNetwork], Awaitable[Any]]


def _rng(name: str, salt: bytes = b"") -> DeterministicRandom:
    return DeterministicRandom(
        hashlib.sha256(b"test-spdz2k" + salt + name.encode()).digest(), insecure_for_testing=True
    )


def _values(n: int, bound: int, salt: bytes) -> IntArray:
    raw = np.frombuffer(_rng("values", salt).random_bytes(8 * n), dtype="<u8")
    return (raw % np.uint64(2 * bound + 1)).astype(np.int64) - bound


class Hostile(NetworkWrapper):
    """A network wrapper through which a party alters its own outgoing payloads."""

    def __init__(self, inner: PartyNetwork, tamper: Callable[[str, str, bytes], bytes]) -> None:
        super().__init__(inner)
        self._tamper = tamper

    def outgoing(self, tag: str, payloads: Mapping[str, bytes]) -> Mapping[str, bytes]:
        return {peer: self._tamper(tag, peer, data) for peer, data in payloads.items()}


def flip_low_bit_of_first_value(data: bytes) -> bytes:
    """Change the first 128-bit value of an opening payload by +-1 (low word, lowest bit)."""
    words = np.frombuffer(data, dtype="<u8").copy()
    n = len(words) // 2
    words[n] ^= np.uint64(1)
    return words.astype("<u8").tobytes()


async def run_parties(
    servers: tuple[str, ...],
    server_prog: ServerProg,
    clients: Mapping[str, ClientProg] | None = None,
    *,
    hostile: Mapping[str, Callable[[str, str, bytes], bytes]] | None = None,
    engine_cls: Mapping[str, type[Spdz2kEngine]] | None = None,
) -> dict[str, Any]:
    """Run every party; a party that fails disconnects so that its peers stop waiting."""
    clients = dict(clients or {})
    nets = memory_networks([*servers, DEALER, *clients], timeout_s=5.0)
    views: dict[str, PartyNetwork] = dict(nets)
    for name, tamper in (hostile or {}).items():
        views[name] = Hostile(nets[name], tamper)

    async def guarded(name: str, coro: Awaitable[Any]) -> Any:
        try:
            return await coro
        except BaseException:
            nets[name].disconnect()
            raise

    async def server(name: str) -> Any:
        cls = (engine_cls or {}).get(name, Spdz2kEngine)
        engine = cls(views[name], servers=servers, dealer=DEALER, rng=_rng(name))
        out = await server_prog(engine)
        await engine.close()
        return out

    tasks: dict[str, Awaitable[Any]] = {s: guarded(s, server(s)) for s in servers}
    tasks[DEALER] = guarded(
        DEALER, run_dealer(views[DEALER], servers=servers, clients=list(clients), rng=_rng(DEALER))
    )
    for name, prog in clients.items():
        tasks[name] = guarded(name, prog(views[name]))
    results = await asyncio.wait_for(
        asyncio.gather(*tasks.values(), return_exceptions=True), timeout=60
    )
    return dict(zip(tasks, results, strict=True))


def run(coro: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    return asyncio.run(coro)  # type: ignore[arg-type]


def assert_ok(results: Mapping[str, Any]) -> None:
    for name, res in results.items():
        if isinstance(res, BaseException):
            raise AssertionError(f"{name} failed: {res!r}") from res


def assert_aborted(results: Mapping[str, Any], honest: Collection[str], detail: str) -> None:
    """Every honest server raised CHECK_FAILED naming ``detail`` and released nothing."""
    for name in honest:
        res = results[name]
        assert isinstance(res, ProtocolAbort), f"{name} returned {res!r}"
        assert res.reason is AbortReason.CHECK_FAILED, res
        assert detail in res.detail, res.detail
    for name, res in results.items():
        assert isinstance(res, BaseException), f"{name} released {res!r}"


# ----------------------------------------------------------------------------- correctness


@pytest.mark.parametrize("servers", [TWO, THREE])
def test_input_open_round_trip(servers: tuple[str, ...]) -> None:
    x = _values(40, 1 << 62, b"x")
    y = _values(40, 1000, b"y")
    counts = np.array([7, 9], dtype=np.int64)

    async def prog(e: Spdz2kEngine) -> dict[str, Any]:
        assert isinstance(e, Engine)
        a = await e.input("alice", None, 40)
        b = await e.input("s2", y if e.me == "s2" else None, 40)
        pub = await e.public_input("alice", None, 2)
        own = await e.public_input("s1", counts[::-1] if e.me == "s1" else None, 2)
        return {
            "a": await e.open(a),
            "b": await e.open(b),
            "pub": pub,
            "own": own,
            "empty": await e.open(e.public(np.zeros(0, dtype=np.int64))),
        }

    async def alice(net: PartyNetwork) -> None:
        await provide_input(net, servers=servers, dealer=DEALER, values=x)
        await provide_public(net, servers=servers, values=counts)

    results = run(run_parties(servers, prog, {"alice": alice}))
    assert_ok(results)
    for s in servers:
        out = results[s]
        assert np.array_equal(out["a"], x)
        assert np.array_equal(out["b"], y)
        assert np.array_equal(out["pub"], counts)
        assert np.array_equal(out["own"], counts[::-1])
        assert out["empty"].size == 0


@pytest.mark.parametrize("servers", [TWO, THREE])
def test_arithmetic_on_random_vectors(servers: tuple[str, ...]) -> None:
    n = 64
    x = _values(n, 1 << 30, b"ax")
    y = _values(n, 1 << 30, b"ay")
    c = _values(n, 1000, b"ac")
    small = _values(n, (1 << 19) - 1, b"as")
    big = _values(n, (1 << 61) - 1, b"ab")
    big[:4] = [(1 << 62) - 1, -(1 << 62) + 1, 0, -1]
    edge = np.array([0, -1, 1, (1 << 63) - 1, -(1 << 63), -(1 << 62), 1 << 62, 5], dtype=np.int64)

    async def prog(e: Spdz2kEngine) -> dict[str, Any]:
        s1 = e.me == "s1"
        a = await e.input("s1", x if s1 else None, n)
        b = await e.input("s1", y if s1 else None, n)
        sm = await e.input("s1", small if s1 else None, n)
        bg = await e.input("s1", big if s1 else None, n)
        ed = await e.input("s1", edge if s1 else None, edge.size)
        lin = e.sub(e.add(e.mul_public(a, c), e.neg(b)), e.add_public(e.mul_public(b, 3), 17))
        both = e.concat([e.take(a, slice(0, 10)), e.take(b, np.arange(n - 1, n - 6, -1))])
        return {
            "lin": await e.open(lin),
            "both": await e.open(both),
            "sum": await e.open(e.sum(a)),
            "mul": await e.open(await e.mul(a, b)),
            "mulpub": await e.open(await e.mul(e.public(c), e.add_public(a, -3))),
            "trunc": await e.open(await e.trunc(bg, 16)),
            "trunc1": await e.open(await e.trunc(a, 1)),
            "ltz64": await e.open(await e.ltz(e.sub(a, b), bits=64)),
            "ltz20": await e.open(await e.ltz(sm, bits=20)),
            "ltz2": await e.open(await e.ltz(e.public(np.array([-1, 0, 1])), bits=2)),
            "ltz1": await e.open(await e.ltz(e.mul_public(a, np.array(0, dtype=np.int64)), bits=1)),
            "bcast": await e.open(
                e.add_public(e.mul_public(b, np.array(2)), np.array(5, dtype=np.int64))
            ),
            "ltzedge": await e.open(await e.ltz(ed, bits=64)),
        }

    results = run(run_parties(servers, prog))
    assert_ok(results)
    for s in servers:
        out = results[s]
        assert np.array_equal(out["lin"], c * x - y - (3 * y + 17))
        assert np.array_equal(out["both"], np.concatenate([x[:10], y[n - 1 : n - 6 : -1]]))
        assert out["sum"].tolist() == [int(x.sum())]
        assert np.array_equal(out["mul"], x * y)
        assert np.array_equal(out["mulpub"], c * (x - 3))
        for key, src, m in (("trunc", big, 16), ("trunc1", x, 1)):
            diff = out[key] - (src >> m)  # floor division; error 0 or +1
            assert set(diff.tolist()) <= {0, 1}, key
        assert np.array_equal(out["ltz64"], (x - y < 0).astype(np.int64))
        assert np.array_equal(out["ltz20"], (small < 0).astype(np.int64))
        assert out["ltz2"].tolist() == [1, 0, 0]
        assert out["ltz1"].tolist() == [0] * n
        assert np.array_equal(out["bcast"], 2 * y + 5)
        assert np.array_equal(out["ltzedge"], (edge < 0).astype(np.int64))


def test_trunc_rounding_is_probabilistic_but_bounded() -> None:
    n = 200
    x = np.full(n, 3 * (1 << 10) + 512, dtype=np.int64)  # 3.5 in 10 fractional bits

    async def prog(e: Spdz2kEngine) -> IntArray | None:
        a = await e.input("s1", x if e.me == "s1" else None, n)
        return await e.open(await e.trunc(a, 10))

    results = run(run_parties(TWO, prog))
    assert_ok(results)
    got = results["s1"]
    assert set(got.tolist()) == {3, 4}  # both outcomes occur for 200 draws (p ~ 2**-199 not)


def test_long_vectors_go_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spdz2k, "CHUNK_PRODUCTS", 7)
    n = 20
    x = _values(n, 1 << 20, b"cx")
    y = _values(n, 1 << 20, b"cy")

    async def prog(e: Spdz2kEngine) -> list[IntArray | None]:
        a = await e.input("s1", x if e.me == "s1" else None, n)
        b = await e.input("s2", y if e.me == "s2" else None, n)
        return [
            await e.open(await e.mul(a, b)),
            await e.open(await e.trunc(a, 4)),
            await e.open(await e.ltz(e.sub(a, b), bits=24)),
        ]

    results = run(run_parties(TWO, prog))
    assert_ok(results)
    prod, tr, lt = results["s2"]
    assert np.array_equal(prod, x * y)
    assert set((tr - (x >> 4)).tolist()) <= {0, 1}
    assert np.array_equal(lt, (x < y).astype(np.int64))


def test_private_and_client_outputs() -> None:
    x = np.array([10, -20, 30], dtype=np.int64)

    async def prog(e: Spdz2kEngine) -> dict[str, Any]:
        a = await e.input("s2", x if e.me == "s2" else None, 3)
        return {
            "to_s1": await e.open(a, to=["s1"]),
            "to_s1_s3": await e.open(e.add_public(a, 1), to=["s3", "s1"]),
            "to_bob": await e.open(e.mul_public(a, 2), to=["bob"]),
        }

    async def bob(net: PartyNetwork) -> IntArray:
        return await receive_output(net, servers=THREE, size=3)

    results = run(run_parties(THREE, prog, {"bob": bob}))
    assert_ok(results)
    assert np.array_equal(results["s1"]["to_s1"], x)
    assert results["s2"]["to_s1"] is None and results["s3"]["to_s1"] is None
    assert np.array_equal(results["s1"]["to_s1_s3"], x + 1)
    assert np.array_equal(results["s3"]["to_s1_s3"], x + 1)
    assert results["s2"]["to_s1_s3"] is None
    assert all(results[s]["to_bob"] is None for s in THREE)
    assert np.array_equal(results["bob"], 2 * x)


@pytest.mark.parametrize("servers", [TWO, THREE])
def test_guidance_example_three_clients(servers: tuple[str, ...]) -> None:
    incomes = {"c1": 10000, "c2": 15000, "c3": 20000}

    async def prog(e: Spdz2kEngine) -> tuple[int, float]:
        total = e.public(np.zeros(1, dtype=np.int64))
        for client in incomes:
            total = e.add(total, await e.input(client, None, 1))
        opened = await e.open(total)
        assert opened is not None
        return int(opened[0]), int(opened[0]) / len(incomes)

    def client(value: int) -> ClientProg:
        async def play(net: PartyNetwork) -> None:
            await provide_input(
                net, servers=servers, dealer=DEALER, values=np.array([value], dtype=np.int64)
            )

        return play

    results = run(run_parties(servers, prog, {c: client(v) for c, v in incomes.items()}))
    assert_ok(results)
    for s in servers:
        assert results[s] == (45000, 15000.0)


@pytest.mark.parametrize(
    ("statistic", "expected"),
    [("mean", 15000.0), ("sum", 45000.0), ("variance", 50_000_000 / 3), ("max", 20000.0)],
)
def test_guidance_example_through_the_statistics_recipes(statistic: str, expected: float) -> None:
    from petsuite.mpc import stats

    incomes = {"c1": [10000.0], "c2": [15000.0], "c3": [20000.0]}
    spec = stats.StatisticSpec(stats.Statistic(statistic), lower=0.0, upper=100000.0, frac_bits=0)

    async def prog(e: Spdz2kEngine) -> Any:
        return await stats.run_statistic(e, spec, input_parties=list(incomes), my_input=None)

    def client(values: list[float]) -> ClientProg:
        async def play(net: PartyNetwork) -> None:
            for kind, arr in stats.client_steps(spec, stats.PartyInput((values,))):
                if kind == "public":
                    await provide_public(net, servers=TWO, values=arr)
                else:
                    await provide_input(net, servers=TWO, dealer=DEALER, values=arr)

        return play

    results = run(run_parties(TWO, prog, {c: client(v) for c, v in incomes.items()}))
    assert_ok(results)
    for s in TWO:
        res = results[s]
        assert res.count == 3
        assert res.value == pytest.approx(expected, rel=1e-9)


def test_out_of_bounds_client_input_is_rejected_inside_the_computation() -> None:
    from petsuite.mpc import stats

    spec = stats.StatisticSpec(stats.Statistic.MEAN, lower=0.0, upper=100.0, frac_bits=0)
    data = {"c1": [10.0, 20.0], "c2": [150.0]}

    async def prog(e: Spdz2kEngine) -> Any:
        return await stats.run_statistic(e, spec, input_parties=list(data), my_input=None)

    def client(values: list[float], cheat: bool) -> ClientProg:
        async def play(net: PartyNetwork) -> None:
            ok_spec = stats.StatisticSpec(spec.statistic, lower=0.0, upper=1000.0, frac_bits=0)
            steps = stats.client_steps(ok_spec if cheat else spec, stats.PartyInput((values,)))
            for kind, arr in steps:
                if kind == "public":
                    await provide_public(net, servers=TWO, values=arr)
                else:
                    await provide_input(net, servers=TWO, dealer=DEALER, values=arr)

        return play

    clients = {"c1": client(data["c1"], False), "c2": client(data["c2"], True)}
    results = run(run_parties(TWO, prog, clients))
    for s in TWO:
        res = results[s]
        assert isinstance(res, InvalidInput) and "c2" in str(res), res
        assert "150" not in str(res)


# ----------------------------------------------------------------------------- tampering


def _tamper_tag(prefix: str, only_to: str | None = None) -> Callable[[str, str, bytes], bytes]:
    def tamper(tag: str, peer: str, data: bytes) -> bytes:
        if tag.startswith(prefix) and (only_to is None or peer == only_to):
            return flip_low_bit_of_first_value(data)
        return data

    return tamper


async def _output_prog(e: Spdz2kEngine) -> IntArray | None:
    a = await e.input("s1", np.arange(8, dtype=np.int64) - 4 if e.me == "s1" else None, 8)
    b = await e.mul(a, a)
    c = await e.trunc(b, 1)
    d = await e.ltz(e.add_public(a, -1), bits=8)
    return await e.open(e.concat([e.add(b, c), d]), to=["s1", "s2", "bob"])


async def _bob(net: PartyNetwork) -> IntArray:
    return await receive_output(net, servers=TWO, size=16)


def test_untampered_output_program_runs() -> None:
    results = run(run_parties(TWO, _output_prog, {"bob": _bob}))
    assert_ok(results)
    a = np.arange(8) - 4
    assert np.array_equal(results["s1"], results["bob"])
    assert np.array_equal(results["bob"][8:], (a - 1 < 0).astype(np.int64))


@pytest.mark.parametrize(
    ("servers", "step"),
    [(TWO, "open"), (THREE, "open"), (TWO, "mul"), (THREE, "mul"), (TWO, "trunc"), (TWO, "ltz")],
)
def test_server_altering_an_opened_share_is_detected(servers: tuple[str, ...], step: str) -> None:
    """s2 adds +-1 to its share in one opening (epsilon/delta for 'mul'); s2 is malicious."""

    async def bob(net: PartyNetwork) -> IntArray:
        return await receive_output(net, servers=servers, size=16)

    results = run(
        run_parties(
            servers, _output_prog, {"bob": bob}, hostile={"s2": _tamper_tag(f"spdz2k/{step}/")}
        )
    )
    honest = [s for s in servers if s != "s2"]
    assert_aborted(results, honest, f"MAC check failed on {step}")


class AlteredShare(Spdz2kEngine):
    """A server that adds 1 to its share before opening and uses the altered share itself too.

    Every server then sees the same (wrong) opened value, so only the MAC check can catch it.
    """

    async def _open_raw(self, share: Any, mac: Any, label: str) -> Any:
        if label == "open":
            lo = share[1].copy()
            lo[0] += np.uint64(1) if lo[0] != np.uint64(2**64 - 1) else np.uint64(0)
            share = (share[0], lo)
        return await super()._open_raw(share, mac, label)


@pytest.mark.parametrize("servers", [TWO, THREE])
def test_consistent_share_tampering_caught_by_the_mac_itself(servers: tuple[str, ...]) -> None:
    results = run(run_parties(servers, _output_prog_3, engine_cls={"s2": AlteredShare}))
    assert_aborted(results, servers, "MAC check failed on open")
    for name in servers:
        assert results[name].detail == "MAC check failed on open"


async def _output_prog_3(e: Spdz2kEngine) -> IntArray | None:
    a = await e.input("s1", np.arange(5, dtype=np.int64) if e.me == "s1" else None, 5)
    return await e.open(await e.mul(a, a))


def test_equivocating_share_is_caught_by_view_comparison() -> None:
    """s3 sends a wrong share to s1 only: the honest servers' views differ."""
    results = run(
        run_parties(THREE, _output_prog_3, hostile={"s3": _tamper_tag("spdz2k/open/", "s1")})
    )
    assert_aborted(results, ["s1", "s2"], "MAC check failed on open")


class AlteredMac(Spdz2kEngine):
    """A server that changes its MAC share of the value it opens (test-only hostile party)."""

    async def open(self, a: Shared, *, to: Collection[str] | None = None) -> IntArray | None:
        mac_lo = a.data[3].copy()
        mac_lo[0] ^= np.uint64(1 << 5)
        altered = Shared(a.size, (*a.data[:3], mac_lo, *a.data[4:]))
        return await super().open(altered, to=to)


@pytest.mark.parametrize("servers", [TWO, THREE])
def test_server_altering_its_mac_share_is_detected(servers: tuple[str, ...]) -> None:
    results = run(run_parties(servers, _output_prog_3, engine_cls={"s2": AlteredMac}))
    assert_aborted(results, servers, "MAC check failed on open")


def test_client_sending_different_values_to_servers_is_detected() -> None:
    def tamper(tag: str, peer: str, data: bytes) -> bytes:
        if tag == "spdz2k/input" and peer == "s2":
            words = np.frombuffer(data, dtype="<u8").copy()
            words[0] ^= np.uint64(1)
            return words.astype("<u8").tobytes()
        return data

    async def prog(e: Spdz2kEngine) -> IntArray | None:
        a = await e.input("carol", None, 3)
        return await e.open(a)

    async def carol(net: PartyNetwork) -> None:
        await provide_input(
            net, servers=TWO, dealer=DEALER, values=np.array([1, 2, 3], dtype=np.int64)
        )

    results = run(run_parties(TWO, prog, {"carol": carol}, hostile={"carol": tamper}))
    assert_aborted(
        {s: results[s] for s in TWO}, TWO, "input from carol: servers received different values"
    )


def test_dealer_request_mismatch_is_detected() -> None:
    def tamper(tag: str, peer: str, data: bytes) -> bytes:
        if tag == "spdz2k/dealer" and b'"triples",5' in data:
            return data.replace(b'"triples",5', b'"triples",6')
        return data

    results = run(run_parties(TWO, _output_prog_3, hostile={"s2": tamper}))
    assert_aborted(results, ["s1"], "dealer refused: servers' requests differ")
    dealer = results[DEALER]
    assert isinstance(dealer, ProtocolAbort) and dealer.reason is AbortReason.CHECK_FAILED
    assert "requests differ" in dealer.detail


def test_request_for_an_unknown_mask_owner_is_refused() -> None:
    async def prog(e: Spdz2kEngine) -> Shared:
        return await e.input("mallory", None, 2)

    results = run(run_parties(TWO, prog))
    assert_aborted({s: results[s] for s in TWO}, TWO, "dealer refused: malformed item")


def test_client_sending_a_short_input_is_malformed() -> None:
    async def prog(e: Spdz2kEngine) -> Shared:
        return await e.input("dave", None, 4)

    async def dave(net: PartyNetwork) -> None:  # speaks the wire format, but sends 3 words
        await net.exchange({}, [DEALER], "spdz2k/mask", max_bytes=32)
        short = np.arange(3, dtype="<u8").tobytes()
        await net.exchange(dict.fromkeys(TWO, short), [], "spdz2k/input", max_bytes=0)

    results = run(run_parties(TWO, prog, {"dave": dave}))
    for s in TWO:
        res = results[s]
        assert isinstance(res, ProtocolAbort)
        assert res.reason is AbortReason.MALFORMED and res.peer == "dave"


def test_client_output_mismatch_between_servers_is_rejected() -> None:
    async def main() -> Any:
        nets = memory_networks(["s1", "s2", "bob"])
        nets["s1"].send_raw("bob", "spdz2k/output", np.array([1], dtype="<u8").tobytes())
        nets["s2"].send_raw("bob", "spdz2k/output", np.array([2], dtype="<u8").tobytes())
        return await receive_output(nets["bob"], servers=TWO, size=1)

    with pytest.raises(ProtocolAbort) as err:
        asyncio.run(main())
    assert err.value.reason is AbortReason.CHECK_FAILED


def test_engine_stops_after_an_abort() -> None:
    async def prog(e: Spdz2kEngine) -> str:
        a = await e.input("s1", np.arange(3, dtype=np.int64) if e.me == "s1" else None, 3)
        with pytest.raises(ProtocolAbort):
            await e.open(a)
        with pytest.raises(ProtocolAbort, match="earlier abort"):
            await e.open(a)
        return "stopped"

    results = run(run_parties(TWO, prog, hostile={"s2": _tamper_tag("spdz2k/open/")}))
    assert results["s1"] == "stopped"


# ----------------------------------------------------------------------------- validation


def test_parameter_validation() -> None:
    nets = memory_networks(["s1", "s2", "s3", DEALER])
    with pytest.raises(UnsupportedParameter):
        Spdz2kEngine(nets["s1"], servers=["s1"], dealer=DEALER)
    with pytest.raises(InvalidInput):
        Spdz2kEngine(nets["s1"], servers=["s2", "s3"], dealer=DEALER)
    with pytest.raises(InvalidInput):
        Spdz2kEngine(nets["s1"], servers=["s1", "s2"], dealer="s2")
    e = Spdz2kEngine(nets["s1"], servers=["s1", "s2"], dealer=DEALER)
    assert e.parties == ("s1", "s2") and e.me == "s1"
    assert e.value_bits == 63 and e.compare_bits == 64
    one = e.public(np.array([1], dtype=np.int64))
    two = e.public(np.array([1, 2], dtype=np.int64))
    with pytest.raises(InvalidInput):
        e.add(one, two)
    with pytest.raises(InvalidInput):
        e.add(one, Shared(1, (np.zeros(1, dtype=np.uint64),)))
    with pytest.raises(InvalidInput):
        e.add_public(one, 1 << 70)

    async def bad_calls() -> None:
        with pytest.raises(UnsupportedParameter):
            await e.trunc(two, 63)
        with pytest.raises(UnsupportedParameter):
            await e.ltz(two, bits=65)
        with pytest.raises(UnsupportedParameter):
            await e.ltz(two, bits=0)
        with pytest.raises(InvalidInput):
            e.take(two, np.array([2]))
        with pytest.raises(InvalidInput):
            await e.input("s1", None, 2)
        with pytest.raises(InvalidInput):
            await e.open(two, to=[])

    asyncio.run(bad_calls())
    assert isinstance(nets["s1"], MemoryNetwork)
    assert spdz2k.VALUE_BITS == 63


def test_an_input_over_the_size_limit_names_its_owner(monkeypatch: pytest.MonkeyPatch) -> None:
    from petsuite.mpc import spdz2k

    monkeypatch.setattr(spdz2k, "MAX_ELEMENTS", 4)

    async def prog(e: Spdz2kEngine) -> Any:
        return await e.input("c1", None, 5)

    async def client(net: PartyNetwork) -> None:
        await net.exchange({}, [], "idle", max_bytes=0)

    results = run(run_parties(TWO, prog, {"c1": client}))
    for s in TWO:
        res = results[s]
        assert isinstance(res, InvalidInput), res
        assert "from c1" in str(res) and "at most 4 values per input" in str(res)
