"""Length-prefixed frames: a 4-byte big-endian payload length, then the payload.

The size limit is checked on sending, and on receiving *before* any payload byte is read, so a peer
cannot make us buffer more than ``max_bytes``. A whole frame must arrive within one deadline.

Threat model: the peer may lie about lengths, stop mid-frame or stall. Each case ends in a
:class:`~petsuite.core.errors.ProtocolAbort`: ``OVERSIZED``, ``TRUNCATED``, ``TIMEOUT``, and
``PEER_CLOSED`` for a clean end of stream between frames. Frame lengths and timing are visible to
anyone on the network path even under TLS.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Protocol

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort

__all__ = [
    "HEADER_BYTES",
    "MAX_FRAME_LIMIT",
    "FrameReader",
    "FrameWriter",
    "encode_frame",
    "read_frame",
    "write_frame",
]

_HEADER = struct.Struct(">I")
#: Bytes in a frame header.
HEADER_BYTES = _HEADER.size
#: The largest payload a 4-byte header can describe.
MAX_FRAME_LIMIT = 2**32 - 1


class FrameReader(Protocol):
    """Anything with :meth:`asyncio.StreamReader.readexactly`'s contract."""

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes, or raise :class:`asyncio.IncompleteReadError` at EOF."""
        ...


class FrameWriter(Protocol):
    """Anything with :class:`asyncio.StreamWriter`'s ``write`` and ``drain``."""

    def write(self, data: bytes) -> None:
        """Queue ``data`` for sending."""
        ...

    async def drain(self) -> None:
        """Wait until the write buffer has room."""
        ...


def _check_limit(max_bytes: int) -> None:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
        raise InvalidInput("max_bytes must be an int")
    if not 0 < max_bytes <= MAX_FRAME_LIMIT:
        raise InvalidInput(f"max_bytes must be in [1, {MAX_FRAME_LIMIT}]")


def _check_deadline(deadline_s: float) -> None:
    if isinstance(deadline_s, bool) or not isinstance(deadline_s, int | float):
        raise InvalidInput("a deadline must be a number of seconds")
    if not 0 < deadline_s < float("inf"):
        raise InvalidInput("a deadline must be positive and finite")


def encode_frame(payload: bytes, max_bytes: int) -> bytes:
    """Prefix ``payload`` with its length.

    Raises
    ------
    ProtocolAbort
        ``OVERSIZED`` if the payload exceeds ``max_bytes``: the peer would refuse it anyway.
    """
    _check_limit(max_bytes)
    if len(payload) > max_bytes:
        raise ProtocolAbort(
            AbortReason.OVERSIZED, f"outgoing frame of {len(payload)} bytes exceeds {max_bytes}"
        )
    return _HEADER.pack(len(payload)) + bytes(payload)


async def write_frame(
    writer: FrameWriter, payload: bytes, max_bytes: int, deadline_s: float
) -> None:
    """Send one frame, waiting at most ``deadline_s`` for the peer to take it.

    Raises
    ------
    ProtocolAbort
        ``OVERSIZED`` (nothing sent), ``TIMEOUT`` if the peer does not read, ``PEER_CLOSED`` if
        the connection is gone.
    """
    _check_deadline(deadline_s)
    frame = encode_frame(payload, max_bytes)
    try:
        writer.write(frame)
        await asyncio.wait_for(writer.drain(), deadline_s)
    except TimeoutError as exc:
        raise ProtocolAbort(
            AbortReason.TIMEOUT, f"peer did not accept a frame within {deadline_s} s"
        ) from exc
    except (ConnectionError, OSError, RuntimeError) as exc:
        raise ProtocolAbort(
            AbortReason.PEER_CLOSED, f"connection lost while sending: {exc}"
        ) from exc


async def read_frame(reader: FrameReader, max_bytes: int, deadline_s: float) -> bytes:
    """Read one frame's payload; the whole frame must arrive within ``deadline_s`` seconds.

    Raises
    ------
    ProtocolAbort
        ``PEER_CLOSED`` on end of stream before a frame (or a lost connection), ``TRUNCATED`` on
        end of stream inside a frame, ``OVERSIZED`` if the header announces more than
        ``max_bytes`` (checked before reading the payload), ``TIMEOUT`` past the deadline.
    """
    _check_limit(max_bytes)
    _check_deadline(deadline_s)
    try:
        return await asyncio.wait_for(_read(reader, max_bytes), deadline_s)
    except TimeoutError as exc:
        raise ProtocolAbort(
            AbortReason.TIMEOUT, f"no complete frame within {deadline_s} s"
        ) from exc
    except (ConnectionError, OSError) as exc:
        raise ProtocolAbort(AbortReason.PEER_CLOSED, f"connection lost: {exc}") from exc


async def _read(reader: FrameReader, max_bytes: int) -> bytes:
    try:
        header = await reader.readexactly(HEADER_BYTES)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise ProtocolAbort(AbortReason.PEER_CLOSED, "end of stream") from exc
        raise ProtocolAbort(
            AbortReason.TRUNCATED, f"end of stream after {len(exc.partial)} header bytes"
        ) from exc
    (length,) = _HEADER.unpack(header)
    if length > max_bytes:
        raise ProtocolAbort(
            AbortReason.OVERSIZED, f"incoming frame of {length} bytes exceeds {max_bytes}"
        )
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolAbort(
            AbortReason.TRUNCATED,
            f"end of stream after {len(exc.partial)} of {length} payload bytes",
        ) from exc
