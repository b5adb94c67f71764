"""Channels between parties: mutual TLS 1.3 over asyncio streams, and an in-memory twin for tests.

Protocols talk to a :class:`Channel` and never see sockets. Every message is a CBOR map
(:mod:`~petsuite.net.codec`) in a size-limited frame (:mod:`~petsuite.net.framing`), checked
against a :class:`~petsuite.core.schema.Schema` on receipt, and every receive has a deadline.

Connection set-up: TCP connect (``connect_timeout_s``), then the TLS 1.3 handshake and an exchange
of ``hello`` messages, together within ``handshake_timeout_s``. Both sides present a certificate
from the collaboration CA; the client checks that the server's certificate names ``peer_name``,
the server takes the client's name from its certificate's CN (which must also be a DNS SAN).
The hello exchange makes :func:`connect` return only once the server has accepted the client: in
TLS 1.3 a client finishes its handshake before the server has checked the client certificate.

Threat model: the network is hostile; peers authenticate each other through the CA. TLS hides
payloads, but message sizes, timing and who talks to whom leak to the network. A peer may send
garbage, oversized frames or nothing at all: each case raises
:class:`~petsuite.core.errors.ProtocolAbort` with a reason and the peer's name, and a failed
stream refuses further reads. Whoever holds the CA key can impersonate any party. Abort details
are sent to the peer, so they must never hold secrets.

Plain TCP exists only for demos and tests: ``insecure_localhost=True`` with no identity, on a
loopback address. Names then come from the unauthenticated hello (``authenticated`` is false).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
import types
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, Self, runtime_checkable

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort, UnsupportedParameter
from petsuite.core.schema import Int, MessageSpec, Schema, Str
from petsuite.net.codec import decode_message, encode_message
from petsuite.net.framing import MAX_FRAME_LIMIT, FrameReader, read_frame, write_frame
from petsuite.net.framing import encode_frame as _encode_frame
from petsuite.net.pki import TLSIdentity, validate_party_name

__all__ = [
    "PROTOCOL_VERSION",
    "Channel",
    "Limits",
    "MemoryChannel",
    "Server",
    "TLSChannel",
    "connect",
    "memory_pair",
    "serve",
    "serve_sessions",
]

logger = logging.getLogger("petsuite.net")

#: Version number carried in the hello exchange; peers must agree.
PROTOCOL_VERSION = 1
_MAX_DETAIL = 256
_CLOSE_WAIT_S = 1.0
_ABORT_SEND_S = 1.0

_HELLO = Schema("hello", {"party": Str(min_len=1, max_len=63), "version": Int(min=0, max=65535)})
_ABORT = Schema(
    "abort",
    {"reason": Str(choices=[r.value for r in AbortReason]), "detail": Str(max_len=_MAX_DETAIL)},
)


@dataclass(frozen=True)
class Limits:
    """Size and time limits of a channel.

    Attributes
    ----------
    max_frame_bytes:
        The largest message payload sent or accepted (16 MiB).
    recv_timeout_s:
        Default deadline for one incoming message.
    send_timeout_s:
        Deadline for the peer to accept one outgoing message (flow control).
    connect_timeout_s:
        Deadline for the TCP connection.
    handshake_timeout_s:
        Deadline for the TLS handshake and hello exchange together.
    """

    max_frame_bytes: int = 16 * 1024 * 1024
    recv_timeout_s: float = 30.0
    send_timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    handshake_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        size = self.max_frame_bytes
        if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_FRAME_LIMIT:
            raise InvalidInput(f"max_frame_bytes must be an int in [1, {MAX_FRAME_LIMIT}]")
        for field in (
            "recv_timeout_s",
            "send_timeout_s",
            "connect_timeout_s",
            "handshake_timeout_s",
        ):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(f"{field} must be a number")
            if not 0 < value < float("inf"):
                raise InvalidInput(f"{field} must be positive and finite")


@runtime_checkable
class Channel(Protocol):
    """A message channel to one peer. Use it as an async context manager.

    ``recv`` raises :class:`ProtocolAbort` (with ``peer`` set) on a malformed, oversized,
    truncated or unexpected message, a stall past the deadline, a closed connection, or an
    ``abort`` message from the peer (``PEER_ABORTED``). Leaving the ``async with`` block on a
    locally raised ``ProtocolAbort`` tells the peer the reason (without the detail).

    The concrete channels also say whether ``peer`` was proven by a certificate
    (``authenticated``: false only in insecure mode).
    """

    @property
    def peer(self) -> str:
        """The peer's party name."""
        ...

    async def send(self, msg: Mapping[str, Any]) -> None:
        """Send one message (a mapping with a ``"type"``)."""
        ...

    async def recv(self, schema: MessageSpec, *, timeout_s: float | None = None) -> dict[str, Any]:
        """Receive one message, decoded and validated against ``schema``."""
        ...

    async def abort(self, reason: AbortReason, detail: str) -> None:
        """Tell the peer why we stop (best effort), then close."""
        ...

    async def close(self) -> None:
        """Close the channel. Idempotent."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None: ...


def _printable(text: str, limit: int = _MAX_DETAIL) -> str:
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


class _FramedChannel:
    """Shared logic: encode, frame, decode, validate, abort handling, failure latching."""

    def __init__(
        self, reader: FrameReader, *, peer: str, limits: Limits, authenticated: bool
    ) -> None:
        if not isinstance(limits, Limits):
            raise InvalidInput("limits must be a Limits")
        self._reader = reader
        self._peer = peer
        self._limits = limits
        self._authenticated = authenticated
        self._closed = False
        self._failure: ProtocolAbort | None = None
        self._recv_lock = asyncio.Lock()
        self._send_lock = asyncio.Lock()

    @property
    def peer(self) -> str:
        return self._peer

    @property
    def authenticated(self) -> bool:
        """Whether ``peer`` was proven by a certificate (false in insecure mode)."""
        return self._authenticated

    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def _abort(self, reason: AbortReason, detail: str) -> ProtocolAbort:
        return ProtocolAbort(reason, detail, peer=self._peer)

    def _retag(self, exc: ProtocolAbort) -> ProtocolAbort:
        """A copy of ``exc`` that names the peer (raise it ``from exc``)."""
        return ProtocolAbort(exc.reason, exc.detail, peer=exc.peer or self._peer)

    async def _send_frame(self, payload: bytes, deadline_s: float) -> None:
        raise NotImplementedError

    async def _close_transport(self) -> None:
        raise NotImplementedError

    async def send(self, msg: Mapping[str, Any]) -> None:
        """Encode and send one message within ``limits.send_timeout_s``.

        Raises
        ------
        InvalidInput
            If the message cannot be encoded (a local mistake).
        ProtocolAbort
            ``OVERSIZED`` (nothing sent), ``TIMEOUT`` or ``PEER_CLOSED``.
        """
        await self._send(msg, self._limits.send_timeout_s)

    async def _send(self, msg: Mapping[str, Any], deadline_s: float) -> None:
        if self._closed:
            raise self._abort(AbortReason.PEER_CLOSED, "channel is closed")
        payload = encode_message(msg)
        async with self._send_lock:
            try:
                await self._send_frame(payload, deadline_s)
            except ProtocolAbort as exc:
                raise self._retag(exc) from exc

    async def recv(self, schema: MessageSpec, *, timeout_s: float | None = None) -> dict[str, Any]:
        """Receive one message and validate it against ``schema``.

        Parameters
        ----------
        timeout_s:
            Deadline for this message; ``None`` means ``limits.recv_timeout_s``.

        Raises
        ------
        ProtocolAbort
            See :class:`Channel`. After a framing failure (timeout, truncation, oversize, closed
            stream) or a peer's abort, every later ``recv`` raises again.
        """
        msg = await self._recv_raw(timeout_s)
        try:
            return schema.validate(msg)
        except ProtocolAbort as exc:
            raise self._retag(exc) from exc

    async def _recv_raw(self, timeout_s: float | None) -> dict[str, Any]:
        if self._failure is not None:
            failure = self._failure
            raise self._abort(failure.reason, f"channel already failed: {failure.detail}")
        if self._closed:
            raise self._abort(AbortReason.PEER_CLOSED, "channel is closed")
        deadline = self._limits.recv_timeout_s if timeout_s is None else timeout_s
        async with self._recv_lock:
            try:
                payload = await read_frame(self._reader, self._limits.max_frame_bytes, deadline)
            except ProtocolAbort as exc:
                self._failure = self._retag(exc)
                raise self._failure from exc
            try:
                msg = decode_message(payload)
            except ProtocolAbort as exc:
                raise self._retag(exc) from exc
            if msg.get("type") == _ABORT.name:
                try:
                    note = _ABORT.validate(msg)
                except ProtocolAbort as exc:
                    raise self._retag(exc) from exc
                detail = f"{note['reason']}"
                if note["detail"]:
                    detail += f": {_printable(note['detail'])}"
                self._failure = self._abort(AbortReason.PEER_ABORTED, detail)
                raise self._failure
            return msg

    async def abort(self, reason: AbortReason, detail: str = "") -> None:
        """Send ``{"type": "abort", "reason": ..., "detail": ...}`` (best effort), then close.

        ``detail`` goes to the peer: never put secrets in it. It is cut to 256 characters.
        """
        reason = AbortReason(reason)
        if not self._closed:
            note = {"type": "abort", "reason": reason.value, "detail": _printable(str(detail))}
            deadline = min(_ABORT_SEND_S, self._limits.send_timeout_s)
            with contextlib.suppress(ProtocolAbort, InvalidInput):
                await self._send(note, deadline)
        await self.close()

    async def close(self) -> None:
        """Close the channel; the peer sees the end of the stream. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._close_transport()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if isinstance(exc, ProtocolAbort) and exc.reason not in (
            AbortReason.PEER_ABORTED,
            AbortReason.PEER_CLOSED,
        ):
            await self.abort(exc.reason)
        else:
            await self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{type(self).__name__}(peer={self._peer!r}, {state})"


