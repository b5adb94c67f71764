"""Encrypted analytics between an owner and a compute server: in memory and over TLS processes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from petsuite.core.audit import AuditLog
from petsuite.core.errors import AbortReason, InvalidInput, ProtocolAbort
from petsuite.he.api import LinearModel, compute_server, outsource
from petsuite.he.seal import CkksParameters, HeSecretKeyring
from petsuite.net import pki
from petsuite.net.transport import memory_pair
from petsuite.primitives.paillier import PaillierPrivateKey

VALUES = [float(x) for x in np.linspace(-50.0, 150.0, 2500)]


@pytest.fixture(scope="module")
def paillier() -> PaillierPrivateKey:
    return PaillierPrivateKey.generate(2048)


@pytest.fixture(scope="module")
def ckks() -> HeSecretKeyring:
    return HeSecretKeyring.generate(CkksParameters.choose(depth=1))


def _run(columns: list[list[float]], operation: str, key: Any, model: LinearModel | None = None,
         audit: AuditLog | None = None) -> Any:
    async def main() -> Any:
        owner, server = memory_pair("owner", "server")
        result, job = await asyncio.gather(
            outsource(owner, columns, operation=operation, key=key, audit=audit),  # type: ignore[arg-type]
            compute_server(server, model=model, audit=audit),
        )
        return result, job

    return asyncio.run(asyncio.wait_for(main(), 120))


@pytest.mark.parametrize("operation", ["sum", "mean", "variance"])
def test_paillier_statistics_are_exact(paillier: PaillierPrivateKey, operation: str) -> None:
    result, job = _run([VALUES], operation, paillier)
    expected = {"sum": np.sum(VALUES), "mean": np.mean(VALUES), "variance": np.var(VALUES)}
    assert result.value == pytest.approx(float(expected[operation]), rel=1e-6, abs=1e-3)
    assert job.scheme == "paillier" and job.count == len(VALUES)


@pytest.mark.parametrize("operation", ["sum", "mean", "variance"])
def test_ckks_statistics_within_precision(ckks: HeSecretKeyring, operation: str) -> None:
    result, _ = _run([VALUES], operation, ckks)
    expected = {"sum": np.sum(VALUES), "mean": np.mean(VALUES), "variance": np.var(VALUES)}
    assert result.value == pytest.approx(float(expected[operation]), rel=1e-4, abs=1e-2)


def test_ckks_linear_scores_with_the_servers_model(ckks: HeSecretKeyring, tmp_path: Path) -> None:
    rows = np.linspace(0, 1, 300 * 3).reshape(300, 3)
    model = LinearModel((0.5, -1.25, 2.0), bias=0.1)
    with AuditLog(tmp_path / "a.db") as audit:
        result, _ = _run([list(rows[:, j]) for j in range(3)], "linear", ckks, model, audit)
        ops = [e.operation for e in audit.entries()]
    expected = rows @ np.array(model.weights) + model.bias
    assert np.allclose(result.scores, expected, atol=1e-3)
    assert sorted(ops) == ["he.compute", "he.outsource"]


def test_paillier_cannot_do_linear_and_shapes_are_checked(paillier: PaillierPrivateKey) -> None:
    with pytest.raises((ProtocolAbort, InvalidInput)):
        _run([VALUES, VALUES], "linear", paillier, LinearModel((1.0, 2.0)))
    with pytest.raises(InvalidInput):
        _run([VALUES, VALUES[:-1]], "sum", paillier)
    with pytest.raises(InvalidInput):
        _run([[1.0, float("nan")]], "sum", paillier)


def test_model_size_mismatch_is_refused(ckks: HeSecretKeyring) -> None:
    with pytest.raises(ProtocolAbort) as exc:
        _run([VALUES[:10], VALUES[:10]], "linear", ckks, LinearModel((1.0, 2.0, 3.0)))
    assert exc.value.reason in (AbortReason.CONFIG_MISMATCH, AbortReason.PEER_ABORTED)


def test_model_file_validation() -> None:
    assert LinearModel.from_dict({"weights": [1, 2], "bias": 3}).bias == 3.0
    for bad in ({}, {"weights": []}, {"weights": ["x"]}, {"weights": [float("inf")]}):
        with pytest.raises(InvalidInput):
            LinearModel.from_dict(bad)


# --------------------------------------------------------------------------- real processes


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "PETSUITE_HOME": str(home), "COLUMNS": "300",
            "PETSUITE_PASSPHRASE": "correct horse battery staple"}


def _cli(args: list[str], home: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "petsuite", *args], capture_output=True,
                          text=True, env=_env(home), timeout=timeout, check=False)


@pytest.mark.timeout(300)
def test_two_processes_over_mutual_tls(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pki.init_ca(tmp_path / "pki")
    for party in ("hospital", "cloud"):
        pki.issue(tmp_path / "pki", party)
    data = tmp_path / "costs.csv"
    data.write_text("age,cost\n" + "".join(f"{20 + i % 60},{(i * 13) % 1000 / 10}\n"
                                           for i in range(3000)))
    model = tmp_path / "model.json"
    model.write_text(json.dumps({"weights": [0.02, -0.001], "bias": -1.0}))
    keys = {}
    for scheme in ("paillier", "ckks"):
        out = _cli(["he", "keygen", "--scheme", scheme, "--bits", "2048", "--depth", "1"], home)
        assert out.returncode == 0, out.stderr
        keys[scheme] = re.search(r"key (\w+) ", out.stdout).group(1)  # type: ignore[union-attr]
    server = subprocess.Popen(
        [sys.executable, "-m", "petsuite", "he", "serve", "--allow", "hospital", "--pki",
         str(tmp_path / "pki"), "--name", "cloud", "--listen", "127.0.0.1:0", "--model",
         str(model), "--jobs", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(home),
    )
    try:
        assert server.stdout is not None
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            m = re.search(r"on 127\.0\.0\.1:(\d+)", server.stdout.readline())
            port = int(m.group(1)) if m else None
        assert port is not None
        common = ["--server", f"127.0.0.1:{port}", "--server-name", "cloud", "--pki",
                  str(tmp_path / "pki"), "--name", "hospital"]
        mean = _cli(["he", "compute", str(data), "--column", "cost", "--operation", "mean",
                     "--key", keys["paillier"], *common], home)
        assert mean.returncode == 0, mean.stdout + mean.stderr
        expected = np.mean([(i * 13) % 1000 / 10 for i in range(3000)])
        assert float(mean.stdout.split(":")[-1].replace(",", "")) == pytest.approx(expected)
        scores = tmp_path / "scores.csv"
        lin = _cli(["he", "compute", str(data), "--column", "age", "--column", "cost",
                    "--operation", "linear", "--key", keys["ckks"], "--output", str(scores),
                    *common], home)
        assert lin.returncode == 0, lin.stdout + lin.stderr
        got = np.loadtxt(scores, delimiter=",", skiprows=1)
        ages = np.array([20 + i % 60 for i in range(3000)])
        costs = np.array([(i * 13) % 1000 / 10 for i in range(3000)])
        assert np.allclose(got, 0.02 * ages - 0.001 * costs - 1.0, atol=1e-3)
    finally:
        try:
            log, _ = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            log, _ = server.communicate()
    assert log.count("job from hospital") == 2
    with AuditLog(home / "audit.db") as audit:
        text = " ".join(json.dumps(e.parameters) for e in audit.entries())
        assert audit.verify().ok
    assert "correct horse" not in text
