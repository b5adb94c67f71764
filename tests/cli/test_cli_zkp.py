"""`petsuite zkp` as its users run it: issuer, holder and verifier exchanging JSON files, exit codes
from the error catalogue, and the interactive pair over mutual TLS in two processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from petsuite.cli.zkp import zkp_app
from petsuite.core.audit import AuditLog
from petsuite.core.errors import (
    CATALOGUE,
    InvalidInput,
    PetsError,
    PolicyViolation,
    VerificationFailed,
    catalogue_entry,
)

app = typer.Typer()
app.add_typer(zkp_app, name="zkp")
runner = CliRunner()

FAILED = CATALOGUE[VerificationFailed].exit_code


def zkp(home: Path, *args: str) -> tuple[int, str]:
    """Run ``petsuite zkp ARGS`` in-process; map petsuite errors to exit codes as main() does."""
    env = {"PETSUITE_HOME": str(home), "COLUMNS": "300"}
    result = runner.invoke(app, ["zkp", *args], env=env)
    if isinstance(result.exception, PetsError):
        return catalogue_entry(result.exception).exit_code, result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def ok(home: Path, *args: str) -> str:
    code, out = zkp(home, *args)
    assert code == 0, out
    return out


@pytest.fixture
def parties(tmp_path: Path) -> dict[str, Path]:
    """An issuer key, a verifier trusting it, and the folders of the three parties."""
    p = {name: tmp_path / name for name in ("issuer", "holder", "verifier")}
    for folder in p.values():
        folder.mkdir()
    out = ok(p["issuer"], "issuer-keygen", "--out", str(p["issuer"] / "issuer.pem"))
    assert "issuer id" in out and (p["issuer"] / "issuer.pub").exists()
    ok(p["verifier"], "trust-add", "--store", str(p["verifier"] / "trust.json"), "--name",
       "registry", "--public-key", str(p["issuer"] / "issuer.pub"), "--not-before", "2020-01-01")  # fmt: skip
    return p


def _nonce(p: dict[str, Path], statement: str, threshold: int, name: str) -> Path:
    out = p["holder"] / f"{name}.challenge.json"
    ok(p["verifier"], "nonce", "--store", str(p["verifier"] / "nonces.db"), "--verifier", "shop",
       "--statement", statement, "--threshold", str(threshold), "--out", str(out))  # fmt: skip
    return out


def _verify(p: dict[str, Path], presentation: Path) -> tuple[int, str]:
    return zkp(p["verifier"], "verify", str(presentation), "--trust",
               str(p["verifier"] / "trust.json"), "--store", str(p["verifier"] / "nonces.db"),
               "--json")  # fmt: skip


def test_age_files_end_to_end(parties: dict[str, Path]) -> None:
    p = parties
    book = p["holder"] / "age-book.json"
    ok(p["issuer"], "issue", "--key", str(p["issuer"] / "issuer.pem"), "--type", "age", "--value",
       "2000-05-17", "--count", "3", "--issued", "2024-01-01", "--valid-days", "3650",
       "--out", str(book))  # fmt: skip
    assert oct(book.stat().st_mode & 0o777) == "0o600"
    challenge = _nonce(p, "age", 18, "a")
    pres = p["holder"] / "a.presentation.json"
    wallet = str(p["holder"] / "wallet.db")
    ok(p["holder"], "prove", "--challenge", str(challenge), "--wallet", wallet, "--book",
       str(book), "--out", str(pres))  # fmt: skip
    text = pres.read_text()
    assert "2000-05-17" not in text
    code, out = _verify(p, pres)
    assert code == 0, out
    claim = json.loads(out)
    assert claim["statement"] == "age" and claim["threshold"] == 18
    assert claim["issuer"] == "registry"
    # the same presentation again: the nonce is spent
    code, out = _verify(p, pres)
    assert code == FAILED, out
    # a tampered presentation
    challenge = _nonce(p, "age", 18, "b")
    pres_b = p["holder"] / "b.presentation.json"
    ok(p["holder"], "prove", "--challenge", str(challenge), "--wallet", wallet, "--out",
       str(pres_b))  # fmt: skip
    envelope = json.loads(pres_b.read_text())
    envelope["body"]["threshold"] = 16
    pres_b.write_text(json.dumps(envelope))
    assert _verify(p, pres_b)[0] == FAILED
    # a statement the holder cannot prove (26 is not 30): no presentation, an input error
    challenge = _nonce(p, "age", 30, "c")
    code, out = zkp(p["holder"], "prove", "--challenge", str(challenge), "--wallet", wallet,
                    "--out", str(p["holder"] / "c.json"))  # fmt: skip
    assert code == CATALOGUE[InvalidInput].exit_code, out
    # the book is used up: reusing an entry would link presentations
    challenge = _nonce(p, "age", 18, "d")
    code, out = zkp(p["holder"], "prove", "--challenge", str(challenge), "--wallet", wallet,
                    "--out", str(p["holder"] / "d.json"))  # fmt: skip
    assert code == CATALOGUE[PolicyViolation].exit_code, out
    with AuditLog(p["verifier"] / "audit.db") as audit:
        ops = [e.operation for e in audit.entries()]
        assert audit.verify().ok
    assert ops == ["zkp.verify", "zkp.verify.failed", "zkp.verify.failed"]


def test_balance_with_account_and_ownership(parties: dict[str, Path]) -> None:
    p = parties
    account = p["holder"] / "account.json"
    out = ok(p["holder"], "account-keygen", "--out", str(account))
    public = re.search(r"public key ([0-9a-f]{64})", out)
    assert public is not None
    book = p["holder"] / "bal-book.json"
    ok(p["issuer"], "issue", "--key", str(p["issuer"] / "issuer.pem"), "--type", "balance",
       "--value", "1250000", "--count", "1", "--out", str(book))  # fmt: skip
    challenge = _nonce(p, "balance", 1_000_000, "bal")
    pres = p["holder"] / "bal.json"
    ok(p["holder"], "prove", "--challenge", str(challenge), "--wallet",
       str(p["holder"] / "w.db"), "--book", str(book), "--account", str(account), "--out",
       str(pres))  # fmt: skip
    assert "1250000" not in pres.read_text()
    code, out = _verify(p, pres)
    assert code == 0, out
    assert json.loads(out)["account_key"] == public.group(1)
    challenge = _nonce(p, "ownership", 0, "own")
    pres = p["holder"] / "own.json"
    ok(p["holder"], "prove", "--challenge", str(challenge), "--account", str(account), "--out",
       str(pres))  # fmt: skip
    code, out = _verify(p, pres)
    assert code == 0, out
    assert "controls account key" in json.loads(out)["description"]
    # the same, hidden among other accounts
    others = [ok(p["holder"], "account-keygen", "--out", str(p["holder"] / f"o{i}.json"))
              for i in range(2)]  # fmt: skip
    members = [public.group(1)] + [m.group(1) for o in others
                                   if (m := re.search(r"public key ([0-9a-f]{64})", o))]  # fmt: skip
    members_file = p["verifier"] / "members.txt"
    members_file.write_text("\n".join(reversed(members)) + "\n")
    challenge = p["holder"] / "anon.challenge.json"
    ok(p["verifier"], "nonce", "--store", str(p["verifier"] / "nonces.db"), "--verifier", "shop",
       "--statement", "ownership", "--threshold", "0", "--anonymity-set", str(members_file),
       "--out", str(challenge))  # fmt: skip
    pres = p["holder"] / "anon.json"
    ok(p["holder"], "prove", "--challenge", str(challenge), "--account", str(account), "--out",
       str(pres))  # fmt: skip
    assert public.group(1) not in pres.read_text()
    code, out = _verify(p, pres)
    assert code == 0, out
    assert json.loads(out)["anonymity_set_size"] == 3


def test_bad_inputs_are_input_errors(parties: dict[str, Path]) -> None:
    p = parties
    bad = CATALOGUE[InvalidInput].exit_code
    key = str(p["issuer"] / "issuer.pem")
    assert zkp(p["issuer"], "issue", "--key", key, "--type", "height", "--value", "1",
               "--out", str(p["issuer"] / "x.json"))[0] == bad  # fmt: skip
    assert zkp(p["issuer"], "issue", "--key", key, "--type", "age", "--value", "17/05/2000",
               "--out", str(p["issuer"] / "x.json"))[0] == bad  # fmt: skip
    assert zkp(p["issuer"], "issuer-keygen", "--out", key)[0] == bad  # never overwrites a key
    assert zkp(p["verifier"], "nonce", "--store", str(p["verifier"] / "n.db"), "--verifier",
               "shop", "--statement", "height", "--out", str(p["verifier"] / "c.json"))[0] == bad  # fmt: skip
    garbage = p["verifier"] / "garbage.json"
    garbage.write_text("{")
    ok(p["verifier"], "nonce", "--store", str(p["verifier"] / "nonces.db"), "--verifier", "shop",
       "--out", str(p["verifier"] / "c.json"))  # fmt: skip
    assert _verify(p, garbage)[0] == FAILED


def _registered() -> bool:
    probe = subprocess.run([sys.executable, "-m", "petsuite", "zkp", "--help"],
                           capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    return probe.returncode == 0


@pytest.mark.timeout(120)
def test_interactive_pair_in_two_processes(parties: dict[str, Path], tmp_path: Path) -> None:
    """`petsuite zkp serve` and `petsuite zkp present` over mutual TLS (needs the zkp sub-app
    registered in cli/main.py)."""
    if not _registered():
        pytest.skip("the zkp sub-app is not registered in petsuite.cli.main yet")
    p = parties
    env = {**os.environ, "PETSUITE_HOME": str(tmp_path / "home"), "COLUMNS": "300"}
    pki_dir = tmp_path / "pki"
    for args in (["pki", "init", "--dir", str(pki_dir)], ["pki", "issue", "shop", "--dir",
                 str(pki_dir)], ["pki", "issue", "alice", "--dir", str(pki_dir)]):  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "petsuite", *args], env=env,
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
    book = p["holder"] / "book.json"
    ok(p["issuer"], "issue", "--key", str(p["issuer"] / "issuer.pem"), "--type", "age", "--value",
       "1999-12-31", "--count", "2", "--out", str(book))  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "petsuite", "zkp", "serve", "--allow", "alice", "--trust",
         str(p["verifier"] / "trust.json"), "--store", str(p["verifier"] / "nonces.db"),
         "--statement", "age", "--threshold", "18", "--pki", str(pki_dir), "--name", "shop",
         "--listen", "127.0.0.1:0", "--sessions", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match is not None, line + (server.stderr.read() if server.stderr else "")
        holder = subprocess.run(
            [sys.executable, "-m", "petsuite", "zkp", "present", "--verifier",
             f"127.0.0.1:{match.group(1)}", "--verifier-name", "shop", "--statement", "age",
             "--threshold", "18", "--wallet", str(p["holder"] / "wallet.db"), "--book", str(book),
             "--pki", str(pki_dir), "--name", "alice"],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert holder.returncode == 0, holder.stderr
        assert "accepted by shop: age >= 18 years" in holder.stdout
        rest, _ = server.communicate(timeout=30)
        assert server.returncode == 0
        assert "alice: verified: age >= 18 years" in rest
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate(timeout=10)
