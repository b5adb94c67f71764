"""The ``petsuite`` command line. Entry points only: the logic lives in the library below.

Every error prints one clear line and exits with the code from the error catalogue
(:data:`petsuite.core.errors.CATALOGUE`); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from petsuite import __version__
from petsuite.cli._shared import console, err_console, home
from petsuite.cli.dp import dp_app
from petsuite.cli.he import he_app
from petsuite.cli.mpc import mpc_app
from petsuite.cli.psi import psi_app
from petsuite.cli.zkp import zkp_app
from petsuite.core.audit import AuditLog
from petsuite.core.errors import IntegrityError, InvalidInput, PetsError, catalogue_entry
from petsuite.net import pki

__all__ = ["app", "main"]

app = typer.Typer(
    name="petsuite",
    help="Privacy-enhancing technologies from the UK ICO's guidance, as working software.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
pki_app = typer.Typer(help="Certificates for a collaboration: a CA and one certificate per party.")
audit_app = typer.Typer(help="Show and verify the tamper-evident audit log.")
app.add_typer(pki_app, name="pki")
app.add_typer(audit_app, name="audit")
app.add_typer(psi_app, name="psi")
app.add_typer(dp_app, name="dp")
app.add_typer(he_app, name="he")
app.add_typer(mpc_app, name="mpc")
app.add_typer(zkp_app, name="zkp")



AuditPath = Annotated[
    Path | None,
    typer.Option(
        "--log",
        help="Audit log file (default: $PETSUITE_HOME/audit.db, PETSUITE_HOME=~/.petsuite).",
        envvar="PETSUITE_AUDIT_LOG",
    ),
]
PkiDir = Annotated[
    Path,
    typer.Option("--dir", help="Folder holding the collaboration's CA and party certificates."),
]


def _version(value: bool) -> None:
    if value:
        console.print(f"petsuite {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """petsuite: privacy-enhancing technologies with the safeguards the ICO guidance asks for."""


# --------------------------------------------------------------------------- demo


class _RichReporter:
    def step(self, title: str) -> None:
        console.rule(f"[bold]{title}", align="left")

    def info(self, message: str) -> None:
        console.print(f"  {message}")

    @contextlib.contextmanager
    def progress(self, label: str, total: int) -> Iterator[Callable[[int, int], None]]:
        with Progress(
            TextColumn(f"  {label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task(label, total=total)

            def tick(done: int, _total: int) -> None:
                bar.update(task, completed=done)

            yield tick


@app.command()
def demo(
    workdir: Annotated[
        Path, typer.Option("--workdir", help="Where the demo writes its files (replaced).")
    ] = Path("demo-output"),
    identifiers: Annotated[
        int, typer.Option(min=100, max=1_000_000, help="Identifiers per session.")
    ] = 10_000,
) -> None:
    """Run the end-to-end showcase on embedded defaults (two processes, mutual TLS, audit)."""
    from petsuite.demo import run_demo  # noqa: PLC0415 - keeps `petsuite --help` fast

    started = time.monotonic()
    result = run_demo(workdir.resolve(), _RichReporter(), identifiers=identifiers)
    checks = {
        "pseudonyms agree across sessions": result.matching_pseudonyms
        == result.shared_identifiers,
        "server could not link sessions": result.repeated_blinded_elements == 0,
        "PSI size and sum correct": result.psi_size == result.psi_expected_size
        and result.psi_sum is not None
        and abs(result.psi_sum - result.psi_expected_sum) < 0.01,
        "small PSI result refused": result.psi_probe_refused,
        "DP release and budget refusal": result.dp_rows == 3
        and result.dp_refused
        and 0.59 < result.dp_spent <= 0.6,
        "HE results match plaintext": result.he_mean_error < 1e-3
        and result.he_score_error < 1e-2,
        "MPC mean of 15,000; out-of-range input refused": len(result.mpc_means) == 3
        and all(abs(v - 15_000.0) < 1e-6 for v in result.mpc_means.values())
        and result.mpc_out_of_bounds_refused,
        "ZKP: adult accepted, minor and replay refused": result.zkp_accepted.startswith("age >= 18")
        and result.zkp_minor_refused
        and result.zkp_replay_refused,
        "foreign CA refused": result.foreign_ca_rejected,
        "audit chains intact": result.audit_chains_ok,
        "tampering detected": result.tamper_detected_at == 1,
    }
    table = Table(title="petsuite demo: what was checked")
    table.add_column("check")
    table.add_column("result")
    for name, ok in checks.items():
        table.add_row(name, "[green]ok" if ok else "[red]FAILED")
    console.print(table)
    if not all(checks.values()):
        raise IntegrityError("the demo's own checks failed: see the table above")
    console.print(f"demo finished in {time.monotonic() - started:.1f} s; files in {workdir}")


# --------------------------------------------------------------------------- pki


@pki_app.command("init")
def pki_init(
    directory: PkiDir = Path("pki"),
    name: Annotated[str, typer.Option(help="The CA's common name.")] = "petsuite collaboration CA",
    days: Annotated[int, typer.Option(min=1, max=3650, help="Validity in days.")] = 365,
    force: Annotated[bool, typer.Option(help="Replace an existing CA.")] = False,
) -> None:
    """Create the certificate authority of a collaboration."""
    pki.init_ca(directory, name=name, valid_days=days, force=force)
    console.print(f"CA created in {directory}")
    console.print(f"fingerprint (SHA-256): {pki.ca_fingerprint(directory)}")
    console.print("Give each party ca.crt and its own certificate; keep ca.key offline.")


@pki_app.command("issue")
def pki_issue(
    party: Annotated[str, typer.Argument(help="Party name, e.g. hospital-a (lowercase).")],
    directory: PkiDir = Path("pki"),
    host: Annotated[
        list[str] | None,
        typer.Option("--host", help="Host name or IP the party serves on (repeatable)."),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=825, help="Validity in days.")] = 365,
) -> None:
    """Issue a party certificate and key signed by the collaboration's CA."""
    hosts: Sequence[str] = tuple(host) if host else ("localhost", "127.0.0.1", "::1")
    identity = pki.issue(directory, party, hosts=hosts, valid_days=days)
    console.print(f"issued {identity.cert} and {identity.key} (key mode 0600)")


