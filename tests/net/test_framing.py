"""Frames and the in-memory channel: size limits, truncation, deadlines, aborts."""

from __future__ import annotations

import asyncio
import struct
import time

import pytest

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort
from petsuite.core.schema import Bytes, Int, OneOf, Schema
from petsuite.net.codec import encode_message
from petsuite.net.framing import encode_frame, read_frame, write_frame
from petsuite.net.transport import Limits, MemoryChannel, memory_pair

from .conftest import run

PING = Schema("ping", {"n": Int(min=0, max=1000)})
BLOB = Schema("blob", {"data": Bytes(max_len=1 << 20)})
SMALL = Limits(max_frame_bytes=1024, recv_timeout_s=2.0)


def reader_with(data: bytes, *, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


# --- frames over asyncio streams -------------------------------------------------------


def test_frame_round_trip() -> None:
    async def main() -> list[bytes]:
        reader = reader_with(encode_frame(b"hello", 10) + encode_frame(b"", 10))
        return [await read_frame(reader, 10, 1.0), await read_frame(reader, 10, 1.0)]

    assert run(main()) == [b"hello", b""]


def test_oversized_frame_refused_before_reading() -> None:
    with pytest.raises(ProtocolAbort) as info:
        encode_frame(b"x" * 11, 10)
    assert info.value.reason is AbortReason.OVERSIZED

    async def main() -> AbortReason:
        # announce 2**32 - 1 bytes but send none: refused on the header alone
        reader = reader_with(struct.pack(">I", 2**32 - 1), eof=False)
        try:
            await read_frame(reader, 1024, 1.0)
        except ProtocolAbort as exc:
            return exc.reason
        raise AssertionError

    assert run(main()) is AbortReason.OVERSIZED


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", AbortReason.PEER_CLOSED),
        (b"\x00\x00", AbortReason.TRUNCATED),
        (struct.pack(">I", 8) + b"half", AbortReason.TRUNCATED),
    ],
)
def test_end_of_stream(data: bytes, reason: AbortReason) -> None:
    async def main() -> AbortReason:
        try:
            await read_frame(reader_with(data), 1024, 1.0)
        except ProtocolAbort as exc:
            return exc.reason
        raise AssertionError

    assert run(main()) is reason


def test_stall_times_out() -> None:
    async def main() -> float:
        reader = reader_with(struct.pack(">I", 8) + b"half", eof=False)
        start = time.monotonic()
        with pytest.raises(ProtocolAbort) as info:
            await read_frame(reader, 1024, 0.2)
        assert info.value.reason is AbortReason.TIMEOUT
        return time.monotonic() - start

    assert run(main()) < 2.0


def test_connection_errors_map_to_peer_closed() -> None:
    async def main() -> None:
        reader = asyncio.StreamReader()
        reader.set_exception(ConnectionResetError("reset"))
        with pytest.raises(ProtocolAbort) as info:
            await read_frame(reader, 1024, 1.0)
        assert info.value.reason is AbortReason.PEER_CLOSED

    run(main())


def test_write_frame_limits_and_errors() -> None:
    class Writer:
        def __init__(self, error: BaseException | None = None) -> None:
            self.data = b""
            self.error = error

        def write(self, data: bytes) -> None:
            self.data += data

        async def drain(self) -> None:
            if self.error is not None:
                raise self.error

    async def main() -> None:
        ok = Writer()
        await write_frame(ok, b"abc", 10, 1.0)
        assert ok.data == b"\x00\x00\x00\x03abc"
        big = Writer()
        with pytest.raises(ProtocolAbort) as info:
            await write_frame(big, b"x" * 11, 10, 1.0)
        assert info.value.reason is AbortReason.OVERSIZED and big.data == b""
        with pytest.raises(ProtocolAbort) as info:
            await write_frame(Writer(ConnectionResetError()), b"x", 10, 1.0)
        assert info.value.reason is AbortReason.PEER_CLOSED

    run(main())


@pytest.mark.parametrize(("max_bytes", "deadline"), [(0, 1.0), (2**32, 1.0), (10, 0.0), (10, -1)])
def test_bad_limits(max_bytes: int, deadline: float) -> None:
    async def main() -> None:
        with pytest.raises(InvalidInput):
            await read_frame(reader_with(b""), max_bytes, deadline)

    run(main())


def test_limits_validation() -> None:
    for bad in (
        {"max_frame_bytes": 0},
        {"max_frame_bytes": True},
        {"recv_timeout_s": 0},
        {"handshake_timeout_s": float("inf")},
        {"connect_timeout_s": "1"},
    ):
        with pytest.raises(InvalidInput):
            Limits(**bad)


# --- the in-memory channel ------------------------------------------------------------


def test_memory_pair_round_trip() -> None:
    async def main() -> None:
        a, b = memory_pair("alice", "bob", SMALL)
        assert (a.peer, b.peer) == ("bob", "alice") and a.authenticated
        async with a, b:
            await a.send({"type": "ping", "n": 1})
            await a.send({"type": "blob", "data": b"\x00\xff"})
            assert await b.recv(PING) == {"type": "ping", "n": 1}
            assert await b.recv(OneOf(PING, BLOB)) == {"type": "blob", "data": b"\x00\xff"}
            await b.send({"type": "ping", "n": 2})
            assert (await a.recv(PING))["n"] == 2

    run(main())


