"""The HE key store: encrypted-at-rest secrets, life cycle, audit, and re-keying encrypted columns."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from petsuite.core.audit import AuditLog
from petsuite.core.encoding import decode_parts, encode_parts
from petsuite.core.errors import (
    IntegrityError,
    InvalidInput,
    UnsupportedParameter,
    VerificationFailed,
)
from petsuite.he.keys import (
    COLUMN_MAGIC,
    KDF_MIN_N,
    EncryptedColumn,
    KeyStatus,
    KeyStore,
    ScryptParams,
    decrypt_column,
    key_id_for,
    read_encrypted_column,
    rekey_column,
    write_encrypted_column,
)
from petsuite.primitives.paillier import PaillierPrivateKey

BITS = 1024
FAST_KDF = ScryptParams(n=2**12)
PW_A = "correct horse battery staple"
PW_B = "a different long passphrase"
VALUES = [0.0, 1.5, -2.25, 1234.0625, -0.5, 3e6, 7.0]


def fixed_clock() -> datetime:
    return datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[AuditLog]:
    log = AuditLog(tmp_path / "audit.sqlite")
    yield log
    log.close()


@pytest.fixture
def store(tmp_path: Path, audit: AuditLog) -> Iterator[KeyStore]:
    ks = KeyStore(
        tmp_path / "keys",
        audit=audit,
        actor="tester",
        clock=fixed_clock,
        kdf=FAST_KDF,
        insecure_for_testing=True,
    )
    yield ks
    ks.close()


def primes_of(key: PaillierPrivateKey) -> tuple[int, int]:
    parts = decode_parts(key.to_bytes())
    return int.from_bytes(parts[2], "big"), int.from_bytes(parts[3], "big")


def db_bytes(path: Path) -> bytes:
    """A SQLite database's bytes, with its WAL and journal files (where recent writes live)."""
    out = b""
    for suffix in ("", "-wal", "-journal", "-shm"):
        candidate = Path(str(path) + suffix)
        if candidate.exists():
            out += candidate.read_bytes()
    return out


def secret_file(store: KeyStore, key_id: str) -> Path:
    return store.directory / f"{key_id}.secret"


# --- storing and loading --------------------------------------------------------------------------


def test_paillier_round_trip(store: KeyStore) -> None:
    info = store.generate_paillier(BITS, passphrase=PW_A, note="payroll 2026")
    public = store.public_bytes(info.key_id)
    assert info.key_id == key_id_for(public) == hashlib.sha256(public).hexdigest()[:32]
    assert info.fingerprint == hashlib.sha256(public).hexdigest()
    assert info.scheme == "paillier"
    assert info.status is KeyStatus.ACTIVE
    assert info.created == "2026-01-02T03:04:05+00:00"
    assert info.note == "payroll 2026"
    sk = store.load_paillier_private(info.key_id, PW_A)
    assert sk.bits == BITS
    assert sk.public_key.to_bytes() == public
    assert store.load_paillier_public(info.key_id) == sk.public_key
    assert sk.decrypt(sk.public_key.encrypt(42)) == 42
    assert (
        PaillierPrivateKey.from_bytes(
            store.load_secret(info.key_id, PW_A), insecure_for_testing=True
        )
        == sk
    )
    assert store.info(info.key_id) == info
    assert store.list() == [info]


def test_generic_secret_round_trip_with_bytes_passphrase(store: KeyStore) -> None:
    secret, public = b"\x00opaque secret\xff" * 10, b"evaluation context bytes"
    info = store.store_secret("ckks", secret, public, PW_A.encode(), note="ckks keyring")
    assert info.scheme == "ckks"
    assert info.key_id == key_id_for(public)
    assert store.load_secret(info.key_id, PW_A.encode()) == secret
    assert store.load_secret(info.key_id, PW_A) == secret  # str and its UTF-8 bytes agree
    assert store.public_bytes(info.key_id) == public
    with pytest.raises(InvalidInput, match="ckks key, not paillier"):
        store.load_paillier_private(info.key_id, PW_A)
    with pytest.raises(InvalidInput, match="already in this key store"):
        store.store_secret("ckks", b"another secret", public, PW_B)
    assert store.load_secret(info.key_id, PW_A) == secret  # the stored key's files are untouched