class TLSChannel(_FramedChannel):
    """A channel over an asyncio stream: mutual TLS 1.3, or plain TCP in insecure mode.

    Built by :func:`connect` and :func:`serve`; ``authenticated`` says which of the two it is.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        peer: str,
        limits: Limits,
        authenticated: bool,
    ) -> None:
        super().__init__(reader, peer=peer, limits=limits, authenticated=authenticated)
        self._writer = writer

    async def _send_frame(self, payload: bytes, deadline_s: float) -> None:
        await write_frame(self._writer, payload, self._limits.max_frame_bytes, deadline_s)

    async def _close_transport(self) -> None:
        await _close_writer(self._writer)


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), _CLOSE_WAIT_S)


def _drop_writer(writer: asyncio.StreamWriter) -> None:
    """Close a connection that failed: no graceful shutdown, but keep a close already under way."""
    if not writer.transport.is_closing():
        writer.transport.abort()


class _MemoryPipe:
    """One direction of an in-memory stream, with ``StreamReader.readexactly`` semantics."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._eof = False
        self._reader_gone = False
        self._event = asyncio.Event()

    @property
    def reader_gone(self) -> bool:
        return self._reader_gone

    def feed(self, data: bytes) -> None:
        if self._eof:
            raise ProtocolAbort(AbortReason.PEER_CLOSED, "stream already ended")
        self._buffer += data
        self._event.set()

    def feed_eof(self) -> None:
        self._eof = True
        self._event.set()

    def close_reader(self) -> None:
        self._reader_gone = True
        self._buffer.clear()

    async def readexactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            if self._eof:
                partial = bytes(self._buffer)
                self._buffer.clear()
                raise asyncio.IncompleteReadError(partial, n)
            self._event.clear()
            await self._event.wait()
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data