# --------------------------------------------------------------------------- audit


def _open_log(path: Path | None) -> AuditLog:
    log_path = path if path is not None else home() / "audit.db"
    if not log_path.exists():
        raise InvalidInput(f"no audit log at {log_path}")
    return AuditLog(log_path)


@audit_app.command("show")
def audit_show(
    log: AuditPath = None,
    limit: Annotated[int, typer.Option(min=1, help="Show the last N entries.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show the most recent audit entries."""
    with _open_log(log) as audit:
        entries = audit.entries(limit=limit)
    if as_json:
        for e in entries:
            console.print_json(
                json.dumps(
                    {
                        "seq": e.seq,
                        "timestamp": e.timestamp,
                        "actor": e.actor,
                        "operation": e.operation,
                        "parameters": e.parameters,
                        "privacy_cost": e.privacy_cost,
                        "result_digest": e.result_digest,
                        "entry_hash": e.entry_hash,
                    }
                )
            )
        return
    table = Table(title=f"audit log ({len(entries)} most recent entries)")
    for col in ("seq", "time (UTC)", "actor", "operation", "parameters", "privacy cost"):
        table.add_column(col)
    for e in entries:
        table.add_row(
            str(e.seq),
            e.timestamp[:19],
            e.actor,
            e.operation,
            json.dumps(e.parameters, sort_keys=True),
            "" if e.privacy_cost is None else json.dumps(e.privacy_cost, sort_keys=True),
        )
    console.print(table)


@audit_app.command("verify")
def audit_verify(
    log: AuditPath = None,
    expect_head: Annotated[
        str | None,
        typer.Option(help="A head hash recorded earlier: detects entries removed from the end."),
    ] = None,
) -> None:
    """Recompute the hash chain; names the first entry that was edited, deleted or reordered."""
    with _open_log(log) as audit:
        report = audit.verify(expected_head=expect_head)
    if not report.ok:
        raise IntegrityError(
            f"audit log {log or ''} is BROKEN at entry {report.first_bad_seq}: {report.reason}"
        )
    console.print(f"audit log OK: {report.entries} entries, head {report.head}")


@audit_app.command("head")
def audit_head(log: AuditPath = None) -> None:
    """Print the hash of the last entry, to record somewhere the log's writer cannot change."""
    with _open_log(log) as audit:
        console.print(audit.head() or "(empty log)")


# --------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; map every petsuite error to one line and its catalogue exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=err_console, show_time=False, show_path=False)],
    )
    try:
        rc = app(args=args, prog_name="petsuite", standalone_mode=False)
    except PetsError as exc:
        if debug:
            err_console.print_exception()
        entry = catalogue_entry(exc)
        detail = str(exc)
        text = entry.public_message
        if detail not in ("", entry.public_message):
            text = f"{text}: {detail}"
        err_console.print(f"[bold red]error[/]: {text}", highlight=False, soft_wrap=True)
        sys.exit(entry.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: typer prints them, exit code 2
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    if isinstance(rc, int) and rc != 0:
        sys.exit(rc)
