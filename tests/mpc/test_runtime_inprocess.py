"""Every statistic once in the peer model, the 3-server delegated model and the hybrid model:
all parties in one event loop, but over real mutual TLS on loopback (cheaper than processes)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from petsuite.core.errors import PetsError
from petsuite.mpc.config import CollaborationConfig, parse_config
from petsuite.mpc.runtime import run_party_async
from petsuite.mpc.stats import StatisticResult
from tests.mpc.runtime_support import delegated_config, make_pki, peer_config

PEERS = ("p-a", "p-b", "p-c")
SERVERS = ("s-1", "s-2", "s-3")
CLIENTS = ("c-a", "c-b")

X = {"p-a": [1.0, 2.0, 3.0], "p-b": [4.0, 5.5], "p-c": [6.0, 7.25, 8.0]}
W = {"p-a": [1.0, 2.0, 1.0], "p-b": [3.0, 1.0], "p-c": [2.0, 2.0, 1.0]}
LABELS = {"p-a": ["red", "green", "red"], "p-b": ["blue", "red"], "p-c": ["green", "red", "red"]}


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"), [*PEERS, *SERVERS, *CLIENTS, "dealer"])


async def run_all(
    cfg: CollaborationConfig, pki_dir: Path, inputs: dict[str, str | None]
) -> dict[str, Any]:
    async def one(name: str) -> Any:
        try:
            return await run_party_async(cfg, name, pki_dir=pki_dir, input_path=inputs[name])
        except PetsError as exc:
            return exc

    results = await asyncio.wait_for(asyncio.gather(*(one(n) for n in inputs)), 60)
    return dict(zip(inputs, results, strict=True))


def write_inputs(tmp_path: Path, statistic: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PEERS:
        path = tmp_path / f"{name}.csv"
        if statistic == "histogram":
            path.write_text("colour\n" + "".join(f"{v}\n" for v in LABELS[name]))
            out[name] = f"{path}:colour"
        elif statistic == "weighted_mean":
            rows = zip(X[name], W[name], strict=True)
            path.write_text("x,w\n" + "".join(f"{x},{w}\n" for x, w in rows))
            out[name] = f"{path}:x,w"
        elif statistic == "linear_regression":
            path.write_text("x,y\n" + "".join(f"{x},{2 * x + 1}\n" for x in X[name]))
            out[name] = f"{path}:x,y"
        else:
            path.write_text("x\n" + "".join(f"{x}\n" for x in X[name]))
            out[name] = f"{path}:x"
    return out


ALL_X = np.array([v for n in PEERS for v in X[n]])
ALL_W = np.array([v for n in PEERS for v in W[n]])
EXPECTED: dict[str, Any] = {
    "sum": float(ALL_X.sum()),
    "mean": float(ALL_X.mean()),
    "weighted_mean": float((ALL_X * ALL_W).sum() / ALL_W.sum()),
    "min": 1.0,
    "max": 8.0,
    "histogram": {"red": 5, "green": 2, "blue": 1},
    "linear_regression": (2.0, 1.0),
}


@pytest.mark.parametrize("statistic", [*EXPECTED, "variance"])
def test_every_statistic_in_the_peer_model(tmp_path: Path, pki_dir: Path, statistic: str) -> None:
    extra = 'categories = ["red", "green", "blue"]\n' if statistic == "histogram" else ""
    cfg = parse_config(
        peer_config(PEERS, statistic=statistic, lower=0, upper=100, frac_bits=16, extra=extra)
    )
    results = asyncio.run(run_all(cfg, pki_dir, write_inputs(tmp_path, statistic)))
    values = []
    for name in PEERS:
        result = results[name]
        assert isinstance(result, StatisticResult), (name, result)
        assert result.count == 8
        values.append(result.value)
    assert values[0] == values[1] == values[2]
    value = values[0]
    if statistic == "variance":
        n = ALL_X.size
        population, sample = float(ALL_X.var()), float(ALL_X.var() * n / (n - 1))
        assert value == pytest.approx(population, abs=1e-3) or value == pytest.approx(
            sample, abs=1e-3
        )
    elif statistic == "histogram":
        assert value == EXPECTED[statistic]
    elif statistic == "linear_regression":
        assert isinstance(value, tuple)
        assert value[:2] == pytest.approx(EXPECTED[statistic], abs=1e-3)
    else:
        assert value == pytest.approx(EXPECTED[statistic], abs=1e-3)


@pytest.mark.parametrize("model", ["delegated", "hybrid"])
def test_delegated_three_servers_and_hybrid(tmp_path: Path, pki_dir: Path, model: str) -> None:
    servers = SERVERS if model == "delegated" else SERVERS[:2]
    cfg = parse_config(
        delegated_config(servers, CLIENTS, model=model, statistic="max", frac_bits=0, upper=1000)
    )
    inputs: dict[str, str | None] = dict.fromkeys([*servers, "dealer"])
    for name, values in zip(CLIENTS, ([3, 700, 5], [9, 12]), strict=True):
        path = tmp_path / f"{name}.csv"
        path.write_text("v\n" + "".join(f"{v}\n" for v in values))
        inputs[name] = f"{path}:v"
    results = asyncio.run(run_all(cfg, pki_dir, inputs))
    for name in CLIENTS:
        result = results[name]
        assert isinstance(result, StatisticResult), (name, result)
        assert result.value == pytest.approx(700.0)
        assert result.per_party_rows == {"c-a": 3, "c-b": 2}
    for name in [*servers, "dealer"]:
        assert results[name] is None, (name, results[name])


def test_a_party_that_connects_but_never_sends_times_out_by_name(
    tmp_path: Path, pki_dir: Path
) -> None:
    from petsuite.core.errors import AbortReason, ProtocolAbort
    from petsuite.mpc.runtime import connect_network
    from petsuite.net.pki import load_identity

    cfg = parse_config(peer_config(PEERS, statistic="sum", step_s=1, frac_bits=0))
    inputs = write_inputs(tmp_path, "sum")

    async def silent() -> None:
        net = await connect_network(cfg, "p-c", identity=load_identity(pki_dir, "p-c"))
        try:
            await asyncio.sleep(30)
        finally:
            await net.abort(AbortReason.TIMEOUT)

    async def main() -> list[Any]:
        mute = asyncio.create_task(silent())
        try:
            return await asyncio.wait_for(
                asyncio.gather(
                    *(run_party_async(cfg, n, pki_dir=pki_dir, input_path=inputs[n])
                      for n in PEERS[:2]),
                    return_exceptions=True,
                ),
                20,
            )
        finally:
            mute.cancel()
            await asyncio.gather(mute, return_exceptions=True)

    for outcome in asyncio.run(main()):
        assert isinstance(outcome, ProtocolAbort), outcome
        assert outcome.reason is AbortReason.TIMEOUT and outcome.peer == "p-c", outcome


def test_client_refuses_results_that_differ_between_servers(
    tmp_path: Path, pki_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from petsuite.core.errors import AbortReason, ProtocolAbort
    from petsuite.mpc import runtime

    original = runtime.TLSPartyNetwork.exchange

    async def lying(self: Any, outgoing: Any, *args: Any, **kwargs: Any) -> Any:
        tag = args[1] if len(args) > 1 else kwargs["tag"]
        if self.me == "s-2" and tag == "mpc-result":
            outgoing = {p: v.replace(b'"value":700', b'"value":7') for p, v in outgoing.items()}
        return await original(self, outgoing, *args, **kwargs)

    monkeypatch.setattr(runtime.TLSPartyNetwork, "exchange", lying)
    cfg = parse_config(delegated_config(SERVERS[:2], CLIENTS, statistic="max", upper=1000))
    inputs: dict[str, str | None] = dict.fromkeys([*SERVERS[:2], "dealer"])
    for name, values in zip(CLIENTS, ([3, 700], [9]), strict=True):
        path = tmp_path / f"{name}.csv"
        path.write_text("v\n" + "".join(f"{v}\n" for v in values))
        inputs[name] = f"{path}:v"
    results = asyncio.run(run_all(cfg, pki_dir, inputs))
    for name in CLIENTS:
        exc = results[name]
        assert isinstance(exc, ProtocolAbort), (name, exc)
        assert exc.reason is AbortReason.CHECK_FAILED and exc.peer == "s-2"


def test_result_json_round_trip_and_malformed() -> None:
    from petsuite.core.errors import AbortReason, ProtocolAbort
    from petsuite.mpc.runtime import result_from_json, result_to_json
    from petsuite.mpc.stats import NoiseSpec, Statistic

    for value in (1.5, (2.0, 1.0), {"a": 3}):
        result = StatisticResult(Statistic.SUM, value, 3, {"x": 3}, NoiseSpec(0.25))
        assert result_from_json(result_to_json(result)) == result
    good = result_to_json(StatisticResult(Statistic.SUM, 1.0, 1, {"x": 1}, None))
    for bad in (
        {**good, "extra": 1},
        {**good, "value": "1"},
        {**good, "value": True},
        {**good, "count": -1},
        {**good, "statistic": "median"},
        {**good, "per_party_rows": {"x": "1"}},
        {**good, "noise_rho": -1.0},
        [],
    ):
        with pytest.raises(ProtocolAbort) as info:
            result_from_json(bad, peer="s-1")
        assert info.value.reason is AbortReason.MALFORMED and info.value.peer == "s-1"