class MemoryChannel(_FramedChannel):
    """An in-process channel with the same encoding, size checks, deadlines and aborts as TLS.

    For unit tests of protocols. Nothing is hidden from the process; peer names are whatever
    :func:`memory_pair` was given (``authenticated`` is true: the test harness vouches for them).
    """

    def __init__(
        self, *, peer: str, inbox: _MemoryPipe, outbox: _MemoryPipe, limits: Limits
    ) -> None:
        super().__init__(inbox, peer=peer, limits=limits, authenticated=True)
        self._inbox = inbox
        self._outbox = outbox

    async def _send_frame(self, payload: bytes, deadline_s: float) -> None:
        frame = _encode_frame(payload, self._limits.max_frame_bytes)
        if self._outbox.reader_gone:
            raise ProtocolAbort(AbortReason.PEER_CLOSED, "peer closed the channel")
        self._outbox.feed(frame)
        await asyncio.sleep(0)  # let the peer run, as a socket write would

    async def _close_transport(self) -> None:
        self._outbox.feed_eof()
        self._inbox.close_reader()
        self._inbox.feed_eof()  # a recv pending in another task ends now


def memory_pair(
    a: str, b: str, limits: Limits | None = None
) -> tuple[MemoryChannel, MemoryChannel]:
    """Two connected in-memory channels: ``a``'s end (whose peer is ``b``) and ``b``'s end.

    Party names are checked like certificate names.
    """
    validate_party_name(a)
    validate_party_name(b)
    if a == b:
        raise InvalidInput("a channel needs two different parties")
    limits = Limits() if limits is None else limits
    a_to_b, b_to_a = _MemoryPipe(), _MemoryPipe()
    end_a = MemoryChannel(peer=b, inbox=b_to_a, outbox=a_to_b, limits=limits)
    end_b = MemoryChannel(peer=a, inbox=a_to_b, outbox=b_to_a, limits=limits)
    return end_a, end_b


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _local_name(
    identity: TLSIdentity | None, insecure_localhost: bool, host: str, local_name: str | None
) -> str:
    if not isinstance(host, str):
        raise InvalidInput("host must be a str")
    if insecure_localhost:
        if identity is not None:
            raise InvalidInput("insecure_localhost=True cannot be combined with a TLS identity")
        if not _is_loopback(host):
            raise UnsupportedParameter(
                f"plain TCP is only allowed on a loopback address, not {host[:80]!r}"
            )
        if local_name is None:
            raise InvalidInput("insecure mode needs local_name (this party's name)")
        return validate_party_name(local_name)
    if identity is None:
        raise InvalidInput(
            "a TLS identity is required (plain TCP only with insecure_localhost=True on loopback)"
        )
    if not isinstance(identity, TLSIdentity):
        raise InvalidInput("identity must be a TLSIdentity")
    if local_name is not None and local_name != identity.name:
        raise InvalidInput(f"local_name {local_name!r} differs from the identity {identity.name!r}")
    return identity.name


