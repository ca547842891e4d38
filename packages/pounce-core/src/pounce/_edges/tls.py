"""TLS: the server's SSL context, built once from the config, and what each
connection reports of it to the app.

:func:`build_server_tls` reads the certificate, key and CA files at start-up
and turns every way they can be wrong into one line that names the file and
the fix (a missing file, a key that needs a password, the wrong password, a
key that does not match the certificate...), so a bad setting never reaches a
client. The context it builds refuses anything older than TLS 1.2, offers
``h2`` and ``http/1.1`` by ALPN (only ``http/1.1`` with ``--no-http2``) and,
with ``--ssl-cert-reqs``, asks clients for certificates (mutual TLS).

:meth:`ServerTLS.scope_extension` is the ASGI TLS extension (asgiref
``specs/tls.rst``) for one connection, computed once per connection after
the handshake. Clients whose certificate fails verification never complete
the handshake, so ``client_cert_error`` is always ``None``.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pounce._settings.config import ServerConfig

__all__ = ["ServerTLS", "TLSConfigError", "build_server_tls"]

_CERT_REQS = {
    "none": ssl.CERT_NONE,
    "optional": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}
_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
_PEM_CERT = "-----BEGIN CERTIFICATE-----"
_PEM_CERT_END = "-----END CERTIFICATE-----"

# RFC 4514 §3 names the common attribute types; the rest are written as OIDs.
_RDN_NAMES = {
    "commonName": "CN",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
    "emailAddress": "1.2.840.113549.1.9.1",
    "serialNumber": "2.5.4.5",
    "surname": "2.5.4.4",
    "givenName": "2.5.4.42",
    "title": "2.5.4.12",
    "initials": "2.5.4.43",
    "generationQualifier": "2.5.4.44",
    "pseudonym": "2.5.4.65",
    "postalCode": "2.5.4.17",
    "businessCategory": "2.5.4.15",
}


class TLSConfigError(ValueError):
    """A TLS setting that cannot work; the message is one line naming the fix."""


@dataclass(frozen=True, slots=True)
class ServerTLS:
    """The server's TLS context and what the ASGI TLS extension needs of it."""

    context: ssl.SSLContext
    #: PEM of the server certificate (the first one of ``--ssl-certfile``).
    server_cert: str | None
    #: OpenSSL cipher name -> IANA cipher suite number.
    cipher_ids: Mapping[str, int]

    def scope_extension(self, ssl_object: Any) -> dict[str, Any]:
        """The ``tls`` scope extension for a connection whose handshake is done."""
        chain: tuple[str, ...] = ()
        name: str | None = None
        der = ssl_object.getpeercert(binary_form=True)
        if der:
            getter = getattr(ssl_object, "get_unverified_chain", None)  # Python 3.13+
            sent = getter() if getter is not None else None
            certs = [bytes(c) for c in sent] if sent else [der]
            chain = tuple(ssl.DER_cert_to_PEM_cert(c) for c in certs)
            parsed = ssl_object.getpeercert()
            if parsed:
                name = rfc4514_name(parsed.get("subject", ()))
        cipher = ssl_object.cipher()
        return {
            "server_cert": self.server_cert,
            "client_cert_chain": chain,
            "client_cert_name": name,
            "client_cert_error": None,
            "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
            "cipher_suite": self.cipher_ids.get(cipher[0]) if cipher else None,
        }


def _escape_rdn_value(value: str) -> str:
    out = []
    for index, char in enumerate(value):
        if (
            char in ',+"\\<>;='
            or (index == 0 and char in " #")
            or (index == len(value) - 1 and char == " ")
        ):
            out.append("\\" + char)
        elif char == "\x00":
            out.append("\\00")
        else:
            out.append(char)
    return "".join(out)


def rfc4514_name(subject: Any) -> str:
    """A subject as :meth:`ssl.SSLSocket.getpeercert` gives it, as an RFC 4514 string.

    RFC 4514 writes the most specific RDN first: the reverse of the
    certificate's order.
    """
    rdns = []
    for rdn in reversed(subject):
        rdns.append(
            "+".join(f"{_RDN_NAMES.get(key, key)}={_escape_rdn_value(value)}" for key, value in rdn)
        )
    return ",".join(rdns)


