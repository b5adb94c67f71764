"""Channels over real loopback sockets: mutual TLS 1.3, refusals, hostile peers, insecure mode."""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort, UnsupportedParameter
from petsuite.core.schema import Bytes, Int, Schema
from petsuite.net.codec import decode_message, encode_message
from petsuite.net.framing import encode_frame, read_frame
from petsuite.net.pki import TLSIdentity
from petsuite.net.transport import Channel, Limits, Server, TLSChannel, connect, serve

from .conftest import Pki, run

HOST = "127.0.0.1"
MSG = Schema("msg", {"n": Int(min=0, max=1000), "data": Bytes(max_len=1 << 16)})
FAST = Limits(
    max_frame_bytes=64 * 1024,
    recv_timeout_s=0.5,
    send_timeout_s=2.0,
    connect_timeout_s=2.0,
    handshake_timeout_s=2.0,
)

Handler = Callable[[TLSChannel], Awaitable[None]]


class Recorder:
    """A server handler that receives one message and records what happened."""

    def __init__(self) -> None:
        self.peers: list[str] = []
        self.outcome: asyncio.Future[Any] | None = None
        self.elapsed = 0.0

    async def __call__(self, channel: Channel) -> None:
        self.peers.append(channel.peer)
        assert self.outcome is not None
        start = time.monotonic()
        try:
            msg = await channel.recv(MSG)
        except ProtocolAbort as exc:
            self.elapsed = time.monotonic() - start
            self.outcome.set_result(exc)
            raise
        self.outcome.set_result(msg)

    async def result(self) -> Any:
        self.outcome = asyncio.get_running_loop().create_future()
        return self.outcome


async def start(
    pki: Pki, handler: Handler, identity: TLSIdentity | None = None, **kwargs: Any
) -> Server:
    kwargs.setdefault("limits", FAST)
    return await serve(HOST, 0, handler, identity=identity or pki.bob, **kwargs)


async def raw_tls_client(
    pki: Pki, port: int, hello: dict[str, Any] | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, dict[str, Any]]:
    """A TLS client that does the hello exchange by hand, then lets the test write raw bytes."""
    reader, writer = await asyncio.open_connection(
        HOST, port, ssl=pki.alice.client_context(), server_hostname="bob"
    )
    if hello is None:
        hello = {"type": "hello", "party": "alice", "version": 1}
    writer.write(encode_frame(encode_message(hello), 1024))
    reply = decode_message(await read_frame(reader, 1024, 2.0))
    return reader, writer, reply


# --- happy paths --------------------------------------------------------------------------


def test_tls_round_trip_both_ways(pki: Pki) -> None:
    seen: list[tuple[str, bool]] = []

    async def echo(channel: TLSChannel) -> None:
        seen.append((channel.peer, channel.authenticated))
        for _ in range(3):
            msg = await channel.recv(MSG)
            await channel.send({**msg, "n": msg["n"] + 1})

    async def main() -> None:
        async with (
            await start(pki, echo) as server,
            await connect(
                HOST, server.port, identity=pki.alice, peer_name="bob", limits=FAST
            ) as channel,
        ):
            assert channel.peer == "bob" and channel.authenticated
            for i in range(3):
                await channel.send({"type": "msg", "n": i, "data": bytes([i]) * 1000})
                reply = await channel.recv(MSG)
                assert reply == {"type": "msg", "n": i + 1, "data": bytes([i]) * 1000}

    run(main())
    assert seen == [("alice", True)]


