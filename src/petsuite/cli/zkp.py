"""``petsuite zkp``: signed attribute credentials and zero-knowledge presentations.

Roles and files:

* issuer — ``issuer-keygen`` (Ed25519 key, PEM), ``issue`` (a credential book for one holder);
* verifier — ``trust-add`` (trust store JSON), ``nonce`` (a challenge file, recorded in the
  verifier's nonce store), ``verify`` (checks a presentation file), ``serve`` (interactive, over
  mutual TLS);
* holder — ``account-keygen`` (an account key for ownership proofs), ``prove`` (answers a challenge
  file with a presentation file, taking a fresh credential from the wallet), ``present``
  (interactive, over mutual TLS).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from petsuite.cli._shared import console, home
from petsuite.core.audit import AuditLog
from petsuite.core.errors import InvalidInput, PetsError
from petsuite.core.store import atomic_write_bytes
from petsuite.net import pki
from petsuite.net.transport import Limits, TLSChannel, connect, serve_sessions
from petsuite.primitives.group import Point
from petsuite.zkp.api import (
    answer_presentation,
    check_presentation,
    prove_ownership,
    request_presentation,
    verify_ownership,
)
from petsuite.zkp.credentials import (
    AccountKey,
    CredentialBook,
    CredentialType,
    IssuerKey,
    IssuerPublicKey,
    TrustedIssuer,
    TrustStore,
    Wallet,
    issue_book,
)
from petsuite.zkp.presentation import Challenge, Statement, present
from petsuite.zkp.verifier_store import NonceStore

__all__ = ["zkp_app"]

zkp_app = typer.Typer(
    help="Zero-knowledge proofs: prove age, solvency or account ownership without revealing more.",
    no_args_is_help=True,
)

_LIMITS = Limits(recv_timeout_s=60.0)

AuditOpt = Annotated[
    Path | None, typer.Option("--audit-log", help="Audit log (default: $PETSUITE_HOME/audit.db).")
]
PassEnv = Annotated[
    str,
    typer.Option(
        help="Environment variable holding a passphrase for the issuer key; "
        "when it is unset the key file is not encrypted."
    ),
]
StatementOpt = Annotated[str, typer.Option("--statement", help="age, balance or ownership.")]
ThresholdOpt = Annotated[
    int,
    typer.Option(
        min=0,
        help="Age in years, or balance in minor units (pence, cents); 0 for ownership.",
    ),
]
PkiOpt = Annotated[Path, typer.Option("--pki", help="Folder with ca.crt and this party's files.")]
InsecureOpt = Annotated[
    bool,
    typer.Option(
        "--insecure-localhost",
        help="Plain TCP on loopback without certificates. For trying things out only.",
    ),
]


def _today() -> date:
    return datetime.now(UTC).date()


def _date(text: str | None, what: str) -> date:
    if text is None:
        return _today()
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{what} must be an ISO date YYYY-MM-DD, got {text[:40]!r}") from exc


def _passphrase(env: str) -> bytes | None:
    value = os.environ.get(env)
    return value.encode("utf-8") if value else None


def _audit(path: Path | None) -> AuditLog:
    return AuditLog(path if path is not None else home() / "audit.db")


def _statement(text: str) -> Statement:
    if text not in {s.value for s in Statement}:
        raise InvalidInput("--statement must be age, balance or ownership")
    return Statement(text)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {what} {path}") from exc


def _write_new(path: Path, text: str, *, mode: int = 0o600, force: bool = False) -> None:
    if path.exists() and not force:
        raise InvalidInput(f"{path} exists: refusing to overwrite (use --force)")
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def _hex_point(text: str, what: str) -> Point:
    try:
        return Point.from_bytes(bytes.fromhex(text.strip()))
    except ValueError as exc:
        raise InvalidInput(f"{what} must be 64 hex digits of a ristretto255 point") from exc


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidInput(f"address {text!r} must look like HOST:PORT, e.g. 127.0.0.1:7800")
    return host.strip("[]"), int(port)


# --------------------------------------------------------------------------- issuer


@zkp_app.command("issuer-keygen")
def issuer_keygen(
    out: Annotated[Path, typer.Option("--out", help="Private key file (PKCS#8 PEM, mode 0600).")],
    public_out: Annotated[
        Path | None,
        typer.Option("--public-out", help="Public key file (PEM); default: OUT with .pub."),
    ] = None,
    passphrase_env: PassEnv = "PETSUITE_ZKP_ISSUER_PASSPHRASE",
) -> None:
    """Create an issuer's Ed25519 signing key; give verifiers the public key."""
    key = IssuerKey.generate()
    key.save(out, _passphrase(passphrase_env))
    pub = public_out if public_out is not None else out.with_suffix(".pub")
    _write_new(pub, key.public_key.to_pem().decode("ascii"), mode=0o644)
    console.print(f"issuer key written to {out} (mode 0600), public key to {pub}")
    console.print(f"issuer id (SHA-256 of the raw public key): {key.issuer_id.hex()}")


