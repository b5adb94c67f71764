"""The TLS PartyNetwork: the mesh, the config-hash handshake, chunking, deadlines, loss."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import pytest

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort
from petsuite.mpc.config import CollaborationConfig, parse_config
from petsuite.mpc.runtime import TLSPartyNetwork, connect_network
from petsuite.net.pki import load_identity
from petsuite.net.transport import memory_pair
from tests.mpc.runtime_support import make_pki, peer_config

T = TypeVar("T")
NAMES = ("p-a", "p-b", "p-c")


def run(coro: Awaitable[T], timeout: float = 20.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("mpc-pki"), [*NAMES, "p-d"])


async def mesh(
    configs: dict[str, CollaborationConfig], pki_dir: Path, chunk_bytes: int = 1 << 20
) -> dict[str, TLSPartyNetwork]:
    async def one(name: str) -> TLSPartyNetwork:
        return await connect_network(
            configs[name], name, identity=load_identity(pki_dir, name), chunk_bytes=chunk_bytes
        )

    nets = await asyncio.gather(*(one(n) for n in configs))
    return dict(zip(configs, nets, strict=True))


def test_mesh_exchange_chunks_and_closes(pki_dir: Path) -> None:
    cfg = parse_config(peer_config(NAMES))

    async def main() -> None:
        nets = await mesh(dict.fromkeys(NAMES, cfg), pki_dir, chunk_bytes=1000)
        big = {n: bytes([i]) * 2500 for i, n in enumerate(NAMES)}  # 3 frames each

        async def party(name: str) -> dict[str, bytes]:
            net = nets[name]
            others = [p for p in NAMES if p != name]
            got = await net.exchange(
                {p: big[name] for p in others}, others, "round-1", max_bytes=4000
            )
            empty = await net.exchange({p: b"" for p in others}, others, "round-2", max_bytes=0)
            assert empty == {p: b"" for p in others}
            return got

        results = await asyncio.gather(*(party(n) for n in NAMES))
        for name, got in zip(NAMES, results, strict=True):
            assert got == {p: big[p] for p in NAMES if p != name}
        await asyncio.gather(*(net.close() for net in nets.values()))

    run(main())


def test_parties_started_in_any_order(pki_dir: Path) -> None:
    cfg = parse_config(peer_config(NAMES))

    async def main() -> None:
        async def late(name: str, delay: float) -> TLSPartyNetwork:
            await asyncio.sleep(delay)
            return await connect_network(cfg, name, identity=load_identity(pki_dir, name))

        nets = await asyncio.gather(late("p-a", 0.6), late("p-b", 0.0), late("p-c", 0.3))
        await asyncio.gather(*(n.close() for n in nets))

    run(main())


def test_config_mismatch_named_on_both_sides(pki_dir: Path) -> None:
    text = peer_config(NAMES[:3])
    configs = {
        "p-a": parse_config(text),
        "p-b": parse_config(text.replace("upper = 100000", "upper = 100001")),
        "p-c": parse_config(text),
    }

    async def main() -> list[object]:
        async def one(name: str) -> object:
            try:
                net = await connect_network(
                    configs[name], name, identity=load_identity(pki_dir, name)
                )
            except ProtocolAbort as exc:
                return exc
            await net.abort(AbortReason.PEER_ABORTED)
            return net

        return await asyncio.gather(*(one(n) for n in NAMES))

    results = dict(zip(NAMES, run(main()), strict=True))
    b = results["p-b"]
    assert isinstance(b, ProtocolAbort) and b.reason is AbortReason.CONFIG_MISMATCH
    assert b.peer in ("p-a", "p-c")
    for name in ("p-a", "p-c"):
        exc = results[name]
        assert isinstance(exc, ProtocolAbort), name
        assert exc.reason is AbortReason.CONFIG_MISMATCH and exc.peer == "p-b", exc


def test_absent_party_times_out_by_name(pki_dir: Path) -> None:
    cfg = parse_config(peer_config(NAMES, connect_s=1.0))

    async def main() -> list[object]:
        async def one(name: str) -> object:
            try:
                return await connect_network(cfg, name, identity=load_identity(pki_dir, name))
            except ProtocolAbort as exc:
                return exc

        return await asyncio.gather(one("p-a"), one("p-c"))

    a, c = run(main())
    for exc in (a, c):
        assert isinstance(exc, ProtocolAbort) and exc.reason is AbortReason.TIMEOUT
        assert exc.peer == "p-b"


def test_wrong_identity_refused(pki_dir: Path) -> None:
    cfg = parse_config(peer_config(NAMES))
    with pytest.raises(InvalidInput, match="identity"):
        run(connect_network(cfg, "p-a", identity=load_identity(pki_dir, "p-b")))


def _pair(step_s: float = 0.5) -> tuple[TLSPartyNetwork, TLSPartyNetwork]:
    a, b = memory_pair("x", "y")
    return (
        TLSPartyNetwork("x", {"y": a}, step_timeout_s=step_s, chunk_bytes=16),
        TLSPartyNetwork("y", {"x": b}, step_timeout_s=step_s, chunk_bytes=16),
    )


def test_tag_size_timeout_and_loss_semantics() -> None:
    async def main() -> None:
        x, y = _pair()
        # wrong tag
        _, err = await asyncio.gather(
            x.exchange({"y": b"1"}, [], "step-a", max_bytes=10),
            y.exchange({}, ["x"], "step-b", max_bytes=10),
            return_exceptions=True,
        )
        assert isinstance(err, ProtocolAbort) and err.reason is AbortReason.UNEXPECTED
        assert err.peer == "x"
        x, y = _pair()
        # oversized: 40 bytes against a limit of 20 (refused at the first frame)
        _, err = await asyncio.gather(
            x.exchange({"y": b"z" * 40}, [], "s", max_bytes=100),
            y.exchange({}, ["x"], "s", max_bytes=20),
            return_exceptions=True,
        )
        assert isinstance(err, ProtocolAbort) and err.reason is AbortReason.OVERSIZED
        # silent peer
        x, y = _pair(step_s=0.2)
        with pytest.raises(ProtocolAbort) as info:
            await y.exchange({}, ["x"], "s", max_bytes=10)
        assert info.value.reason is AbortReason.TIMEOUT and info.value.peer == "x"
        # tolerated loss: x closes; y marks it lost and continues without it
        x, y = _pair(step_s=0.5)
        await x.abort(AbortReason.PEER_ABORTED)
        assert await y.exchange({"x": b"1"}, ["x"], "s", max_bytes=10, tolerate_loss=True) == {}
        assert y.lost == {"x"}
        assert await y.exchange({"x": b"2"}, ["x"], "t", max_bytes=10) == {}  # skipped now
        with pytest.raises(InvalidInput):
            await y.exchange({"nobody": b""}, [], "t", max_bytes=10)

    run(main())
