"""Regression tests for defects found in the security review of petsuite.mpc.

Each test fails without its fix: hostile or malformed input must raise a typed PetsError, never
a bare ValueError or RecursionError.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from petsuite.core.encoding import canonical_json
from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort
from petsuite.mpc import runtime, spdz2k
from petsuite.mpc.config import parse_config
from petsuite.mpc.memory import MemoryNetwork, memory_networks
from petsuite.mpc.shamir import ShamirEngine
from petsuite.mpc.stats import PartyInput, client_steps

from .helpers import NetworkWrapper, engines, run_all
from .runtime_support import delegated_config, peer_config

# a JSON nesting deeper than the decoder's recursion limit, well inside every size limit
_DEEP_JSON = b"[" * 20_000 + b"]" * 20_000


@pytest.mark.parametrize("port", ["\u00b2", "7\u00b2", "\u00b9\u00b2"])
def test_config_address_with_non_ascii_digits_is_invalid_input(port: str) -> None:
    """str.isdigit() accepts superscript digits that int() refuses: a bare ValueError escaped."""
    text = peer_config(["p-a", "p-b", "p-c"], ports=[7701, 7702, 7703]).replace(
        "127.0.0.1:7701", f"127.0.0.1:{port}"
    )
    with pytest.raises(InvalidInput, match=r"parties\[0\]\.address"):
        parse_config(text)


@pytest.mark.parametrize("text", ["127.0.0.1:\u00b2", "0.0.0.0:7\u00b2"])
def test_listen_address_with_non_ascii_digits_is_invalid_input(text: str) -> None:
    """The CLI's --listen goes through the same parse; it raised a bare ValueError."""
    with pytest.raises(InvalidInput, match="HOST:PORT"):
        runtime._parse_listen(text)


def test_dealer_refuses_a_deeply_nested_request_with_a_typed_abort() -> None:
    """Identical over-nested requests from every server made json.loads raise RecursionError in
    the dealer (an untyped crash); now the dealer refuses them and aborts with CHECK_FAILED."""
    servers = ("s1", "s2")

    async def main() -> tuple[Any, dict[str, bytes], dict[str, bytes]]:
        nets = memory_networks([*servers, "dealer"], timeout_s=5.0)
        dealer = asyncio.ensure_future(
            spdz2k.run_dealer(nets["dealer"], servers=servers, clients=[])
        )

        async def server(name: str) -> dict[str, bytes]:
            return await nets[name].exchange(
                {"dealer": _DEEP_JSON}, ["dealer"], "spdz2k/dealer", max_bytes=4096
            )

        replies = await asyncio.gather(server("s1"), server("s2"))
        outcome = (await asyncio.gather(dealer, return_exceptions=True))[0]
        return outcome, replies[0], replies[1]

    outcome, r1, r2 = asyncio.run(main())
    assert isinstance(outcome, ProtocolAbort), repr(outcome)
    assert outcome.reason is AbortReason.CHECK_FAILED
    for reply in (r1, r2):
        assert reply["dealer"][:1] == b"\x01"  # refused, with the reason
        assert b"not JSON" in reply["dealer"]


class _FakeMesh:
    """An input client's view of two servers and a dealer that all answer as scripted: masks of
    the right sizes from the dealer, then ``result`` from every server."""

    def __init__(self, me: str, servers: tuple[str, ...], result: bytes) -> None:
        self._me = me
        self._servers = servers
        self._result = result

    @property
    def me(self) -> str:
        return self._me

    @property
    def lost(self) -> frozenset[str]:
        return frozenset()

    async def exchange(
        self,
        outgoing: Mapping[str, bytes],
        expect_from: Collection[str],
        tag: str,
        *,
        max_bytes: int,
        tolerate_loss: bool = False,
        timeout_s: float | None = None,
    ) -> dict[str, bytes]:
        if tag == "spdz2k/mask":  # the dealer's mask: max_bytes is exactly its size
            return {"dealer": bytes(max_bytes)}
        if tag == "mpc-result":
            return dict.fromkeys(expect_from, self._result)
        return {}


def test_client_refuses_a_deeply_nested_result_with_a_typed_abort() -> None:
    """Servers that all send an over-nested result made the client's json.loads raise
    RecursionError; now the client raises ProtocolAbort(MALFORMED)."""
    servers = ("s-1", "s-2")
    cfg = parse_config(delegated_config(servers, ["c-1"], statistic="sum", upper=10))
    data = PartyInput(columns=([1.0, 2.0],))
    assert len(client_steps(runtime.statistic_spec(cfg), data)) >= 2

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        net = _FakeMesh("c-1", servers, _DEEP_JSON)
        return await runtime._run_role(
            cfg,
            "c-1",
            net=net,  # type: ignore[arg-type]
            data=data,
            rng=None,
            say=lambda _m: None,
            deadline=loop.time() + 10,
        )

    with pytest.raises(ProtocolAbort) as info:
        asyncio.run(main())
    assert info.value.reason is AbortReason.MALFORMED and info.value.peer == "s-1"


