"""Regression tests for defects found in the security review of petsuite.zkp.

Each test fails on the code before its fix:

* malformed presentations whose ``statement`` or credential ``type`` is a JSON array or object
  leaked ``TypeError`` (unhashable) instead of :class:`VerificationFailed`;
* an issuer id in hex with leading whitespace decoded to 31 bytes (``bytes.fromhex`` skips it);
* a challenge could name the identity as account key or anonymity-set key, which anybody "owns"
  (secret 0), so an ownership or OR proof for it proved nothing;
* the interactive Schnorr run was not bound to the verifier's id, so a verifier could relay a
  holder's run to another verifier and pass there as the owner of the holder's key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from petsuite.core.errors import InvalidInput, VerificationFailed
from petsuite.core.rng import DeterministicRandom
from petsuite.primitives.group import Point, Scalar
from petsuite.zkp import interactive as ia
from petsuite.zkp.api import check_presentation
from petsuite.zkp.credentials import (
    AccountKey,
    Credential,
    CredentialBook,
    IssuerKey,
    TrustedIssuer,
    TrustStore,
    issue_book,
)
from petsuite.zkp.presentation import (
    Challenge,
    Presentation,
    Statement,
    present,
    verify_presentation,
)
from petsuite.zkp.sigma import prove_or, schnorr
from petsuite.zkp.transcript import Transcript
from petsuite.zkp.verifier_store import NonceStore

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _rng(tag: str) -> DeterministicRandom:
    return DeterministicRandom(tag.encode().ljust(32, b"."), insecure_for_testing=True)


@dataclass(frozen=True)
class World:
    trust: TrustStore
    ages: CredentialBook
    account: AccountKey


@pytest.fixture(scope="module")
def world() -> World:
    issuer = IssuerKey.generate(_rng("review-issuer"))
    trust = TrustStore([TrustedIssuer("registry", issuer.public_key, date(2025, 1, 1),
                                      date(2030, 1, 1))])  # fmt: skip
    ages = issue_book(issuer, "age", date(2000, 5, 17), issued=date(2026, 1, 1),
                      expires=date(2027, 1, 1), count=2, rng=_rng("review-ages"))  # fmt: skip
    return World(trust, ages, AccountKey.generate(_rng("review-account")))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[NonceStore]:
    with NonceStore(tmp_path / "verifier.db") as s:
        yield s


@pytest.fixture(scope="module")
def honest(world: World) -> tuple[Challenge, str]:
    challenge = Challenge("shop", b"\x07" * 32, TODAY, Statement.AGE, 18)
    text = present(challenge, entry=world.ages.entries[0], rng=_rng("review-p")).to_json()
    verify_presentation(text, challenge, world.trust)  # the baseline verifies
    return challenge, text


_HOSTILE: list[Any] = [None, [], {}, [1], {"a": 1}, [[]], 1, -1, True, 2**70, "", "x"]


def _with(text: str, path: tuple[str, ...], value: Any) -> str:
    envelope = json.loads(text)
    node = envelope
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return json.dumps(envelope)


@pytest.mark.parametrize("value", _HOSTILE, ids=repr)
@pytest.mark.parametrize(
    "path",
    [("body", "statement"), ("body", "credential", "type"), ("body", "credential", "attribute")],
    ids="/".join,
)
def test_hostile_json_values_raise_only_verification_failed(
    world: World, honest: tuple[Challenge, str], path: tuple[str, ...], value: Any
) -> None:
    challenge, text = honest
    with pytest.raises(VerificationFailed):
        verify_presentation(_with(text, path, value), challenge, world.trust)


def test_every_body_field_replaced_by_hostile_values(
    world: World, honest: tuple[Challenge, str]
) -> None:
    challenge, text = honest
    body = json.loads(text)["body"]
    paths = [("body", k) for k in body] + [("body", "credential", k) for k in body["credential"]]
    for path in paths:
        for value in _HOSTILE:
            mutated = _with(text, path, value)
            if mutated == json.dumps(json.loads(text)):
                continue
            with pytest.raises(VerificationFailed):
                verify_presentation(mutated, challenge, world.trust)


def test_unhashable_statement_through_the_verifier_path(world: World, store: NonceStore) -> None:
    challenge = store.issue(verifier="shop", statement="age", threshold=18, on=TODAY, now=NOW)
    text = present(challenge, entry=world.ages.entries[1], rng=_rng("review-q")).to_json()
    with pytest.raises(VerificationFailed):
        check_presentation(_with(text, ("body", "statement"), ["age"]), store=store,
                           trust=world.trust, now=NOW + timedelta(seconds=1))  # fmt: skip


def test_challenge_file_with_unhashable_statement_is_invalid_input() -> None:
    good = Challenge("shop", b"\x01" * 32, TODAY, Statement.AGE, 18).to_json()
    with pytest.raises(InvalidInput):
        Challenge.from_json(_with(good, ("body", "statement"), {"age": 1}))


def test_issuer_id_hex_with_whitespace_is_refused(world: World) -> None:
    cred = world.ages.entries[0].credential.to_dict()
    cred["issuer"] = "  " + cred["issuer"][2:]  # 64 characters, fromhex gives 31 bytes
    with pytest.raises(InvalidInput):
        Credential.from_dict(cred)
    with pytest.raises(VerificationFailed):
        Presentation.from_dict(
            {"statement": "age", "verifier": "shop", "nonce": "B" * 43, "date": "2026-11-26",
             "threshold": 18, "credential": cred, "range_proof": None, "account_key": None,
             "ownership_proof": None}
        )  # fmt: skip


def test_identity_account_key_is_refused(world: World, store: NonceStore) -> None:
    identity = Point.identity()
    with pytest.raises(InvalidInput):
        Challenge("bank", b"\x02" * 32, TODAY, Statement.OWNERSHIP, 0, account_key=identity)
    with pytest.raises(InvalidInput):
        store.issue(verifier="bank", statement="ownership", threshold=0, on=TODAY, now=NOW,
                    account_key=identity)  # fmt: skip


def test_identity_in_an_anonymity_set_is_refused(world: World, store: NonceStore) -> None:
    identity = Point.identity()
    keys = (world.account.public_key, identity)
    # Why it matters: with the identity in the set, anybody proves "control of one of them" with
    # the witness 0, without any account key.
    relations = [schnorr(k, Point.generator()) for k in keys]
    prove_or(relations, 1, [Scalar.from_int(0)], Transcript(b"review"), _rng("review-or"))
    with pytest.raises(InvalidInput):
        Challenge("bank", b"\x03" * 32, TODAY, Statement.OWNERSHIP, 0, anonymity_set=keys)
    with pytest.raises(InvalidInput):
        store.issue(verifier="bank", statement="ownership", threshold=0, on=TODAY, now=NOW,
                    anonymity_set=keys)  # fmt: skip


def test_interactive_ownership_relayed_to_another_verifier_fails(world: World) -> None:
    """Mafia fraud: "mallory" talks to the holder as a verifier and relays every message to and
    from "bank", so as to pass at the bank as the owner of the holder's key."""
    holder = ia.sigma_prover_start(world.account, verifier="mallory", rng=_rng("review-h"))
    bank, _ = ia.sigma_verifier_start("bank")
    _, mallory_request = ia.sigma_verifier_start("mallory")
    holder, commit = ia.sigma_prover_step(holder, mallory_request[0])
    bank, challenge = ia.sigma_verifier_step(bank, commit[0], rng=_rng("review-b"))
    holder, response = ia.sigma_prover_step(holder, challenge[0])
    bank, result = ia.sigma_verifier_step(bank, response[0])
    assert bank.accepted is False
    assert result[0]["accepted"] is False


def test_interactive_ownership_honest_run_still_verifies(world: World) -> None:
    holder = ia.sigma_prover_start(world.account, verifier="bank", rng=_rng("review-h2"))
    bank, out = ia.sigma_verifier_start("bank", world.account.public_key)
    holder, out = ia.sigma_prover_step(holder, out[0])
    bank, out = ia.sigma_verifier_step(bank, out[0], rng=_rng("review-b2"))
    holder, out = ia.sigma_prover_step(holder, out[0])
    bank, out = ia.sigma_verifier_step(bank, out[0])
    assert bank.accepted is True
    assert bank.public_key == world.account.public_key
