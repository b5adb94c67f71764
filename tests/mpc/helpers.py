"""Shared test helpers: Shamir engines on in-memory networks, one event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from petsuite.core.rng import DeterministicRandom
from petsuite.mpc.memory import MemoryNetwork, memory_networks
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
