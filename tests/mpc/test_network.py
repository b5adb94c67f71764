"""In-memory party networks: delivery, tags, size limits, deadlines, loss of a party."""

from __future__ import annotations

import asyncio

import pytest

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort
from petsuite.mpc.memory import memory_networks
from petsuite.mpc.network import PartyNetwork


def test_exchange_all_to_all_in_order() -> None:
    async def main() -> None:
        nets = memory_networks(["a", "b", "c"])
        assert isinstance(nets["a"], PartyNetwork)

        async def party(me: str) -> list[dict[str, bytes]]:
            net = nets[me]
            peers = [p for p in "abc" if p != me]
            out = []
            for step in range(3):
                msg = {p: f"{me}->{p}#{step}".encode() for p in peers}
                out.append(await net.exchange(msg, peers, f"s{step}", max_bytes=64))
            return out

        results = await asyncio.gather(*(party(p) for p in "abc"))
        for me, rounds in zip("abc", results, strict=True):
            for step, got in enumerate(rounds):
                assert got == {p: f"{p}->{me}#{step}".encode() for p in "abc" if p != me}

    asyncio.run(main())


def test_wrong_tag_is_unexpected() -> None:
    async def main() -> None:
        nets = memory_networks(["a", "b"])
        await nets["a"].exchange({"b": b"x"}, [], "one", max_bytes=0)
        with pytest.raises(ProtocolAbort) as info:
            await nets["b"].exchange({}, ["a"], "two", max_bytes=10)
        assert info.value.reason is AbortReason.UNEXPECTED and info.value.peer == "a"

    asyncio.run(main())


def test_oversized_payload() -> None:
    async def main() -> None:
        nets = memory_networks(["a", "b"])
        await nets["a"].exchange({"b": b"x" * 11}, [], "s", max_bytes=0)
        with pytest.raises(ProtocolAbort) as info:
            await nets["b"].exchange({}, ["a"], "s", max_bytes=10)
        assert info.value.reason is AbortReason.OVERSIZED and info.value.peer == "a"

    asyncio.run(main())


def test_silent_peer_times_out() -> None:
    async def main() -> None:
        nets = memory_networks(["a", "b"], timeout_s=0.05)
        with pytest.raises(ProtocolAbort) as info:
            await nets["a"].exchange({}, ["b"], "s", max_bytes=10)
        assert info.value.reason is AbortReason.TIMEOUT and info.value.peer == "b"

    asyncio.run(main())


def test_disconnect_and_tolerate_loss() -> None:
    async def main() -> None:
        nets = memory_networks(["a", "b", "c"], timeout_s=0.2)
        nets["c"].disconnect()
        with pytest.raises(ProtocolAbort) as info:
            await nets["a"].exchange({}, ["c"], "s", max_bytes=10)
        assert info.value.reason is AbortReason.PEER_CLOSED and info.value.peer == "c"
        with pytest.raises(ProtocolAbort):
            await nets["c"].exchange({"a": b"x"}, [], "s", max_bytes=10)

        async def b_side() -> None:
            await nets["b"].exchange({"a": b"hi"}, [], "t", max_bytes=10)

        got, _ = await asyncio.gather(
            nets["a"].exchange({"c": b"lost"}, ["b", "c"], "t", max_bytes=10, tolerate_loss=True),
            b_side(),
        )
        assert got == {"b": b"hi"}
        assert nets["a"].lost == frozenset({"c"})
        # lost peers are skipped afterwards: not awaited, sends dropped
        await nets["b"].exchange({"a": b"again"}, [], "u", max_bytes=10)
        assert await nets["a"].exchange({"c": b"x"}, ["b", "c"], "u", max_bytes=10) == {
            "b": b"again"
        }

    asyncio.run(main())


def test_tolerate_loss_does_not_hide_misbehaviour() -> None:
    async def main() -> None:
        nets = memory_networks(["a", "b"])
        await nets["b"].exchange({"a": b"x"}, [], "wrong", max_bytes=0)
        with pytest.raises(ProtocolAbort) as info:
            await nets["a"].exchange({}, ["b"], "right", max_bytes=10, tolerate_loss=True)
        assert info.value.reason is AbortReason.UNEXPECTED

    asyncio.run(main())


def test_validation() -> None:
    with pytest.raises(InvalidInput):
        memory_networks(["a"])
    with pytest.raises(InvalidInput):
        memory_networks(["a", "a"])
    with pytest.raises(InvalidInput):
        memory_networks(["a", "b"], timeout_s=0)

    async def main() -> None:
        nets = memory_networks(["a", "b"])
        with pytest.raises(InvalidInput):
            await nets["a"].exchange({"zz": b""}, [], "s", max_bytes=0)

    asyncio.run(main())
