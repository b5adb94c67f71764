"""A TLS echo server run in a separate (spawned) process by the integration test."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from petsuite.core.errors import AbortReason, ProtocolAbort
from petsuite.core.schema import Bytes, Int, Schema
from petsuite.net.pki import load_identity
from petsuite.net.transport import Channel, Limits, serve

ECHO = Schema("echo", {"seq": Int(min=0, max=1000), "data": Bytes(max_len=1 << 20)})


async def _handler(channel: Channel) -> None:
    while True:
        try:
            msg = await channel.recv(ECHO)
        except ProtocolAbort as exc:
            if exc.reason is AbortReason.PEER_CLOSED:
                return
            raise
        await channel.send({**msg, "data": msg["data"][::-1]})


def main(pki_dir: str, ports: Any) -> None:
    """Serve echoes as ``bob`` until terminated; report the port on ``ports``."""

    async def serve_forever() -> None:
        identity = load_identity(Path(pki_dir), "bob")
        limits = Limits(recv_timeout_s=20.0)
        async with await serve(
            "127.0.0.1", 0, _handler, identity=identity, limits=limits, allowed_peers={"alice"}
        ) as server:
            ports.put(server.port)
            await server.wait_closed()

    asyncio.run(serve_forever())
