"""Certificates made at run time for the TLS tests (trustme), written as files.

:func:`make_certificates` issues, from one throwaway CA, a server certificate
for ``localhost``/``127.0.0.1`` and a client certificate, plus a second CA
that the server does not trust. The ``certificates`` fixture gives each test
its own set in ``tmp_path``; nothing is ever committed.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

__all__ = ["Certificates", "certificates", "client_context", "make_certificates"]


@dataclass(frozen=True)
class Certificates:
    """Paths of the PEM files, and the objects to make client contexts from."""

    ca: trustme.CA
    server_cert: Path  # the server certificate chain (no key)
    server_key: Path
    server_combined: Path  # key and chain in one file
    server_key_encrypted: Path  # the same key, encrypted with PASSWORD
    ca_file: Path
    client: trustme.LeafCert
    client_cert_pem: str  # PEM of the client certificate alone
    client_subject: str  # its subject, RFC 4514, as cryptography writes it
    stranger: trustme.LeafCert  # a client certificate from an untrusted CA

    PASSWORD = "correct horse battery staple"

    def server_options(self, **extra: object) -> dict[str, object]:
        """``live_server`` options for HTTPS with this server certificate."""
        return {
            "ssl_certfile": str(self.server_cert),
            "ssl_keyfile": str(self.server_key),
            **extra,
        }


def make_certificates(directory: Path) -> Certificates:
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    client = ca.issue_cert("client@example.com", common_name="test client")
    stranger = trustme.CA().issue_cert("stranger@example.com")
    server.cert_chain_pems[0].write_to_path(str(directory / "server.pem"))
    server.private_key_pem.write_to_path(str(directory / "server.key"))
    server.private_key_and_cert_chain_pem.write_to_path(str(directory / "combined.pem"))
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    key = serialization.load_pem_private_key(server.private_key_pem.bytes(), None)
    (directory / "encrypted.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(Certificates.PASSWORD.encode()),
        )
    )
    client_pem = client.cert_chain_pems[0].bytes().decode("ascii")
    subject = x509.load_pem_x509_certificate(client_pem.encode()).subject.rfc4514_string()
    return Certificates(
        ca=ca,
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        server_combined=directory / "combined.pem",
        server_key_encrypted=directory / "encrypted.key",
        ca_file=directory / "ca.pem",
        client=client,
        client_cert_pem=client_pem,
        client_subject=subject,
        stranger=stranger,
    )


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    """A fresh CA, server and client certificate for one test."""
    return make_certificates(tmp_path)


def client_context(
    certs: Certificates,
    *,
    alpn: list[str] | None = None,
    client_cert: trustme.LeafCert | None = None,
) -> ssl.SSLContext:
    """A client context trusting the test CA, offering ``alpn``."""
    context = ssl.create_default_context()
    certs.ca.configure_trust(context)
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    if client_cert is not None:
        client_cert.configure_cert(context)
    return context
