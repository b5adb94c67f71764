"""Issuer keys, credential books, trust stores, the holder's wallet, the verifier's nonce store, and
honest presentations for the three statements (age, balance, ownership)."""

from __future__ import annotations

import hashlib
import multiprocessing
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from petsuite.core.errors import (
    IntegrityError,
    InvalidInput,
    PolicyViolation,
    VerificationFailed,
)
from petsuite.core.rng import DeterministicRandom
from petsuite.zkp.credentials import (
    AccountKey,
    BookEntry,
    Credential,
    CredentialBook,
    CredentialType,
    IssuerKey,
    IssuerPublicKey,
    TrustedIssuer,
    TrustStore,
    Wallet,
    attribute_value,
    days_since_epoch,
    issue_book,
)
from petsuite.zkp.pedersen import commit
from petsuite.zkp.presentation import (
    Challenge,
    Presentation,
    Statement,
    age_cutoff,
    present,
    verify_presentation,
)
from petsuite.zkp.verifier_store import NonceStore

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def _rng(tag: str) -> DeterministicRandom:
    return DeterministicRandom(tag.encode().ljust(32, b"."), insecure_for_testing=True)


@pytest.fixture(scope="module")
def issuer() -> IssuerKey:
    return IssuerKey.generate(_rng("issuer"))


@pytest.fixture(scope="module")
def trust(issuer: IssuerKey) -> TrustStore:
    return TrustStore([TrustedIssuer("registry", issuer.public_key, date(2026, 1, 1),
                                     date(2028, 1, 1))])  # fmt: skip


def _book(
    issuer: IssuerKey, kind: str, value: Any, count: int = 3, tag: str = "b"
) -> CredentialBook:
    return issue_book(issuer, kind, value, issued=date(2026, 1, 1), expires=date(2026, 12, 31),
                      count=count, rng=_rng(tag))  # fmt: skip


def _challenge(statement: Statement, threshold: int, on: date = TODAY) -> Challenge:
    return Challenge("shop", bytes(range(32)), on, statement, threshold)


# --------------------------------------------------------------------------- issuer keys


def test_issuer_key_pem_round_trip_and_id(tmp_path: Path, issuer: IssuerKey) -> None:
    assert issuer.issuer_id == hashlib.sha256(issuer.public_key.raw).digest()
    path = tmp_path / "issuer.pem"
    issuer.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert IssuerKey.load(path).issuer_id == issuer.issuer_id
    with pytest.raises(InvalidInput, match="refusing to overwrite"):
        issuer.save(path)
    locked = tmp_path / "locked.pem"
    issuer.save(locked, b"correct horse battery staple")
    assert b"ENCRYPTED" in locked.read_bytes()
    assert IssuerKey.load(locked, b"correct horse battery staple").issuer_id == issuer.issuer_id
    with pytest.raises(InvalidInput):
        IssuerKey.load(locked, b"wrong")
    pub = issuer.public_key.to_pem()
    assert IssuerPublicKey.from_pem(pub) == issuer.public_key
    with pytest.raises(InvalidInput):
        IssuerPublicKey.from_pem(b"not a key")
    assert "PRIVATE" not in repr(issuer)


def test_issuer_keys_come_from_the_rng() -> None:
    a = IssuerKey.generate(_rng("same"))
    b = IssuerKey.generate(_rng("same"))
    assert a.issuer_id == b.issuer_id
    assert IssuerKey.generate().issuer_id != a.issuer_id


# --------------------------------------------------------------------------- credentials and books


def test_attribute_values() -> None:
    assert days_since_epoch(date(1970, 1, 1)) == 0
    assert days_since_epoch(date(1969, 12, 31)) == -1
    assert attribute_value(CredentialType.AGE, date(2000, 1, 1)) == 10957
    assert attribute_value(CredentialType.BALANCE, 12_345) == 12_345
    for bad in ((CredentialType.AGE, 5), (CredentialType.BALANCE, date(2000, 1, 1)),
                (CredentialType.BALANCE, True), (CredentialType.BALANCE, 2**64)):  # fmt: skip
        with pytest.raises(InvalidInput):
            attribute_value(*bad)


