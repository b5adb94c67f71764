"""``petsuite psi``: private set intersection between organisations, over mutual TLS."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table as RichTable

from petsuite.cli._shared import console, home
from petsuite.core.audit import AuditLog
from petsuite.core.errors import InvalidInput, PetsError
from petsuite.core.rng import resolve
from petsuite.core.store import atomic_write_bytes
from petsuite.core.tables import read_table, write_table
from petsuite.dp.ledger import PrivacyLedger
from petsuite.net import pki
from petsuite.net.transport import Channel, Limits, TLSChannel, connect, serve, serve_sessions
from petsuite.psi.api import (
    PsiDataset,
    delegate_psi,
    matched_rows,
    query_psi,
    serve_psi,
    submit_to_delegate,
)
from petsuite.psi.delegated import MATCHING_KEY_BYTES, DelegateConfig
from petsuite.psi.matching import KeySpec
from petsuite.psi.policy import PsiPolicy, RateLimit, RateLimiter
from petsuite.psi.protocol import PsiMode

__all__ = ["psi_app"]

psi_app = typer.Typer(
    help="Private set intersection: what two datasets have in common, and nothing else.",
    no_args_is_help=True,
)

_LIMITS = Limits(recv_timeout_s=300.0)


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidInput(f"address {text!r} must look like HOST:PORT, e.g. 127.0.0.1:7700")
    return host.strip("[]"), int(port)


def _identity(pki_dir: Path, name: str, insecure: bool) -> pki.TLSIdentity | None:
    if insecure:
        return None
    return pki.load_identity(pki_dir, name)


def _audit(path: Path | None) -> AuditLog:
    return AuditLog(path if path is not None else home() / "audit.db")


def _load(data: Path, keys: str, table: str | None, values: str | None = None) -> PsiDataset:
    spec = KeySpec.parse(keys)
    dataset = PsiDataset.from_file(data, spec, value_column=values, table=table)
    _report(dataset)
    return dataset


def _report(dataset: PsiDataset) -> None:
    r = dataset.report
    out = console
    out.print(
        f"[bold]{dataset.source}[/]: {r.total_rows:,} records → {r.keys:,} keys "
        f"({dataset.key_spec})"
    )
    if r.failed_rows:
        detail = ", ".join(f"{col}: {n:,}" for col, n in sorted(r.failures.items()) if n)
        out.print(
            f"  [yellow]{r.failed_rows:,} records failed normalisation and are left out[/] "
            f"({detail})"
        )
    if r.duplicate_keys:
        out.print(f"  {r.duplicate_keys:,} duplicate keys merged (first record kept)")


DpOpt = Annotated[
    float | None,
    typer.Option(
        help="Add DP noise with this ε to what this party releases (charged to --ledger)."
    ),
]
LedgerOpt = Annotated[
    Path | None,
    typer.Option(
        help="Privacy ledger for --dp-epsilon (default: $PETSUITE_HOME/privacy-ledger.db)."
    ),
]


@contextlib.contextmanager
def _ledger(
    path: Path | None, dp_epsilon: float | None, audit: AuditLog, actor: str
) -> Iterator[PrivacyLedger | None]:
    if dp_epsilon is None:
        yield None
        return
    with PrivacyLedger(
        path if path is not None else home() / "privacy-ledger.db", audit=audit, actor=actor
    ) as book:
        yield book


DataArg = Annotated[Path, typer.Argument(help="CSV, Parquet, DuckDB or SQLite file.")]
KeysOpt = Annotated[
    str,
    typer.Option(
        "--keys",
        help="Key columns and normalisers, e.g. 'nhs_number:nhs_number' or "
        "'surname:name,dob:date,postcode:uk_postcode'.",
    ),
]
TableOpt = Annotated[str | None, typer.Option(help="Table name inside a database file.")]
PkiOpt = Annotated[Path, typer.Option("--pki", help="Folder with ca.crt and this party's files.")]
NameOpt = Annotated[str, typer.Option("--name", help="This party's name (its certificate).")]
AuditOpt = Annotated[
    Path | None, typer.Option("--audit-log", help="Audit log (default: $PETSUITE_HOME/audit.db).")
]
InsecureOpt = Annotated[
    bool,
    typer.Option(
        "--insecure-localhost",
        help="Plain TCP on loopback without certificates. For trying things out only.",
    ),
]


@psi_app.command("serve")
def psi_serve(
    data: DataArg,
    keys: KeysOpt,
    allow: Annotated[
        list[str], typer.Option("--allow", help="Party allowed to query (repeatable).")
    ],
    pki_dir: PkiOpt = Path("pki"),
    name: NameOpt = "server",
    listen: Annotated[str, typer.Option(help="HOST:PORT to listen on.")] = "127.0.0.1:7700",
    table: TableOpt = None,
    values: Annotated[
        str | None, typer.Option(help="Column of values for intersection-sum.")
    ] = None,
    value_bound: Annotated[
        float | None, typer.Option(help="Declared bound on |value| (required with --values).")
    ] = None,
    outliers: Annotated[str, typer.Option(help="refuse or drop values beyond the bound.")] = (
        "refuse"
    ),
    modes: Annotated[
        str, typer.Option(help="Allowed modes: cardinality, sum, intersection (comma-separated).")
    ] = "cardinality,sum",
    min_intersection: Annotated[int, typer.Option(min=0)] = 10,
    max_set_size: Annotated[int, typer.Option(min=1)] = 10_000_000,
    rate_limit: Annotated[
        str, typer.Option(help="Runs per counterparty, e.g. 10/day; 'none' to disable.")
    ] = "10/day",
    sessions: Annotated[int, typer.Option(min=0, help="Stop after N sessions (0: never).")] = 0,
    dp_epsilon: DpOpt = None,
    ledger: LedgerOpt = None,
    audit_log: AuditOpt = None,
    insecure_localhost: InsecureOpt = False,
) -> None:
    """Serve PSI sessions on DATA to the allowed parties."""
    if outliers not in ("refuse", "drop"):
        raise InvalidInput("--outliers must be 'refuse' or 'drop'")
    policy = PsiPolicy(
        min_intersection=min_intersection,
        max_set_size=max_set_size,
        allowed_modes=PsiPolicy.parse_modes(modes.split(",")),
        rate_limit=None if rate_limit.lower() == "none" else RateLimit.parse(rate_limit),
        value_bound=value_bound,
        outliers="drop" if outliers == "drop" else "refuse",
        dp_epsilon=dp_epsilon,
    )
    dataset = _load(data, keys, table, values)
    host, port = _address(listen)
    identity = _identity(pki_dir, name, insecure_localhost)
    out = console

    async def main() -> None:
        with (
            _audit(audit_log) as audit,
            RateLimiter(home() / "psi-rate-limits.db") as limiter,
            _ledger(ledger, dp_epsilon, audit, name) as book,
        ):

            async def handler(channel: TLSChannel) -> None:
                try:
                    summary = await serve_psi(
                        channel, dataset, policy, audit=audit, rate_limiter=limiter,
                        ledger=book, actor=name,
                    )  # fmt: skip
                    out.print(
                        f"session with {summary.peer}: mode {summary.mode}, client set "
                        f"{summary.client_set_size:,}, released by client: {summary.released}"
                    )
                except PetsError as exc:
                    out.print(f"[yellow]session with {channel.peer} ended: {exc}")

            def ready(bound: int) -> None:
                out.print(
                    f"serving PSI on {host}:{bound} as {name!r} to {', '.join(allow)}; "
                    f"policy {json.dumps(policy.to_dict())}"
                )

            await serve_sessions(
                host, port, handler, sessions=sessions, identity=identity, limits=_LIMITS,
                allowed_peers=set(allow), insecure_localhost=insecure_localhost,
                local_name=name, ready=ready,
            )  # fmt: skip

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


@contextlib.asynccontextmanager
async def _dial(
    address: str, peer: str, pki_dir: Path, name: str, insecure: bool
) -> AsyncIterator[Channel]:
    host, port = _address(address)
    channel = await connect(
        host,
        port,
        identity=_identity(pki_dir, name, insecure),
        peer_name=peer,
        limits=_LIMITS,
        insecure_localhost=insecure,
        local_name=name,
    )
    async with channel:
        yield channel


@psi_app.command("query")
def psi_query(
    data: DataArg,
    keys: KeysOpt,
    server: Annotated[str, typer.Option(help="Server HOST:PORT.")],
    server_name: Annotated[str, typer.Option(help="The server party's name.")],
    pki_dir: PkiOpt = Path("pki"),
    name: NameOpt = "client",
    table: TableOpt = None,
    mode: Annotated[str, typer.Option(help="cardinality, sum or intersection.")] = "cardinality",
    min_intersection: Annotated[int, typer.Option(min=0)] = 10,
    output: Annotated[
        Path | None,
        typer.Option(help="Intersection mode: write the matching records (CSV or Parquet)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    audit_log: AuditOpt = None,
    insecure_localhost: InsecureOpt = False,
) -> None:
    """Ask a PSI server what DATA has in common with its set."""
    psi_mode = PsiMode(mode) if mode in {m.value for m in PsiMode} else None
    if psi_mode is None:
        raise InvalidInput("--mode must be cardinality, sum or intersection")
    if output is not None and psi_mode is not PsiMode.INTERSECTION:
        raise InvalidInput("--output needs --mode intersection")
    dataset = _load(data, keys, table)
    out = console

    async def main() -> Any:
        with _audit(audit_log) as audit:
            async with _dial(server, server_name, pki_dir, name, insecure_localhost) as ch:
                return await query_psi(
                    ch,
                    dataset,
                    mode=psi_mode,
                    min_intersection=min_intersection,
                    audit=audit,
                    actor=name,
                )

    with out.status(f"running PSI ({psi_mode.value}) with {server_name} at {server} …"):
        result = asyncio.run(main())
    summary: dict[str, Any] = {
        "mode": result.mode.value,
        "intersection_size": result.size,
        "client_set_size": result.client_set_size,
        "server_set_size": result.server_set_size,
    }
    if result.total is not None:
        summary["sum"] = result.total
    if output is not None:
        rows = matched_rows(dataset, result)
        full = read_table(data, table=table)
        columns: dict[str, list[object]] = {"source_row": list(rows)}
        for col, vals in full.columns.items():
            columns[col] = [vals[i] for i in rows]
        write_table(output, columns)
        summary["output"] = str(output)
    if as_json:
        out.print_json(json.dumps(summary))
        return
    grid = RichTable(title="PSI result", show_header=False)
    for k, v in summary.items():
        grid.add_row(k.replace("_", " "), f"{v:,}" if isinstance(v, int) else str(v))
    out.print(grid)


@psi_app.command("keygen")
def psi_keygen(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the matching key.")],
) -> None:
    """Create the matching key two owners share for the delegated mode (keep it from the delegate)."""
    if out_file.exists():
        raise InvalidInput(f"{out_file} exists: refusing to overwrite a matching key")
    key = resolve(None).random_bytes(MATCHING_KEY_BYTES)
    atomic_write_bytes(out_file, key.hex().encode("ascii") + b"\n", mode=0o600)
    console.print(f"matching key written to {out_file} (mode 0600); share it with the other owner")


def _read_matching_key(path: Path) -> bytes:
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: not a matching key file") from exc
    if len(key) != MATCHING_KEY_BYTES:
        raise InvalidInput(f"{path}: a matching key is {MATCHING_KEY_BYTES} bytes")
    return key


@psi_app.command("delegate")
def psi_delegate(
    run: Annotated[str, typer.Option(help="Name of the run both owners will give.")],
    owners: Annotated[str, typer.Option(help="The two owners, comma-separated.")],
    recipient: Annotated[str, typer.Option(help="The owner who receives the result.")],
    pki_dir: PkiOpt = Path("pki"),
    name: NameOpt = "delegate",
    listen: Annotated[str, typer.Option(help="HOST:PORT to listen on.")] = "127.0.0.1:7701",
    min_intersection: Annotated[int, typer.Option(min=0)] = 10,
    max_set_size: Annotated[int, typer.Option(min=1)] = 10_000_000,
    rate_limit: Annotated[
        str, typer.Option(help="Runs per owner, e.g. 10/day; 'none' to disable.")
    ] = "10/day",
    dp_epsilon: DpOpt = None,
    ledger: LedgerOpt = None,
    audit_log: AuditOpt = None,
    insecure_localhost: InsecureOpt = False,
) -> None:
    """Act as the third party of one delegated PSI run between two owners."""
    pair = tuple(o.strip() for o in owners.split(",") if o.strip())
    if len(pair) != 2:
        raise InvalidInput("--owners needs exactly two names")
    config = DelegateConfig(
        run=run,
        owners=(pair[0], pair[1]),
        recipient=recipient,
        min_intersection=min_intersection,
        max_set_size=max_set_size,
        dp_epsilon=dp_epsilon,
    )
    limit = None if rate_limit.lower() == "none" else RateLimit.parse(rate_limit)
    host, port = _address(listen)
    identity = _identity(pki_dir, name, insecure_localhost)
    out = console

    async def main() -> int:
        arrived: dict[str, Channel] = {}
        both = asyncio.Event()
        finished = asyncio.Event()
        size: list[int] = []

        async def handler(channel: TLSChannel) -> None:
            if channel.peer in arrived:
                await channel.close()
                return
            arrived[channel.peer] = channel
            if len(arrived) == 2:
                both.set()
            await finished.wait()

        with (
            _audit(audit_log) as audit,
            RateLimiter(home() / "psi-rate-limits.db") as limiter,
            _ledger(ledger, dp_epsilon, audit, name) as book,
        ):
            async with await serve(
                host,
                port,
                handler,
                identity=identity,
                limits=_LIMITS,
                allowed_peers=set(pair),
                insecure_localhost=insecure_localhost,
                local_name=name,
            ) as server:
                out.print(
                    f"delegate {name!r} waiting for {pair[0]} and {pair[1]} on "
                    f"{host}:{server.port} (run {run!r})"
                )
                await both.wait()
                try:
                    size.append(
                        await delegate_psi(
                            arrived,
                            config,
                            audit=audit,
                            rate_limiter=limiter,
                            rate_limit=limit,
                            ledger=book,
                            actor=name,
                        )
                    )
                finally:
                    finished.set()
        return size[0]

    size = asyncio.run(main())
    out.print(f"run {run!r} complete: the result went to {recipient} (intersection size {size:,})")


@psi_app.command("submit")
def psi_submit(
    data: DataArg,
    keys: KeysOpt,
    delegate: Annotated[str, typer.Option(help="Delegate HOST:PORT.")],
    delegate_name: Annotated[str, typer.Option(help="The delegate party's name.")],
    run: Annotated[str, typer.Option(help="Name of the run (agreed with the delegate).")],
    matching_key: Annotated[Path, typer.Option(help="File from 'petsuite psi keygen'.")],
    pki_dir: PkiOpt = Path("pki"),
    name: NameOpt = "owner",
    table: TableOpt = None,
    mode: Annotated[str, typer.Option(help="cardinality or sum.")] = "cardinality",
    recipient: Annotated[bool, typer.Option(help="This owner receives the result.")] = False,
    values: Annotated[str | None, typer.Option(help="Value column (the value holder).")] = None,
    value_bound: Annotated[float | None, typer.Option(help="Declared bound on |value|.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    audit_log: AuditOpt = None,
    insecure_localhost: InsecureOpt = False,
) -> None:
    """Send this owner's blinded set to a delegate for a delegated PSI run."""
    if mode not in (PsiMode.CARDINALITY.value, PsiMode.SUM.value):
        raise InvalidInput("--mode must be cardinality or sum in the delegated mode")
    key = _read_matching_key(matching_key)
    dataset = _load(data, keys, table, values)
    out = console

    async def main() -> Any:
        with _audit(audit_log) as audit:
            async with _dial(delegate, delegate_name, pki_dir, name, insecure_localhost) as ch:
                return await submit_to_delegate(
                    ch,
                    dataset,
                    matching_key=key,
                    run=run,
                    mode=mode,
                    recipient=recipient,
                    value_bound=value_bound,
                    audit=audit,
                    actor=name,
                )

    with out.status(f"delegated PSI run {run!r} via {delegate_name} …"):
        result = asyncio.run(main())
    if result is None:
        out.print("submitted; the result went to the designated recipient")
        return
    summary: dict[str, Any] = {"intersection_size": result.size}
    if result.total is not None:
        summary["sum"] = result.total
    if as_json:
        out.print_json(json.dumps(summary))
    else:
        for k, v in summary.items():
            out.print(f"{k.replace('_', ' ')}: {v:,}" if isinstance(v, int) else f"{k}: {v}")
