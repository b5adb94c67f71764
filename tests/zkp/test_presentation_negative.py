"""Tampering at the credential and presentation level: every case must raise VerificationFailed.

Each case starts from an honest presentation (or an honest prover fooled into answering a modified
challenge), changes one thing, and runs the verifier's whole path: parse, consume the nonce from the
verifier's own store, check against the stored challenge and the trust store, record the credential.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from petsuite.core.errors import InvalidInput, VerificationFailed
from petsuite.core.rng import DeterministicRandom
from petsuite.primitives.group import Point, Scalar
from petsuite.zkp import presentation as pres_mod
from petsuite.zkp.api import check_presentation
from petsuite.zkp.bulletproofs import prove_range
from petsuite.zkp.credentials import (
    AccountKey,
    BookEntry,
    Credential,
    CredentialBook,
    IssuerKey,
    TrustedIssuer,
    TrustStore,
    b64decode,
    b64encode,
    days_since_epoch,
    issue_book,
)
from petsuite.zkp.pedersen import PedersenParams
from petsuite.zkp.presentation import Challenge, Presentation, Statement, present
from petsuite.zkp.sigma import prove
from petsuite.zkp.verifier_store import NonceStore

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DOB = date(2000, 5, 17)
BALANCE = 250_000  # £2,500.00 in pence


def _rng(tag: str) -> DeterministicRandom:
    return DeterministicRandom(tag.encode().ljust(32, b"."), insecure_for_testing=True)


@dataclass(frozen=True)
class World:
    issuer: IssuerKey
    trust: TrustStore
    ages: CredentialBook
    balances: CredentialBook
    account: AccountKey


@pytest.fixture(scope="module")
def world() -> World:
    issuer = IssuerKey.generate(_rng("issuer"))
    trust = TrustStore([TrustedIssuer("registry", issuer.public_key, date(2025, 1, 1),
                                      date(2030, 1, 1))])  # fmt: skip
    ages = issue_book(issuer, "age", DOB, issued=date(2026, 1, 1), expires=date(2027, 1, 1),
                      count=6, rng=_rng("ages"))  # fmt: skip
    balances = issue_book(issuer, "balance", BALANCE, issued=date(2026, 11, 1),
                          expires=date(2026, 12, 31), count=2, rng=_rng("bal"))  # fmt: skip
    return World(issuer, trust, ages, balances, AccountKey.generate(_rng("account")))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[NonceStore]:
    with NonceStore(tmp_path / "verifier.db") as s:
        yield s


def _challenge(
    store: NonceStore,
    statement: Statement = Statement.AGE,
    threshold: int = 18,
    *,
    verifier: str = "shop",
    account_key: Point | None = None,
) -> Challenge:
    return store.issue(
        verifier=verifier, statement=statement, threshold=threshold, on=TODAY, now=NOW,
        account_key=account_key,
    )  # fmt: skip


def _verify(store: NonceStore, trust: TrustStore, text: str | bytes) -> None:
    check_presentation(text, store=store, trust=trust, now=NOW + timedelta(seconds=5))


def _edit(text: str, change: Callable[[dict[str, Any]], None]) -> str:
    envelope = json.loads(text)
    change(envelope["body"])
    return json.dumps(envelope)


def _flip(b64: str, index: int = 40) -> str:
    raw = bytearray(b64decode(b64))
    raw[index % len(raw)] ^= 0x01
    return b64encode(bytes(raw))


def _forge(challenge: Challenge, entry: BookEntry, statement: Statement) -> str:
    """A prover that skips every local check: proves ``statement`` from ``entry`` regardless of
    its type and validity dates (the range value must still be in range for the prover to run)."""
    p = PedersenParams.default()
    cred = entry.credential
    t = pres_mod._transcript(
        statement=statement, credential=cred, threshold=challenge.threshold, on=challenge.on,
        verifier=challenge.verifier, nonce=challenge.nonce, account_key=None,
    )  # fmt: skip
    if statement is Statement.AGE:
        cutoff = days_since_epoch(pres_mod.age_cutoff(challenge.on, challenge.threshold))
        value, blinding, bits = cutoff - entry.value, -entry.blinding, 32
    else:
        value, blinding, bits = entry.value - challenge.threshold, entry.blinding, 64
    proof, _ = prove_range([value], [blinding], bits, t, p, _rng("forge"))
    return Presentation(
        statement=statement, verifier=challenge.verifier, nonce=challenge.nonce, on=challenge.on,
        threshold=challenge.threshold, credential=cred, range_proof=proof.to_bytes(),
        account_key=None, ownership_proof=None,
    ).to_json()  # fmt: skip


def _honest(world: World, store: NonceStore, index: int = 0) -> tuple[Challenge, str]:
    challenge = _challenge(store)
    return challenge, present(challenge, entry=world.ages.entries[index], rng=_rng("p")).to_json()


def test_the_honest_presentation_verifies(world: World, store: NonceStore) -> None:
    """The baseline every negative case departs from (so each case can fail for one reason)."""
    _, text = _honest(world, store)
    _verify(store, world.trust, text)


def test_unknown_issuer(world: World, store: NonceStore) -> None:
    _, text = _honest(world, store)
    other = IssuerKey.generate(_rng("other"))
    strangers = TrustStore([TrustedIssuer("other", other.public_key, date(2025, 1, 1),
                                          date(2030, 1, 1))])  # fmt: skip
    with pytest.raises(VerificationFailed):
        _verify(store, strangers, text)


def test_issuer_outside_its_trust_window(world: World, store: NonceStore) -> None:
    _, text = _honest(world, store)
    lapsed = TrustStore([TrustedIssuer("registry", world.issuer.public_key, date(2020, 1, 1),
                                       date(2026, 6, 30))])  # fmt: skip
    with pytest.raises(VerificationFailed):
        _verify(store, lapsed, text)


def test_credential_signed_by_an_impostor_naming_the_trusted_issuer(
    world: World, store: NonceStore
) -> None:
    challenge = _challenge(store)
    impostor = IssuerKey.generate(_rng("impostor"))
    book = issue_book(impostor, "age", DOB, issued=date(2026, 1, 1), expires=date(2027, 1, 1),
                      count=1, rng=_rng("imp"))  # fmt: skip
    cred = book.entries[0].credential
    claimed = replace(cred, issuer_id=world.issuer.issuer_id)  # signature no longer matches
    entry = BookEntry(claimed, book.entries[0].value, book.entries[0].blinding)
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, _forge(challenge, entry, Statement.AGE))


def test_bad_signature(world: World, store: NonceStore) -> None:
    _, text = _honest(world, store)
    bad = _edit(text, lambda b: b["credential"].update(signature=_flip(b["credential"]["signature"],
                                                                        7)))  # fmt: skip
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, bad)


def test_commitment_swapped_for_another_signed_one(world: World, store: NonceStore) -> None:
    _, text = _honest(world, store)
    other = world.ages.entries[1].credential.to_dict()["commitment"]
    bad = _edit(text, lambda b: b["credential"].update(commitment=other))
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, bad)


def test_tampered_expiry(world: World, store: NonceStore) -> None:
    _, text = _honest(world, store)
    bad = _edit(text, lambda b: b["credential"].update(expires="2031-01-01"))
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, bad)


def test_expired_credential(world: World, store: NonceStore) -> None:
    challenge = _challenge(store)
    old = issue_book(world.issuer, "age", DOB, issued=date(2025, 1, 1),
                     expires=date(2026, 11, 25), count=1, rng=_rng("old"))  # fmt: skip
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, _forge(challenge, old.entries[0], Statement.AGE))


def test_credential_not_yet_valid(world: World, store: NonceStore) -> None:
    challenge = _challenge(store)
    future = issue_book(world.issuer, "age", DOB, issued=date(2026, 11, 27),
                        expires=date(2027, 11, 27), count=1, rng=_rng("future"))  # fmt: skip
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, _forge(challenge, future.entries[0], Statement.AGE))


def test_wrong_date(world: World, store: NonceStore) -> None:
    challenge = _challenge(store)
    # the holder answers for a later date; the verifier checks against its own date
    shifted = replace(challenge, on=date(2026, 12, 20))
    old_enough_later = present(shifted, entry=world.ages.entries[0], rng=_rng("d"))
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, old_enough_later.to_json())
    # and with the date field edited back to the verifier's date, the proof no longer fits
    other = _challenge(store)
    text = present(replace(other, on=date(2026, 12, 20)), entry=world.ages.entries[1]).to_json()
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, _edit(text, lambda b: b.update(date=TODAY.isoformat())))


def test_wrong_nonce(world: World, store: NonceStore) -> None:
    first, text = _honest(world, store)
    second = _challenge(store)  # a nonce the verifier really issued, but not the one proved
    bad = _edit(text, lambda b: b.update(nonce=b64encode(second.nonce)))
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, bad)
    assert first.nonce != second.nonce


def test_nonce_the_verifier_never_issued(world: World, store: NonceStore) -> None:
    challenge = replace(_challenge(store), nonce=bytes(32))
    text = present(challenge, entry=world.ages.entries[0]).to_json()
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, text)


def test_replayed_nonce(world: World, store: NonceStore) -> None:
    _, text = _honest(world, store)
    _verify(store, world.trust, text)
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, text)


def test_expired_nonce(world: World, store: NonceStore) -> None:
    _, text = _honest(world, store)
    with pytest.raises(VerificationFailed):
        check_presentation(text, store=store, trust=world.trust, now=NOW + timedelta(hours=1))


def test_threshold_changed(world: World, store: NonceStore) -> None:
    challenge = _challenge(store, threshold=21)
    easier = replace(challenge, threshold=18)
    text = present(easier, entry=world.ages.entries[0]).to_json()
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, text)  # threshold field says 18, the verifier asked 21
    challenge = _challenge(store, threshold=21)
    text = present(replace(challenge, threshold=18), entry=world.ages.entries[1]).to_json()
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, _edit(text, lambda b: b.update(threshold=21)))


def test_balance_threshold_changed(world: World, store: NonceStore) -> None:
    challenge = _challenge(store, Statement.BALANCE, 300_000)  # more than the holder has
    lower = present(replace(challenge, threshold=200_000), entry=world.balances.entries[0])
    bad = _edit(lower.to_json(), lambda b: b.update(threshold=300_000))
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, bad)


def test_age_credential_presented_as_balance(world: World, store: NonceStore) -> None:
    challenge = _challenge(store, Statement.BALANCE, 1000)
    forged = _forge(challenge, world.ages.entries[0], Statement.BALANCE)
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, forged)


def test_statement_field_changed(world: World, store: NonceStore) -> None:
    _, text = _honest(world, store)
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, _edit(text, lambda b: b.update(statement="balance")))


def test_verifier_id_changed(world: World, store: NonceStore) -> None:
    challenge = _challenge(store, verifier="pub")
    # a proof made for another verifier (relayed), relabelled for this one
    text = present(replace(challenge, verifier="casino"), entry=world.ages.entries[0]).to_json()
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, _edit(text, lambda b: b.update(verifier="pub")))


def test_proof_bytes_flipped(world: World, store: NonceStore) -> None:
    for index in (5, 100, 300, -3):
        _, text = _honest(world, store)

        def flip(body: dict[str, Any], i: int = index) -> None:
            body["range_proof"] = _flip(body["range_proof"], i)

        bad = _edit(text, flip)
        with pytest.raises(VerificationFailed):
            _verify(store, world.trust, bad)


def test_range_proof_from_another_presentation(world: World, store: NonceStore) -> None:
    _, donor = _honest(world, store, 1)
    proof = json.loads(donor)["body"]["range_proof"]
    _, text = _honest(world, store, 0)
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, _edit(text, lambda b: b.update(range_proof=proof)))


def test_truncated_json(world: World, store: NonceStore) -> None:
    _, text = _honest(world, store)
    for cut in (0, 1, len(text) // 2, len(text) - 1):
        with pytest.raises(VerificationFailed):
            _verify(store, world.trust, text[:cut])


def test_wrong_version(world: World, store: NonceStore) -> None:
    _, text = _honest(world, store)
    envelope = json.loads(text)
    envelope["version"] = 2
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, json.dumps(envelope))
    envelope["version"] = 1
    envelope["kind"] = "zkp-challenge"
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, json.dumps(envelope))


def test_credential_version_changed(world: World, store: NonceStore) -> None:
    _, text = _honest(world, store)
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, _edit(text, lambda b: b["credential"].update(version=2)))


def test_extra_fields(world: World, store: NonceStore) -> None:
    _, text = _honest(world, store)
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, _edit(text, lambda b: b.update(dob="2000-05-17")))
    _, text = _honest(world, store)
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, _edit(text, lambda b: b["credential"].update(note="x")))


def test_missing_field(world: World, store: NonceStore) -> None:
    _, text = _honest(world, store)
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, _edit(text, lambda b: b.pop("range_proof")))


def test_malformed_encodings(world: World, store: NonceStore) -> None:
    cases: list[Callable[[dict[str, Any]], None]] = [
        lambda b: b.update(nonce=b["nonce"] + "="),  # padding: not canonical base64url
        lambda b: b.update(nonce=b64encode(bytes(31))),  # wrong length
        lambda b: b["credential"].update(commitment=b64encode(bytes(32))),  # identity
        lambda b: b["credential"].update(commitment=b64encode(b"\xff" * 32)),  # not a point
        lambda b: b.update(threshold="18"),  # a string, not an int
        lambda b: b.update(threshold=True),
        lambda b: b.update(date="2026-11-26T00:00"),
        lambda b: b["credential"].update(issuer=b["credential"]["issuer"].upper()),
        lambda b: b.update(range_proof=None),
    ]
    for change in cases:
        _, text = _honest(world, store)
        with pytest.raises(VerificationFailed):
            _verify(store, world.trust, _edit(text, change))


def test_oversized_presentation(world: World, store: NonceStore) -> None:
    _, text = _honest(world, store)
    padded = _edit(text, lambda b: b.update(range_proof=b64encode(bytes(70_000))))
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, padded)


def test_credential_from_the_book_reused(world: World, store: NonceStore) -> None:
    entry = world.ages.entries[2]
    first = present(_challenge(store), entry=entry).to_json()
    second = present(_challenge(store), entry=entry).to_json()  # a careless or sharing holder
    _verify(store, world.trust, first)
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, second)


def test_ownership_proof_for_another_key(world: World, store: NonceStore) -> None:
    challenge = _challenge(store, Statement.OWNERSHIP, 0)
    text = present(challenge, account=world.account).to_json()
    thief = AccountKey.generate(_rng("thief"))
    key = b64encode(thief.public_key.to_bytes())
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, _edit(text, lambda b: b.update(account_key=key)))


def test_ownership_of_an_account_the_verifier_did_not_ask_about(
    world: World, store: NonceStore
) -> None:
    wanted = AccountKey.generate(_rng("wanted")).public_key
    challenge = _challenge(store, Statement.OWNERSHIP, 0, account_key=wanted)
    text = present(replace(challenge, account_key=None), account=world.account).to_json()
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, text)


def test_ownership_response_forged(world: World, store: NonceStore) -> None:
    challenge = _challenge(store, Statement.OWNERSHIP, 0)
    text = present(challenge, account=world.account).to_json()
    bad = _edit(text, lambda b: b.update(ownership_proof=_flip(b["ownership_proof"], -1)))
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, bad)


def test_ownership_proof_stripped_from_a_bound_presentation(
    world: World, store: NonceStore
) -> None:
    challenge = _challenge(store, Statement.BALANCE, 100_000,
                           account_key=world.account.public_key)  # fmt: skip
    text = present(challenge, entry=world.balances.entries[1], account=world.account).to_json()
    bad = _edit(text, lambda b: b.update(ownership_proof=None))
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, bad)


def test_ownership_proof_from_another_transcript_grafted(world: World, store: NonceStore) -> None:
    """A Schnorr proof made in an unrelated context does not verify in the presentation's."""
    challenge = _challenge(store, Statement.OWNERSHIP, 0)
    text = present(challenge, account=world.account).to_json()
    from petsuite.zkp.transcript import Transcript

    stray = prove(pres_mod._ownership_relation(world.account.public_key), [world.account.secret],
                  Transcript(b"elsewhere"))  # fmt: skip
    bad = _edit(text, lambda b: b.update(ownership_proof=b64encode(stray.to_bytes())))
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, bad)