def _check_port(port: int) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InvalidInput("port must be an int in [0, 65535]")


def _hello(name: str) -> dict[str, Any]:
    return {"type": _HELLO.name, "party": name, "version": PROTOCOL_VERSION}


def _check_hello(msg: dict[str, Any], peer: str) -> str:
    """Validate a hello message; return the party name it claims."""
    try:
        hello = _HELLO.validate(msg)
        party = validate_party_name(hello["party"])
    except (ProtocolAbort, InvalidInput) as exc:
        raise ProtocolAbort(AbortReason.HANDSHAKE, f"bad hello: {exc}", peer=peer) from exc
    if hello["version"] != PROTOCOL_VERSION:
        raise ProtocolAbort(
            AbortReason.CONFIG_MISMATCH,
            f"peer speaks version {hello['version']}, we speak {PROTOCOL_VERSION}",
            peer=peer,
        )
    return str(party)


def _name_from_cert(cert: Any, peer: str) -> str:
    """The party name in a verified peer certificate: its CN, which must also be a DNS SAN."""
    if not isinstance(cert, dict):
        raise ProtocolAbort(AbortReason.HANDSHAKE, "peer presented no certificate", peer=peer)
    common_names = [
        value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"
    ]
    dns_names = [value for key, value in cert.get("subjectAltName", ()) if key == "DNS"]
    if len(common_names) != 1:
        raise ProtocolAbort(AbortReason.HANDSHAKE, "certificate needs exactly one CN", peer=peer)
    name = str(common_names[0])
    try:
        validate_party_name(name)
    except InvalidInput as exc:
        raise ProtocolAbort(
            AbortReason.HANDSHAKE, "certificate CN is not a party name", peer=peer
        ) from exc
    if name not in dns_names:
        raise ProtocolAbort(
            AbortReason.HANDSHAKE, f"certificate CN {name!r} is not among its DNS names", peer=peer
        )
    return name


def _tls_failure(exc: BaseException, peer: str, side: str) -> ProtocolAbort:
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = f"{side} certificate rejected: {exc.verify_message}"
    elif isinstance(exc, ssl.SSLError):
        detail = f"TLS handshake failed: {exc.reason or exc}"
    else:
        detail = f"connection lost during the TLS handshake: {str(exc) or type(exc).__name__}"
    return ProtocolAbort(AbortReason.HANDSHAKE, detail, peer=peer)


