"""An in-memory :class:`~petsuite.mpc.network.PartyNetwork` on asyncio queues, for tests.

All parties run as tasks in one event loop; :meth:`MemoryNetwork.disconnect` simulates a party
that dies (its peers then see ``ProtocolAbort(PEER_CLOSED)``). Same semantics as the TLS adapter in
:mod:`petsuite.mpc.runtime`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort

__all__ = ["MemoryNetwork", "memory_networks"]


@dataclass
class _Hub:
    """Shared state of a set of in-memory networks: one queue per ordered pair of parties."""

    names: tuple[str, ...]
    timeout_s: float
    queues: dict[tuple[str, str], asyncio.Queue[tuple[str, bytes] | None]] = field(
        default_factory=dict
    )
    dead: set[str] = field(default_factory=set)


class MemoryNetwork:
    """An in-process :class:`PartyNetwork` over asyncio queues, for tests and benchmarks.

    All parties of a hub must run in one event loop. :meth:`disconnect` simulates a party that dies:
    its peers then see ``ProtocolAbort(PEER_CLOSED)`` (or mark it lost) when they wait for it, and
    its own later exchanges raise ``PEER_CLOSED``. Payloads are not copied: senders must not mutate
    ``bytes`` (they cannot).
    """

    def __init__(self, hub: _Hub, me: str) -> None:
        self._hub = hub
        self._me = me
        self._lost: set[str] = set()

    @property
    def me(self) -> str:
        return self._me

    @property
    def lost(self) -> frozenset[str]:
        return frozenset(self._lost)

    @property
    def peers(self) -> tuple[str, ...]:
        """Every other party of the hub."""
        return tuple(n for n in self._hub.names if n != self._me)

    def disconnect(self) -> None:
        """Simulate this party's death: every peer waiting for it sees ``PEER_CLOSED``."""
        if self._me in self._hub.dead:
            return
        self._hub.dead.add(self._me)
        for peer in self.peers:
            self._hub.queues[(self._me, peer)].put_nowait(None)

    def send_raw(self, peer: str, tag: str, payload: bytes) -> None:
        """Queue one tagged payload for ``peer`` outside an exchange (tests of hostile peers)."""
        self._check_peer(peer)
        self._hub.queues[(self._me, peer)].put_nowait((tag, payload))

    def _check_peer(self, peer: str) -> None:
        if peer == self._me or peer not in self._hub.names:
            raise InvalidInput(f"unknown peer {peer!r} for party {self._me!r}")

    async def _receive(self, peer: str, tag: str, max_bytes: int) -> bytes:
        queue = self._hub.queues[(peer, self._me)]
        try:
            item = await asyncio.wait_for(queue.get(), timeout=self._hub.timeout_s)
        except TimeoutError:
            raise ProtocolAbort(
                AbortReason.TIMEOUT, f"no message for step {tag!r}", peer=peer
            ) from None
        if item is None:
            queue.put_nowait(None)  # stays closed for any later wait
            raise ProtocolAbort(AbortReason.PEER_CLOSED, f"closed during step {tag!r}", peer=peer)
        got_tag, payload = item
        if got_tag != tag:
            raise ProtocolAbort(
                AbortReason.UNEXPECTED, f"expected step {tag!r}, got {got_tag!r}", peer=peer
            )
        if len(payload) > max_bytes:
            raise ProtocolAbort(
                AbortReason.OVERSIZED, f"{len(payload)} bytes > {max_bytes} in {tag!r}", peer=peer
            )
        return payload

    async def exchange(
        self,
        outgoing: Mapping[str, bytes],
        expect_from: Collection[str],
        tag: str,
        *,
        max_bytes: int,
        tolerate_loss: bool = False,
    ) -> dict[str, bytes]:
        """See :meth:`PartyNetwork.exchange`."""
        if self._me in self._hub.dead:
            raise ProtocolAbort(AbortReason.PEER_CLOSED, "this party has disconnected")
        for peer in list(outgoing) + list(expect_from):
            self._check_peer(peer)
        for peer, payload in outgoing.items():
            if peer not in self._lost:
                self._hub.queues[(self._me, peer)].put_nowait((tag, payload))
        waiting = [p for p in dict.fromkeys(expect_from) if p not in self._lost]
        results = await asyncio.gather(
            *(self._receive(p, tag, max_bytes) for p in waiting), return_exceptions=True
        )
        received: dict[str, bytes] = {}
        failure: BaseException | None = None
        for peer, result in zip(waiting, results, strict=True):
            if isinstance(result, bytes):
                received[peer] = result
            elif (
                tolerate_loss
                and isinstance(result, ProtocolAbort)
                and result.reason
                in (
                    AbortReason.TIMEOUT,
                    AbortReason.PEER_CLOSED,
                )
            ):
                self._lost.add(peer)
            elif failure is None:
                failure = result
        if failure is not None:
            raise failure
        return received


def memory_networks(names: Sequence[str], *, timeout_s: float = 10.0) -> dict[str, MemoryNetwork]:
    """In-process networks for ``names``, all to be used from one asyncio event loop.

    Parameters
    ----------
    names:
        Distinct party names.
    timeout_s:
        How long an exchange waits for each peer before ``ProtocolAbort(TIMEOUT)``.
    """
    if len(set(names)) != len(names) or len(names) < 2:
        raise InvalidInput("memory_networks needs at least two distinct party names")
    if not timeout_s > 0:
        raise InvalidInput("timeout_s must be positive")
    hub = _Hub(tuple(names), float(timeout_s))
    for a in names:
        for b in names:
            if a != b:
                hub.queues[(a, b)] = asyncio.Queue()
    return {n: MemoryNetwork(hub, n) for n in names}
