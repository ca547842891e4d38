"""``build_server_tls``: every unusable TLS setting is one line naming the fix."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from pounce import ServerConfig
from pounce._edges.tls import TLSConfigError, build_server_tls, rfc4514_name
from support.tls import Certificates, certificates

__all__ = ["certificates"]  # the fixture, used by name below


def tls(certs: Certificates, **options: object) -> ssl.SSLContext:
    config = ServerConfig(**{**certs.server_options(), **options})  # type: ignore[arg-type]
    server_tls = build_server_tls(config)
    assert server_tls is not None
    return server_tls.context


def fails(message: str, **options: object) -> None:
    with pytest.raises(TLSConfigError, match="^" + re.escape(message)) as caught:
        build_server_tls(ServerConfig(**options))  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


def test_no_certificate_no_tls() -> None:
    assert build_server_tls(ServerConfig()) is None


def test_the_context_refuses_old_tls_and_offers_h2(certificates: Certificates) -> None:
    context = tls(certificates)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_NONE
    assert context.options & ssl.OP_NO_COMPRESSION


def test_server_cert_is_the_first_certificate_of_the_file(certificates: Certificates) -> None:
    server_tls = build_server_tls(ServerConfig(**certificates.server_options()))  # type: ignore[arg-type]
    assert server_tls is not None
    assert server_tls.server_cert is not None
    expected = certificates.server_cert.read_text()
    assert ssl.PEM_cert_to_DER_cert(server_tls.server_cert) == ssl.PEM_cert_to_DER_cert(expected)
    # IANA numbers, not OpenSSL's: TLS_AES_128_GCM_SHA256 is 0x1301.
    assert server_tls.cipher_ids["TLS_AES_128_GCM_SHA256"] == 0x1301


@pytest.mark.parametrize(
    ("reqs", "mode"), [("optional", ssl.CERT_OPTIONAL), ("required", ssl.CERT_REQUIRED)]
)
def test_client_certificates(certificates: Certificates, reqs: str, mode: ssl.VerifyMode) -> None:
    context = tls(certificates, ssl_ca_certs=str(certificates.ca_file), ssl_cert_reqs=reqs)
    assert context.verify_mode == mode


def test_a_ca_directory_is_accepted(certificates: Certificates) -> None:
    tls(certificates, ssl_ca_certs=str(certificates.ca_file.parent), ssl_cert_reqs="optional")


def test_key_and_certificate_in_one_file(certificates: Certificates) -> None:
    build_server_tls(ServerConfig(ssl_certfile=str(certificates.server_combined)))


def test_encrypted_key_with_its_password(certificates: Certificates) -> None:
    tls(
        certificates,
        ssl_keyfile=str(certificates.server_key_encrypted),
        ssl_keyfile_password=Certificates.PASSWORD,
    )


def test_cipher_list(certificates: Certificates) -> None:
    context = tls(certificates, ssl_ciphers="ECDHE+AESGCM")
    names = {c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert names
    assert all("GCM" in name for name in names)


def test_missing_certificate_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    fails(f"ssl_certfile: no such file: {missing}", ssl_certfile=str(missing))


def test_certificate_path_is_a_directory(tmp_path: Path) -> None:
    fails(f"ssl_certfile: {tmp_path} is a directory", ssl_certfile=str(tmp_path))


def test_file_without_a_certificate(certificates: Certificates) -> None:
    key = certificates.server_key
    fails(f"ssl_certfile: {key} holds no PEM certificate", ssl_certfile=str(key))


def test_certificate_without_key(certificates: Certificates) -> None:
    cert = certificates.server_cert
    fails(
        f"ssl_certfile: {cert} holds no PEM private key (give the key with --ssl-keyfile)",
        ssl_certfile=str(cert),
    )


def test_missing_key_file(certificates: Certificates, tmp_path: Path) -> None:
    fails(
        f"ssl_keyfile: no such file: {tmp_path / 'k.pem'}",
        ssl_certfile=str(certificates.server_cert),
        ssl_keyfile=str(tmp_path / "k.pem"),
    )


def test_encrypted_key_without_password(certificates: Certificates) -> None:
    key = certificates.server_key_encrypted
    fails(
        f"ssl_keyfile: the private key in {key} is encrypted; give its password "
        "with --ssl-keyfile-password",
        ssl_certfile=str(certificates.server_cert),
        ssl_keyfile=str(key),
    )


def test_wrong_password(certificates: Certificates) -> None:
    key = certificates.server_key_encrypted
    fails(
        f"ssl_keyfile_password: wrong password for the private key in {key}",
        ssl_certfile=str(certificates.server_cert),
        ssl_keyfile=str(key),
        ssl_keyfile_password="not it",
    )


def test_key_that_does_not_match(certificates: Certificates, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    certificates.stranger.private_key_pem.write_to_path(str(other))
    fails(
        f"ssl_keyfile: the private key in {other} does not match the certificate in "
        f"{certificates.server_cert}",
        ssl_certfile=str(certificates.server_cert),
        ssl_keyfile=str(other),
    )


def test_missing_ca_file(certificates: Certificates, tmp_path: Path) -> None:
    fails(
        f"ssl_ca_certs: no such file: {tmp_path / 'missing-ca.pem'}",
        **certificates.server_options(ssl_ca_certs=str(tmp_path / "missing-ca.pem")),
    )


def test_ca_file_without_certificates(certificates: Certificates) -> None:
    fails(
        f"ssl_ca_certs: {certificates.server_key} holds no usable CA certificate",
        **certificates.server_options(ssl_ca_certs=str(certificates.server_key)),
    )


def test_cipher_list_that_selects_nothing(certificates: Certificates) -> None:
    fails(
        "ssl_ciphers: no cipher matches 'NO-SUCH-CIPHER'",
        **certificates.server_options(ssl_ciphers="NO-SUCH-CIPHER"),
    )


def test_password_never_appears_in_errors(certificates: Certificates) -> None:
    with pytest.raises(TLSConfigError) as caught:
        build_server_tls(
            ServerConfig(
                ssl_certfile=str(certificates.server_cert),
                ssl_keyfile=str(certificates.server_key_encrypted),
                ssl_keyfile_password="s3cret-guess",
            )
        )
    assert "s3cret-guess" not in str(caught.value)


# ------------------------------------------------------------- RFC 4514


def test_rfc4514_name_matches_cryptography(certificates: Certificates) -> None:
    cert = x509.load_pem_x509_certificate(certificates.client_cert_pem.encode())
    subject = [
        [(_LONG_NAMES[attr.oid.dotted_string], str(attr.value)) for attr in rdn]
        for rdn in cert.subject.rdns
    ]
    assert rfc4514_name(subject) == certificates.client_subject


def test_rfc4514_order_escaping_and_multivalued_rdns() -> None:
    subject = (
        (("countryName", "FR"),),
        (("organizationName", "Acme, Inc."),),
        (("organizationalUnitName", "R&D"), ("commonName", "#1 +team ")),
        (("emailAddress", "a@b.example"),),
    )
    assert rfc4514_name(subject) == (
        "1.2.840.113549.1.9.1=a@b.example,OU=R&D+CN=\\#1 \\+team\\ ,O=Acme\\, Inc.,C=FR"
    )


_LONG_NAMES = {
    "2.5.4.3": "commonName",
    "2.5.4.10": "organizationName",
    "2.5.4.11": "organizationalUnitName",
    "2.5.4.6": "countryName",
}
