"""The demo's keys and certificates, made on the sandbox's first start and never committed:
an RSA key for Salesforce's JWT bearer flow (RS256) and an EC P-256 key for NetSuite's M2M
client assertion (ES256). Each key is `<name>.pem` (readable by its owner only) beside its
self-signed certificate `<name>.crt`, which the sandbox registers as a connected app or an
integration's certificate is registered in the real systems."""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import NameOID

VALID_FOR = timedelta(days=365)


def _new_key(kind: Literal["rsa", "ec"]) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _certificate(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, name: str
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"psflow sandbox {name}")])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .sign(key, hashes.SHA256())
    )


def demo_certificate(key_file: Path, kind: Literal["rsa", "ec"]) -> CertificatePublicKeyTypes:
    """The public key of the certificate beside `key_file`; both are made when missing (a
    key given without a certificate has one made for it)."""
    cert_file = key_file.with_suffix(".crt")
    if cert_file.exists():
        return x509.load_pem_x509_certificate(cert_file.read_bytes()).public_key()
    if key_file.exists():
        key: PrivateKeyTypes = serialization.load_pem_private_key(key_file.read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    else:
        key = _new_key(kind)
        key_file.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        partial = key_file.with_suffix(".tmp")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(pem)
        partial.replace(key_file)  # whole or not at all: a reader never sees half a key
    certificate = _certificate(key, key_file.stem)
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return certificate.public_key()
