"""Run one party of a secure computation across machines: mutual TLS, the mesh, and the recipe.

:class:`TLSPartyNetwork` implements :class:`~petsuite.mpc.network.PartyNetwork` over
:mod:`petsuite.net.transport` channels. :func:`connect_network` builds the mesh deterministically
from the collaboration config: every party listens on its address for the linked parties listed
*after* it and connects to the linked parties listed *before* it, retrying until the connect
deadline, so parties may start in any order. On every new channel both sides exchange the
collaboration's :func:`~petsuite.mpc.config.config_hash` and the MPC protocol version; any
difference aborts both sides with ``ProtocolAbort(CONFIG_MISMATCH)`` naming the other party.

:func:`run_party` (and its coroutine :func:`run_party_async`) plays one party's role: a peer runs
``ShamirEngine``; a server of the delegated or hybrid model ``Spdz2kEngine``; the dealer
``run_dealer``; an input client its input steps, then collects the result from every server and
accepts it only if all servers sent the identical result.

Threat model: the network is hostile; channels are mutually authenticated by certificates from
the collaboration CA and encrypted (TLS 1.3). Message sizes, timing and who talks to whom leak to
the network and to the peers. Every message has a size limit and a deadline; a peer that stalls,
leaves or sends garbage raises :class:`~petsuite.core.errors.ProtocolAbort` naming it, and the
party then aborts its other channels so nobody waits for it. Nothing is released on any error: the
result is returned (and audited) only after the whole protocol, including the integrity checks,
has finished. Audit entries hold the config hash, the statistic, this party's row count and a
digest of the result, never input values.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
import multiprocessing
import queue as queue_module
import re
import socket
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from petsuite.core.audit import AuditLog, digest_result
from petsuite.core.encoding import canonical_json
from petsuite.core.errors import (
    AbortReason,
    InvalidInput,
    InvalidRecord,
    PetsError,
    ProtocolAbort,
    all_error_classes,
)
from petsuite.core.rng import RandomSource
from petsuite.core.schema import Bytes, Int, OneOf, Schema, Str
from petsuite.core.tables import read_table
from petsuite.dp.accounting import PrivacyLoss
from petsuite.dp.ledger import PrivacyLedger
from petsuite.mpc.config import CollaborationConfig, Role, load_config
from petsuite.mpc.shamir import ShamirEngine
from petsuite.mpc.spdz2k import Spdz2kEngine, provide_input, provide_public, run_dealer
from petsuite.mpc.stats import (
    NoiseSpec,
    PartyInput,
    Statistic,
    StatisticResult,
    StatisticSpec,
    client_steps,
    encode_input,
    run_statistic,
)
from petsuite.net.pki import TLSIdentity, init_ca, issue, load_identity
from petsuite.net.transport import Channel, Limits, Server, TLSChannel, connect, serve

__all__ = [
    "MPC_PROTOCOL_VERSION",
    "LocalParty",
    "Outcome",
    "TLSPartyNetwork",
    "connect_network",
    "parse_input_spec",
    "read_party_input",
    "result_from_json",
    "result_to_json",
    "run_local",
    "run_local_peer_statistic",
    "run_party",
    "run_party_async",
    "statistic_spec",
]

logger = logging.getLogger("petsuite.mpc")

#: Version of the MPC message layer, compared at every handshake together with the config hash.
MPC_PROTOCOL_VERSION = 1
#: Largest chunk of payload in one frame (the frame adds a small header).
DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024
_FRAME_OVERHEAD = 512
_MAX_TAG = 64
_MAX_CHUNKS = 1 << 20
_QUEUE_BYTES = 256 * 1024 * 1024
_RETRY_S = 0.1
_LOSS = (AbortReason.TIMEOUT, AbortReason.PEER_CLOSED, AbortReason.PEER_ABORTED)

_HELLO = Schema(
    "mpc-hello",
    {
        "collaboration": Str(min_len=1, max_len=128),
        "config_hash": Str(min_len=64, max_len=64),
        "version": Int(min=0, max=65535),
    },
)
_BYE = Schema("mpc-bye", {})


def _frame_schema(chunk_bytes: int) -> Schema:
    return Schema(
        "mpc",
        {
            "tag": Str(min_len=1, max_len=_MAX_TAG),
            "seq": Int(min=0),
            "chunk": Int(min=0, max=_MAX_CHUNKS - 1),
            "chunks": Int(min=1, max=_MAX_CHUNKS),
            "data": Bytes(max_len=chunk_bytes),
        },
    )


Progress = Callable[[str], None]


def _noop(_message: str) -> None:
    return None


class _Link:
    """One peer's channel, the task that drains it into a bounded queue, and sequence numbers."""

    def __init__(self, peer: str, channel: Channel, incoming: OneOf, depth: int) -> None:
        self.peer = peer
        self.channel = channel
        self.queue: asyncio.Queue[dict[str, Any] | ProtocolAbort] = asyncio.Queue(depth)
        self.send_seq = 0
        self.recv_seq = 0
        self.failure: ProtocolAbort | None = None
        self.bye = False
        self._incoming = incoming
        self.pump: asyncio.Task[None] | None = None

    def start(self, idle_s: float) -> None:
        self.pump = asyncio.get_running_loop().create_task(self._pump(idle_s))

    async def _pump(self, idle_s: float) -> None:
        try:
            while True:
                msg = await self.channel.recv(self._incoming, timeout_s=idle_s)
                await self.queue.put(msg)
                if msg["type"] == _BYE.name:
                    return
        except ProtocolAbort as exc:
            await self.queue.put(exc)

    async def next(self, timeout_s: float, tag: str) -> dict[str, Any]:
        if self.failure is not None:
            raise ProtocolAbort(self.failure.reason, self.failure.detail, peer=self.peer)
        try:
            item = await asyncio.wait_for(self.queue.get(), max(timeout_s, 0.0))
        except TimeoutError:
            self.failure = ProtocolAbort(
                AbortReason.TIMEOUT,
                f"no message for step {tag!r} within {timeout_s:.1f} s",
                peer=self.peer,
            )
            raise self.failure from None
        if isinstance(item, ProtocolAbort):
            self.failure = ProtocolAbort(item.reason, item.detail, peer=item.peer or self.peer)
            raise self.failure
        if item["type"] == _BYE.name:
            self.bye = True
            self.failure = ProtocolAbort(
                AbortReason.PEER_CLOSED, f"peer finished before step {tag!r}", peer=self.peer
            )
            raise self.failure
        return item