def _read(path: str, setting: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        raise TLSConfigError(f"{setting}: no such file: {path}") from None
    except IsADirectoryError:
        raise TLSConfigError(f"{setting}: {path} is a directory, not a PEM file") from None
    except OSError as exc:
        raise TLSConfigError(f"{setting}: cannot read {path}: {exc.strerror}") from None


def _first_certificate(text: str) -> str | None:
    start = text.find(_PEM_CERT)
    end = text.find(_PEM_CERT_END, start)
    if start < 0 or end < 0:
        return None
    block = text[start : end + len(_PEM_CERT_END)]
    try:
        return ssl.DER_cert_to_PEM_cert(ssl.PEM_cert_to_DER_cert(block))
    except ValueError:
        return None


class _NoPassword(Exception):
    """Raised by our password callback so OpenSSL never prompts on a terminal."""


def _load_chain(context: ssl.SSLContext, config: ServerConfig) -> str | None:
    certfile = config.ssl_certfile
    assert certfile is not None
    cert_text = _read(certfile, "ssl_certfile")
    server_cert = _first_certificate(cert_text)
    if server_cert is None:
        raise TLSConfigError(f"ssl_certfile: {certfile} holds no PEM certificate")
    keyfile = config.ssl_keyfile
    key_setting = "ssl_keyfile" if keyfile else "ssl_certfile"
    key_text = _read(keyfile, "ssl_keyfile") if keyfile else cert_text
    if "PRIVATE KEY-----" not in key_text:
        where = keyfile or certfile
        hint = "" if keyfile else " (give the key with --ssl-keyfile)"
        raise TLSConfigError(f"{key_setting}: {where} holds no PEM private key{hint}")
    password = config.ssl_keyfile_password

    def ask_password() -> str:
        if password is None:
            raise _NoPassword
        return password

    key_path = keyfile or certfile
    try:
        context.load_cert_chain(certfile, keyfile, password=ask_password)
    except _NoPassword:
        raise TLSConfigError(
            f"{key_setting}: the private key in {keyfile or certfile} is encrypted; "
            "give its password with --ssl-keyfile-password"
        ) from None
    except ssl.SSLError as exc:
        reason = exc.reason or ""
        if reason == "KEY_VALUES_MISMATCH":
            raise TLSConfigError(
                f"{key_setting}: the private key in {keyfile or certfile} does not match "
                f"the certificate in {certfile}"
            ) from None
        if password is not None and (
            "ENCRYPTED" in key_text or "Proc-Type: 4,ENCRYPTED" in key_text
        ):
            raise TLSConfigError(
                f"ssl_keyfile_password: wrong password for the private key in {key_path}"
            ) from None
        raise TLSConfigError(
            f"cannot use the certificate {certfile} and key {key_path}: {reason or exc}"
        ) from None
    return server_cert


def _load_ca(context: ssl.SSLContext, path: str) -> None:
    try:
        if os.path.isdir(path):
            context.load_verify_locations(capath=path)
        else:
            context.load_verify_locations(cafile=path)
    except FileNotFoundError:
        raise TLSConfigError(f"ssl_ca_certs: no such file: {path}") from None
    except ssl.SSLError as exc:
        raise TLSConfigError(
            f"ssl_ca_certs: {path} holds no usable CA certificate ({exc.reason or exc})"
        ) from None
    except OSError as exc:
        raise TLSConfigError(f"ssl_ca_certs: cannot read {path}: {exc.strerror}") from None


def build_server_tls(config: ServerConfig) -> ServerTLS | None:
    """The TLS context for ``config``, or None when it does not ask for TLS.

    Raises :class:`TLSConfigError` (a ``ValueError``) with a one-line message.
    """
    if config.ssl_certfile is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # Renegotiation and compression are attack surface with no use here.
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.options |= getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    server_cert = _load_chain(context, config)
    if config.ssl_ca_certs is not None:
        _load_ca(context, config.ssl_ca_certs)
    context.verify_mode = _CERT_REQS[config.ssl_cert_reqs]
    if config.ssl_ciphers is not None:
        try:
            context.set_ciphers(config.ssl_ciphers)
        except ssl.SSLError:
            message = f"ssl_ciphers: no cipher matches {config.ssl_ciphers!r}"
            raise TLSConfigError(message) from None
    context.set_alpn_protocols(["h2", "http/1.1"] if config.http2 else ["http/1.1"])
    cipher_ids = {c["name"]: c["id"] & 0xFFFF for c in context.get_ciphers()}
    return ServerTLS(context=context, server_cert=server_cert, cipher_ids=cipher_ids)
