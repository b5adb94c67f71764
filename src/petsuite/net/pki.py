"""A small certificate authority for one collaboration, and the TLS identities it issues.

One directory holds ``ca.crt``/``ca.key`` and, per party, ``<party>.crt``/``<party>.key``
(ECDSA P-256, SHA-256). A party certificate names the party in its subject CN and as a DNS
subject alternative name, so TLS hostname checking authenticates the party *name*.

Threat model: whoever holds ``ca.key`` can impersonate every party, so it stays with one operator
(mode 0600, never sent anywhere); parties compare :func:`ca_fingerprint` out of band before
trusting ``ca.crt``. A stolen party key impersonates that party until its certificate expires:
there is no revocation, so keep ``valid_days`` short. Certificates are public: they reveal party
names and host names to anyone who sees a handshake's certificate (TLS 1.3 encrypts it on the wire,
but the peer sees it).

Key generation uses OpenSSL's CSPRNG inside ``cryptography``; serial numbers come from
:mod:`petsuite.core.rng`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from petsuite.core.errors import InvalidInput
from petsuite.core.rng import RandomSource, resolve
from petsuite.core.store import atomic_write_bytes

__all__ = [
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "TLSIdentity",
    "ca_fingerprint",
    "init_ca",
    "issue",
    "load_identity",
    "validate_party_name",
]

CA_CERT_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"

_PARTY_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_DNS_LABEL_RE = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_RESERVED_PARTIES = frozenset({"ca"})
#: Certificates start this long before ``now``, to tolerate clock skew between parties.
_BACKDATE = timedelta(minutes=5)


def validate_party_name(party: str) -> str:
    """Return ``party`` if it is a valid party name: lowercase ``[a-z0-9][a-z0-9-]{0,62}``.

    Raises
    ------
    InvalidInput
        Otherwise, or for the reserved name ``ca``.
    """
    if not isinstance(party, str) or _PARTY_RE.fullmatch(party) is None:
        raise InvalidInput(
            f"invalid party name {str(party)[:80]!r}: use 1-63 of [a-z0-9-], starting with [a-z0-9]"
        )
    if party in _RESERVED_PARTIES:
        raise InvalidInput(f"party name {party!r} is reserved")
    return party


@dataclass(frozen=True)
class TLSIdentity:
    """A party's certificate and key files, and the collaboration CA that vouches for peers.

    The contexts speak TLS 1.3 only, trust only ``ca_cert`` (never the system store) and require
    the peer's certificate in both directions.
    """

    name: str
    ca_cert: Path
    cert: Path
    key: Path

    def _context(self, protocol: ssl._SSLMethod) -> ssl.SSLContext:
        ctx = ssl.SSLContext(protocol)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.verify_flags |= ssl.VERIFY_X509_STRICT
        try:
            ctx.load_verify_locations(cafile=str(self.ca_cert))
            ctx.load_cert_chain(certfile=str(self.cert), keyfile=str(self.key))
        except (ssl.SSLError, OSError) as exc:
            raise InvalidInput(f"cannot load TLS identity of {self.name!r}: {exc}") from exc
        return ctx

    def server_context(self) -> ssl.SSLContext:
        """A TLS 1.3 server context that requires a client certificate from the CA."""
        return self._context(ssl.PROTOCOL_TLS_SERVER)

    def client_context(self) -> ssl.SSLContext:
        """A TLS 1.3 client context that checks the server's certificate and host name."""
        ctx = self._context(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = True
        return ctx


def _resolve_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise InvalidInput("now must be a timezone-aware datetime")
    return now.astimezone(UTC)


def _check_days(valid_days: int) -> timedelta:
    if isinstance(valid_days, bool) or not isinstance(valid_days, int) or valid_days < 1:
        raise InvalidInput("valid_days must be a positive int")
    if valid_days > 3650:
        raise InvalidInput("valid_days above 3650 (ten years) refused")
    return timedelta(days=valid_days)


def _serial(rng: RandomSource | None) -> int:
    # 159 random bits: positive and at most 20 bytes, as RFC 5280 requires.
    return (int.from_bytes(resolve(rng).random_bytes(20), "big") >> 1) or 1


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def init_ca(
    directory: Path,
    *,
    name: str = "petsuite collaboration CA",
    valid_days: int = 365,
    now: datetime | None = None,
    force: bool = False,
    rng: RandomSource | None = None,
) -> Path:
    """Create the collaboration CA in ``directory``: ``ca.crt`` and ``ca.key`` (mode 0600).

    Parameters
    ----------
    directory:
        Created (mode 0700) if missing.
    name:
        The CA's subject common name, 1 to 64 characters.
    force:
        Overwrite an existing CA. Every certificate it issued stops being trusted.

    Returns
    -------
    Path
        The CA certificate, to hand to every party (with its :func:`ca_fingerprint`).

    Raises
    ------
    InvalidInput
        If a CA exists and ``force`` is false, or a parameter is invalid.
    """
    directory = Path(directory)
    if not isinstance(name, str) or not 0 < len(name) <= 64:
        raise InvalidInput("the CA name must be 1 to 64 characters")
    lifetime = _check_days(valid_days)
    now = _resolve_now(now)
    cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
    if not force and (cert_path.exists() or key_path.exists()):
        raise InvalidInput(f"a CA already exists in {directory}; pass force=True to replace it")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(_serial(rng))
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    atomic_write_bytes(key_path, _key_pem(key), mode=0o600)
    atomic_write_bytes(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return cert_path


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidInput(f"{what} not found: {path}") from exc
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc}") from exc


def _load_cert(path: Path, what: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(path, what))
    except ValueError as exc:
        raise InvalidInput(f"malformed {what} {path}: {exc}") from exc


def _load_key(path: Path, what: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path, what), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidInput(f"malformed {what} {path}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise InvalidInput(f"{what} {path} is not an ECDSA P-256 key")
    return key


def _check_valid_at(cert: x509.Certificate, now: datetime, what: str) -> None:
    if now < cert.not_valid_before_utc:
        raise InvalidInput(f"{what} is not valid before {cert.not_valid_before_utc.isoformat()}")
    if now > cert.not_valid_after_utc:
        raise InvalidInput(f"{what} expired on {cert.not_valid_after_utc.isoformat()}")


def _host_name(host: str) -> x509.GeneralName:
    if not isinstance(host, str) or not host:
        raise InvalidInput("host names must be non-empty str")
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    name = host.lower().rstrip(".")
    labels = name.split(".")
    if len(name) > 253 or not all(_DNS_LABEL_RE.fullmatch(label) for label in labels):
        raise InvalidInput(f"invalid host name {host[:80]!r}")
    return x509.DNSName(name)


def issue(
    directory: Path,
    party: str,
    *,
    hosts: Sequence[str] = ("localhost", "127.0.0.1", "::1"),
    valid_days: int = 365,
    now: datetime | None = None,
    force: bool = False,
    rng: RandomSource | None = None,
) -> TLSIdentity:
    """Issue ``party`` a certificate from the CA in ``directory``; write ``<party>.crt/.key``.

    The certificate has CN = ``party``, DNS SAN ``party`` plus ``hosts`` (IP literals become IP
    SANs), extended key usage serverAuth and clientAuth, and is not a CA. It never outlives the CA.

    Raises
    ------
    InvalidInput
        On an invalid name or host, a missing, malformed or expired CA, or existing party files
        (unless ``force``).
    """
    directory = Path(directory)
    validate_party_name(party)
    lifetime = _check_days(valid_days)
    now = _resolve_now(now)
    names: list[x509.GeneralName] = [x509.DNSName(party)]
    for host in hosts:
        general = _host_name(host)
        if general not in names:
            names.append(general)
    ca_cert = _load_cert(directory / CA_CERT_FILE, "CA certificate")
    ca_key = _load_key(directory / CA_KEY_FILE, "CA key")
    _check_valid_at(ca_cert, now, "the CA certificate")
    cert_path, key_path = directory / f"{party}.crt", directory / f"{party}.key"
    if not force and (cert_path.exists() or key_path.exists()):
        raise InvalidInput(f"{party!r} already has a certificate; pass force=True to reissue")

    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, party)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(_serial(rng))
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + lifetime, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    atomic_write_bytes(key_path, _key_pem(key), mode=0o600)
    atomic_write_bytes(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return TLSIdentity(party, directory / CA_CERT_FILE, cert_path, key_path)


def load_identity(directory: Path, party: str, *, now: datetime | None = None) -> TLSIdentity:
    """Load and check ``party``'s identity from ``directory``.

    Checks that ``ca.crt``, ``<party>.crt`` and ``<party>.key`` exist and parse, that the key
    matches the certificate, that the certificate was issued by ``ca.crt`` and names ``party``,
    and that both certificates are valid at ``now`` (default: the current time).

    Raises
    ------
    InvalidInput
        With a message saying which file is missing, malformed, mismatched or expired.
    """
    directory = Path(directory)
    validate_party_name(party)
    now = _resolve_now(now)
    ca_path = directory / CA_CERT_FILE
    cert_path, key_path = directory / f"{party}.crt", directory / f"{party}.key"
    ca_cert = _load_cert(ca_path, "CA certificate")
    cert = _load_cert(cert_path, f"certificate of {party!r}")
    key = _load_key(key_path, f"key of {party!r}")
    if key.public_key() != cert.public_key():
        raise InvalidInput(f"{key_path} does not match {cert_path}")
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise InvalidInput(f"{cert_path} was not issued by the CA in {ca_path}") from exc
    _check_valid_at(ca_cert, now, "the CA certificate")
    _check_valid_at(cert, now, f"the certificate of {party!r}")
    common_names = [attr.value for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if common_names != [party]:
        raise InvalidInput(f"{cert_path} names {common_names!r}, not {party!r}")
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound as exc:
        raise InvalidInput(f"{cert_path} has no subject alternative name") from exc
    if party not in san.get_values_for_type(x509.DNSName):
        raise InvalidInput(f"{cert_path} does not list {party!r} as a DNS name")
    return TLSIdentity(party, ca_path, cert_path, key_path)


def ca_fingerprint(directory: Path) -> str:
    """The SHA-256 of the CA certificate's DER encoding, as lowercase hex.

    Compare it over a channel you trust (in person, by phone) before trusting a ``ca.crt``.
    """
    cert = _load_cert(Path(directory) / CA_CERT_FILE, "CA certificate")
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
