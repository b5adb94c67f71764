"""The OPRF stage machines, driven by hand: happy path and every invalid transition."""

from __future__ import annotations

from typing import Any

import pytest

from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort
from petsuite.core.rng import DeterministicRandom
from petsuite.oprf import protocol
from petsuite.oprf.api import OprfKey
from petsuite.primitives.group import Point, Scalar

SESSION = bytes(range(16))


def _rng() -> DeterministicRandom:
    return DeterministicRandom(b"\x07" * 32, insecure_for_testing=True)


def _run(
    inputs: list[bytes], key: OprfKey, chunk_size: int
) -> tuple[protocol.OprfClientState, protocol.OprfServerState, int]:
    client, outbox = protocol.client_start(inputs, SESSION, rng=_rng(), chunk_size=chunk_size)
    server = protocol.server_start(key.scalar, max_elements=len(inputs))
    rounds = 0
    while outbox:
        (request,) = outbox
        server, replies = protocol.server_step(server, request)
        (reply,) = replies
        client, outbox = protocol.client_step(client, reply)
        rounds += 1
    return client, server, rounds


@pytest.mark.parametrize("chunk_size", [1, 3, 10, protocol.MAX_CHUNK])
def test_outputs_equal_direct_evaluation(chunk_size: int) -> None:
    key = OprfKey.generate()
    inputs = [f"id-{i}".encode() for i in range(10)]
    client, server, rounds = _run(inputs, key, chunk_size)
    assert client.stage is protocol.ClientStage.DONE
    assert server.stage is protocol.ServerStage.DONE
    assert rounds == -(-10 // chunk_size)
    assert list(client.outputs) == key.evaluate(inputs)
    assert server.evaluated == 10


def test_server_sees_no_input_hash() -> None:
    inputs = [b"alice", b"bob"]
    _, outbox = protocol.client_start(inputs, SESSION)
    sent = set(outbox[0]["elements"])
    unblinded = {Point.hash_to_group(x, b"HashToGroup-OPRFV1-\x00-ristretto255-SHA512").to_bytes()
                 for x in inputs}
    assert not sent & unblinded
    # two sessions blind the same inputs differently
    _, again = protocol.client_start(inputs, SESSION)
    assert not sent & set(again[0]["elements"])


def _first_request(
    n: int = 4, chunk_size: int = 2
) -> tuple[protocol.OprfClientState, dict[str, Any]]:
    client, outbox = protocol.client_start(
        [bytes([i]) for i in range(n)], SESSION, rng=_rng(), chunk_size=chunk_size
    )
    return client, outbox[0]


def test_server_rejects_bad_requests() -> None:
    key = OprfKey.generate()
    _, request = _first_request()
    server = protocol.server_start(key.scalar, max_elements=100)

    with pytest.raises(ProtocolAbort) as exc:
        protocol.server_step(server, {**request, "chunk": 1})
    assert exc.value.reason is AbortReason.UNEXPECTED

    with pytest.raises(ProtocolAbort) as exc:
        protocol.server_step(server, {**request, "suite": "P256-SHA256"})
    assert exc.value.reason is AbortReason.MALFORMED

    with pytest.raises(ProtocolAbort) as exc:
        protocol.server_step(server, {**request, "elements": [b"\xff" * 32]})
    assert exc.value.reason is AbortReason.MALFORMED

    identity = Point.identity().to_bytes()
    with pytest.raises(ProtocolAbort):
        protocol.server_step(server, {**request, "elements": [identity]})

    with pytest.raises(ProtocolAbort) as exc:
        protocol.server_step(server, {**request, "extra": 1})
    assert exc.value.reason is AbortReason.MALFORMED

    small = protocol.server_start(key.scalar, max_elements=1)
    with pytest.raises(ProtocolAbort) as exc:
        protocol.server_step(small, request)
    assert exc.value.reason is AbortReason.CHECK_FAILED


def test_server_rejects_out_of_order_and_foreign_session() -> None:
    key = OprfKey.generate()
    _, request = _first_request()
    server = protocol.server_start(key.scalar, max_elements=100)
    server, _ = protocol.server_step(server, request)
    with pytest.raises(ProtocolAbort):
        protocol.server_step(server, request)  # chunk 0 again
    with pytest.raises(ProtocolAbort):
        protocol.server_step(server, {**request, "chunk": 1, "session": b"\x00" * 16})
    with pytest.raises(ProtocolAbort):
        protocol.server_step(server, {**request, "chunk": 1, "chunks": 3})


def test_server_rejects_messages_after_done() -> None:
    key = OprfKey.generate()
    _, request = _first_request(n=2, chunk_size=2)
    server = protocol.server_start(key.scalar, max_elements=100)
    server, _ = protocol.server_step(server, request)
    assert server.stage is protocol.ServerStage.DONE
    with pytest.raises(ProtocolAbort) as exc:
        protocol.server_step(server, request)
    assert exc.value.reason is AbortReason.UNEXPECTED


def test_client_rejects_bad_responses() -> None:
    key = OprfKey.generate()
    client, request = _first_request()
    server = protocol.server_start(key.scalar, max_elements=100)
    _, (reply,) = protocol.server_step(server, request)

    bad_cases: list[tuple[dict[str, Any], AbortReason]] = [
        ({**reply, "session": b"\x01" * 16}, AbortReason.UNEXPECTED),
        ({**reply, "chunk": 1}, AbortReason.UNEXPECTED),
        ({**reply, "elements": reply["elements"][:1]}, AbortReason.CHECK_FAILED),
        ({**reply, "elements": [b"\xff" * 32] * 2}, AbortReason.MALFORMED),
        ({**reply, "type": "oprf.request"}, AbortReason.UNEXPECTED),
        ({"type": "oprf.response"}, AbortReason.MALFORMED),
    ]
    for message, reason in bad_cases:
        with pytest.raises(ProtocolAbort) as exc:
            protocol.client_step(client, message)
        assert exc.value.reason is reason, message

    done, _ = protocol.client_step(client, reply)
    assert done.stage is protocol.ClientStage.AWAIT_RESPONSE  # one more chunk to go
    with pytest.raises(ProtocolAbort):
        protocol.client_step(done, reply)  # chunk 0 replayed


def test_start_validation() -> None:
    with pytest.raises(InvalidInput):
        protocol.client_start([], SESSION)
    with pytest.raises(InvalidInput):
        protocol.client_start([b"x"], b"short")
    with pytest.raises(InvalidInput):
        protocol.client_start([b"x"], SESSION, chunk_size=0)
    with pytest.raises(InvalidInput):
        protocol.server_start(OprfKey.generate().scalar, max_elements=0)
    with pytest.raises(InvalidInput):
        protocol.server_start(Scalar.from_int(0), max_elements=1)
