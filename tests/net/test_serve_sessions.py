"""serve_sessions: a listener that stops after N sessions, over real loopback sockets."""

from __future__ import annotations

import asyncio

import pytest

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort
from petsuite.core.schema import Int, Schema
from petsuite.net.transport import Channel, Limits, connect, serve_sessions

PING = Schema("ping", {"n": Int(min=0, max=10)})
LIMITS = Limits(recv_timeout_s=5, connect_timeout_s=5, handshake_timeout_s=5)


def test_stops_after_the_given_number_of_sessions() -> None:
    async def main() -> list[int]:
        seen: list[int] = []
        ports: asyncio.Queue[int] = asyncio.Queue()

        async def handler(channel: Channel) -> None:
            seen.append((await channel.recv(PING))["n"])
            if len(seen) == 2:
                raise InvalidInput("a failing session still counts")

        server = asyncio.create_task(serve_sessions(
            "127.0.0.1", 0, handler, sessions=3, identity=None, limits=LIMITS,
            insecure_localhost=True, local_name="srv", ready=ports.put_nowait, timeout_s=20,
        ))  # fmt: skip
        port = await asyncio.wait_for(ports.get(), 10)
        for n in range(3):
            ch = await connect("127.0.0.1", port, identity=None, peer_name="srv", limits=LIMITS,
                               insecure_localhost=True, local_name=f"c{n}")  # fmt: skip
            async with ch:
                await ch.send({"type": "ping", "n": n})
        await asyncio.wait_for(server, 20)  # returns by itself after the third session
        return seen

    assert sorted(asyncio.run(main())) == [0, 1, 2]


def test_times_out_when_too_few_sessions_come() -> None:
    async def handler(channel: Channel) -> None:
        return None

    with pytest.raises(ProtocolAbort) as exc:
        asyncio.run(serve_sessions(
            "127.0.0.1", 0, handler, sessions=1, identity=None, limits=LIMITS,
            insecure_localhost=True, local_name="srv", timeout_s=0.3,
        ))  # fmt: skip
    assert exc.value.reason is AbortReason.TIMEOUT
    with pytest.raises(InvalidInput):
        asyncio.run(serve_sessions("127.0.0.1", 0, handler, sessions=-1, identity=None))