class TLSPartyNetwork:
    """A :class:`~petsuite.mpc.network.PartyNetwork` over authenticated channels.

    Built by :func:`connect_network` (or directly over already-open channels, e.g. from
    :func:`~petsuite.net.transport.memory_pair` in tests). Payloads are split into frames of at most
    ``chunk_bytes``; each frame is a ``{"type": "mpc", tag, seq, chunk, chunks, data}`` message,
    checked against a schema. Every channel is drained by a background task into a bounded queue,
    so a large send never waits for the peer to reach the matching step.

    Parameters
    ----------
    me:
        This party's name.
    channels:
        One open channel per peer.
    step_timeout_s:
        Deadline for each peer's payload in one :meth:`exchange`.
    idle_timeout_s:
        Longest silence tolerated on a channel at all (the run's total deadline).
    """

    def __init__(
        self,
        me: str,
        channels: Mapping[str, Channel],
        *,
        step_timeout_s: float = 30.0,
        idle_timeout_s: float = 600.0,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        on_close: Callable[[], Any] | None = None,
    ) -> None:
        if not 0 < step_timeout_s < math.inf or not 0 < idle_timeout_s < math.inf:
            raise InvalidInput("timeouts must be positive and finite")
        if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, int) or chunk_bytes < 1:
            raise InvalidInput("chunk_bytes must be a positive int")
        self._me = me
        self._step_s = float(step_timeout_s)
        self._idle_s = float(idle_timeout_s)
        self._chunk = chunk_bytes
        self._frame = _frame_schema(chunk_bytes)
        incoming = OneOf(self._frame, _BYE)
        depth = max(4, _QUEUE_BYTES // chunk_bytes)
        self._links = {p: _Link(p, ch, incoming, depth) for p, ch in channels.items()}
        self._lost: set[str] = set()
        self._closed = False
        self._on_close = on_close
        for link in self._links.values():
            link.start(self._idle_s)

    @property
    def me(self) -> str:
        return self._me

    @property
    def lost(self) -> frozenset[str]:
        return frozenset(self._lost)

    @property
    def peers(self) -> tuple[str, ...]:
        """The peers this party has a channel to."""
        return tuple(self._links)

    def _check_peer(self, peer: str) -> _Link:
        link = self._links.get(peer)
        if link is None:
            raise InvalidInput(f"party {self._me!r} has no channel to {peer!r}")
        return link

    async def _send(self, link: _Link, tag: str, payload: bytes) -> None:
        view = memoryview(payload)
        chunks = max(1, -(-len(view) // self._chunk))
        if chunks > _MAX_CHUNKS:
            raise InvalidInput(f"payload of {len(view)} bytes is too large to send")
        seq = link.send_seq
        link.send_seq += 1
        for i in range(chunks):
            data = bytes(view[i * self._chunk : (i + 1) * self._chunk])
            msg = {"type": "mpc", "tag": tag, "seq": seq, "chunk": i, "chunks": chunks, "data": data}
            try:
                await link.channel.send(msg)
            except ProtocolAbort as exc:
                link.failure = ProtocolAbort(exc.reason, exc.detail, peer=link.peer)
                raise link.failure from exc

    async def _receive(self, link: _Link, tag: str, max_bytes: int, deadline: float) -> bytes:
        loop = asyncio.get_running_loop()
        parts: list[bytes] = []
        total = 0
        chunks = 1
        i = 0
        while i < chunks:
            msg = await link.next(deadline - loop.time(), tag)
            if msg["tag"] != tag:
                link.failure = ProtocolAbort(
                    AbortReason.UNEXPECTED,
                    f"expected step {tag!r}, got {str(msg['tag'])[:_MAX_TAG]!r}",
                    peer=link.peer,
                )
                raise link.failure
            if msg["seq"] != link.recv_seq or msg["chunk"] != i or (i and msg["chunks"] != chunks):
                link.failure = ProtocolAbort(
                    AbortReason.MALFORMED, f"frames out of order in step {tag!r}", peer=link.peer
                )
                raise link.failure
            if i == 0:
                chunks = msg["chunks"]
                if (chunks - 1) * self._chunk >= max(max_bytes, 1):
                    link.failure = ProtocolAbort(
                        AbortReason.OVERSIZED,
                        f"{chunks} frames exceed {max_bytes} bytes in step {tag!r}",
                        peer=link.peer,
                    )
                    raise link.failure
            total += len(msg["data"])
            if total > max_bytes:
                link.failure = ProtocolAbort(
                    AbortReason.OVERSIZED,
                    f"payload exceeds {max_bytes} bytes in step {tag!r}",
                    peer=link.peer,
                )
                raise link.failure
            parts.append(msg["data"])
            i += 1
        link.recv_seq += 1
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def exchange(
        self,
        outgoing: Mapping[str, bytes],
        expect_from: Collection[str],
        tag: str,
        *,
        max_bytes: int,
        tolerate_loss: bool = False,
        timeout_s: float | None = None,
    ) -> dict[str, bytes]:
        """See :meth:`petsuite.mpc.network.PartyNetwork.exchange`; ``timeout_s`` overrides the
        step deadline (e.g. for a result that arrives only after the whole computation)."""
        if self._closed:
            raise ProtocolAbort(AbortReason.PEER_CLOSED, "the network is closed")
        if not isinstance(tag, str) or not 0 < len(tag) <= _MAX_TAG:
            raise InvalidInput(f"tag must be a str of 1 to {_MAX_TAG} characters")
        for peer in list(outgoing) + list(expect_from):
            self._check_peer(peer)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self._step_s if timeout_s is None else timeout_s)
        tasks: dict[asyncio.Task[Any], str] = {}
        for peer, payload in outgoing.items():
            if peer not in self._lost:
                task = loop.create_task(self._send(self._links[peer], tag, bytes(payload)))
                tasks[task] = peer
        receivers: dict[str, asyncio.Task[bytes]] = {}
        for peer in dict.fromkeys(expect_from):
            if peer not in self._lost:
                receivers[peer] = loop.create_task(
                    self._receive(self._links[peer], tag, max_bytes, deadline)
                )
                tasks[receivers[peer]] = peer
        pending: set[asyncio.Task[Any]] = set(tasks)
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    exc = task.exception()
                    if exc is None:
                        continue
                    peer = tasks[task]
                    if (
                        tolerate_loss
                        and isinstance(exc, ProtocolAbort)
                        and exc.reason in _LOSS
                    ):
                        self._lose(peer)
                        continue
                    raise exc
        finally:
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        return {
            peer: task.result()
            for peer, task in receivers.items()
            if peer not in self._lost and task.done() and not task.cancelled()
            and task.exception() is None
        }

    def _lose(self, peer: str) -> None:
        if peer not in self._lost:
            logger.warning("%s: lost party %s; continuing without it", self._me, peer)
            self._lost.add(peer)

    async def close(self, *, wait_s: float = 10.0) -> None:
        """Finish cleanly: send ``bye`` to every live peer, wait (at most ``wait_s``) for theirs,
        then close the channels. Idempotent."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s

        async def finish(link: _Link) -> None:
            if link.peer not in self._lost and link.failure is None:
                with contextlib.suppress(ProtocolAbort, InvalidInput):
                    await link.channel.send({"type": _BYE.name})
                while not link.bye and link.failure is None:
                    try:
                        await link.next(deadline - loop.time(), "bye")
                    except ProtocolAbort:
                        break
            await self._stop(link)

        await asyncio.gather(*(finish(link) for link in self._links.values()))
        await self._closed_hook()

    async def abort(self, reason: AbortReason, detail: str = "") -> None:
        """Tell every peer why this party stops (``detail`` must hold no secrets), then close."""
        self._closed = True

        async def stop(link: _Link) -> None:
            await link.channel.abort(reason, detail)
            await self._stop(link)

        await asyncio.gather(*(stop(link) for link in self._links.values()))
        await self._closed_hook()

    async def _stop(self, link: _Link) -> None:
        await link.channel.close()
        if link.pump is not None and not link.pump.done():
            link.pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await link.pump

    async def _closed_hook(self) -> None:
        if self._on_close is not None:
            result = self._on_close()
            if asyncio.iscoroutine(result):
                await result


# ------------------------------------------------------------------------------------------------
# the mesh


@dataclass(frozen=True)
class _Endpoint:
    host: str
    port: int


def _parse_listen(text: str) -> _Endpoint:
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    digits = port.isascii() and port.isdigit()  # str.isdigit alone admits e.g. superscripts
    if not sep or not host or not digits or not 0 <= int(port) <= 65535:
        raise InvalidInput(f"listen address {text[:80]!r} must look like HOST:PORT")
    return _Endpoint(host, int(port))


async def _hello(channel: Channel, config: CollaborationConfig, digest: str) -> None:
    """Exchange the config hash and protocol version; a difference aborts both sides."""
    await channel.send(
        _HELLO.message(
            collaboration=config.name[:128], config_hash=digest, version=MPC_PROTOCOL_VERSION
        )
    )
    theirs = await channel.recv(_HELLO, timeout_s=config.deadlines.connect_s)
    if theirs["version"] != MPC_PROTOCOL_VERSION:
        raise ProtocolAbort(
            AbortReason.CONFIG_MISMATCH,
            f"peer speaks MPC protocol version {theirs['version']}, we speak "
            f"{MPC_PROTOCOL_VERSION}",
            peer=channel.peer,
        )
    if not hmac.compare_digest(str(theirs["config_hash"]).encode(), digest.encode()):
        raise ProtocolAbort(
            AbortReason.CONFIG_MISMATCH,
            f"collaboration config differs: peer has {theirs['config_hash'][:16]}..., "
            f"we have {digest[:16]}... (compare `petsuite mpc config-hash`)",
            peer=channel.peer,
        )


async def connect_network(
    config: CollaborationConfig,
    me: str,
    *,
    identity: TLSIdentity,
    listen: str | None = None,
    progress: Progress | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> TLSPartyNetwork:
    """Open this party's channels to every party it is linked to, and check the config hash.

    Parameters
    ----------
    listen:
        A local ``HOST:PORT`` to bind instead of the configured address (e.g. ``0.0.0.0:7701``
        behind NAT); the configured address is still what others connect to.

    Raises
    ------
    ProtocolAbort
        ``TIMEOUT`` naming a party that could not be reached, or did not connect, within
        ``deadlines.connect_s``; ``CONFIG_MISMATCH`` naming a party whose config differs;
        ``HANDSHAKE`` for certificate problems.
    """
    say = _noop if progress is None else progress
    party = config.party(me)
    if identity.name != me:
        raise InvalidInput(f"the TLS identity is {identity.name!r}, not {me!r}")
    digest = config.config_hash()
    deadlines = config.deadlines
    links = config.links(me)
    my_index = config.index(me)
    before = [p for p in links if config.index(p) < my_index]
    after = [p for p in links if config.index(p) > my_index]
    limits = Limits(
        max_frame_bytes=chunk_bytes + _FRAME_OVERHEAD,
        recv_timeout_s=deadlines.step_s,
        send_timeout_s=deadlines.step_s,
        connect_timeout_s=min(deadlines.connect_s, 10.0),
        handshake_timeout_s=min(deadlines.connect_s, 10.0),
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadlines.connect_s
    channels: dict[str, Channel] = {}
    mismatched: dict[str, ProtocolAbort] = {}
    inbound_done = asyncio.Event()
    run_over = asyncio.Event()
    built = asyncio.Event()

    def _inbound_check() -> None:
        if all(p in channels or p in mismatched for p in after):
            inbound_done.set()

    _inbound_check()

    async def accept(channel: TLSChannel) -> None:
        peer = channel.peer
        if built.is_set():
            raise ProtocolAbort(AbortReason.UNEXPECTED, "connection after the mesh was built",
                                peer=peer)
        try:
            await _hello(channel, config, digest)
        except ProtocolAbort as exc:
            if exc.reason is not AbortReason.CONFIG_MISMATCH:
                raise  # the peer sees it fail and may retry
            mismatched[peer] = ProtocolAbort(exc.reason, exc.detail, peer=peer)
            _inbound_check()
            raise
        stale = channels.get(peer)
        channels[peer] = channel  # a reconnection (the first attempt timed out) replaces it
        if stale is not None:
            await stale.close()
        say(f"{peer} connected")
        _inbound_check()
        await run_over.wait()

    server: Server | None = None
    if after:
        endpoint = (
            _Endpoint(party.host, party.port) if listen is None else _parse_listen(listen)
        )
        server = await serve(
            endpoint.host, endpoint.port, accept, identity=identity, limits=limits,
            allowed_peers=after,
        )
        say(f"listening on {endpoint.host}:{server.port} for {', '.join(after)}")

    async def dial(peer: str) -> None:
        target = config.party(peer)
        last: ProtocolAbort | None = None
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                detail = f"could not reach {peer} at {target.address} within {deadlines.connect_s} s"
                if last is not None:
                    detail += f" ({last.detail[:120]})"
                raise ProtocolAbort(AbortReason.TIMEOUT, detail, peer=peer)
            try:
                channel = await connect(
                    target.host, target.port, identity=identity, peer_name=peer,
                    limits=Limits(
                        max_frame_bytes=limits.max_frame_bytes,
                        recv_timeout_s=limits.recv_timeout_s,
                        send_timeout_s=limits.send_timeout_s,
                        connect_timeout_s=max(min(remaining, limits.connect_timeout_s), 0.05),
                        handshake_timeout_s=limits.handshake_timeout_s,
                    ),
                )
            except ProtocolAbort as exc:
                if exc.reason not in (AbortReason.PEER_CLOSED, AbortReason.TIMEOUT):
                    raise
                last = exc
                await asyncio.sleep(min(_RETRY_S, max(deadline - loop.time(), 0)))
                continue
            try:
                await _hello(channel, config, digest)
            except ProtocolAbort as exc:
                with contextlib.suppress(ProtocolAbort):
                    await channel.abort(exc.reason, exc.detail)
                if exc.reason is not AbortReason.CONFIG_MISMATCH:
                    raise ProtocolAbort(exc.reason, exc.detail, peer=peer) from exc
                # finish the other handshakes, so that every party learns of the mismatch
                mismatched[peer] = ProtocolAbort(exc.reason, exc.detail, peer=peer)
                return
            channels[peer] = channel
            say(f"connected to {peer}")
            return

    async def wait_inbound() -> None:
        try:
            await asyncio.wait_for(inbound_done.wait(), max(deadline - loop.time(), 0.0))
        except TimeoutError:
            missing = [p for p in after if p not in channels and p not in mismatched]
            raise ProtocolAbort(
                AbortReason.TIMEOUT,
                f"{', '.join(missing)} did not connect within {deadlines.connect_s} s",
                peer=missing[0],
            ) from None

    async def shutdown() -> None:
        run_over.set()
        if server is not None:
            await server.close()

    tasks = [loop.create_task(wait_inbound()), *(loop.create_task(dial(p)) for p in before)]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        errors = [t.exception() for t in done if t.exception() is not None]
        if errors:
            # prefer the most specific reason: a mismatch over a failure it caused
            errors.sort(key=lambda e: 0 if isinstance(e, ProtocolAbort)
                        and e.reason is AbortReason.CONFIG_MISMATCH else 1)
            raise errors[0]  # type: ignore[misc]
        if mismatched:
            raise next(iter(mismatched.values()))
    except BaseException as exc:
        reason = exc.reason if isinstance(exc, ProtocolAbort) else AbortReason.PEER_ABORTED
        for channel in channels.values():
            with contextlib.suppress(Exception):
                await channel.abort(reason, "")
        await shutdown()
        raise
    built.set()
    say(f"all {len(links)} channels open; config hash {digest[:16]}... agreed")
    return TLSPartyNetwork(
        me,
        {p: channels[p] for p in links},
        step_timeout_s=deadlines.step_s,
        idle_timeout_s=deadlines.total_s,
        chunk_bytes=chunk_bytes,
        on_close=shutdown,
    )


# ------------------------------------------------------------------------------------------------
# one party's run


def parse_input_spec(text: str) -> tuple[Path, tuple[str, ...]]:
    """Split ``FILE:COLUMN[,COLUMN]`` (or a bare ``FILE``) into the path and the column names."""
    if not isinstance(text, str) or not text:
        raise InvalidInput("the input must look like FILE:COLUMN or FILE:COLUMN,COLUMN")
    path, sep, cols = text.rpartition(":")
    if sep and path and cols and "/" not in cols and "\\" not in cols:
        columns = tuple(c.strip() for c in cols.split(","))
        if any(not c for c in columns):
            raise InvalidInput(f"empty column name in {text[:200]!r}")
        return Path(path), columns
    return Path(text), ()


#: Numbers with thousands separators: 12,500 or -1,234,567.89 (the commas are dropped).
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")


def read_party_input(
    config: CollaborationConfig, source: str, *, table: str | None = None
) -> PartyInput:
    """Read this party's column(s) for the configured statistic with
    :func:`~petsuite.core.tables.read_table` (CSV, Parquet, DuckDB, SQLite).

    Numbers are parsed as floats; a histogram's column is read as category labels. Errors name
    the file, column and row, never a value.
    """
    comp = config.computation
    path, columns = parse_input_spec(source)
    if not columns:
        columns = comp.columns
    if len(columns) != comp.n_columns:
        raise InvalidInput(
            f"{comp.statistic} needs {comp.n_columns} column(s): give FILE:"
            + ",".join(f"COLUMN{i + 1}" for i in range(comp.n_columns))
            + (" or set computation.columns" if not comp.columns else "")
        )
    data = read_table(path, columns=list(columns), table=table)
    if data.n_rows == 0:
        raise InvalidInput(f"{path.name} has no rows")
    out: list[list[float] | list[str]] = []
    for column in columns:
        raw = data.column(column)
        if comp.statistic == "histogram":
            labels: list[str] = []
            for row, value in enumerate(raw, start=1):
                if value is None:
                    raise InvalidInput(f"{path.name}: column {column!r} row {row} is empty")
                labels.append(value.strip())
            out.append(labels)
            continue
        numbers: list[float] = []
        for row, value in enumerate(raw, start=1):
            if value is None or not value.strip():
                raise InvalidInput(f"{path.name}: column {column!r} row {row} is empty")
            text = value.strip()
            if "," in text and _THOUSANDS.fullmatch(text) is None:
                # "1,5" may be a decimal comma: refuse rather than read it as 15
                raise InvalidInput(
                    f"{path.name}: column {column!r} row {row} is not a number (commas are "
                    "accepted only as thousands separators, e.g. 12,500.00)"
                )
            try:
                number = float(text.replace(",", ""))
            except ValueError:
                raise InvalidInput(
                    f"{path.name}: column {column!r} row {row} is not a number"
                ) from None
            if not math.isfinite(number):
                raise InvalidInput(f"{path.name}: column {column!r} row {row} is not finite")
            numbers.append(number)
        out.append(numbers)
    return PartyInput(columns=tuple(out))


def statistic_spec(config: CollaborationConfig) -> StatisticSpec:
    """The recipe's :class:`~petsuite.mpc.stats.StatisticSpec` for the configured computation."""
    comp = config.computation
    return StatisticSpec(
        statistic=Statistic(comp.statistic),
        lower=comp.lower,
        upper=comp.upper,
        frac_bits=comp.frac_bits,
        categories=comp.categories,
    )


def result_to_json(result: StatisticResult) -> dict[str, Any]:
    """A :class:`StatisticResult` as a canonical-JSON-ready dict."""
    value: Any = result.value
    if isinstance(value, tuple):
        value = list(value)
    elif isinstance(value, dict):
        value = dict(value)
    return {
        "statistic": result.statistic.value,
        "value": value,
        "count": result.count,
        "per_party_rows": dict(result.per_party_rows),
        "noise_rho": None if result.noise is None else float(result.noise.rho),
    }


def result_from_json(data: Any, *, peer: str | None = None) -> StatisticResult:
    """Parse :func:`result_to_json`'s output, as received from a server; malformed -> MALFORMED."""

    def bad(why: str) -> ProtocolAbort:
        return ProtocolAbort(AbortReason.MALFORMED, f"result: {why}", peer=peer)

    if not isinstance(data, dict) or set(data) != {
        "statistic", "value", "count", "per_party_rows", "noise_rho",
    }:
        raise bad("unexpected fields")
    try:
        statistic = Statistic(data["statistic"])
    except ValueError:
        raise bad("unknown statistic") from None
    raw = data["value"]
    value: float | tuple[float, ...] | dict[str, int]
    if isinstance(raw, bool):
        raise bad("value has the wrong type")
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in raw
    ):
        value = tuple(float(v) for v in raw)
    elif isinstance(raw, dict) and all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in raw.items()
    ):
        value = {str(k): int(v) for k, v in raw.items()}
    else:
        raise bad("value has the wrong type")
    count = data["count"]
    rows = data["per_party_rows"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise bad("count is not a non-negative integer")
    if not isinstance(rows, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in rows.items()
    ):
        raise bad("per_party_rows is malformed")
    rho = data["noise_rho"]
    if rho is not None and (isinstance(rho, bool) or not isinstance(rho, int | float)):
        raise bad("noise_rho is malformed")
    try:
        noise = None if rho is None else NoiseSpec(rho=float(rho))
    except InvalidInput:
        raise bad("noise_rho is malformed") from None
    return StatisticResult(
        statistic=statistic,
        value=value,
        count=count,
        per_party_rows={str(k): int(v) for k, v in rows.items()},
        noise=noise,
    )


_RESULT_TAG = "mpc-result"
_MAX_RESULT_BYTES = 1 << 20


def _is_owner(config: CollaborationConfig, name: str) -> bool:
    return name in config.input_parties


def _charge(
    config: CollaborationConfig, me: str, ledger: PrivacyLedger | None
) -> dict[str, Any] | None:
    """Charge this data owner's ledger for the release before anything is sent."""
    if config.dp is None or not _is_owner(config, me):
        return None
    if ledger is None:
        raise InvalidInput(
            "the collaboration adds DP noise: a data owner needs a privacy ledger (--ledger)"
        )
    loss = PrivacyLoss(epsilon=math.inf, delta=0.0, rho=config.dp.rho)
    ledger.charge(
        dataset=config.dp.dataset,
        analyst=f"mpc:{config.name}",
        loss=loss,
        description=f"MPC {config.computation.statistic} release, collaboration {config.name}",
        parameters={
            "config_hash": config.config_hash(),
            "recipients": list(config.recipients),
            "party": me,
        },
    )
    return loss.to_dict()


async def _run_role(
    config: CollaborationConfig,
    me: str,
    *,
    net: TLSPartyNetwork,
    data: PartyInput | None,
    rng: RandomSource | None,
    say: Progress,
    deadline: float,
) -> StatisticResult | None:
    role = config.party(me).role
    spec = statistic_spec(config)
    noise = None if config.dp is None else NoiseSpec(rho=config.dp.rho)
    compute = list(config.compute_parties)
    if role is Role.PEER:
        engine = ShamirEngine(net, parties=compute, threshold=config.threshold or 1, rng=rng)
        say(f"computing {spec.statistic.value} with {len(compute)} peers (Shamir, t="
            f"{config.threshold})")
        return await run_statistic(
            engine,
            spec,
            input_parties=config.input_parties,
            my_input=data,
            noise=noise,
            rng=rng,
            output_to=config.recipients,
        )
    dealer = config.dealer
    if dealer is None:  # the config validation guarantees one
        raise InvalidInput("the delegated model needs a dealer")
    clients = list(config.input_parties)
    if role is Role.DEALER:
        say(f"dealing preprocessing material to {', '.join(compute)}")
        await run_dealer(net, servers=compute, clients=clients, rng=rng)
        return None
    if role is Role.SERVER:
        engine2 = Spdz2kEngine(
            net, servers=compute, dealer=dealer, rng=rng, timeout_s=config.deadlines.step_s
        )
        say(f"computing {spec.statistic.value} on {len(compute)} servers (SPDZ2k)")
        result = await run_statistic(
            engine2,
            spec,
            input_parties=clients,
            my_input=None,
            noise=noise,
            rng=rng,
            output_to=None,
        )
        if result is None:
            raise ProtocolAbort(AbortReason.CHECK_FAILED, "a server got no result")
        await engine2.close()  # the dealer stops once every server is done
        payload = canonical_json(result_to_json(result))
        to_clients = [r for r in config.recipients if r in clients]
        if to_clients:
            await net.exchange(
                dict.fromkeys(to_clients, payload), [], _RESULT_TAG,
                max_bytes=_MAX_RESULT_BYTES,
            )
        return result if me in config.recipients else None
    # an input client
    if data is None:
        raise InvalidInput("an input client needs its input")
    steps = client_steps(spec, data)
    say(f"sending {len(steps)} secret-shared input step(s) to {', '.join(compute)}")
    for kind, values in steps:
        if kind == "public":
            await provide_public(net, servers=compute, values=values)
        else:
            await provide_input(net, servers=compute, dealer=dealer, values=values)
    if me not in config.recipients:
        return None
    say("waiting for the result from every server")
    loop = asyncio.get_running_loop()
    replies = await net.exchange(
        {}, compute, _RESULT_TAG, max_bytes=_MAX_RESULT_BYTES,
        timeout_s=max(deadline - loop.time(), 0.1),
    )
    first = replies[compute[0]]
    for server in compute[1:]:
        if not hmac.compare_digest(replies[server], first):
            raise ProtocolAbort(
                AbortReason.CHECK_FAILED,
                f"servers {compute[0]} and {server} sent different results",
                peer=server,
            )
    try:
        decoded = json.loads(first.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ProtocolAbort(
            AbortReason.MALFORMED, "result is not JSON", peer=compute[0]
        ) from None
    return result_from_json(decoded, peer=compute[0])


def _audit_params(
    config: CollaborationConfig, me: str, rows: int | None, role: Role
) -> dict[str, Any]:
    return {
        "collaboration": config.name,
        "config_hash": config.config_hash(),
        "model": config.model.value,
        "role": role.value,
        "statistic": config.computation.statistic,
        "rows": rows,
        "recipients": list(config.recipients),
        "dp_rho": None if config.dp is None else config.dp.rho,
    }


async def run_party_async(
    config: CollaborationConfig,
    party_name: str,
    *,
    pki_dir: Path,
    input_path: str | None = None,
    table: str | None = None,
    audit: AuditLog | None = None,
    ledger: PrivacyLedger | None = None,
    progress: Progress | None = None,
    listen: str | None = None,
    rng: RandomSource | None = None,
) -> StatisticResult | None:
    """The coroutine behind :func:`run_party` (for callers that already run an event loop)."""
    say = _noop if progress is None else progress
    party = config.party(party_name)
    owner = _is_owner(config, party_name)
    if owner and input_path is None:
        raise InvalidInput(f"{party_name} is a data owner: give its input as FILE:COLUMN")
    if not owner and input_path is not None:
        raise InvalidInput(f"{party_name} is a {party.role.value}: it takes no input data")
    identity = load_identity(Path(pki_dir), party_name)
    data: PartyInput | None = None
    rows: int | None = None
    if input_path is not None:
        data = read_party_input(config, input_path, table=table)
        rows = len(data.columns[0])
        encode_input(statistic_spec(config), data)  # local validation before anything is sent
        say(f"read {rows:,} rows from {parse_input_spec(input_path)[0].name}")
    cost = _charge(config, party_name, ledger)
    if cost is not None:
        say(f"charged rho = {config.dp.rho if config.dp else 0} to the privacy ledger")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + config.deadlines.total_s
    params = _audit_params(config, party_name, rows, party.role)
    net = await connect_network(config, party_name, identity=identity, listen=listen,
                                progress=say)
    try:
        result = await asyncio.wait_for(
            _run_role(config, party_name, net=net, data=data, rng=rng, say=say, deadline=deadline),
            max(deadline - loop.time(), 0.1),
        )
    except TimeoutError:
        exc = ProtocolAbort(
            AbortReason.TIMEOUT, f"the run did not finish within {config.deadlines.total_s} s"
        )
        await _fail(net, audit, party_name, params, exc)
        raise exc from None
    except BaseException as exc:
        await _fail(net, audit, party_name, params, exc)
        raise
    await net.close(wait_s=max(min(deadline - loop.time(), config.deadlines.step_s), 0.1))
    if audit is not None:
        audit.append(
            actor=party_name,
            operation="mpc.run",
            parameters={**params, "received_result": result is not None},
            privacy_cost=cost,
            result_digest=None if result is None else digest_result(result_to_json(result)),
        )
    say("done")
    return result


async def _fail(
    net: TLSPartyNetwork,
    audit: AuditLog | None,
    me: str,
    params: Mapping[str, Any],
    exc: BaseException,
) -> None:
    reason = exc.reason if isinstance(exc, ProtocolAbort) else AbortReason.CHECK_FAILED
    if isinstance(exc, ProtocolAbort) and exc.reason in (
        AbortReason.PEER_ABORTED, AbortReason.PEER_CLOSED
    ):
        reason = AbortReason.PEER_ABORTED
    with contextlib.suppress(Exception):
        await net.abort(reason, type(exc).__name__)
    if audit is not None and isinstance(exc, Exception):
        with contextlib.suppress(PetsError):
            audit.append(
                actor=me,
                operation="mpc.aborted",
                parameters={
                    **params,
                    "error": type(exc).__name__,
                    "reason": exc.reason.value if isinstance(exc, ProtocolAbort) else None,
                    "peer": exc.peer if isinstance(exc, ProtocolAbort) else None,
                },
            )


def run_party(
    config: CollaborationConfig,
    party_name: str,
    *,
    pki_dir: Path,
    input_path: str | None = None,
    table: str | None = None,
    audit: AuditLog | None = None,
    ledger: PrivacyLedger | None = None,
    progress: Progress | None = None,
    listen: str | None = None,
    rng: RandomSource | None = None,
) -> StatisticResult | None:
    """Run ``party_name``'s side of the collaboration to the end; return its result, if it is a
    recipient (``None`` otherwise).

    Parameters
    ----------
    pki_dir:
        Folder with ``ca.crt`` and this party's certificate and key.
    input_path:
        ``FILE:COLUMN`` (two columns ``FILE:VALUE,WEIGHT`` or ``FILE:X,Y`` where the statistic
        needs them) for a data owner; ``None`` for servers and the dealer.
    table:
        The table inside a DuckDB or SQLite file.
    audit:
        Receives one ``mpc.run`` entry (config hash, statistic, this party's row count, result
        digest) or ``mpc.aborted`` on failure; never input values.
    ledger:
        With DP configured, each data owner's ledger is charged ``rho`` before anything is sent;
        a refused charge raises :class:`~petsuite.core.errors.PrivacyBudgetExceeded` and the party
        never connects.
    progress:
        Called with short progress lines.
    listen:
        A local ``HOST:PORT`` to bind instead of the configured address.

    Raises
    ------
    InvalidInput
        Bad input file or values (including values outside the declared bounds, detected inside
        the computation without revealing them), or a bad argument.
    PrivacyBudgetExceeded
        The ledger refused the release.
    ProtocolAbort
        A peer stalled, left, misbehaved or has another config (``CONFIG_MISMATCH``), or an
        integrity check failed (``CHECK_FAILED``). No result is released.
    """
    return asyncio.run(
        run_party_async(
            config,
            party_name,
            pki_dir=pki_dir,
            input_path=input_path,
            table=table,
            audit=audit,
            ledger=ledger,
            progress=progress,
            listen=listen,
            rng=rng,
        )
    )


# ------------------------------------------------------------------------------------------------
# several parties on one machine (examples, demos, tests)

#: What :func:`run_local` reports per party: its result, ``None`` (not a recipient), or its error.
Outcome = StatisticResult | PetsError | None


def _error_record(exc: BaseException) -> tuple[str, str, str | None, str, str | None]:
    if isinstance(exc, ProtocolAbort):
        return ("ProtocolAbort", str(exc), exc.reason.value, exc.detail, exc.peer)
    return (type(exc).__name__, str(exc), None, "", None)


def _rebuild_error(record: tuple[str, str, str | None, str, str | None]) -> PetsError:
    name, message, reason, detail, peer = record
    if name == "ProtocolAbort" and reason is not None:
        return ProtocolAbort(AbortReason(reason), detail, peer=peer)
    for cls in all_error_classes():
        if cls.__name__ == name and cls is not ProtocolAbort:
            if cls is InvalidRecord:
                return InvalidRecord(message)
            return cls(message)
    return PetsError(f"{name}: {message}")


@dataclass(frozen=True)
class LocalParty:
    """How :func:`run_local` runs one party: its input and its local files."""

    input_path: str | None = None
    audit_log: Path | None = None
    ledger: Path | None = None


def _party_main(
    config: CollaborationConfig,
    name: str,
    pki_dir: Path,
    local: LocalParty,
    queue: Any,
) -> None:
    """Entry point of one party's process (spawned)."""
    try:
        with contextlib.ExitStack() as stack:
            audit = (
                None if local.audit_log is None else stack.enter_context(AuditLog(local.audit_log))
            )
            ledger = (
                None
                if local.ledger is None
                else stack.enter_context(PrivacyLedger(local.ledger, audit=audit, actor=name))
            )
            result = run_party(
                config, name, pki_dir=pki_dir, input_path=local.input_path, audit=audit,
                ledger=ledger,
            )
        queue.put((name, "ok", result))
    except PetsError as exc:
        queue.put((name, "error", _error_record(exc)))
    except BaseException as exc:  # report, then let the process die with it
        queue.put((name, "error", ("PetsError", f"unexpected {type(exc).__name__}: {exc}",
                                   None, "", None)))
        raise


def run_local(
    config: CollaborationConfig,
    *,
    pki_dir: Path,
    parties: Mapping[str, LocalParty],
    timeout_s: float | None = None,
) -> dict[str, Outcome]:
    """Run the named parties of ``config`` as separate processes on this machine (spawned, so
    each has its own interpreter, sockets and memory) and collect each one's outcome.

    Every party still talks to the others over mutual TLS at its configured address. Parties of
    the config not in ``parties`` are not started (so the others report them as absent).

    Returns
    -------
    dict
        Per party: its :class:`StatisticResult`, ``None`` when it is not a recipient, or the
        :class:`~petsuite.core.errors.PetsError` it raised. A process that does not finish within
        ``timeout_s`` (default: the config's total deadline plus its connect deadline) is killed
        and reported as ``ProtocolAbort(TIMEOUT)``.
    """
    for name in parties:
        config.party(name)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = {
        name: ctx.Process(
            target=_party_main,
            args=(config, name, Path(pki_dir), local, queue),
            name=f"petsuite-mpc-{name}",
            daemon=True,
        )
        for name, local in parties.items()
    }
    for proc in procs.values():
        proc.start()
    limit = (
        config.deadlines.total_s + config.deadlines.connect_s + 30.0
        if timeout_s is None
        else timeout_s
    )
    outcomes: dict[str, Outcome] = {}
    reported: set[str] = set()
    stop = time.monotonic() + limit
    try:
        while len(reported) < len(procs):
            remaining = stop - time.monotonic()
            if remaining <= 0:
                break
            try:
                name, status, payload = queue.get(timeout=min(remaining, 0.5))
            except queue_module.Empty:
                if all(not p.is_alive() for n, p in procs.items() if n not in reported):
                    break
                continue
            reported.add(name)
            outcomes[name] = payload if status == "ok" else _rebuild_error(payload)
    finally:
        for name, proc in procs.items():
            proc.join(timeout=max(stop - time.monotonic(), 0.1) if name in reported else 0.1)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        queue.close()
    for name, proc in procs.items():
        if name not in outcomes:
            outcomes[name] = ProtocolAbort(
                AbortReason.TIMEOUT,
                f"process ended without a report (exit code {proc.exitcode})",
                peer=name,
            )
    return outcomes


def _free_loopback_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports that were free a moment ago (a demo convenience: another
    process could take one before the party binds it)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def run_local_peer_statistic(
    workdir: Path,
    data: Mapping[str, Sequence[float]],
    *,
    statistic: str = "mean",
    lower: float = 0.0,
    upper: float = 1_000_000.0,
    frac_bits: int = 0,
    threshold: int = 1,
    name: str = "local-collaboration",
    timeout_s: float = 120.0,
) -> dict[str, Outcome]:
    """Run a peer-model collaboration on this machine, one process per party, for demos.

    Writes into ``workdir``: each party's ``<party>.csv`` (column ``value``), a fresh CA and
    certificates under ``pki/``, ``collaboration.toml`` (free loopback ports) and each party's
    ``<party>-audit.db``; then runs every party as its own process over mutual TLS and returns
    each party's outcome (see :func:`run_local`). ``data`` maps party names to their values.
    """
    names = list(data)
    workdir.mkdir(parents=True, exist_ok=True)
    pki_dir = workdir / "pki"
    init_ca(pki_dir, force=True)
    for party in names:
        issue(pki_dir, party, force=True)
    parties = "".join(
        f'[[parties]]\nname = "{n}"\naddress = "127.0.0.1:{p}"\nrole = "peer"\n\n'
        for n, p in zip(names, _free_loopback_ports(len(names)), strict=True)
    )
    text = (
        f'[collaboration]\nname = "{name}"\nmodel = "peer"\nthreshold = {threshold}\n\n'
        f"{parties}[computation]\nstatistic = {json.dumps(statistic)}\nlower = {float(lower)!r}\n"
        f"upper = {float(upper)!r}\nfrac_bits = {int(frac_bits)}\ncolumns = [\"value\"]\n"
    )
    (workdir / "collaboration.toml").write_text(text, encoding="utf-8")
    config = load_config(workdir / "collaboration.toml")
    local: dict[str, LocalParty] = {}
    for party, values in data.items():
        csv_path = workdir / f"{party}.csv"
        csv_path.write_text("value\n" + "".join(f"{float(v)!r}\n" for v in values))
        local[party] = LocalParty(
            input_path=f"{csv_path}:value", audit_log=workdir / f"{party}-audit.db"
        )
    return run_local(config, pki_dir=pki_dir, parties=local, timeout_s=timeout_s)