def _peer_certificate(writer: asyncio.StreamWriter) -> tuple[Any, str | None]:
    ssl_object = writer.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject):
        return None, None
    return ssl_object.getpeercert(), ssl_object.version()


async def connect(
    host: str,
    port: int,
    *,
    identity: TLSIdentity | None,
    peer_name: str,
    limits: Limits | None = None,
    insecure_localhost: bool = False,
    local_name: str | None = None,
) -> TLSChannel:
    """Open a channel to the party ``peer_name`` listening at ``host:port``.

    Parameters
    ----------
    identity:
        Our certificate and the collaboration CA. ``None`` only in insecure mode.
    peer_name:
        The party we expect; its certificate must carry this name (CN and DNS SAN).
    insecure_localhost:
        Plain TCP, for demos and tests on a loopback address only. Needs ``local_name``.
    local_name:
        Our party name; defaults to ``identity.name``.

    Raises
    ------
    ProtocolAbort
        ``HANDSHAKE`` (certificate rejected either way, wrong peer, refused by the server),
        ``PEER_CLOSED`` (connection refused), ``TIMEOUT``, ``CONFIG_MISMATCH``.
    InvalidInput, UnsupportedParameter
        On a bad argument, or insecure mode off loopback.
    """
    limits = Limits() if limits is None else limits
    validate_party_name(peer_name)
    _check_port(port)
    name = _local_name(identity, insecure_localhost, host, local_name)
    context = identity.client_context() if identity is not None else None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), limits.connect_timeout_s
        )
    except TimeoutError as exc:
        raise ProtocolAbort(
            AbortReason.TIMEOUT,
            f"no connection to {host}:{port} within {limits.connect_timeout_s} s",
            peer=peer_name,
        ) from exc
    except OSError as exc:
        raise ProtocolAbort(
            AbortReason.PEER_CLOSED,
            f"cannot connect to {host}:{port}: {exc.strerror or exc}",
            peer=peer_name,
        ) from exc
    try:
        return await asyncio.wait_for(
            _client_handshake(
                reader=reader,
                writer=writer,
                context=context,
                name=name,
                peer_name=peer_name,
                limits=limits,
            ),
            limits.handshake_timeout_s,
        )
    except TimeoutError as exc:
        _drop_writer(writer)
        raise ProtocolAbort(
            AbortReason.TIMEOUT,
            f"handshake not done within {limits.handshake_timeout_s} s",
            peer=peer_name,
        ) from exc
    except BaseException:
        _drop_writer(writer)
        raise


async def _client_handshake(
    *,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    context: ssl.SSLContext | None,
    name: str,
    peer_name: str,
    limits: Limits,
) -> TLSChannel:
    if context is not None:
        try:
            await writer.start_tls(
                context,
                server_hostname=peer_name,
                # The outer deadline fires first, so a stall reads as TIMEOUT.
                ssl_handshake_timeout=limits.handshake_timeout_s + 1.0,
            )
        except (ssl.SSLError, OSError) as exc:
            raise _tls_failure(exc, peer_name, "server") from exc
        cert, version = _peer_certificate(writer)
        if version != "TLSv1.3":
            raise ProtocolAbort(AbortReason.HANDSHAKE, f"negotiated {version}", peer=peer_name)
        # check_hostname proved peer_name is a DNS SAN; the CN must name the same party, so a
        # party certificate that merely lists another party's name as a host is not enough.
        if _name_from_cert(cert, peer_name) != peer_name:
            raise ProtocolAbort(
                AbortReason.HANDSHAKE, "server certificate names another party", peer=peer_name
            )
    channel = TLSChannel(
        reader, writer, peer=peer_name, limits=limits, authenticated=context is not None
    )
    try:
        await channel.send(_hello(name))
        msg = await channel._recv_raw(limits.handshake_timeout_s)
    except ProtocolAbort as exc:
        if exc.reason is AbortReason.TIMEOUT:
            raise
        raise ProtocolAbort(
            AbortReason.HANDSHAKE,
            "server refused the connection or closed it during the handshake (does it trust our"
            f" certificate and name?): {exc.detail}",
            peer=peer_name,
        ) from exc
    claimed = _check_hello(msg, peer_name)
    if claimed != peer_name:
        raise ProtocolAbort(AbortReason.HANDSHAKE, f"server says it is {claimed!r}", peer=peer_name)
    return channel