def test_opening_of_another_value_cannot_be_proved(world: World) -> None:
    """Sanity for the forger above: a too-young holder's entry has no range proof at all."""
    young = issue_book(world.issuer, "age", date(2010, 1, 1), issued=date(2026, 1, 1),
                       expires=date(2027, 1, 1), count=1, rng=_rng("young"))  # fmt: skip
    challenge = Challenge("shop", bytes(range(32)), TODAY, Statement.AGE, 18)
    with pytest.raises(InvalidInput, match="does not satisfy"):
        present(challenge, entry=young.entries[0])
    # and a presentation claiming the young holder's credential with a proof for a valid one fails
    good = present(challenge, entry=world.ages.entries[3])
    swapped = replace(good, credential=young.entries[0].credential)
    trust = world.trust
    with pytest.raises(VerificationFailed):
        pres_mod.verify_presentation(swapped, challenge, trust)


def test_identity_blinding_tricks_rejected(world: World) -> None:
    """A credential whose commitment the holder re-randomised (C + h) no longer carries the
    issuer's signature."""
    entry = world.ages.entries[4]
    p = PedersenParams.default()
    moved = replace(entry.credential, commitment=entry.credential.commitment + p.h)
    challenge = Challenge("shop", bytes(range(32)), TODAY, Statement.AGE, 18)
    text = _forge(challenge, BookEntry(moved, entry.value, entry.blinding + Scalar.from_int(1)),
                  Statement.AGE)  # fmt: skip
    with pytest.raises(VerificationFailed):
        pres_mod.verify_presentation(text, challenge, world.trust)