def test_book_entries_are_independent_signed_commitments(issuer: IssuerKey) -> None:
    book = _book(issuer, "age", date(1990, 2, 3), count=5)
    commitments = {e.credential.commitment for e in book.entries}
    assert len(commitments) == 5  # fresh blindings: entries do not link to each other
    assert len({e.credential.credential_id for e in book.entries}) == 5
    for entry in book.entries:
        entry.credential.verify_signature(issuer.public_key)
        assert entry.credential.attribute == "date_of_birth"
        assert commit(entry.value, entry.blinding) == entry.credential.commitment
    # the signature covers every field
    cred = book.entries[0].credential
    for changed in (
        Credential(**{**_fields(cred), "expires": date(2030, 1, 1)}),
        Credential(**{**_fields(cred), "issued": date(2025, 1, 1)}),
        Credential(
            **{**_fields(cred), "credential_type": CredentialType.BALANCE, "attribute": "balance"}
        ),
        Credential(**{**_fields(cred), "commitment": book.entries[1].credential.commitment}),
    ):
        with pytest.raises(VerificationFailed):
            changed.verify_signature(issuer.public_key)
    other = IssuerKey.generate(_rng("other"))
    with pytest.raises(VerificationFailed):
        cred.verify_signature(other.public_key)


def _fields(cred: Credential) -> dict[str, Any]:
    return {
        "credential_type": cred.credential_type, "issuer_id": cred.issuer_id,
        "attribute": cred.attribute, "commitment": cred.commitment, "issued": cred.issued,
        "expires": cred.expires, "signature": cred.signature,
    }  # fmt: skip


def test_book_json_round_trip_and_file_mode(tmp_path: Path, issuer: IssuerKey) -> None:
    book = _book(issuer, "balance", 98_765, count=2)
    path = tmp_path / "book.json"
    book.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = CredentialBook.load(path)
    assert [e.credential for e in again.entries] == [e.credential for e in book.entries]
    assert [e.value for e in again.entries] == [98_765, 98_765]
    assert "98765" not in repr(again) and "98765" not in repr(again.entries[0])


def test_book_with_a_wrong_opening_is_refused(issuer: IssuerKey) -> None:
    book = _book(issuer, "balance", 500)
    text = book.to_json().replace('"value":500', '"value":501', 1)
    with pytest.raises(InvalidInput, match="opening"):
        CredentialBook.from_json(text)
    with pytest.raises(InvalidInput):
        CredentialBook.from_json("{}")
    mixed = (book.entries[0], _book(issuer, "balance", 501, 1, "x").entries[0])
    with pytest.raises(InvalidInput, match="one type, issuer and value"):
        CredentialBook(mixed)


def test_issue_book_validates(issuer: IssuerKey) -> None:
    with pytest.raises(InvalidInput):
        issue_book(issuer, "age", date(2000, 1, 1), issued=TODAY, expires=TODAY, count=0)
    with pytest.raises(InvalidInput):
        issue_book(issuer, "age", date(2000, 1, 1), issued=TODAY,
                   expires=TODAY - timedelta(days=1))  # fmt: skip
    with pytest.raises(InvalidInput, match="unknown credential type"):
        issue_book(issuer, "height", 180, issued=TODAY, expires=TODAY)


# --------------------------------------------------------------------------- trust store


