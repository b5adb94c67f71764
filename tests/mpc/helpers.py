"""Shared test helpers: Shamir engines on in-memory networks, one event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Literal, TypeVar

from petsuite.core.rng import DeterministicRandom
from petsuite.mpc.memory import MemoryNetwork, memory_networks
from petsuite.mpc.network import PartyNetwork
from petsuite.mpc.shamir import ShamirEngine

T = TypeVar("T")


def names(n: int) -> list[str]:
    return [f"P{i}" for i in range(n)]


def rng(tag: int) -> DeterministicRandom:
    return DeterministicRandom(tag.to_bytes(4, "big") * 8, insecure_for_testing=True)


def engines(
    n: int,
    t: int,
    *,
    bit_method: Literal["auto", "xor", "sqrt"] = "auto",
    timeout_s: float = 5.0,
    seed: int = 0,
) -> tuple[dict[str, MemoryNetwork], list[ShamirEngine]]:
    parties = names(n)
    nets = memory_networks(parties, timeout_s=timeout_s)
    engs = [
        ShamirEngine(
            nets[p], parties=parties, threshold=t, rng=rng(seed * 100 + i), bit_method=bit_method
        )
        for i, p in enumerate(parties)
    ]
    return nets, engs


def run_all(
    engs: list[ShamirEngine], fn: Callable[[ShamirEngine], Awaitable[T]]
) -> list[T | BaseException]:
    async def main() -> list[T | BaseException]:
        return list(await asyncio.gather(*(fn(e) for e in engs), return_exceptions=True))

    return asyncio.run(main())


def ok(results: list[T | BaseException]) -> list[T]:
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results  # type: ignore[return-value]


class NetworkWrapper:
    """A party's network as seen through a test's hostile hook: ``outgoing`` may alter (or act on)
    every round's payloads before they are sent through the real network underneath."""

    def __init__(self, inner: PartyNetwork) -> None:
        self._inner = inner

    @property
    def me(self) -> str:
        return self._inner.me

    @property
    def lost(self) -> frozenset[str]:
        return self._inner.lost

    def outgoing(self, tag: str, payloads: Mapping[str, bytes]) -> Mapping[str, bytes]:
        return payloads

    async def exchange(
        self,
        outgoing: Mapping[str, bytes],
        expect_from: Collection[str],
        tag: str,
        *,
        max_bytes: int,
        tolerate_loss: bool = False,
    ) -> dict[str, bytes]:
        return await self._inner.exchange(
            self.outgoing(tag, outgoing), expect_from, tag, max_bytes=max_bytes,
            tolerate_loss=tolerate_loss,
        )  # fmt: skip