class _PausedStreamProtocol(asyncio.StreamReaderProtocol):
    """Reads nothing until the handler resumes it or upgrades the stream to TLS.

    Without the pause, a client's first TLS bytes could land in the plain-text buffer before
    ``start_tls`` runs, and the handshake would stall.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.ReadTransport):
            transport.pause_reading()
        super().connection_made(transport)


def _resume_reading(writer: asyncio.StreamWriter) -> None:
    transport = writer.transport
    if isinstance(transport, asyncio.ReadTransport):
        transport.resume_reading()


class Server:
    """A listening server, from :func:`serve`. Use it as an async context manager.

    Each accepted connection runs the TLS handshake and hello exchange and then the handler in
    its own task. A failed handshake or a handler that raises is logged on ``petsuite.net`` and
    that connection closed; the server keeps serving.
    """

    def __init__(
        self,
        handler: Callable[[TLSChannel], Awaitable[None]],
        *,
        name: str,
        context: ssl.SSLContext | None,
        limits: Limits,
        allowed_peers: frozenset[str] | None,
    ) -> None:
        self._handler = handler
        self._name = name
        self._context = context
        self._limits = limits
        self._allowed = allowed_peers
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._cancellable: set[asyncio.Task[None]] = set()
        self._closed = asyncio.Event()

    @property
    def port(self) -> int:
        """The port listened on (the ephemeral one chosen when asked for port 0)."""
        if self._server is None or not self._server.sockets:
            raise InvalidInput("the server is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def name(self) -> str:
        """This server's party name."""
        return self._name

    async def _start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()

        def factory() -> asyncio.StreamReaderProtocol:
            return _PausedStreamProtocol(asyncio.StreamReader(loop=loop), self._accept, loop=loop)

        try:
            self._server = await loop.create_server(factory, host, port)
        except OSError as exc:
            raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._on_connection(reader, writer))
        self._tasks.add(task)
        self._cancellable.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(self._cancellable.discard)

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        address = writer.get_extra_info("peername")
        try:
            channel = await asyncio.wait_for(
                self._handshake(reader, writer), self._limits.handshake_timeout_s
            )
        except TimeoutError:
            logger.warning("handshake with %s timed out", address)
            _drop_writer(writer)
            return
        except ProtocolAbort as exc:
            logger.warning("refused connection from %s: %s", address, exc)
            _drop_writer(writer)
            return
        except Exception:
            logger.exception("handshake with %s failed", address)
            _drop_writer(writer)
            return
        try:
            try:
                await self._handler(channel)
            finally:
                # From here on the session only closes: Server.close() waits for it instead of
                # cancelling it, so the last messages are flushed.
                self._cancellable.discard(task)
        except ProtocolAbort as exc:
            logger.warning("session with %s ended: %s", channel.peer, exc)
            if exc.reason not in (AbortReason.PEER_ABORTED, AbortReason.PEER_CLOSED):
                await channel.abort(exc.reason, "")
        except Exception:
            logger.exception("handler for peer %s raised", channel.peer)
        finally:
            await channel.close()

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> TLSChannel:
        unknown = "unknown"
        cert_name: str | None = None
        if self._context is None:
            _resume_reading(writer)
        else:
            try:
                await writer.start_tls(
                    self._context, ssl_handshake_timeout=self._limits.handshake_timeout_s + 1.0
                )
            except (ssl.SSLError, OSError) as exc:
                raise _tls_failure(exc, unknown, "client") from exc
            cert, version = _peer_certificate(writer)
            if version != "TLSv1.3":
                raise ProtocolAbort(AbortReason.HANDSHAKE, f"negotiated {version}")
            cert_name = _name_from_cert(cert, unknown)
        channel = TLSChannel(
            reader,
            writer,
            peer=cert_name or unknown,
            limits=self._limits,
            authenticated=cert_name is not None,
        )
        try:
            claimed = _check_hello(
                await channel._recv_raw(self._limits.handshake_timeout_s), channel.peer
            )
            if cert_name is not None and claimed != cert_name:
                raise ProtocolAbort(
                    AbortReason.HANDSHAKE,
                    f"hello claims {claimed!r} but the certificate names {cert_name!r}",
                    peer=cert_name,
                )
            channel._peer = claimed
            if self._allowed is not None and claimed not in self._allowed:
                raise ProtocolAbort(
                    AbortReason.HANDSHAKE, f"party {claimed!r} is not allowed", peer=claimed
                )
            await channel.send(_hello(self._name))
        except ProtocolAbort as exc:
            if exc.reason in (AbortReason.TIMEOUT, AbortReason.PEER_CLOSED):
                await channel.close()
            else:  # tell the client why (an operator on the other side needs to know)
                await channel.abort(exc.reason, exc.detail)
            raise
        except BaseException:
            await channel.close()
            raise
        return channel

    async def close(self) -> None:
        """Stop listening, cancel sessions still in their handshake or handler, and wait for
        every session to close. Idempotent."""
        if self._server is not None:
            self._server.close()
        current = asyncio.current_task()
        for task in list(self._cancellable):
            if task is not current:
                task.cancel()
        await asyncio.gather(*(t for t in self._tasks if t is not current), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        self._closed.set()

    async def wait_closed(self) -> None:
        """Wait until :meth:`close` has finished (serve until then)."""
        await self._closed.wait()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        await self.close()


async def serve(
    host: str,
    port: int,
    handler: Callable[[TLSChannel], Awaitable[None]],
    *,
    identity: TLSIdentity | None,
    limits: Limits | None = None,
    allowed_peers: Collection[str] | None = None,
    insecure_localhost: bool = False,
    local_name: str | None = None,
) -> Server:
    """Listen on ``host:port`` and run ``handler(channel)`` for each accepted peer.

    Parameters
    ----------
    host:
        An address to bind. Prefer a literal address: ``"localhost"`` may bind both 127.0.0.1
        and ::1, each with its own ephemeral port (:attr:`Server.port` reports the first).
    port:
        0 picks an ephemeral port; read it from :attr:`Server.port`.
    identity:
        Our certificate and the collaboration CA; clients must present a certificate from it.
        ``None`` only in insecure mode.
    allowed_peers:
        If given, only these party names may connect; others are refused during the handshake.
    insecure_localhost:
        Plain TCP on a loopback address, for demos and tests. Needs ``local_name``.

    Raises
    ------
    InvalidInput, UnsupportedParameter
        On a bad argument, insecure mode off loopback, or an address that cannot be bound.
    """
    limits = Limits() if limits is None else limits
    if not isinstance(limits, Limits):
        raise InvalidInput("limits must be a Limits")
    _check_port(port)
    name = _local_name(identity, insecure_localhost, host, local_name)
    allowed: frozenset[str] | None = None
    if allowed_peers is not None:
        if isinstance(allowed_peers, str):
            raise InvalidInput("allowed_peers must be a collection of names, not one str")
        allowed = frozenset(validate_party_name(p) for p in allowed_peers)
    context = identity.server_context() if identity is not None else None
    server = Server(handler, name=name, context=context, limits=limits, allowed_peers=allowed)
    await server._start(host, port)
    return server


async def serve_sessions(
    host: str,
    port: int,
    handler: Callable[[TLSChannel], Awaitable[None]],
    *,
    sessions: int,
    identity: TLSIdentity | None,
    limits: Limits | None = None,
    allowed_peers: Collection[str] | None = None,
    insecure_localhost: bool = False,
    local_name: str | None = None,
    ready: Callable[[int], None] | None = None,
    timeout_s: float | None = None,
) -> None:
    """:func:`serve` until ``sessions`` sessions have ended (0: until cancelled).

    A session ends when ``handler`` returns or raises (a raised error is logged by :func:`serve`).
    ``ready(port)`` is called once the server listens; ``timeout_s`` bounds the whole wait.
    """
    if sessions < 0:
        raise InvalidInput("sessions must be non-negative")
    done = asyncio.Event()
    ended = 0

    async def counted(channel: TLSChannel) -> None:
        nonlocal ended
        try:
            await handler(channel)
        finally:
            ended += 1
            if sessions and ended >= sessions:
                done.set()

    async with await serve(
        host,
        port,
        counted,
        identity=identity,
        limits=limits,
        allowed_peers=allowed_peers,
        insecure_localhost=insecure_localhost,
        local_name=local_name,
    ) as server:
        if ready is not None:
            ready(server.port)
        try:
            await asyncio.wait_for(done.wait(), timeout=timeout_s)
        except TimeoutError as exc:
            raise ProtocolAbort(
                AbortReason.TIMEOUT, f"{ended} of {sessions} sessions ended in time"
            ) from exc
