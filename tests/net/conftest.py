"""Shared fixtures for the network layer: one PKI per test session, and an asyncio runner."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from petsuite.net.pki import TLSIdentity, init_ca, issue

T = TypeVar("T")

#: The main CA starts this long ago, so that certificates issued "in the past" chain to it.
CA_AGE = timedelta(days=30)


def run(coro: Awaitable[T], timeout: float = 10.0) -> T:
    """Run ``coro`` in a fresh event loop with an overall deadline."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@dataclass(frozen=True)
class Pki:
    """Identities for the tests. ``rogue`` presents a foreign CA's cert but trusts ours."""

    directory: Path
    foreign_directory: Path
    alice: TLSIdentity
    bob: TLSIdentity
    carol: TLSIdentity
    expired: TLSIdentity
    foreign_alice: TLSIdentity
    foreign_bob: TLSIdentity
    rogue_alice: TLSIdentity


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    now = datetime.now(UTC)
    directory = tmp_path_factory.mktemp("pki")
    init_ca(directory, now=now - CA_AGE)
    alice = issue(directory, "alice")
    bob = issue(directory, "bob")
    carol = issue(directory, "carol")
    expired = issue(directory, "dave", valid_days=1, now=now - timedelta(days=10))
    foreign = tmp_path_factory.mktemp("foreign-pki")
    init_ca(foreign, name="someone else's CA")
    foreign_alice = issue(foreign, "alice")
    foreign_bob = issue(foreign, "bob")
    rogue_alice = TLSIdentity("alice", alice.ca_cert, foreign_alice.cert, foreign_alice.key)
    return Pki(
        directory, foreign, alice, bob, carol, expired, foreign_alice, foreign_bob, rogue_alice
    )