def test_trust_store_round_trip_and_lookup(tmp_path: Path, issuer: IssuerKey) -> None:
    store = TrustStore()
    store.add(TrustedIssuer("registry", issuer.public_key, date(2026, 1, 1), date(2026, 12, 31)))
    path = tmp_path / "trust.json"
    store.save(path)
    loaded = TrustStore.load(path)
    assert [i.name for i in loaded] == ["registry"]
    assert loaded.find(issuer.issuer_id, on=TODAY).name == "registry"
    with pytest.raises(VerificationFailed):
        loaded.find(issuer.issuer_id, on=date(2027, 1, 1))
    with pytest.raises(VerificationFailed):
        loaded.find(bytes(32), on=TODAY)
    with pytest.raises(InvalidInput, match="another name"):
        loaded.add(TrustedIssuer("alias", issuer.public_key, TODAY, TODAY))
    with pytest.raises(InvalidInput):
        TrustStore.from_json(path.read_text().replace('"issuers"', '"issuer"'))
    loaded.remove("registry")
    assert len(loaded) == 0


# --------------------------------------------------------------------------- wallet


def test_wallet_hands_out_each_credential_once(tmp_path: Path, issuer: IssuerKey) -> None:
    path = tmp_path / "wallet.db"
    book = _book(issuer, "age", date(2001, 3, 4), count=2)
    with Wallet(path) as wallet:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert wallet.add_book(book) == 2
        assert wallet.add_book(book) == 0  # idempotent
        assert wallet.remaining("age", on=TODAY) == 2
        first = wallet.take("age", on=TODAY)
        second = wallet.take(CredentialType.AGE, on=TODAY, issuer_id=issuer.issuer_id)
        assert first.credential != second.credential
        with pytest.raises(PolicyViolation, match="new book"):
            wallet.take("age", on=TODAY)
        with pytest.raises(PolicyViolation):
            wallet.take("balance", on=TODAY)
    with Wallet(path) as wallet:  # the marks persist
        assert wallet.remaining("age", on=TODAY) == 0


def test_wallet_skips_credentials_not_valid_on_the_date(tmp_path: Path, issuer: IssuerKey) -> None:
    with Wallet(tmp_path / "w.db") as wallet:
        wallet.add_book(_book(issuer, "balance", 10))
        assert wallet.remaining("balance", on=date(2027, 1, 1)) == 0
        with pytest.raises(PolicyViolation):
            wallet.take("balance", on=date(2025, 12, 31))
        assert wallet.take("balance", on=TODAY).value == 10


def _take_many(path: str, n: int, out: Any) -> None:
    taken = []
    with Wallet(path) as wallet:
        for _ in range(n):
            try:
                taken.append(wallet.take("age", on=TODAY).credential.credential_id.hex())
            except PolicyViolation:
                break
    out.put(taken)


