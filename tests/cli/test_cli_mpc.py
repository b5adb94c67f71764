"""`petsuite mpc` as operators run it: config-hash, three `mpc run` processes, typed errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from petsuite.cli.mpc import mpc_app
from petsuite.core.errors import CATALOGUE, InvalidInput
from petsuite.mpc.config import parse_config
from tests.mpc.runtime_support import make_pki, peer_config

#: Runs the CLI with `mpc` registered (whether or not cli/main.py registers it already).
DRIVER = (
    "import sys; import petsuite.cli.main as m; from petsuite.cli.mpc import mpc_app; "
    "names = [g.name for g in m.app.registered_groups]; "
    "'mpc' in names or m.app.add_typer(mpc_app, name='mpc'); m.main(sys.argv[1:])"
)


def petsuite(args: list[str], home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PETSUITE_HOME": str(home), "COLUMNS": "300"}
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env,
    )


def test_config_hash_command(tmp_path: Path) -> None:
    text = peer_config(["a-1", "a-2", "a-3"])
    path = tmp_path / "collaboration.toml"
    path.write_text(text)
    out = CliRunner().invoke(mpc_app, ["config-hash", "--config", str(path)])
    assert out.exit_code == 0, out.output
    assert out.output.strip() == parse_config(text).config_hash()


def test_help_has_no_square_brackets() -> None:
    for args in (["--help"], ["run", "--help"], ["config-hash", "--help"]):
        out = CliRunner().invoke(mpc_app, args, env={"COLUMNS": "200"})
        assert out.exit_code == 0
        body = out.output.split("Options", 1)[-1]
        assert "FILE:COLUMN" in out.output or args != ["run", "--help"]
        assert "[" not in body.replace("[default", "").replace("[required]", "").replace(
            "[env var", ""
        ).replace("[x>=", ""), body


def test_three_parties_over_the_cli(tmp_path: Path) -> None:
    names = ["org-a", "org-b", "org-c"]
    pki_dir = make_pki(tmp_path / "pki", names)
    config = tmp_path / "collaboration.toml"
    config.write_text(peer_config(names, total_s=60))
    procs = {}
    for i, name in enumerate(names):
        data = tmp_path / f"{name}.csv"
        data.write_text("spend\n" + "".join(f"{10_000 + 5_000 * i + d}\n" for d in (-100, 100)))
        procs[name] = petsuite(
            ["mpc", "run", "--config", str(config), "--party", name, "--input",
             f"{data}:spend", "--pki", str(pki_dir), "--log", str(tmp_path / f"{name}.db"),
             "--json"],
            tmp_path / name,
        )
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
        result = json.loads(out)["result"]
        assert result["value"] == 15_000 and result["count"] == 6, (name, result)
        assert "config hash" in err  # progress goes to stderr


def test_errors_are_typed_with_the_toml_path(tmp_path: Path) -> None:
    config = tmp_path / "collaboration.toml"
    config.write_text(peer_config(["a-1", "a-2", "a-3"]).replace("threshold = 1", "threshold = 2"))
    proc = petsuite(["mpc", "config-hash", "--config", str(config)], tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == CATALOGUE[InvalidInput].exit_code
    assert "collaboration.threshold" in err
    config.write_text(peer_config(["a-1", "a-2", "a-3"]))
    proc = petsuite(["mpc", "run", "--config", str(config), "--party", "nobody"], tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == CATALOGUE[InvalidInput].exit_code
    assert "nobody" in err


def test_format_result() -> None:
    from petsuite.cli.mpc import format_result
    from petsuite.mpc.stats import NoiseSpec, Statistic, StatisticResult

    line = format_result(
        StatisticResult(Statistic.MEAN, 15_000.0, 12, {"a": 4, "b": 8}, NoiseSpec(0.5))
    )
    assert line == "mean = 15,000 (rows: 12; a: 4, b: 8; DP noise, rho = 0.5)"
    hist = StatisticResult(Statistic.HISTOGRAM, {"red": 3}, 3, {"a": 3}, None)
    assert format_result(hist) == "histogram = red: 3 (rows: 3; a: 3)"
    line = format_result(
        StatisticResult(Statistic.LINEAR_REGRESSION, (2.0, 1.5), 5, {"a": 5}, None)
    )
    assert "slope 2, intercept 1.5" in line