def test_memory_pair_names_checked() -> None:
    with pytest.raises(InvalidInput):
        memory_pair("alice", "alice")
    with pytest.raises(InvalidInput):
        memory_pair("Alice", "bob")


def test_memory_oversized() -> None:
    async def main() -> None:
        a, b = memory_pair("alice", "bob", SMALL)
        with pytest.raises(ProtocolAbort) as info:
            await a.send({"type": "blob", "data": bytes(2000)})
        assert info.value.reason is AbortReason.OVERSIZED and info.value.peer == "bob"
        b._inbox.feed(struct.pack(">I", 5000) + bytes(100))  # bypass the sender's check
        with pytest.raises(ProtocolAbort) as info:
            await b.recv(BLOB)
        assert info.value.reason is AbortReason.OVERSIZED and info.value.peer == "alice"

    run(main())


def inject(channel: MemoryChannel, raw: bytes, *, eof: bool = False) -> None:
    channel._inbox.feed(raw)
    if eof:
        channel._inbox.feed_eof()


@pytest.mark.parametrize(
    ("raw", "eof", "reason"),
    [
        (struct.pack(">I", 10) + b"12345", True, AbortReason.TRUNCATED),
        (encode_frame(b"\xff\xfe garbage", 1024), False, AbortReason.MALFORMED),
        (
            encode_frame(encode_message({"type": "ping", "n": True}), 1024),
            False,
            AbortReason.MALFORMED,
        ),
        (encode_frame(encode_message({"type": "pong"}), 1024), False, AbortReason.UNEXPECTED),
        (
            encode_frame(encode_message({"type": "abort", "reason": "nope", "detail": ""}), 1024),
            False,
            AbortReason.MALFORMED,
        ),
        (b"", True, AbortReason.PEER_CLOSED),
    ],
)
def test_memory_bad_input(raw: bytes, eof: bool, reason: AbortReason) -> None:
    async def main() -> ProtocolAbort:
        _a, b = memory_pair("alice", "bob", SMALL)
        inject(b, raw, eof=eof)
        with pytest.raises(ProtocolAbort) as info:
            await b.recv(PING)
        return info.value

    exc = run(main())
    assert exc.reason is reason and exc.peer == "alice"


def test_memory_timeout_and_failure_latch() -> None:
    async def main() -> None:
        a, b = memory_pair("alice", "bob", SMALL)
        start = time.monotonic()
        with pytest.raises(ProtocolAbort) as info:
            await b.recv(PING, timeout_s=0.2)
        assert info.value.reason is AbortReason.TIMEOUT
        assert time.monotonic() - start < 2.0
        await a.send({"type": "ping", "n": 1})
        with pytest.raises(ProtocolAbort) as info:  # a failed stream stays failed
            await b.recv(PING)
        assert info.value.reason is AbortReason.TIMEOUT and "already failed" in info.value.detail

    run(main())


def test_peer_abort_is_reported() -> None:
    async def main() -> None:
        a, b = memory_pair("alice", "bob", SMALL)
        await a.abort(AbortReason.CHECK_FAILED, "proof did not verify\nnewline")
        assert a.closed
        with pytest.raises(ProtocolAbort) as info:
            await b.recv(PING)
        assert info.value.reason is AbortReason.PEER_ABORTED
        assert info.value.detail == "check-failed: proof did not verify?newline"
        with pytest.raises(ProtocolAbort) as info:
            await b.recv(PING)
        assert info.value.reason is AbortReason.PEER_ABORTED
        await a.abort(AbortReason.TIMEOUT, "again")  # idempotent on a closed channel

    run(main())


def test_context_manager_tells_peer_about_local_abort() -> None:
    async def main() -> None:
        a, b = memory_pair("alice", "bob", SMALL)
        with pytest.raises(ProtocolAbort):
            async with a:
                raise ProtocolAbort(AbortReason.CHECK_FAILED, "secret detail stays local")
        with pytest.raises(ProtocolAbort) as info:
            await b.recv(PING)
        assert info.value.reason is AbortReason.PEER_ABORTED
        assert info.value.detail == "check-failed"

    run(main())


def test_closed_channels() -> None:
    async def main() -> None:
        a, b = memory_pair("alice", "bob", SMALL)
        await b.close()
        await b.close()
        with pytest.raises(ProtocolAbort) as info:
            await a.send({"type": "ping", "n": 1})
        assert info.value.reason is AbortReason.PEER_CLOSED
        with pytest.raises(ProtocolAbort) as info:
            await b.send({"type": "ping", "n": 1})
        assert info.value.reason is AbortReason.PEER_CLOSED
        with pytest.raises(ProtocolAbort) as info:
            await b.recv(PING)
        assert info.value.reason is AbortReason.PEER_CLOSED
        with pytest.raises(ProtocolAbort) as info:
            await a.recv(PING)
        assert info.value.reason is AbortReason.PEER_CLOSED
        assert "closed" in repr(b)

    run(main())


def test_unencodable_message_is_a_local_error() -> None:
    async def main() -> None:
        a, _b = memory_pair("alice", "bob", SMALL)
        with pytest.raises(InvalidInput):
            await a.send({"type": "ping", "n": {1, 2}})

    run(main())


def test_memory_pair_outside_a_loop() -> None:
    a, b = memory_pair("alice", "bob", SMALL)

    async def main() -> dict[str, object]:
        await a.send({"type": "ping", "n": 7})
        return await b.recv(PING)

    assert run(main())["n"] == 7