def test_wallet_is_atomic_across_processes(tmp_path: Path, issuer: IssuerKey) -> None:
    path = tmp_path / "shared.db"
    with Wallet(path) as wallet:
        wallet.add_book(_book(issuer, "age", date(1999, 9, 9), count=12, tag="many"))
    ctx = multiprocessing.get_context("spawn")
    out: Any = ctx.Queue()
    procs = [ctx.Process(target=_take_many, args=(str(path), 8, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    taken = results[0] + results[1]
    assert len(taken) == 12 and len(set(taken)) == 12  # every entry exactly once


def test_wallet_refuses_a_foreign_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    path.write_bytes(b"this is not sqlite at all, just text" * 10)
    with pytest.raises(IntegrityError):
        Wallet(path)


# --------------------------------------------------------------------------- account keys


def test_account_key_file(tmp_path: Path) -> None:
    key = AccountKey.generate(_rng("acct"))
    path = tmp_path / "account.json"
    key.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert AccountKey.load(path).public_key == key.public_key
    with pytest.raises(InvalidInput):
        key.save(path)
    text = path.read_text()
    other = AccountKey.generate(_rng("other")).public_key.to_bytes()
    from petsuite.zkp.credentials import b64encode

    pub = b64encode(key.public_key.to_bytes())
    with pytest.raises(InvalidInput, match="inconsistent"):
        AccountKey.from_json(text.replace(pub, b64encode(other)))


# --------------------------------------------------------------------------- verifier store


def test_nonce_store_consumes_exactly_once(tmp_path: Path) -> None:
    with NonceStore(tmp_path / "v.db") as store:
        challenge = store.issue(verifier="shop", statement="age", threshold=18, on=TODAY, now=NOW,
                                rng=_rng("nonce"))  # fmt: skip
        other = store.issue(verifier="shop", statement="balance", threshold=5, on=TODAY, now=NOW)
        assert len(challenge.nonce) == 32 and challenge.nonce != other.nonce
        assert store.pending(now=NOW) == 2
        assert store.consume(challenge.nonce, now=NOW + timedelta(minutes=1)) == challenge
        with pytest.raises(VerificationFailed):
            store.consume(challenge.nonce, now=NOW + timedelta(minutes=1))
        with pytest.raises(VerificationFailed):  # expired
            store.consume(other.nonce, now=NOW + timedelta(minutes=11))
        with pytest.raises(VerificationFailed):
            store.consume(bytes(32), now=NOW)
        with pytest.raises(VerificationFailed):
            store.consume(b"short", now=NOW)
        with pytest.raises(InvalidInput):
            store.consume(other.nonce, now=datetime(2026, 11, 26))  # naive time refused
        store.mark_credential(b"\x01" * 32, now=NOW)
        with pytest.raises(VerificationFailed):
            store.mark_credential(b"\x01" * 32, now=NOW)
        assert store.purge(now=NOW + timedelta(hours=1)) == 2
        with pytest.raises(InvalidInput):
            store.issue(verifier="shop", statement="age", threshold=18, on=TODAY, now=NOW,
                        ttl=timedelta(0))  # fmt: skip


def _consume(path: str, nonce: bytes, out: Any) -> None:
    with NonceStore(path) as store:
        try:
            store.consume(nonce, now=NOW)
            out.put(True)
        except VerificationFailed:
            out.put(False)


def test_nonce_consumed_once_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    with NonceStore(path) as store:
        challenge = store.issue(verifier="shop", statement="age", threshold=18, on=TODAY, now=NOW)
    ctx = multiprocessing.get_context("spawn")
    out: Any = ctx.Queue()
    procs = [ctx.Process(target=_consume, args=(str(path), challenge.nonce, out)) for _ in range(3)]
    for p in procs:
        p.start()
    results = sorted(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(30)
    assert results == [False, False, True]


# --------------------------------------------------------------------------- presentations


@pytest.mark.parametrize(
    ("on", "years", "cutoff"),
    [
        (date(2026, 11, 26), 18, date(2008, 11, 26)),
        (date(2028, 2, 29), 18, date(2010, 2, 28)),  # 29 Feb, common target year
        (date(2028, 2, 29), 20, date(2008, 2, 29)),  # 29 Feb, leap target year
        (date(2026, 3, 1), 18, date(2008, 3, 1)),
        (date(2026, 1, 1), 0, date(2026, 1, 1)),
    ],
)
def test_age_cutoff(on: date, years: int, cutoff: date) -> None:
    assert age_cutoff(on, years) == cutoff


def test_born_on_29_february_comes_of_age_on_1_march(issuer: IssuerKey, trust: TrustStore) -> None:
    book = issue_book(issuer, "age", date(2008, 2, 29), issued=date(2026, 1, 1),
                      expires=date(2026, 12, 31), count=2, rng=_rng("leap"))  # fmt: skip
    with pytest.raises(InvalidInput, match="does not satisfy"):
        present(_challenge(Statement.AGE, 18, date(2026, 2, 28)), entry=book.entries[0])
    challenge = _challenge(Statement.AGE, 18, date(2026, 3, 1))
    claim = verify_presentation(present(challenge, entry=book.entries[1]), challenge, trust)
    assert claim.describe().startswith("age >= 18 years on 2026-03-01")


def test_age_boundary_is_exact(issuer: IssuerKey, trust: TrustStore) -> None:
    """18 today exactly passes; one day short fails (no proof can be made)."""
    exact = _book(issuer, "age", date(2008, 11, 26), 1, "exact")
    short = _book(issuer, "age", date(2008, 11, 27), 1, "short")
    challenge = _challenge(Statement.AGE, 18)
    verify_presentation(present(challenge, entry=exact.entries[0]).to_json(), challenge, trust)
    with pytest.raises(InvalidInput):
        present(challenge, entry=short.entries[0])


def test_age_presentation_reveals_no_date_of_birth(issuer: IssuerKey, trust: TrustStore) -> None:
    dob = date(1987, 6, 15)
    book = _book(issuer, "age", dob, 1, "dob")
    challenge = _challenge(Statement.AGE, 21)
    text = present(challenge, entry=book.entries[0]).to_json()
    for needle in (dob.isoformat(), str(days_since_epoch(dob)), "1987"):
        assert needle not in text
    claim = verify_presentation(text, challenge, trust)
    assert claim.issuer == "registry" and claim.threshold == 21
    assert Presentation.from_json(text).to_json() == text  # canonical round trip


def test_balance_presentation(issuer: IssuerKey, trust: TrustStore) -> None:
    book = _book(issuer, "balance", 1_000_000, 3, "bal")
    challenge = _challenge(Statement.BALANCE, 1_000_000)  # exactly enough
    claim = verify_presentation(present(challenge, entry=book.entries[0]), challenge, trust)
    assert claim.statement is Statement.BALANCE and claim.account_key is None
    with pytest.raises(InvalidInput):
        present(_challenge(Statement.BALANCE, 1_000_001), entry=book.entries[1])
    with pytest.raises(InvalidInput, match="cannot prove"):
        present(_challenge(Statement.AGE, 18), entry=book.entries[2])


def test_balance_bound_to_an_account_key(issuer: IssuerKey, trust: TrustStore) -> None:
    book = _book(issuer, "balance", 5_000, 1, "acct-bal")
    account = AccountKey.generate(_rng("bound"))
    challenge = Challenge("bank", bytes(32), TODAY, Statement.BALANCE, 100, account.public_key)
    claim = verify_presentation(
        present(challenge, entry=book.entries[0], account=account), challenge, trust
    )
    assert claim.account_key == account.public_key.to_bytes()
    assert "holder controls account key" in claim.describe()
    with pytest.raises(InvalidInput, match="another account key"):
        present(challenge, entry=book.entries[0], account=AccountKey.generate())


def test_ownership_presentation(trust: TrustStore) -> None:
    account = AccountKey.generate(_rng("own"))
    challenge = _challenge(Statement.OWNERSHIP, 0)
    pres = present(challenge, account=account)
    assert pres.credential is None and pres.range_proof is None
    claim = verify_presentation(pres.to_json(), challenge, TrustStore())
    assert claim.account_key == account.public_key.to_bytes() and claim.issuer is None
    assert account.secret.to_bytes().hex() not in pres.to_json()
    with pytest.raises(InvalidInput):
        present(challenge)
    with pytest.raises(InvalidInput):
        Challenge("shop", bytes(32), TODAY, Statement.OWNERSHIP, 5)


def test_challenge_json_round_trip() -> None:
    account = AccountKey.generate(_rng("c"))
    challenge = Challenge("shop", bytes(range(32)), TODAY, Statement.OWNERSHIP, 0,
                          account.public_key)  # fmt: skip
    assert Challenge.from_json(challenge.to_json()) == challenge
    for bad in ("", "{}", challenge.to_json().replace('"ownership"', '"height"')):
        with pytest.raises(InvalidInput):
            Challenge.from_json(bad)
    with pytest.raises(InvalidInput):
        Challenge("shop", bytes(31), TODAY, Statement.AGE, 18)
    with pytest.raises(InvalidInput):
        Challenge("shop", bytes(32), TODAY, Statement.AGE, 151)


def test_presentations_from_one_book_share_no_value(issuer: IssuerKey) -> None:
    """Unlinkability of book entries: two presentations share no encoded field beyond the public
    statement, issuer and dates (the commitments, signatures and proofs all differ)."""
    book = _book(issuer, "age", date(1995, 1, 1), 2, "unlink")
    a = present(_challenge(Statement.AGE, 18), entry=book.entries[0]).to_dict()
    b = present(_challenge(Statement.AGE, 18), entry=book.entries[1]).to_dict()
    for field in ("commitment", "signature"):
        assert a["credential"][field] != b["credential"][field]
    assert a["range_proof"] != b["range_proof"]
    assert a["credential"]["issuer"] == b["credential"]["issuer"]


def test_book_entry_opening_checked(issuer: IssuerKey) -> None:
    entry = _book(issuer, "age", date(1995, 1, 1), 1, "o").entries[0]
    wrong = BookEntry(entry.credential, entry.value + 1, entry.blinding)
    with pytest.raises(InvalidInput, match="opening"):
        present(_challenge(Statement.AGE, 18), entry=wrong)


# --------------------------------------------------------------------------- anonymity sets


def _keys(n: int, tag: str) -> list[AccountKey]:
    return [AccountKey.generate(_rng(f"{tag}{i}")) for i in range(n)]


def test_ownership_within_an_anonymity_set(issuer: IssuerKey, trust: TrustStore) -> None:
    accounts = _keys(5, "anon")
    holder = accounts[3]
    keys = tuple(a.public_key for a in accounts)
    challenge = Challenge("registry", bytes(32), TODAY, Statement.OWNERSHIP, 0, anonymity_set=keys)
    pres = present(challenge, account=holder)
    assert pres.account_key is None
    text = pres.to_json()
    for key in keys:
        assert key.to_bytes().hex() not in text
    claim = verify_presentation(text, challenge, TrustStore())
    assert claim.account_key is None and claim.anonymity_set_size == 5
    assert claim.describe() == "controls one of 5 account keys (not which)"
    outsider = AccountKey.generate(_rng("outsider"))
    with pytest.raises(InvalidInput, match="not in the verifier's anonymity set"):
        present(challenge, account=outsider)
    # a balance bound to one account of the set, without saying which
    book = _book(issuer, "balance", 7_000, 1, "anon-bal")
    challenge = Challenge("bank", bytes(32), TODAY, Statement.BALANCE, 5_000, anonymity_set=keys)
    claim = verify_presentation(
        present(challenge, entry=book.entries[0], account=holder), challenge, trust
    )
    assert "one of 5 account keys" in claim.describe()


def test_anonymity_set_validation_and_storage(tmp_path: Path) -> None:
    keys = tuple(a.public_key for a in _keys(3, "v"))
    with pytest.raises(InvalidInput, match="2 to"):
        Challenge("r", bytes(32), TODAY, Statement.OWNERSHIP, 0, anonymity_set=keys[:1])
    with pytest.raises(InvalidInput, match="distinct"):
        Challenge("r", bytes(32), TODAY, Statement.OWNERSHIP, 0, anonymity_set=(keys[0], keys[0]))
    with pytest.raises(InvalidInput, match="not both"):
        Challenge("r", bytes(32), TODAY, Statement.OWNERSHIP, 0, keys[0], keys)
    challenge = Challenge("r", bytes(32), TODAY, Statement.OWNERSHIP, 0, anonymity_set=keys)
    assert Challenge.from_json(challenge.to_json()) == challenge
    with NonceStore(tmp_path / "v.db") as store:
        issued = store.issue(verifier="r", statement="ownership", threshold=0, on=TODAY, now=NOW,
                             anonymity_set=keys)  # fmt: skip
        assert store.consume(issued.nonce, now=NOW).anonymity_set == keys