def test_credential_parse_helper_is_strict() -> None:
    with pytest.raises(InvalidInput):
        Credential.from_dict({"version": 1})


def _anonymous(world: World, store: NonceStore, n: int = 4) -> tuple[Challenge, str, list[Point]]:
    keys = [AccountKey.generate(_rng(f"member{i}")).public_key for i in range(n - 1)]
    keys.insert(1, world.account.public_key)
    challenge = store.issue(verifier="registry", statement="ownership", threshold=0, on=TODAY,
                            now=NOW, anonymity_set=keys)  # fmt: skip
    return challenge, present(challenge, account=world.account).to_json(), keys


def test_anonymity_set_baseline_verifies(world: World, store: NonceStore) -> None:
    _, text, _ = _anonymous(world, store)
    _verify(store, world.trust, text)


def test_anonymous_ownership_answered_for_another_set(world: World, store: NonceStore) -> None:
    """The holder proves membership in a set of its choosing; the verifier uses its own set."""
    challenge, _, _ = _anonymous(world, store)
    mine = (world.account.public_key, AccountKey.generate(_rng("sock")).public_key)
    text = present(replace(challenge, anonymity_set=mine), account=world.account).to_json()
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, text)


def test_anonymous_ownership_or_proof_flipped(world: World, store: NonceStore) -> None:
    for index in (6, 40, -1):
        _, text, _ = _anonymous(world, store)

        def flip(body: dict[str, Any], i: int = index) -> None:
            body["ownership_proof"] = _flip(body["ownership_proof"], i)

        with pytest.raises(VerificationFailed):
            _verify(store, world.trust, _edit(text, flip))


def test_anonymous_ownership_answered_with_a_plain_schnorr_proof(
    world: World, store: NonceStore
) -> None:
    """Revealing the key (a Schnorr proof instead of the OR proof) does not answer the challenge."""
    challenge, _, _ = _anonymous(world, store)
    plain = present(replace(challenge, anonymity_set=()), account=world.account).to_json()
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, plain)


def test_anonymous_ownership_by_an_outsider(world: World, store: NonceStore) -> None:
    """An outsider (no key of the set) can only prove for a set with its own key swapped in."""
    challenge, _, keys = _anonymous(world, store)
    outsider = AccountKey.generate(_rng("outsider"))
    swapped = tuple(outsider.public_key if k == world.account.public_key else k for k in keys)
    text = present(replace(challenge, anonymity_set=swapped), account=outsider).to_json()
    with pytest.raises(VerificationFailed):
        _verify(store, world.trust, text)