def test_server_keeps_serving_after_a_handler_fails(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    async def flaky(channel: Channel) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("handler bug")
        await channel.send({"type": "msg", "n": calls, "data": b""})

    async def main() -> None:
        async with await start(pki, flaky) as server:
            async with await connect(
                HOST, server.port, identity=pki.alice, peer_name="bob", limits=FAST
            ) as first:
                with pytest.raises(ProtocolAbort) as info:
                    await first.recv(MSG)
                assert info.value.reason is AbortReason.PEER_CLOSED
            async with await connect(
                HOST, server.port, identity=pki.alice, peer_name="bob", limits=FAST
            ) as second:
                assert (await second.recv(MSG))["n"] == 2

    with caplog.at_level(logging.ERROR, logger="petsuite.net"):
        run(main())
    assert any("handler bug" in (r.exc_text or "") for r in caplog.records)


# --- refusals at the handshake -------------------------------------------------------------


def connect_error(
    pki: Pki, client: TLSIdentity, server: TLSIdentity, peer: str = "bob", **serve_kwargs: Any
) -> tuple[ProtocolAbort, list[str]]:
    recorder = Recorder()

    async def main() -> ProtocolAbort:
        async with await start(pki, recorder, server, **serve_kwargs) as srv:
            with pytest.raises(ProtocolAbort) as info:
                await connect(HOST, srv.port, identity=client, peer_name=peer, limits=FAST)
            return info.value

    exc = run(main())
    return exc, recorder.peers


def test_server_rejects_client_from_another_ca(pki: Pki) -> None:
    exc, handled = connect_error(pki, pki.rogue_alice, pki.bob)
    assert exc.reason is AbortReason.HANDSHAKE and exc.peer == "bob"
    assert handled == []


def test_client_rejects_server_from_another_ca(pki: Pki) -> None:
    exc, handled = connect_error(pki, pki.alice, pki.foreign_bob)
    assert exc.reason is AbortReason.HANDSHAKE
    assert "server certificate rejected" in exc.detail
    assert handled == []


def test_expired_client_certificate_rejected(pki: Pki) -> None:
    exc, handled = connect_error(pki, pki.expired, pki.bob)
    assert exc.reason is AbortReason.HANDSHAKE and handled == []


def test_expired_server_certificate_rejected(pki: Pki) -> None:
    exc, _ = connect_error(pki, pki.alice, pki.expired, peer="dave")
    assert exc.reason is AbortReason.HANDSHAKE and "expired" in exc.detail


def test_wrong_server_name_rejected(pki: Pki) -> None:
    exc, _ = connect_error(pki, pki.alice, pki.carol, peer="bob")
    assert exc.reason is AbortReason.HANDSHAKE and "bob" in exc.detail


def test_peer_not_in_allowed_peers_rejected(pki: Pki) -> None:
    exc, handled = connect_error(pki, pki.carol, pki.bob, allowed_peers={"alice"})
    assert exc.reason is AbortReason.HANDSHAKE and "not allowed" in exc.detail
    assert handled == []
    exc_ok, _ = connect_error(pki, pki.alice, pki.bob, peer="nobody", allowed_peers={"alice"})
    assert exc_ok.reason is AbortReason.HANDSHAKE  # sanity: a wrong name fails differently


def test_connection_refused_and_stalled_server(pki: Pki) -> None:
    async def main() -> None:
        accepted: list[asyncio.StreamWriter] = []
        silent = await asyncio.start_server(lambda _r, w: accepted.append(w), HOST, 0)
        port = silent.sockets[0].getsockname()[1]
        start_time = time.monotonic()
        with pytest.raises(ProtocolAbort) as info:
            await connect(
                HOST,
                port,
                identity=pki.alice,
                peer_name="bob",
                limits=Limits(handshake_timeout_s=0.5),
            )
        assert info.value.reason is AbortReason.TIMEOUT
        assert time.monotonic() - start_time < 3.0
        silent.close()
        for writer in accepted:
            writer.close()
        await silent.wait_closed()
        with pytest.raises(ProtocolAbort) as info:
            await connect(HOST, port, identity=pki.alice, peer_name="bob", limits=FAST)
        assert info.value.reason is AbortReason.PEER_CLOSED

    run(main())


def test_server_drops_stalled_handshake(pki: Pki, caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()

    async def main() -> None:
        limits = Limits(handshake_timeout_s=0.3)
        async with await start(pki, recorder, limits=limits) as server:
            reader, writer = await asyncio.open_connection(HOST, server.port)
            start_time = time.monotonic()
            assert await asyncio.wait_for(reader.read(), 3.0) == b""  # server hung up
            assert time.monotonic() - start_time < 3.0
            writer.close()

    with caplog.at_level(logging.WARNING, logger="petsuite.net"):
        run(main())
    assert recorder.peers == []
    assert any("timed out" in r.getMessage() for r in caplog.records)


# --- hostile peers after the handshake ------------------------------------------------------


def hostile(pki: Pki, payload: bytes, *, close: bool) -> tuple[Any, float]:
    recorder = Recorder()

    async def main() -> Any:
        async with await start(pki, recorder) as server:
            outcome = await recorder.result()
            _reader, writer, reply = await raw_tls_client(pki, server.port)
            assert reply == {"type": "hello", "party": "bob", "version": 1}
            writer.write(payload)
            await writer.drain()
            if close:
                writer.close()
            result = await asyncio.wait_for(outcome, 5.0)
            writer.close()
            return result

    return run(main()), recorder.elapsed


def test_oversized_frame(pki: Pki) -> None:
    exc, _ = hostile(pki, struct.pack(">I", FAST.max_frame_bytes + 1) + b"x" * 100, close=False)
    assert isinstance(exc, ProtocolAbort)
    assert exc.reason is AbortReason.OVERSIZED and exc.peer == "alice"


def test_truncated_frame(pki: Pki) -> None:
    payload = encode_message({"type": "msg", "n": 1, "data": bytes(100)})
    exc, _ = hostile(pki, encode_frame(payload, 1024)[: 4 + len(payload) // 2], close=True)
    assert isinstance(exc, ProtocolAbort) and exc.reason is AbortReason.TRUNCATED


def test_garbage_payload(pki: Pki) -> None:
    exc, _ = hostile(pki, encode_frame(b"\xde\xad\xbe\xef garbage", 1024), close=False)
    assert isinstance(exc, ProtocolAbort) and exc.reason is AbortReason.MALFORMED


def test_valid_raw_message_accepted(pki: Pki) -> None:
    msg = {"type": "msg", "n": 5, "data": b"ok"}
    result, _ = hostile(pki, encode_frame(encode_message(msg), 1024), close=False)
    assert result == msg


def test_stalled_peer_times_out(pki: Pki) -> None:
    exc, elapsed = hostile(pki, b"", close=False)
    assert isinstance(exc, ProtocolAbort) and exc.reason is AbortReason.TIMEOUT
    assert FAST.recv_timeout_s * 0.9 <= elapsed < 3.0


def test_peer_stalls_mid_frame(pki: Pki) -> None:
    exc, elapsed = hostile(pki, struct.pack(">I", 100) + b"partial", close=False)
    assert isinstance(exc, ProtocolAbort) and exc.reason is AbortReason.TIMEOUT
    assert elapsed < 3.0


@pytest.mark.parametrize(
    ("hello", "reason", "text"),
    [
        ({"type": "hello", "party": "alice", "version": 2}, "config-mismatch", "version 2"),
        ({"type": "hello", "party": "carol", "version": 1}, "handshake-failed", "certificate"),
        ({"type": "hello", "party": "alice"}, "handshake-failed", "bad hello"),
        ({"type": "other"}, "handshake-failed", "bad hello"),
    ],
)
def test_server_explains_a_bad_hello(
    pki: Pki, hello: dict[str, Any], reason: str, text: str
) -> None:
    recorder = Recorder()

    async def main() -> dict[str, Any]:
        async with await start(pki, recorder) as server:
            _reader, writer, reply = await raw_tls_client(pki, server.port, hello)
            writer.close()
            return reply

    reply = run(main())
    assert reply["type"] == "abort" and reply["reason"] == reason and text in reply["detail"]
    assert recorder.peers == []


def test_client_sees_server_abort(pki: Pki) -> None:
    async def refuse(channel: Channel) -> None:
        await channel.abort(AbortReason.CHECK_FAILED, "bad proof")

    async def main() -> None:
        async with (
            await start(pki, refuse) as server,
            await connect(
                HOST, server.port, identity=pki.alice, peer_name="bob", limits=FAST
            ) as channel,
        ):
            with pytest.raises(ProtocolAbort) as info:
                await channel.recv(MSG)
            assert info.value.reason is AbortReason.PEER_ABORTED
            assert info.value.detail == "check-failed: bad proof"

    run(main())


# --- insecure mode ------------------------------------------------------------------------


def test_insecure_localhost_round_trip() -> None:
    peers: list[tuple[str, bool]] = []

    async def echo(channel: TLSChannel) -> None:
        peers.append((channel.peer, channel.authenticated))
        await channel.send(await channel.recv(MSG))

    async def main() -> None:
        async with await serve(
            HOST, 0, echo, identity=None, insecure_localhost=True, local_name="bob", limits=FAST
        ) as server:
            async with await connect(
                "localhost",
                server.port,
                identity=None,
                peer_name="bob",
                insecure_localhost=True,
                local_name="alice",
                limits=FAST,
            ) as channel:
                assert not channel.authenticated
                await channel.send({"type": "msg", "n": 1, "data": b"x"})
                assert (await channel.recv(MSG))["data"] == b"x"
            with pytest.raises(ProtocolAbort) as info:
                await connect(
                    HOST,
                    server.port,
                    identity=None,
                    peer_name="carol",
                    insecure_localhost=True,
                    local_name="alice",
                    limits=FAST,
                )
            assert info.value.reason is AbortReason.HANDSHAKE

    run(main())
    # the second client refused the server's name after the server had accepted it
    assert peers[0] == ("alice", False)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org", "::", ""])  # noqa: S104
def test_insecure_mode_refuses_non_loopback(host: str) -> None:
    async def main() -> None:
        with pytest.raises(UnsupportedParameter):
            await serve(
                host, 0, Recorder(), identity=None, insecure_localhost=True, local_name="bob"
            )
        with pytest.raises(UnsupportedParameter):
            await connect(
                host, 1, identity=None, peer_name="bob", insecure_localhost=True, local_name="alice"
            )

    run(main())


def test_mode_arguments_checked(pki: Pki) -> None:
    async def main() -> None:
        with pytest.raises(InvalidInput):  # no identity, not insecure
            await serve(HOST, 0, Recorder(), identity=None)
        with pytest.raises(InvalidInput):  # insecure with an identity
            await serve(HOST, 0, Recorder(), identity=pki.bob, insecure_localhost=True)
        with pytest.raises(InvalidInput):  # insecure needs a name
            await connect(HOST, 1, identity=None, peer_name="bob", insecure_localhost=True)
        with pytest.raises(InvalidInput):
            await connect(HOST, 1, identity=pki.alice, peer_name="bob", local_name="carol")
        with pytest.raises(InvalidInput):
            await connect(HOST, 70000, identity=pki.alice, peer_name="bob")
        with pytest.raises(InvalidInput):
            await connect(HOST, 1, identity=pki.alice, peer_name="Not A Party")
        with pytest.raises(InvalidInput):
            await serve(HOST, 0, Recorder(), identity=pki.bob, allowed_peers="alice")

    run(main())
