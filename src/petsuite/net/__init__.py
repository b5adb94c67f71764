"""Runtime: transports (asyncio + mutual TLS, in-memory), message framing, PKI.

Messages are validated against :mod:`petsuite.core.schema` schemas on receipt.

Protocols talk to a :class:`Channel`; :func:`connect` and :func:`serve` give TLS 1.3 channels
authenticated by a per-collaboration CA (:mod:`petsuite.net.pki`), :func:`memory_pair` gives an
in-memory twin with the same checks for tests. TLS hides payloads from the network, but message
sizes, timing and who talks to whom still leak; whoever holds the CA key can impersonate any party.
"""

from petsuite.net.codec import decode_message, encode_message
from petsuite.net.framing import encode_frame, read_frame, write_frame
from petsuite.net.pki import (
    TLSIdentity,
    ca_fingerprint,
    init_ca,
    issue,
    load_identity,
    validate_party_name,
)
from petsuite.net.transport import (
    Channel,
    Limits,
    MemoryChannel,
    Server,
    TLSChannel,
    connect,
    memory_pair,
    serve,
)

__all__ = [
    "Channel",
    "Limits",
    "MemoryChannel",
    "Server",
    "TLSChannel",
    "TLSIdentity",
    "ca_fingerprint",
    "connect",
    "decode_message",
    "encode_frame",
    "encode_message",
    "init_ca",
    "issue",
    "load_identity",
    "memory_pair",
    "read_frame",
    "serve",
    "validate_party_name",
    "write_frame",
]
