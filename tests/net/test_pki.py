"""The collaboration CA: what it writes, what it issues, and what load_identity refuses."""

from __future__ import annotations

import hashlib
import ipaddress
import shutil
import ssl
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from petsuite.core.errors import InvalidInput
from petsuite.net.pki import (
    TLSIdentity,
    ca_fingerprint,
    init_ca,
    issue,
    load_identity,
    validate_party_name,
)

from .conftest import Pki


def test_init_ca_files_and_modes(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "ca"
    cert_path = init_ca(directory)
    assert cert_path == directory / "ca.crt"
    assert stat.S_IMODE((directory / "ca.key").stat().st_mode) == 0o600
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    fingerprint = ca_fingerprint(directory)
    assert len(fingerprint) == 64
    der = ssl.PEM_cert_to_DER_cert(cert_path.read_text())
    assert fingerprint == hashlib.sha256(der).hexdigest()


def test_init_ca_refuses_to_overwrite(tmp_path: Path) -> None:
    init_ca(tmp_path)
    before = ca_fingerprint(tmp_path)
    with pytest.raises(InvalidInput, match="already exists"):
        init_ca(tmp_path)
    assert ca_fingerprint(tmp_path) == before
    init_ca(tmp_path, force=True)
    assert ca_fingerprint(tmp_path) != before


@pytest.mark.parametrize(
    "kwargs",
    [{"name": ""}, {"valid_days": 0}, {"valid_days": 10_000}, {"now": datetime(2020, 1, 1)}],
)
def test_init_ca_bad_parameters(tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        init_ca(tmp_path, **kwargs)  # type: ignore[arg-type]


def test_issued_certificate_contents(pki: Pki) -> None:
    cert = x509.load_pem_x509_certificate(pki.alice.cert.read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["alice", "localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert stat.S_IMODE(pki.alice.key.stat().st_mode) == 0o600


def test_issue_hosts_and_overwrite(tmp_path: Path) -> None:
    init_ca(tmp_path)
    identity = issue(tmp_path, "svc-1", hosts=["Example.org.", "10.0.0.1", "svc-1"])
    cert = x509.load_pem_x509_certificate(identity.cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["svc-1", "example.org"]
    with pytest.raises(InvalidInput, match="already has"):
        issue(tmp_path, "svc-1")
    issue(tmp_path, "svc-1", force=True)
    with pytest.raises(InvalidInput, match="host"):
        issue(tmp_path, "other", hosts=["bad host!"])


def test_certificates_never_outlive_the_ca(tmp_path: Path) -> None:
    init_ca(tmp_path, valid_days=10)
    cert = x509.load_pem_x509_certificate(issue(tmp_path, "p", valid_days=365).cert.read_bytes())
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    assert cert.not_valid_after_utc == ca.not_valid_after_utc


def test_issue_needs_a_valid_ca(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not found"):
        issue(tmp_path, "alice")
    init_ca(tmp_path, valid_days=1)
    with pytest.raises(InvalidInput, match="expired"):
        issue(tmp_path, "alice", now=datetime.now(UTC) + timedelta(days=2))


@pytest.mark.parametrize(
    "name", ["", "Alice", "-alice", "al ice", "a" * 64, "ca", "alice.example", "ålice", 7]
)
def test_invalid_party_names(name: object) -> None:
    with pytest.raises(InvalidInput):
        validate_party_name(name)  # type: ignore[arg-type]


def test_valid_party_names() -> None:
    for name in ("a", "org-b", "0", "a" * 63):
        assert validate_party_name(name) == name


def test_load_identity(pki: Pki) -> None:
    loaded = load_identity(pki.directory, "alice")
    assert loaded == pki.alice
    server, client = loaded.server_context(), loaded.client_context()
    assert server.minimum_version is ssl.TLSVersion.TLSv1_3
    assert client.minimum_version is ssl.TLSVersion.TLSv1_3
    assert server.verify_mode is ssl.CERT_REQUIRED and client.check_hostname


def test_load_identity_expired(pki: Pki) -> None:
    with pytest.raises(InvalidInput, match="expired"):
        load_identity(pki.directory, "dave")
    # the same certificate was fine while it was valid
    assert load_identity(pki.directory, "dave", now=datetime.now(UTC) - timedelta(days=9, hours=12))
    with pytest.raises(InvalidInput, match="not valid before"):
        load_identity(pki.directory, "alice", now=datetime.now(UTC) - timedelta(days=1))


def copy_pki(pki: Pki, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(pki.directory, target)
    return target


def test_load_identity_malformed_certificate(pki: Pki, tmp_path: Path) -> None:
    directory = copy_pki(pki, tmp_path)
    (directory / "alice.crt").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    with pytest.raises(InvalidInput, match="malformed certificate"):
        load_identity(directory, "alice")
    (directory / "alice.crt").write_bytes(b"\x00\x01garbage")
    with pytest.raises(InvalidInput, match="malformed"):
        load_identity(directory, "alice")


def test_load_identity_malformed_key(pki: Pki, tmp_path: Path) -> None:
    directory = copy_pki(pki, tmp_path)
    (directory / "alice.key").write_text("nonsense")
    with pytest.raises(InvalidInput, match="malformed key"):
        load_identity(directory, "alice")


def test_load_identity_missing_files(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not found"):
        load_identity(pki.directory, "zoe")
    directory = copy_pki(pki, tmp_path)
    (directory / "ca.crt").unlink()
    with pytest.raises(InvalidInput, match="CA certificate not found"):
        load_identity(directory, "alice")


def test_load_identity_wrong_ca_or_key(pki: Pki, tmp_path: Path) -> None:
    directory = copy_pki(pki, tmp_path)
    shutil.copy(pki.foreign_alice.cert, directory / "alice.crt")
    shutil.copy(pki.foreign_alice.key, directory / "alice.key")
    with pytest.raises(InvalidInput, match="not issued by the CA"):
        load_identity(directory, "alice")
    shutil.copy(pki.bob.key, directory / "alice.key")
    with pytest.raises(InvalidInput, match="does not match"):
        load_identity(directory, "alice")
    shutil.copy(pki.bob.cert, directory / "alice.crt")
    with pytest.raises(InvalidInput, match="names"):
        load_identity(directory, "alice")


def test_context_with_unreadable_files(tmp_path: Path) -> None:
    identity = TLSIdentity("x", tmp_path / "ca.crt", tmp_path / "x.crt", tmp_path / "x.key")
    with pytest.raises(InvalidInput, match="cannot load TLS identity"):
        identity.client_context()


def test_fingerprint_of_a_missing_ca(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        ca_fingerprint(tmp_path)
