"""The pseudonymisation recipes over the in-memory transport and over real TLS between processes."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from petsuite.core.audit import AuditLog
from petsuite.core.errors import InvalidInput, ProtocolAbort
from petsuite.net import pki
from petsuite.net.transport import Limits, connect, memory_pair, serve
from petsuite.oprf import OprfKey, pseudonymise, serve_pseudonyms


def test_memory_round_trip_with_audit(tmp_path: Path) -> None:
    key = OprfKey.generate()
    inputs = [f"person-{i}".encode() for i in range(300)]
    ticks: list[int] = []

    async def main() -> Any:
        client, server = memory_pair("org-a", "org-b")
        with AuditLog(tmp_path / "a.db") as audit_a, AuditLog(tmp_path / "b.db") as audit_b:
            return await asyncio.gather(
                pseudonymise(
                    client,
                    inputs,
                    audit=audit_a,
                    chunk_size=128,
                    progress=lambda done, _total: ticks.append(done),
                ),
                serve_pseudonyms(server, key, audit=audit_b),
            )

    (outputs, summary), served = asyncio.run(asyncio.wait_for(main(), 30))
    assert outputs == key.evaluate(inputs)
    assert summary.peer == "org-b" and served.peer == "org-a"
    assert summary.session == served.session and served.elements == 300
    assert ticks == [128, 256, 300]
    for name in ("a.db", "b.db"):
        with AuditLog(tmp_path / name) as log:
            assert log.verify().ok
            (entry,) = log.entries()
            assert entry.parameters["elements"] == 300
            assert "person-0" not in str(entry.parameters)


def test_server_refuses_oversized_session(tmp_path: Path) -> None:
    key = OprfKey.generate()

    async def main() -> None:
        client, server = memory_pair("org-a", "org-b")
        with AuditLog(tmp_path / "b.db") as audit_b:
            results = await asyncio.gather(
                pseudonymise(client, [b"a", b"b", b"c"]),
                serve_pseudonyms(server, key, audit=audit_b, max_elements=2),
                return_exceptions=True,
            )
            assert all(isinstance(r, ProtocolAbort) for r in results), results
            (entry,) = audit_b.entries()
            assert entry.operation == "oprf.serve.aborted"

    asyncio.run(asyncio.wait_for(main(), 30))


def test_key_from_seed_is_stable() -> None:
    seed = bytes(range(32))
    assert OprfKey.from_seed(seed).evaluate([b"x"]) == OprfKey.from_seed(seed).evaluate([b"x"])
    assert OprfKey.from_seed(seed).fingerprint() != OprfKey.generate().fingerprint()
    assert "fingerprint" in repr(OprfKey.generate())
    with pytest.raises(InvalidInput):
        OprfKey.from_seed(b"short")


def _server_process(pki_dir: str, seed: bytes, ports: Any) -> None:
    async def main() -> None:
        identity = pki.load_identity(Path(pki_dir), "org-b")
        done = asyncio.Event()

        async def handler(channel: Any) -> None:
            try:
                await serve_pseudonyms(channel, OprfKey.from_seed(seed))
            finally:
                done.set()

        async with await serve("127.0.0.1", 0, handler, identity=identity) as server:
            ports.put(server.port)
            await asyncio.wait_for(done.wait(), 60)

    asyncio.run(main())


@pytest.mark.timeout(90)
def test_two_processes_over_mutual_tls(tmp_path: Path) -> None:
    pki.init_ca(tmp_path)
    client_identity = pki.issue(tmp_path, "org-a")
    pki.issue(tmp_path, "org-b")
    seed = bytes(range(32))
    ctx = multiprocessing.get_context("spawn")
    ports: Any = ctx.Queue()
    proc = ctx.Process(target=_server_process, args=(str(tmp_path), seed, ports), daemon=True)
    proc.start()
    try:
        port = ports.get(timeout=60)
        inputs = [f"nhs-{i}".encode() for i in range(5000)]

        async def main() -> list[bytes]:
            channel = await connect(
                "127.0.0.1", port, identity=client_identity, peer_name="org-b",
                limits=Limits(recv_timeout_s=30),
            )
            async with channel:
                outputs, _ = await pseudonymise(channel, inputs, chunk_size=2048)
            return outputs

        outputs = asyncio.run(asyncio.wait_for(main(), 60))
        assert outputs == OprfKey.from_seed(seed).evaluate(inputs)
        proc.join(timeout=30)
        assert proc.exitcode == 0
    finally:
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
