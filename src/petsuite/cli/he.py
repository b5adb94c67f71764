"""``petsuite he``: homomorphic encryption — keys, encrypted columns and encrypted analytics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table as RichTable

from petsuite.cli._shared import console, home
from petsuite.core.audit import AuditLog
from petsuite.core.errors import InvalidInput, PetsError
from petsuite.core.tables import read_table, write_table
from petsuite.he.api import LinearModel, compute_server, outsource
from petsuite.he.keys import (
    KeyStore,
    decrypt_column,
    read_encrypted_column,
    rekey_column,
    write_encrypted_column,
)
from petsuite.net import pki
from petsuite.net.transport import Limits, TLSChannel, connect, serve_sessions
from petsuite.primitives.paillier import PaillierPrivateKey

if TYPE_CHECKING:
    from petsuite.he.seal import HeSecretKeyring

__all__ = ["he_app"]

he_app = typer.Typer(
    help="Homomorphic encryption: compute on data you cannot read.", no_args_is_help=True
)
_LIMITS = Limits(recv_timeout_s=600.0, max_frame_bytes=64 * 1024 * 1024)

StoreOpt = Annotated[
    Path | None,
    typer.Option("--keystore", help="Key store folder (default: $PETSUITE_HOME/keys)."),
]
PassEnv = Annotated[
    str,
    typer.Option(
        help="Environment variable holding the passphrase; prompted for when it is not set."
    ),
]
AuditOpt = Annotated[
    Path | None, typer.Option("--audit-log", help="Audit log (default: $PETSUITE_HOME/audit.db).")
]
PkiOpt = Annotated[Path, typer.Option("--pki", help="Folder with ca.crt and this party's files.")]
NameOpt = Annotated[str, typer.Option("--name", help="This party's name (its certificate).")]


def _audit(path: Path | None) -> AuditLog:
    return AuditLog(path if path is not None else home() / "audit.db")


@contextlib.contextmanager
def _store(path: Path | None, audit_log: Path | None, actor: str = "he") -> Any:
    with (
        _audit(audit_log) as audit,
        KeyStore(path if path is not None else home() / "keys", audit=audit, actor=actor) as store,
    ):
        yield store


def _passphrase(env: str, *, confirm: bool = False, what: str = "passphrase") -> str:
    value = os.environ.get(env)
    if value:
        return value
    return str(typer.prompt(f"{what} (or set {env})", hide_input=True,
                            confirmation_prompt=confirm))  # fmt: skip


def _column_values(data: Path, columns: list[str], table: str | None) -> list[list[float]]:
    tab = read_table(data, columns=columns, table=table)
    out = []
    for col in columns:
        values = []
        for i, raw in enumerate(tab.column(col)):
            try:
                values.append(float(raw))  # type: ignore[arg-type]
            except (TypeError, ValueError) as exc:
                raise InvalidInput(
                    f"{data}: column {col!r} row {i + 1} is not a number (NULL or text): "
                    "clean or filter the data first"
                ) from exc
        out.append(values)
    return out


@he_app.command("keygen")
def he_keygen(
    scheme: Annotated[str, typer.Option(help="paillier or ckks.")] = "paillier",
    bits: Annotated[int, typer.Option(help="Paillier modulus size (2048, 3072, 4096).")] = 3072,
    depth: Annotated[int, typer.Option(min=1, help="CKKS multiplicative depth.")] = 2,
    precision: Annotated[int, typer.Option(min=10, help="CKKS bits of precision.")] = 25,
    note: Annotated[str, typer.Option(help="What the key is for.")] = "",
    keystore: StoreOpt = None,
    passphrase_env: PassEnv = "PETSUITE_PASSPHRASE",
    audit_log: AuditOpt = None,
) -> None:
    """Generate a key; the secret part is stored encrypted under a passphrase."""
    phrase = _passphrase(passphrase_env, confirm=True)
    with _store(keystore, audit_log) as store:
        if scheme == "paillier":
            with console.status(f"generating a {bits}-bit Paillier key …"):
                info = store.generate_paillier(bits, passphrase=phrase, note=note)
        elif scheme == "ckks":
            from petsuite.he.seal import CkksParameters, HeSecretKeyring  # noqa: PLC0415

            params = CkksParameters.choose(depth=depth, precision_bits=precision)
            with console.status(f"generating CKKS keys (N = {params.poly_modulus_degree}) …"):
                ring = HeSecretKeyring.generate(params)
                info = store.store_secret(
                    "ckks", ring.secret_bytes(), ring.evaluation_context().to_bytes(), phrase, note
                )
        else:
            raise InvalidInput("--scheme must be paillier or ckks")
    console.print(
        f"key {info.key_id} ({info.scheme}) created; share its public part with 'he compute' "
        "only through this store: the secret stays encrypted under your passphrase"
    )


@he_app.command("keys")
def he_keys(
    keystore: StoreOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """List the keys in the store."""
    with _store(keystore, None) as store:
        infos = store.list()
    if as_json:
        console.print_json(json.dumps([i.to_dict() for i in infos], default=str))
        return
    table = RichTable(title="keys")
    for col in ("key id", "scheme", "status", "created", "note"):
        table.add_column(col)
    for i in infos:
        d = i.to_dict()
        table.add_row(i.key_id, i.scheme, str(d.get("status")), str(d.get("created", ""))[:19],
                      str(d.get("note", "")))  # fmt: skip
    console.print(table)


@he_app.command("encrypt")
def he_encrypt(
    data: Annotated[Path, typer.Argument(help="CSV, Parquet, DuckDB or SQLite file.")],
    column: Annotated[str, typer.Option(help="The numeric column to encrypt.")],
    key: Annotated[str, typer.Option(help="Paillier key id (only its public part is used).")],
    out: Annotated[Path, typer.Option(help="Encrypted column file to write.")],
    table: Annotated[str | None, typer.Option(help="Table inside a database file.")] = None,
    keystore: StoreOpt = None,
    audit_log: AuditOpt = None,
) -> None:
    """Encrypt a column under a Paillier public key into a file (no passphrase needed)."""
    (values,) = _column_values(data, [column], table)
    with _store(keystore, audit_log) as store:
        pk = store.load_paillier_public(key)
        bound = max((abs(v) for v in values), default=1.0) or 1.0
        with console.status(f"encrypting {len(values):,} values …"):
            write_encrypted_column(out, pk, values, max_abs=bound)
    console.print(f"wrote {out}: {len(values):,} ciphertexts under key {key}")


@he_app.command("decrypt")
def he_decrypt(
    encrypted: Annotated[Path, typer.Argument(help="Encrypted column file.")],
    out: Annotated[Path | None, typer.Option(help="Write the values (CSV or Parquet).")] = None,
    keystore: StoreOpt = None,
    passphrase_env: PassEnv = "PETSUITE_PASSPHRASE",
    audit_log: AuditOpt = None,
) -> None:
    """Decrypt an encrypted column file with the secret key it names."""
    col = read_encrypted_column(encrypted)
    with _store(keystore, audit_log) as store:
        sk = store.load_paillier_private(col.key_id, _passphrase(passphrase_env))
        values = decrypt_column(col, sk)
    if out is not None:
        write_table(out, {"value": values})
        console.print(f"wrote {len(values):,} values to {out}")
    else:
        console.print(f"{len(values):,} values; sum {sum(values):,.4f}")


@he_app.command("rotate")
def he_rotate(
    key: Annotated[str, typer.Argument(help="The key to retire.")],
    rekey: Annotated[
        list[Path] | None, typer.Option(help="Encrypted column files to re-key (repeatable).")
    ] = None,
    keystore: StoreOpt = None,
    passphrase_env: PassEnv = "PETSUITE_PASSPHRASE",
    new_passphrase_env: PassEnv = "PETSUITE_NEW_PASSPHRASE",
    audit_log: AuditOpt = None,
) -> None:
    """Replace a Paillier key with a new one and re-encrypt stored columns under it."""
    old = _passphrase(passphrase_env, what="current passphrase")
    new = _passphrase(new_passphrase_env, confirm=True, what="new passphrase")
    with _store(keystore, audit_log) as store:
        info = store.rotate_paillier(key, old, new)
        for path in rekey or []:
            rekey_column(path, store, key, old, info.key_id, new)
            console.print(f"re-keyed {path}")
    console.print(f"key {key} rotated; new key {info.key_id}")


@he_app.command("revoke")
def he_revoke(
    key: Annotated[str, typer.Argument(help="The key to revoke.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit log).")],
    keystore: StoreOpt = None,
    audit_log: AuditOpt = None,
) -> None:
    """Mark a key revoked: this store refuses to use it (re-key data away from it first)."""
    with _store(keystore, audit_log) as store:
        store.revoke(key, reason)
    console.print(f"key {key} revoked")


@he_app.command("serve")
def he_serve(
    allow: Annotated[list[str], typer.Option("--allow", help="Party allowed to send jobs.")],
    pki_dir: PkiOpt = Path("pki"),
    name: NameOpt = "he-server",
    listen: Annotated[str, typer.Option(help="HOST:PORT to listen on.")] = "127.0.0.1:7702",
    model: Annotated[
        Path | None, typer.Option(help="JSON linear model {weights, bias} for linear scores.")
    ] = None,
    jobs: Annotated[int, typer.Option(min=0, help="Stop after N jobs (0: never).")] = 0,
    audit_log: AuditOpt = None,
) -> None:
    """Run a compute server: it never holds a secret key."""
    linear = None
    if model is not None:
        try:
            linear = LinearModel.from_dict(json.loads(model.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"{model}: not a JSON model file") from exc
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidInput("--listen must be HOST:PORT")
    identity = pki.load_identity(pki_dir, name)

    async def main() -> None:
        with _audit(audit_log) as audit:

            async def handler(channel: TLSChannel) -> None:
                try:
                    job = await compute_server(channel, model=linear, audit=audit, actor=name)
                    console.print(
                        f"job from {channel.peer}: {job.scheme} {job.operation} over "
                        f"{job.count:,} values (key {job.key_id[:12]}…)"
                    )
                except PetsError as exc:
                    console.print(f"[yellow]job from {channel.peer} ended: {exc}")

            await serve_sessions(
                host, int(port), handler, sessions=jobs, identity=identity, limits=_LIMITS,
                allowed_peers=set(allow),
                ready=lambda bound: console.print(f"HE compute server {name!r} on {host}:{bound}"),
            )  # fmt: skip

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


@he_app.command("compute")
def he_compute(
    data: Annotated[Path, typer.Argument(help="CSV, Parquet, DuckDB or SQLite file.")],
    column: Annotated[list[str], typer.Option(help="Column(s): one, or one per model feature.")],
    operation: Annotated[str, typer.Option(help="sum, mean, variance or linear.")],
    key: Annotated[str, typer.Option(help="Key id in the key store (Paillier or CKKS).")],
    server: Annotated[str, typer.Option(help="Compute server HOST:PORT.")],
    server_name: Annotated[str, typer.Option(help="The server party's name.")],
    pki_dir: PkiOpt = Path("pki"),
    name: NameOpt = "data-owner",
    table: Annotated[str | None, typer.Option(help="Table inside a database file.")] = None,
    output: Annotated[Path | None, typer.Option(help="Linear scores to CSV or Parquet.")] = None,
    keystore: StoreOpt = None,
    passphrase_env: PassEnv = "PETSUITE_PASSPHRASE",
    audit_log: AuditOpt = None,
) -> None:
    """Encrypt columns, have the server compute on them, decrypt the answer."""
    if operation not in ("sum", "mean", "variance", "linear"):
        raise InvalidInput("--operation must be sum, mean, variance or linear")
    columns = _column_values(data, list(column), table)
    host, _, port = server.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidInput("--server must be HOST:PORT")
    with _store(keystore, audit_log, actor=name) as store:
        info = store.info(key)
        secret = store.load_secret(key, _passphrase(passphrase_env))
    secret_key: PaillierPrivateKey | HeSecretKeyring
    if info.scheme == "paillier":
        secret_key = PaillierPrivateKey.from_bytes(secret)
    else:
        from petsuite.he.seal import HeSecretKeyring  # noqa: PLC0415 - optional `fhe` extra

        secret_key = HeSecretKeyring.from_secret_bytes(secret)

    async def main() -> Any:
        with _audit(audit_log) as log:
            channel = await connect(
                host, int(port), identity=pki.load_identity(pki_dir, name),
                peer_name=server_name, limits=_LIMITS,
            )  # fmt: skip
            async with channel:
                return await outsource(
                    channel, columns, operation=operation,  # type: ignore[arg-type]
                    key=secret_key, audit=log, actor=name,
                )  # fmt: skip

    with console.status(f"encrypting {len(columns[0]):,} values and computing at {server_name} …"):
        result = asyncio.run(main())
    if operation == "linear":
        if output is not None:
            write_table(output, {"score": result.scores})
            console.print(f"wrote {len(result.scores):,} scores to {output}")
        else:
            console.print(f"{len(result.scores):,} scores; first: {result.scores[:5]}")
        return
    console.print(
        f"{operation} over {result.count:,} values ({result.scheme}): {result.value:,.6f}"
    )
