"""The message layer the MPC engines talk through (an in-memory one is in :mod:`petsuite.mpc.memory`).

An engine only ever calls :meth:`PartyNetwork.exchange`: one synchronous round in which this party
sends one payload to each of some peers and waits for exactly one payload from each of some peers.
The TLS adapter (``petsuite.mpc.runtime``) and :class:`MemoryNetwork` both implement it.

Threat model: the network authenticates peers (mutual TLS in production) but is otherwise
untrusted for liveness: a silent peer raises ``ProtocolAbort(TIMEOUT)``, a closed one
``ProtocolAbort(PEER_CLOSED)``, a payload for another protocol step ``ProtocolAbort(UNEXPECTED)``
and an oversized one ``ProtocolAbort(OVERSIZED)``, each naming the peer. Payload contents are
validated by the engines.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Protocol, runtime_checkable

__all__ = ["PartyNetwork"]


@runtime_checkable
class PartyNetwork(Protocol):
    """One party's authenticated point-to-point links to the other parties of a computation.

    Semantics of :meth:`exchange`: sends and receives run concurrently; delivery per ordered pair
    of parties is in order. A payload whose tag differs from ``tag`` raises
    ``ProtocolAbort(UNEXPECTED, peer=...)``; a silent peer ``TIMEOUT``; a closed one
    ``PEER_CLOSED``; a payload longer than ``max_bytes`` ``OVERSIZED``. With
    ``tolerate_loss=True`` a peer that times out or closes is added to :attr:`lost` and left out
    of the result instead of raising (misbehaviour -- a wrong tag, an oversized payload -- still
    raises). Lost peers are skipped by every later exchange, tolerant or not: sends to them are
    dropped and they are not awaited, so the result may lack them; the caller decides whether
    enough replies came.
    """

    @property
    def me(self) -> str:
        """This party's name."""
        ...

    @property
    def lost(self) -> frozenset[str]:
        """Peers marked lost after a failure tolerated by an earlier exchange."""
        ...

    async def exchange(
        self,
        outgoing: Mapping[str, bytes],
        expect_from: Collection[str],
        tag: str,
        *,
        max_bytes: int,
        tolerate_loss: bool = False,
    ) -> dict[str, bytes]:
        """Send ``outgoing[peer]`` to each peer and return one payload from each of ``expect_from``.

        Parameters
        ----------
        outgoing:
            Payload per peer (may be empty).
        expect_from:
            Peers to receive exactly one payload from, tagged ``tag``.
        tag:
            Protocol step label; the receiver checks it.
        max_bytes:
            A larger incoming payload raises ``ProtocolAbort(OVERSIZED)``.
        tolerate_loss:
            Mark failing peers as lost instead of raising.
        """
        ...