def test_failed_store_leaves_nothing(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite")
    ks = KeyStore(tmp_path / "ks", audit=log, kdf=FAST_KDF, insecure_for_testing=True)
    log.close()  # the audit append inside the index transaction now fails
    with pytest.raises(Exception, match="closed"):
        ks.store_secret("ckks", b"secret", b"public", PW_A)
    assert ks.list() == []
    assert (
        sorted(p.name for p in ks.directory.iterdir() if not p.name.startswith("keys.sqlite")) == []
    )
    ks.close()


def test_passphrase_is_nfc_normalised(store: KeyStore) -> None:
    composed, decomposed = (
        "caf\u00e9 au lait, s'il vous pla\u00eet",
        "cafe\u0301 au lait, s'il vous plai\u0302t",
    )
    info = store.store_secret("bfv", b"s" * 32, b"p1", composed)
    assert store.load_secret(info.key_id, decomposed) == b"s" * 32


def test_keystore_reopens(tmp_path: Path) -> None:
    with KeyStore(tmp_path / "ks", kdf=FAST_KDF, insecure_for_testing=True) as ks:
        info = ks.store_secret("ckks", b"secret", b"public", PW_A)
    with KeyStore(tmp_path / "ks", kdf=FAST_KDF, insecure_for_testing=True) as ks:
        assert ks.list() == [info]
        assert ks.load_secret(info.key_id, PW_A) == b"secret"


# --- refusals -------------------------------------------------------------------------------------


def test_wrong_passphrase_is_verification_failed(store: KeyStore) -> None:
    info = store.generate_paillier(BITS, passphrase=PW_A)
    with pytest.raises(VerificationFailed) as excinfo:
        store.load_secret(info.key_id, PW_B)
    assert PW_B not in str(excinfo.value)
    assert PW_A not in str(excinfo.value)
    with pytest.raises(VerificationFailed):
        store.load_paillier_private(info.key_id, PW_A + "!")


@pytest.mark.parametrize("where", ["magic", "length", "header", "salt", "body", "tag"])
def test_flipped_byte_is_verification_failed(store: KeyStore, where: str) -> None:
    info = store.generate_paillier(BITS, passphrase=PW_A)
    path = secret_file(store, info.key_id)
    data = bytearray(path.read_bytes())
    header_len = int.from_bytes(data[16:24], "big")  # magic(8), outer length(8), header length(8)
    offsets = {
        "magic": 3,
        "length": 20,
        "header": 24 + 40,
        "salt": 24 + header_len - 40,
        "body": len(data) - 100,
        "tag": len(data) - 1,
    }
    data[offsets[where]] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(VerificationFailed) as excinfo:
        store.load_secret(info.key_id, PW_A)
    assert str(excinfo.value) == (
        "could not unlock the secret key (wrong passphrase or damaged key file)"
    )


def test_truncated_and_swapped_secret_files(store: KeyStore) -> None:
    a = store.generate_paillier(BITS, passphrase=PW_A)
    b = store.generate_paillier(BITS, passphrase=PW_A)
    path_a, path_b = secret_file(store, a.key_id), secret_file(store, b.key_id)
    original = path_a.read_bytes()
    path_a.write_bytes(original[:-17])
    with pytest.raises(VerificationFailed):
        store.load_secret(a.key_id, PW_A)
    path_a.write_bytes(path_b.read_bytes())  # b's file under a's name, same passphrase
    with pytest.raises(VerificationFailed):
        store.load_secret(a.key_id, PW_A)
    path_a.write_bytes(original)
    assert store.load_paillier_private(a.key_id, PW_A).public_key.to_bytes() == store.public_bytes(
        a.key_id
    )


def test_tampered_public_material_is_integrity_error(store: KeyStore) -> None:
    info = store.store_secret("ckks", b"secret", b"public material", PW_A)
    (store.directory / f"{info.key_id}.public").write_bytes(b"public materiaL")
    with pytest.raises(IntegrityError, match="altered"):
        store.public_bytes(info.key_id)


def test_file_modes(store: KeyStore) -> None:
    info = store.generate_paillier(BITS, passphrase=PW_A)
    path = secret_file(store, info.key_id)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.directory).st_mode) == 0o700
    store.change_passphrase(info.key_id, PW_A, PW_B)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    leftovers = [p.name for p in store.directory.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_short_passphrase_refused(store: KeyStore) -> None:
    short = "elevenchars"
    assert len(short) == 11
    for bad in (short, short.encode()):
        with pytest.raises(UnsupportedParameter) as excinfo:
            store.generate_paillier(BITS, passphrase=bad)
        assert short not in str(excinfo.value)
        with pytest.raises(UnsupportedParameter):
            store.store_secret("ckks", b"s", b"p", bad)
    with pytest.raises(InvalidInput, match="str or bytes"):
        store.store_secret("ckks", b"s", b"p", 123456789012345)  # type: ignore[arg-type]
    info = store.store_secret("ckks", b"s", b"p", "twelve chars")
    with pytest.raises(UnsupportedParameter):
        store.change_passphrase(info.key_id, "twelve chars", short)
    assert store.list() == [info]  # nothing half-stored by the refusals


def test_kdf_cost_floor(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedParameter, match="below the floor"):
        KeyStore(tmp_path / "a", kdf=ScryptParams(n=2**12))
    with pytest.raises(UnsupportedParameter):
        ScryptParams(n=3000)
    with pytest.raises(UnsupportedParameter):
        ScryptParams(n=2**21)
    with KeyStore(tmp_path / "b", kdf=ScryptParams(n=KDF_MIN_N)) as ks:
        assert ks.kdf.n == KDF_MIN_N
        with pytest.raises(UnsupportedParameter):
            ks.generate_paillier(1024, passphrase=PW_A)  # small keys need insecure_for_testing


def test_revoked_key_refused(store: KeyStore, audit: AuditLog) -> None:
    info = store.generate_paillier(BITS, passphrase=PW_A)
    revoked = store.revoke(info.key_id, "laptop lost")
    assert revoked.status is KeyStatus.REVOKED
    assert revoked.revoked_reason == "laptop lost"
    with pytest.raises(UnsupportedParameter, match="revoked"):
        store.load_secret(info.key_id, PW_A)
    with pytest.raises(UnsupportedParameter, match="revoked"):
        store.load_paillier_private(info.key_id, PW_A)
    assert store.load_paillier_private(info.key_id, PW_A, allow_revoked=True).bits == BITS
    with pytest.raises(InvalidInput, match="already revoked"):
        store.revoke(info.key_id, "again")
    with pytest.raises(UnsupportedParameter):
        store.rotate_paillier(info.key_id, PW_A, PW_B)
    assert [e.operation for e in audit.entries()] == ["he.key.generate", "he.key.revoke"]


def test_unknown_and_malformed_ids(store: KeyStore) -> None:
    with pytest.raises(InvalidInput, match="no key"):
        store.info("0" * 32)
    for bad in ("../../etc/passwd", "A" * 32, "0" * 31, ""):
        with pytest.raises(InvalidInput, match="32 lowercase hex"):
            store.load_secret(bad, PW_A)


def test_change_passphrase(store: KeyStore, audit: AuditLog) -> None:
    info = store.store_secret("ckks", b"the secret", b"the public", PW_A)
    before = secret_file(store, info.key_id).read_bytes()
    with pytest.raises(VerificationFailed):
        store.change_passphrase(info.key_id, PW_B, PW_A)
    store.change_passphrase(info.key_id, PW_A, PW_B)
    assert secret_file(store, info.key_id).read_bytes() != before
    with pytest.raises(VerificationFailed):
        store.load_secret(info.key_id, PW_A)
    assert store.load_secret(info.key_id, PW_B) == b"the secret"
    assert audit.entries()[-1].operation == "he.key.passphrase"


def test_repr_and_to_dict_hold_no_secret(store: KeyStore) -> None:
    info = store.generate_paillier(BITS, passphrase=PW_A)
    sk = store.load_paillier_private(info.key_id, PW_A)
    p, q = primes_of(sk)
    text = repr(info) + str(info.to_dict()) + repr(store)
    for needle in (str(p), format(p, "x"), str(q), PW_A):
        assert needle not in text
    assert set(info.to_dict()) == {
        "key_id",
        "scheme",
        "created",
        "status",
        "fingerprint",
        "superseded_by",
        "note",
        "status_changed",
        "revoked_reason",
    }


def test_audit_must_be_another_file(tmp_path: Path) -> None:
    (tmp_path / "ks").mkdir()
    log = AuditLog(tmp_path / "ks" / "keys.sqlite")
    try:
        with pytest.raises(InvalidInput, match="different file"):
            KeyStore(tmp_path / "ks", audit=log, kdf=FAST_KDF, insecure_for_testing=True)
    finally:
        log.close()


# --- rotation and re-keying -----------------------------------------------------------------------


def test_rotation_and_rekey(store: KeyStore, audit: AuditLog, tmp_path: Path) -> None:
    old = store.generate_paillier(BITS, passphrase=PW_A)
    old_sk = store.load_paillier_private(old.key_id, PW_A)
    path = tmp_path / "salary.col"
    column = write_encrypted_column(path, old_sk.public_key, VALUES, frac_bits=16, max_abs=2**30)
    assert column.key_id == old.key_id
    assert decrypt_column(read_encrypted_column(path), old_sk) == VALUES

    new = store.rotate_paillier(old.key_id, PW_A, PW_B, note="2026 rotation")
    assert new.status is KeyStatus.ACTIVE and new.key_id != old.key_id
    rotated = store.info(old.key_id)
    assert rotated.status is KeyStatus.ROTATED
    assert rotated.superseded_by == new.key_id
    with pytest.raises(InvalidInput, match="already rotated"):
        store.rotate_paillier(old.key_id, PW_A, PW_B)

    rekey_column(path, store, old.key_id, PW_A, new.key_id, PW_B)
    after = read_encrypted_column(path)
    assert after.key_id == new.key_id
    assert (after.count, after.frac_bits, after.bound) == (len(VALUES), 16, 2**46)
    new_sk = store.load_paillier_private(new.key_id, PW_B)
    assert decrypt_column(after, new_sk) == VALUES
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(
        InvalidInput, match=f"encrypted under key {new.key_id}, not under key {old.key_id}"
    ):
        decrypt_column(after, old_sk)

    entries = audit.entries()
    assert [e.operation for e in entries] == ["he.key.generate", "he.key.rotate", "he.rekey"]
    assert entries[1].parameters["old_key_id"] == old.key_id
    assert entries[1].parameters["new_key_id"] == new.key_id
    assert entries[2].parameters["file"] == "salary.col"
    assert entries[2].parameters["count"] == len(VALUES)
    assert all(e.actor == "tester" for e in entries)
    assert audit.verify().ok

    haystack = db_bytes(audit.path) + db_bytes(store.index_path)
    for sk in (old_sk, new_sk):
        for prime in primes_of(sk):
            for needle in (str(prime), format(prime, "x"), format(prime, "X")):
                assert needle.encode() not in haystack
            assert prime.to_bytes((prime.bit_length() + 7) // 8, "big") not in haystack
    for pw in (PW_A, PW_B):
        assert pw.encode() not in haystack


def test_rekey_refuses_column_under_another_key(store: KeyStore, tmp_path: Path) -> None:
    a = store.generate_paillier(BITS, passphrase=PW_A)
    b = store.generate_paillier(BITS, passphrase=PW_B)
    c = store.generate_paillier(BITS, passphrase=PW_B)
    pk_b = store.load_paillier_public(b.key_id)
    path = tmp_path / "col"
    write_encrypted_column(path, pk_b, VALUES)
    before = path.read_bytes()
    with pytest.raises(InvalidInput) as excinfo:
        rekey_column(path, store, a.key_id, PW_A, c.key_id, PW_B)
    assert a.key_id in str(excinfo.value) and b.key_id in str(excinfo.value)
    assert path.read_bytes() == before
    sk_a = store.load_paillier_private(a.key_id, PW_A)
    with pytest.raises(InvalidInput) as excinfo:
        decrypt_column(read_encrypted_column(path), sk_a)
    assert a.key_id in str(excinfo.value) and b.key_id in str(excinfo.value)


def test_relabelled_column_does_not_decrypt(store: KeyStore, tmp_path: Path) -> None:
    """A header that names key A over ciphertexts made under key B is caught on decryption."""
    a = store.generate_paillier(BITS, passphrase=PW_A)
    b = store.generate_paillier(BITS, passphrase=PW_A)
    col_b = write_encrypted_column(tmp_path / "b", store.load_paillier_public(b.key_id), VALUES)
    forged = EncryptedColumn(
        col_b.scheme,
        a.key_id,
        col_b.count,
        col_b.frac_bits,
        col_b.bound,
        col_b.ciphertext_size,
        col_b.data,
    )
    path = tmp_path / "forged"
    path.write_bytes(forged.to_bytes())
    sk_a = store.load_paillier_private(a.key_id, PW_A)
    with pytest.raises(InvalidInput, match=rf"under key {a.key_id} \(the file's key\)"):
        decrypt_column(read_encrypted_column(path), sk_a)


def test_rekey_from_revoked_key_and_to_inactive_key(store: KeyStore, tmp_path: Path) -> None:
    old = store.generate_paillier(BITS, passphrase=PW_A)
    new = store.generate_paillier(BITS, passphrase=PW_B)
    path = tmp_path / "col"
    write_encrypted_column(path, store.load_paillier_public(old.key_id), VALUES)
    with pytest.raises(VerificationFailed):
        rekey_column(path, store, old.key_id, PW_A, new.key_id, PW_A)
    store.revoke(old.key_id, "compromised")
    rekey_column(path, store, old.key_id, PW_A, new.key_id, PW_B)  # moving off a revoked key
    sk_new = store.load_paillier_private(new.key_id, PW_B)
    assert decrypt_column(read_encrypted_column(path), sk_new) == VALUES
    store.revoke(new.key_id, "test")
    with pytest.raises(UnsupportedParameter, match="not active"):
        rekey_column(path, store, new.key_id, PW_B, old.key_id, PW_A)


def test_rotate_generic_secret(store: KeyStore, audit: AuditLog) -> None:
    old = store.store_secret("ckks", b"old secret", b"old context", PW_A)
    with pytest.raises(VerificationFailed):
        store.rotate_secret(
            old.key_id, PW_B, secret_bytes=b"x", public_bytes=b"y", new_passphrase=PW_B
        )
    new = store.rotate_secret(
        old.key_id,
        PW_A,
        secret_bytes=b"new secret",
        public_bytes=b"new context",
        new_passphrase=PW_B,
    )
    assert new.scheme == "ckks"
    assert store.info(old.key_id).superseded_by == new.key_id
    assert store.load_secret(new.key_id, PW_B) == b"new secret"
    assert store.load_secret(old.key_id, PW_A) == b"old secret"  # rotated keys still load
    assert [e.operation for e in audit.entries()] == ["he.key.store", "he.key.rotate"]


# --- the column file format -----------------------------------------------------------------------


def test_column_garbage_is_invalid_input(store: KeyStore, tmp_path: Path) -> None:
    info = store.generate_paillier(BITS, passphrase=PW_A)
    path = tmp_path / "col"
    good = write_encrypted_column(path, store.load_paillier_public(info.key_id), VALUES).to_bytes()
    assert path.read_bytes() == good
    body = good[:-32]
    parts = decode_parts(body[len(COLUMN_MAGIC) :])

    def resealed(new_parts: list[bytes]) -> bytes:
        data = COLUMN_MAGIC + encode_parts(new_parts)
        return data + hashlib.sha256(data).digest()

    bad = {
        "random": os.urandom(300),
        "empty": b"",
        "magic": b"XXXXXXXX" + good[8:],
        "checksum": good[:-1] + bytes([good[-1] ^ 1]),
        "truncated": good[:-40],
        "version": resealed([b"\x02", *parts[1:]]),
        "scheme": resealed([parts[0], b"ckks", *parts[2:]]),
        "key id": resealed([parts[0], parts[1], b"zz" * 16, *parts[3:]]),
        "count": resealed([*parts[:3], (99).to_bytes(8, "big"), *parts[4:]]),
        "fields": resealed(parts[:-1]),
    }
    for name, data in bad.items():
        path.write_bytes(data)
        with pytest.raises(InvalidInput):
            read_encrypted_column(path)
        assert name
    with pytest.raises(InvalidInput):
        read_encrypted_column(tmp_path / "missing")


def test_column_value_checks(store: KeyStore, tmp_path: Path) -> None:
    info = store.generate_paillier(BITS, passphrase=PW_A)
    pk = store.load_paillier_public(info.key_id)
    path = tmp_path / "col"
    with pytest.raises(InvalidInput) as excinfo:
        write_encrypted_column(path, pk, [1.0, 987654.5], max_abs=1000)
    assert "values[1]" in str(excinfo.value) and "987654" not in str(excinfo.value)
    for bad in (float("nan"), float("inf"), True, "3"):
        with pytest.raises(InvalidInput):
            write_encrypted_column(path, pk, [bad])  # type: ignore[list-item]
    with pytest.raises(UnsupportedParameter, match="too large"):
        write_encrypted_column(path, pk, [1.0], frac_bits=64, max_abs=2**1000)
    assert not path.exists()
    column = write_encrypted_column(path, pk, [1 / 3, -(2**-20), -7], frac_bits=8)
    assert column.max_abs == 2**40
    sk = store.load_paillier_private(info.key_id, PW_A)
    assert decrypt_column(column, sk) == [85 / 256, 0.0, -7.0]  # rounded to 2^-8
    assert decrypt_column(write_encrypted_column(path, pk, []), sk) == []


# --- CKKS keyrings from petsuite.he.seal (the fhe extra) ------------------------------------------


def test_ckks_keyring_store_rotate_and_move_data(store: KeyStore, audit: AuditLog) -> None:
    """A CKKS keyring goes in as opaque bytes; rotation moves a stored vector to the new key."""
    pytest.importorskip("tenseal")
    from petsuite.he.seal import CkksParameters, HeEvaluationContext, HeSecretKeyring, HeVector

    params = CkksParameters.choose(1)
    old_ring = HeSecretKeyring.generate(params)
    old_eval = old_ring.evaluation_context().to_bytes()
    old = store.store_secret(old_ring.scheme.value, old_ring.secret_bytes(), old_eval, PW_A)
    assert old.scheme == "ckks"
    assert store.public_bytes(old.key_id) == old_eval
    values = [1.5, -2.25, 1000.0, 0.0]
    evaluator = HeEvaluationContext.from_bytes(store.public_bytes(old.key_id))
    stored = evaluator.encrypt(values).to_bytes()  # a data holder encrypts with public keys only

    new_ring = HeSecretKeyring.generate(params)
    new = store.rotate_secret(
        old.key_id,
        PW_A,
        secret_bytes=new_ring.secret_bytes(),
        public_bytes=new_ring.evaluation_context().to_bytes(),
        new_passphrase=PW_B,
    )
    assert store.info(old.key_id).status is KeyStatus.ROTATED
    assert store.info(old.key_id).superseded_by == new.key_id

    loaded_old = HeSecretKeyring.from_secret_bytes(store.load_secret(old.key_id, PW_A))
    assert loaded_old.key_id == old_ring.key_id
    plain = loaded_old.decrypt(HeVector.from_bytes(loaded_old, stored))
    loaded_new = HeSecretKeyring.from_secret_bytes(store.load_secret(new.key_id, PW_B))
    moved = loaded_new.encrypt(plain).to_bytes()
    again = loaded_new.decrypt(HeVector.from_bytes(loaded_new, moved))
    assert max(abs(a - b) for a, b in zip(again, values, strict=True)) < 1e-3
    with pytest.raises(InvalidInput, match="under key"):
        loaded_old.decrypt(HeVector.from_bytes(loaded_new, moved))
    assert [e.operation for e in audit.entries()] == ["he.key.store", "he.key.rotate"]
    haystack = db_bytes(audit.path) + db_bytes(store.index_path)
    assert old_ring.secret_bytes()[-64:] not in haystack