def test_client_still_accepts_a_well_formed_result() -> None:
    """The same scripted mesh with a valid result: the client returns it (the fake is sound)."""
    servers = ("s-1", "s-2")
    cfg = parse_config(delegated_config(servers, ["c-1"], statistic="sum", upper=10))
    data = PartyInput(columns=([1.0, 2.0],))
    good = canonical_json(
        {
            "statistic": "sum",
            "value": 3,
            "count": 2,
            "per_party_rows": {"c-1": 2},
            "noise_rho": None,
        }
    )

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        return await runtime._run_role(
            cfg,
            "c-1",
            net=_FakeMesh("c-1", servers, good),  # type: ignore[arg-type]
            data=data,
            rng=None,
            say=lambda _m: None,
            deadline=loop.time() + 10,
        )

    result = asyncio.run(main())
    assert result is not None and result.value == 3.0 and result.count == 2
    assert isinstance(result.value, float) and np.isclose(result.value, 3.0)


class _CrashMidSend(NetworkWrapper):
    """A Shamir party that dies in its first resharing round after its row reached one peer."""

    def __init__(self, inner: MemoryNetwork, reached: str) -> None:
        super().__init__(inner)
        self._memory = inner
        self._reached = reached

    def outgoing(self, tag: str, payloads: Mapping[str, bytes]) -> Mapping[str, bytes]:
        if tag.startswith("shamir/mul/"):
            self._memory.send_raw(self._reached, tag, payloads[self._reached])
            self._memory.disconnect()
            raise ProtocolAbort(AbortReason.PEER_CLOSED, "crashed mid-send")
        return payloads


def test_shamir_retry_after_a_partial_send_never_mixes_rounds() -> None:
    """P2 (a resharing dealer) dies after its row reached P0 only. P0 finishes the mul; P1 and P3
    retry it. P0's *next* mul used the same tag as their retry, so they combined P0's row of
    a*a into a*b and, once P0 was gone, opened a wrong a*b from t + 1 shares with no check
    failing. Now the retry's tag names its attempt and dealers: the rounds cannot mix, and
    every survivor aborts instead of releasing a wrong value."""
    nets, engs = engines(4, 1, timeout_s=2.0)
    engs[2]._net = _CrashMidSend(nets["P2"], "P0")

    async def prog(e: ShamirEngine) -> tuple[Any, Any]:
        a = await e.input("P0", np.array([3]) if e.me == "P0" else None, 1)
        b = await e.input("P1", np.array([5]) if e.me == "P1" else None, 1)
        c = await e.mul(a, b)
        d = await e.mul(a, a)
        return await e.open(c), await e.open(d)

    async def guarded(e: ShamirEngine) -> tuple[Any, Any]:
        try:
            return await prog(e)
        except BaseException:
            nets[e.me].disconnect()  # as the runtime aborts its channels
            raise

    results = run_all(engs, guarded)
    for name, res in zip(nets, results, strict=True):
        if isinstance(res, BaseException):
            assert isinstance(res, ProtocolAbort), (name, res)
            continue
        c, d = res
        assert int(c[0]) == 15 and int(d[0]) == 9, (name, res)  # never a wrong value
    assert any(isinstance(r, ProtocolAbort) for r in results)


@pytest.mark.parametrize(("text", "expected"), [("12,500", 12500.0), ("-1,234,567.89", -1234567.89)])
def test_thousands_separators_are_read(tmp_path: Path, text: str, expected: float) -> None:
    from petsuite.mpc.runtime import read_party_input

    path = tmp_path / "spend.csv"
    path.write_text(f'spend\n"{text}"\n', encoding="utf-8")
    data = read_party_input(_mean_config(), f"{path}:spend")
    assert list(data.columns[0]) == [expected]


@pytest.mark.parametrize("text", ["1,5", "12,50", "1,2345"])
def test_a_decimal_comma_is_refused_not_misread(tmp_path: Path, text: str) -> None:
    from petsuite.mpc.runtime import read_party_input

    path = tmp_path / "spend.csv"
    path.write_text(f'spend\n"{text}"\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match="thousands separators"):
        read_party_input(_mean_config(), f"{path}:spend")


def _mean_config() -> Any:
    return parse_config(peer_config(["p-a", "p-b", "p-c"], ports=[7701, 7702, 7703]))