@zkp_app.command("issue")
def issue(
    key: Annotated[Path, typer.Option("--key", help="The issuer's private key file.")],
    credential_type: Annotated[str, typer.Option("--type", help="age or balance.")],
    value: Annotated[
        str,
        typer.Option(
            "--value",
            help="The checked attribute: date of birth YYYY-MM-DD (age), or the balance as an "
            "integer in minor units (balance).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Credential book for the holder (0600).")],
    count: Annotated[
        int, typer.Option(min=1, max=10_000, help="Single-use credentials in the book.")
    ] = 20,
    valid_days: Annotated[int, typer.Option(min=1, max=3650, help="Validity in days.")] = 365,
    issued: Annotated[
        str | None, typer.Option(help="Issue date YYYY-MM-DD (default: today, UTC).")
    ] = None,
    passphrase_env: PassEnv = "PETSUITE_ZKP_ISSUER_PASSPHRASE",
    audit_log: AuditOpt = None,
) -> None:
    """Sign a book of commitments to one checked attribute value, for its holder."""
    if credential_type not in {t.value for t in CredentialType}:
        raise InvalidInput("--type must be age or balance")
    kind = CredentialType(credential_type)
    attribute: date | int
    if kind is CredentialType.AGE:
        attribute = _date(value, "--value")
    else:
        try:
            attribute = int(value)
        except ValueError as exc:
            raise InvalidInput("--value must be an integer amount in minor units") from exc
    if out.exists():
        raise InvalidInput(f"{out} exists: refusing to overwrite a credential book")
    signer = IssuerKey.load(key, _passphrase(passphrase_env))
    start = _date(issued, "--issued")
    book = issue_book(
        signer, kind, attribute, issued=start, expires=start + timedelta(days=valid_days),
        count=count,
    )  # fmt: skip
    book.save(out)
    with _audit(audit_log) as audit:
        audit.append(
            actor="zkp-issuer",
            operation="zkp.issue",
            parameters={
                "issuer_id": signer.issuer_id.hex(),
                "type": kind.value,
                "count": count,
                "issued": start.isoformat(),
                "valid_days": valid_days,
            },
        )
    console.print(
        f"{count} {kind.value} credentials written to {out} (mode 0600): give the file to the "
        "holder only; it contains the attribute and the openings"
    )


# --------------------------------------------------------------------------- verifier


@zkp_app.command("trust-add")
def trust_add(
    store: Annotated[Path, typer.Option("--store", help="Trust store JSON (created if missing).")],
    name: Annotated[str, typer.Option("--name", help="The issuer's name, e.g. registry.")],
    public_key: Annotated[Path, typer.Option("--public-key", help="The issuer's public PEM.")],
    not_before: Annotated[
        str | None, typer.Option(help="Trusted from YYYY-MM-DD (default: today).")
    ] = None,
    not_after: Annotated[
        str | None, typer.Option(help="Trusted until YYYY-MM-DD (default: in 3 years).")
    ] = None,
) -> None:
    """Trust an issuer's public key (by name, for a validity window)."""
    trust = TrustStore.load(store) if store.exists() else TrustStore()
    try:
        pem = public_key.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {public_key}") from exc
    start = _date(not_before, "--not-before")
    end = _date(not_after, "--not-after") if not_after else _today() + timedelta(days=3 * 365)
    key = IssuerPublicKey.from_pem(pem)
    trust.add(TrustedIssuer(name, key, start, end))
    trust.save(store)
    console.print(f"trusting {name!r} (issuer id {key.issuer_id.hex()}) from {start} to {end}")


