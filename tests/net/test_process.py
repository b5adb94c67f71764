"""Integration: a server in a separate process, a client here, mutual TLS over loopback."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from petsuite.core.errors import AbortReason, ProtocolAbort
from petsuite.net.transport import Limits, connect

from . import echo_server
from .conftest import Pki, run


@pytest.mark.timeout(60)
def test_echo_server_in_another_process(pki: Pki) -> None:
    ctx = multiprocessing.get_context("spawn")
    ports: Any = ctx.Queue()
    proc = ctx.Process(target=echo_server.main, args=(str(pki.directory), ports), daemon=True)
    proc.start()
    try:
        port = ports.get(timeout=30)
        limits = Limits(recv_timeout_s=10.0)

        async def main() -> None:
            async with await connect(
                "127.0.0.1", port, identity=pki.alice, peer_name="bob", limits=limits
            ) as channel:
                for seq in range(5):
                    data = bytes(range(seq * 10, seq * 10 + 50))
                    await channel.send({"type": "echo", "seq": seq, "data": data})
                    reply = await channel.recv(echo_server.ECHO)
                    assert reply == {"type": "echo", "seq": seq, "data": data[::-1]}
            # the child only admits alice
            with pytest.raises(ProtocolAbort) as info:
                await connect("127.0.0.1", port, identity=pki.carol, peer_name="bob", limits=limits)
            assert info.value.reason is AbortReason.HANDSHAKE and "not allowed" in info.value.detail

        run(main(), timeout=30)
        assert proc.is_alive()  # sessions ending never take the server down
    finally:
        proc.terminate()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
        ports.close()
        ports.join_thread()
