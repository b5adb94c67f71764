"""``petsuite mpc``: secure multi-party statistics between organisations, over mutual TLS."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from petsuite.cli._shared import console, err_console, home
from petsuite.core.audit import AuditLog
from petsuite.dp.ledger import PrivacyLedger
from petsuite.mpc.config import CollaborationConfig, load_config
from petsuite.mpc.runtime import result_to_json, run_party
from petsuite.mpc.stats import StatisticResult

__all__ = ["format_result", "mpc_app"]

mpc_app = typer.Typer(
    help="Secure multi-party computation: statistics over several organisations' data, "
    "without pooling it.",
    no_args_is_help=True,
)

ConfigOpt = Annotated[
    Path,
    typer.Option("--config", help="The collaboration config (TOML), identical at every party."),
]


def format_result(result: StatisticResult) -> str:
    """One human-readable line for a result (no currency: the data's unit is unknown)."""
    value = result.value
    if isinstance(value, dict):
        shown = ", ".join(f"{k}: {v:,}" for k, v in value.items())
    elif isinstance(value, tuple):
        shown = "slope {:,.6g}, intercept {:,.6g}".format(*value[:2])
    else:
        shown = f"{value:,.6f}".rstrip("0").rstrip(".")
    noise = "" if result.noise is None else f"; DP noise, rho = {result.noise.rho:g}"
    rows = ", ".join(f"{k}: {v:,}" for k, v in result.per_party_rows.items())
    return f"{result.statistic.value} = {shown} (rows: {result.count:,}; {rows}{noise})"


@contextlib.contextmanager
def _ledger(
    config: CollaborationConfig, party: str, path: Path | None, audit: AuditLog
) -> Iterator[PrivacyLedger | None]:
    if config.dp is None or party not in config.input_parties:
        yield None
        return
    chosen = path if path is not None else config.dp.ledger
    chosen = chosen if chosen is not None else home() / "privacy-ledger.db"
    with PrivacyLedger(chosen, audit=audit, actor=party) as book:
        yield book


@mpc_app.command("run")
def mpc_run(
    config: ConfigOpt,
    party: Annotated[str, typer.Option("--party", help="This party's name in the config.")],
    input_spec: Annotated[
        str | None,
        typer.Option(
            "--input",
            help="FILE:COLUMN, or FILE:COL1,COL2 for weighted_mean and linear_regression "
            "(CSV, Parquet, DuckDB or SQLite). Data owners only.",
        ),
    ] = None,
    table: Annotated[
        str | None, typer.Option(help="Table name inside a DuckDB or SQLite file.")
    ] = None,
    pki_dir: Annotated[
        Path, typer.Option("--pki", help="Folder with ca.crt and this party's certificate.")
    ] = Path("pki"),
    log: Annotated[
        Path | None,
        typer.Option("--log", help="Audit log (default: $PETSUITE_HOME/audit.db)."),
    ] = None,
    ledger: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            help="Privacy ledger charged when the config adds DP noise (default: the config's "
            "dp.ledger, else $PETSUITE_HOME/privacy-ledger.db).",
        ),
    ] = None,
    listen: Annotated[
        str | None,
        typer.Option(help="Local HOST:PORT to bind instead of the configured address."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run this party's side of a secure computation; prints the result at recipients."""
    cfg = load_config(config)
    cfg.party(party)  # fail early on an unknown name

    def progress(message: str) -> None:
        err_console.print(f"[dim]{party}[/]: {message}", highlight=False)

    progress(f"collaboration {cfg.name!r}, config hash {cfg.config_hash()}")
    with (
        AuditLog(log if log is not None else home() / "audit.db") as audit,
        _ledger(cfg, party, ledger, audit) as book,
    ):
        result = run_party(
            cfg,
            party,
            pki_dir=pki_dir,
            input_path=input_spec,
            table=table,
            audit=audit,
            ledger=book,
            progress=progress,
            listen=listen,
        )
    if result is None:
        if as_json:
            console.print_json(json.dumps({"result": None}))
        else:
            console.print("finished; this party does not receive the result")
        return
    if as_json:
        console.print_json(json.dumps({"result": result_to_json(result)}))
    else:
        console.print(format_result(result), highlight=False, soft_wrap=True)


@mpc_app.command("config-hash")
def mpc_config_hash(config: ConfigOpt) -> None:
    """Print the collaboration config's hash, to compare with the other parties out of band."""
    cfg = load_config(config)
    console.print(cfg.config_hash(), highlight=False)