@zkp_app.command("nonce")
def nonce(
    store: Annotated[Path, typer.Option("--store", help="The verifier's nonce store (SQLite).")],
    verifier: Annotated[str, typer.Option("--verifier", help="This verifier's id.")],
    out: Annotated[Path, typer.Option("--out", help="Challenge file to give the holder.")],
    statement: StatementOpt = "age",
    threshold: ThresholdOpt = 18,
    on: Annotated[
        str | None, typer.Option("--date", help="Date of the statement (default: today, UTC).")
    ] = None,
    ttl_minutes: Annotated[
        int, typer.Option(min=1, max=43_200, help="Minutes the challenge stays answerable.")
    ] = 10,
    account_key: Annotated[
        str | None,
        typer.Option(help="Hex public key: accept only this account (ownership)."),
    ] = None,
    anonymity_set: Annotated[
        Path | None,
        typer.Option(
            help="File of hex account public keys, one per line: the holder proves control of "
            "one of them without revealing which."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite OUT.")] = False,
) -> None:
    """Issue a fresh challenge (a one-time nonce) for a holder to answer."""
    key = None if account_key is None else _hex_point(account_key, "--account-key")
    keys: list[Point] = []
    if anonymity_set is not None:
        lines = _read_text(anonymity_set, "anonymity set").split()
        keys = [_hex_point(line, "an anonymity-set key") for line in lines]
    with NonceStore(store) as nonces:
        challenge = nonces.issue(
            verifier=verifier,
            statement=_statement(statement),
            threshold=threshold,
            on=_date(on, "--date"),
            now=datetime.now(UTC),
            ttl=timedelta(minutes=ttl_minutes),
            account_key=key,
            anonymity_set=keys,
        )
    _write_new(out, challenge.to_json(), mode=0o644, force=force)
    console.print(f"challenge written to {out}: {challenge.describe()}, valid {ttl_minutes} min")


@zkp_app.command("verify")
def verify(
    presentation: Annotated[Path, typer.Argument(help="Presentation JSON from the holder.")],
    trust: Annotated[Path, typer.Option("--trust", help="Trust store JSON.")],
    store: Annotated[Path, typer.Option("--store", help="The verifier's nonce store.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    audit_log: AuditOpt = None,
) -> None:
    """Verify a presentation; exits non-zero (verification failed) unless it proves the challenge."""
    if not store.exists():
        raise InvalidInput(f"no nonce store at {store}")
    trusted = TrustStore.load(trust)
    text = _read_text(presentation, "presentation")
    with NonceStore(store) as nonces, _audit(audit_log) as audit:
        claim = check_presentation(
            text, store=nonces, trust=trusted, now=datetime.now(UTC), audit=audit
        )
    if as_json:
        console.print_json(json.dumps(claim.to_dict()))
    else:
        console.print(f"verified: {claim.describe()}")


@contextlib.contextmanager
def _verifier_state(
    trust: Path, store: Path, audit_log: Path | None
) -> Iterator[tuple[TrustStore, NonceStore, AuditLog]]:
    trusted = TrustStore.load(trust)
    with NonceStore(store) as nonces, _audit(audit_log) as audit:
        yield trusted, nonces, audit


@zkp_app.command("serve")
def serve(
    allow: Annotated[list[str], typer.Option("--allow", help="Holder allowed (repeatable).")],
    trust: Annotated[Path, typer.Option("--trust", help="Trust store JSON.")],
    store: Annotated[Path, typer.Option("--store", help="The verifier's nonce store.")],
    statement: StatementOpt = "age",
    threshold: ThresholdOpt = 18,
    pki_dir: PkiOpt = Path("pki"),
    name: Annotated[str, typer.Option("--name", help="This verifier's party name.")] = "verifier",
    listen: Annotated[str, typer.Option(help="HOST:PORT to listen on.")] = "127.0.0.1:7800",
    sessions: Annotated[int, typer.Option(min=0, help="Stop after N sessions (0: never).")] = 0,
    audit_log: AuditOpt = None,
    insecure_localhost: InsecureOpt = False,
) -> None:
    """Verify holders interactively over mutual TLS: a fresh challenge per session.

    Ownership uses the three-move Sigma protocol (the verifier's random challenge); age and balance
    send a nonce and date and check the presentation that comes back.
    """
    kind = _statement(statement)
    host, port = _address(listen)
    identity = None if insecure_localhost else pki.load_identity(pki_dir, name)
    out = console

    async def main() -> None:
        with _verifier_state(trust, store, audit_log) as (trusted, nonces, audit):

            async def handler(channel: TLSChannel) -> None:
                try:
                    if kind is Statement.OWNERSHIP:
                        key = await verify_ownership(
                            channel, verifier=name, audit=audit, actor=name
                        )
                        text = f"controls account key {key.to_bytes().hex()}"
                    else:
                        claim = await request_presentation(
                            channel, store=nonces, trust=trusted, verifier=name, statement=kind,
                            threshold=threshold, audit=audit, actor=name,
                        )  # fmt: skip
                        text = claim.describe()
                    out.print(f"{channel.peer}: verified: {text}", highlight=False)
                except PetsError as exc:
                    out.print(f"[yellow]{channel.peer}: not verified: {exc}")

            def ready(bound: int) -> None:
                out.print(
                    f"verifier {name!r} on {host}:{bound}: asks for {kind.value} "
                    f"(threshold {threshold}) from {', '.join(allow)}",
                    highlight=False,
                )

            await serve_sessions(
                host, port, handler, sessions=sessions, identity=identity, limits=_LIMITS,
                allowed_peers=set(allow), insecure_localhost=insecure_localhost,
                local_name=name, ready=ready,
            )  # fmt: skip

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


# --------------------------------------------------------------------------- holder


@zkp_app.command("account-keygen")
def account_keygen(
    out: Annotated[Path, typer.Option("--out", help="Account key file (JSON, mode 0600).")],
) -> None:
    """Create an account key pair (ristretto255) for ownership proofs."""
    key = AccountKey.generate()
    key.save(out)
    console.print(f"account key written to {out}; public key {key.public_key.to_bytes().hex()}")


@contextlib.contextmanager
def _wallet(path: Path | None, book: Path | None) -> Iterator[Wallet | None]:
    if path is None:
        if book is not None:
            raise InvalidInput("--book needs --wallet (the wallet marks credentials used)")
        yield None
        return
    with Wallet(path) as wallet:
        if book is not None:
            added = wallet.add_book(CredentialBook.load(book))
            if added:
                console.print(f"{added} new credentials from {book} stored in {path}")
        yield wallet


WalletOpt = Annotated[
    Path | None,
    typer.Option(help="The holder's wallet (SQLite, 0600): marks each credential used once."),
]
BookOpt = Annotated[
    Path | None, typer.Option(help="A credential book from the issuer, added to the wallet first.")
]
AccountOpt = Annotated[
    Path | None,
    typer.Option(help="Account key file: prove ownership (alone, or together with the statement)."),
]


@zkp_app.command("prove")
def prove(
    challenge: Annotated[Path, typer.Option("--challenge", help="Challenge file.")],
    out: Annotated[Path, typer.Option("--out", help="Presentation file for the verifier.")],
    wallet: WalletOpt = None,
    book: BookOpt = None,
    account: AccountOpt = None,
    force: Annotated[bool, typer.Option(help="Overwrite OUT.")] = False,
    audit_log: AuditOpt = None,
) -> None:
    """Answer a verifier's challenge with a presentation, using a fresh credential."""
    request = Challenge.from_json(_read_text(challenge, "challenge"))
    key = AccountKey.load(account) if account is not None else None
    with _wallet(wallet, book) as held:
        entry = None
        if request.statement is not Statement.OWNERSHIP:
            if held is None:
                raise InvalidInput(f"a {request.statement.value} presentation needs --wallet")
            entry = held.take(CredentialType(request.statement.value), on=request.on)
        pres = present(request, entry=entry, account=key)
    _write_new(out, pres.to_json(), mode=0o644, force=force)
    with _audit(audit_log) as audit:
        audit.append(
            actor="zkp-holder",
            operation="zkp.prove",
            parameters={
                "verifier": request.verifier,
                "statement": request.statement.value,
                "threshold": request.threshold,
                "date": request.on.isoformat(),
                "with_account_key": key is not None,
            },
        )
    console.print(f"presentation written to {out}: {request.describe()} for {request.verifier!r}")


@zkp_app.command("present")
def present_cmd(
    verifier: Annotated[str, typer.Option("--verifier", help="Verifier HOST:PORT.")],
    verifier_name: Annotated[str, typer.Option(help="The verifier's party name.")],
    statement: StatementOpt = "age",
    threshold: ThresholdOpt = 18,
    wallet: WalletOpt = None,
    book: BookOpt = None,
    account: AccountOpt = None,
    pki_dir: PkiOpt = Path("pki"),
    name: Annotated[str, typer.Option("--name", help="This holder's party name.")] = "holder",
    audit_log: AuditOpt = None,
    insecure_localhost: InsecureOpt = False,
) -> None:
    """Prove a statement to a verifier interactively over mutual TLS.

    Only a challenge for exactly this statement and threshold, from the named verifier, dated
    today (within a day), is answered.
    """
    kind = _statement(statement)
    host, port = _address(verifier)
    key = AccountKey.load(account) if account is not None else None
    if kind is Statement.OWNERSHIP and key is None:
        raise InvalidInput("an ownership proof needs --account")
    identity = None if insecure_localhost else pki.load_identity(pki_dir, name)

    async def main(held: Wallet | None, audit: AuditLog) -> str:
        channel = await connect(
            host, port, identity=identity, peer_name=verifier_name, limits=_LIMITS,
            insecure_localhost=insecure_localhost, local_name=name,
        )  # fmt: skip
        async with channel:
            if kind is Statement.OWNERSHIP and key is not None:
                return await prove_ownership(channel, account=key, audit=audit, actor=name)
            return await answer_presentation(
                channel, statement=kind, threshold=threshold, wallet=held, account=key,
                audit=audit, actor=name,
            )  # fmt: skip

    with _wallet(wallet, book) as held, _audit(audit_log) as audit:
        if kind is not Statement.OWNERSHIP and held is None:
            raise InvalidInput(f"a {kind.value} presentation needs --wallet")
        with console.status(f"proving {kind.value} to {verifier_name} at {verifier} …"):
            accepted = asyncio.run(main(held, audit))
    console.print(f"accepted by {verifier_name}: {accepted}", highlight=False)
