"""A server as it runs in production: the production profile, HTTPS with a certificate of the
test's own, authentication and rate limits on. The attack suite (tests/attack/) runs against it."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.auth import ADMIN

PRODUCTION_SECRET = "a-production-secret-of-plenty-of-random-bytes-0123456789"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@dataclass(frozen=True)
class Tls:
    cert_file: Path
    key_file: Path

    def context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate and nothing else."""
        return ssl.create_default_context(cafile=str(self.cert_file))


def production_env(tls: Tls, **extra: str) -> dict[str, str]:
    """The production profile on loopback with HTTPS; the first admin from the environment."""
    return {
        "NANOBRAIN_PROFILE": "production",
        "JWT_SECRET": PRODUCTION_SECRET,
        "NANOBRAIN_WEB_INTERFACE__SERVER_CONFIG__HOST": "127.0.0.1",
        "NANOBRAIN_WEB_INTERFACE__SERVER_CONFIG__WORKERS": "1",
        "NANOBRAIN_WEB_INTERFACE__SSL_CONFIG__ENABLED": "true",
        "NANOBRAIN_WEB_INTERFACE__SSL_CONFIG__CERT_FILE": str(tls.cert_file),
        "NANOBRAIN_WEB_INTERFACE__SSL_CONFIG__KEY_FILE": str(tls.key_file),
        "NANOBRAIN_WEB_INTERFACE__CACHE_CONFIG__ENABLED": "false",
        "NANOBRAIN_ADMIN_USERNAME": ADMIN[0],
        "NANOBRAIN_ADMIN_PASSWORD": ADMIN[1],
        **extra,
    }


def https_client(api: str, tls: Tls, **options: object) -> httpx.Client:
    return httpx.Client(base_url=api, verify=tls.context(), timeout=30, **options)  # type: ignore[arg-type]
