"""HTTPS against a real server: ALPN, mutual TLS, the ASGI tls extension.

Certificates are made for each test by trustme (support.tls). Clients are
httpx, curl, h2load, the h2 raw client and plain ``ssl`` sockets where a
test must control the handshake itself (ALPN, protocol versions, SNI,
client certificates).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import ssl
import subprocess
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from pounce import Receive, Scope, Send
from support.apps import read_body, respond
from support.h2client import H2Client
from support.tls import Certificates, certificates, client_context
from support.waiting import WAIT

__all__ = ["certificates"]  # the fixture, used by name below

_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    tls = scope["extensions"].get("tls")
    summary = {
        "http_version": scope["http_version"],
        "scheme": scope["scheme"],
        "body": len(body),
        "tls": None
        if tls is None
        else {**tls, "client_cert_chain": list(tls["client_cert_chain"])},
    }
    await respond(send, json.dumps(summary), content_type=b"application/json")


@dataclass
class Handshake:
    """What the client saw of the TLS session."""

    version: str | None
    cipher: str | None
    alpn: str | None


def get_over_ssl(
    port: int, context: ssl.SSLContext, *, server_hostname: str = "localhost"
) -> tuple[dict[str, Any], Handshake]:
    """One HTTP/1.1 GET over a TLS socket: the JSON summary and the session."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw:
        tls = context.wrap_socket(raw, server_hostname=server_hostname)
        with tls:
            cipher = tls.cipher()
            session = Handshake(
                tls.version(), cipher[0] if cipher else None, tls.selected_alpn_protocol()
            )
            tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 "), head
            return json.loads(body), session


def same_cert(pem_a: str, pem_b: str) -> bool:
    return ssl.PEM_cert_to_DER_cert(pem_a) == ssl.PEM_cert_to_DER_cert(pem_b)


# ----------------------------------------------------------- HTTPS basics


def test_https_scope_and_tls_extension(serve: Any, certificates: Certificates) -> None:
    server = serve(app, **certificates.server_options())
    assert server.url.startswith("https://")
    context = client_context(certificates, alpn=["http/1.1"])
    summary, session = get_over_ssl(server.port, context)
    assert (summary["http_version"], summary["scheme"]) == ("1.1", "https")
    tls = summary["tls"]
    assert same_cert(tls["server_cert"], certificates.server_cert.read_text())
    assert tls["client_cert_chain"] == []
    assert tls["client_cert_name"] is None
    assert tls["client_cert_error"] is None
    assert tls["tls_version"] == _TLS_VERSIONS[session.version or ""]
    ids = {c["name"]: c["id"] & 0xFFFF for c in context.get_ciphers()}
    assert tls["cipher_suite"] == ids[session.cipher or ""]


def test_httpx_gets_http2_by_alpn(serve: Any, certificates: Certificates) -> None:
    server = serve(app, **certificates.server_options())
    with httpx.Client(http2=True, verify=client_context(certificates), timeout=WAIT) as client:
        response = client.post(server.url + "/", content=b"over h2")
    assert response.http_version == "HTTP/2"
    summary = response.json()
    assert (summary["http_version"], summary["scheme"], summary["body"]) == ("2", "https", 7)
    assert summary["tls"]["tls_version"] in (0x0303, 0x0304)


def test_curl_http2_over_tls(serve: Any, certificates: Certificates, require_tool: Any) -> None:
    curl = require_tool("curl")
    server = serve(app, **certificates.server_options())
    result = subprocess.run(
        [
            curl,
            "-sS",
            "--http2",
            "--cacert",
            str(certificates.ca_file),
            "-w",
            "\n%{http_version}",
            f"https://localhost:{server.port}/",
        ],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    )
    body, _, version = result.stdout.rpartition("\n")
    assert version == "2"
    assert json.loads(body)["http_version"] == "2"


def test_h2load_over_tls(serve: Any, certificates: Certificates, require_tool: Any) -> None:
    h2load = require_tool("h2load")
    server = serve(app, access_log=False, **certificates.server_options())
    result = subprocess.run(
        [h2load, "-n", "200", "-c", "2", "-m", "10", f"https://127.0.0.1:{server.port}/"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Application protocol: h2" in result.stdout
    counts = re.search(
        r"requests: (\d+) total, .* (\d+) succeeded, (\d+) failed, (\d+) errored", result.stdout
    )
    assert counts, result.stdout
    assert counts.groups() == ("200", "200", "0", "0"), result.stdout


def test_raw_h2_client_over_tls(serve: Any, certificates: Certificates) -> None:
    server = serve(app, **certificates.server_options())
    context = client_context(certificates, alpn=["h2"])
    with H2Client(server.host, server.port, tls=context) as client:
        assert client.sock.selected_alpn_protocol() == "h2"  # type: ignore[attr-defined]
        streams = [client.request("/", scheme="https") for _ in range(5)]
        for stream_id in streams:
            assert json.loads(client.response(stream_id).body)["http_version"] == "2"


def test_no_alpn_means_http_1_1(serve: Any, certificates: Certificates) -> None:
    server = serve(app, **certificates.server_options())
    summary, session = get_over_ssl(server.port, client_context(certificates))
    assert session.alpn is None
    assert summary["http_version"] == "1.1"


def test_no_http2_offers_only_http_1_1(serve: Any, certificates: Certificates) -> None:
    server = serve(app, http2=False, **certificates.server_options())
    with httpx.Client(http2=True, verify=client_context(certificates), timeout=WAIT) as client:
        response = client.get(server.url + "/")
    assert response.http_version == "HTTP/1.1"
    assert response.json()["http_version"] == "1.1"


def test_wrong_sni_is_irrelevant(serve: Any, certificates: Certificates) -> None:
    server = serve(app, **certificates.server_options())
    context = client_context(certificates)
    context.check_hostname = False  # the name is wrong on purpose; the chain is still checked
    summary, _ = get_over_ssl(server.port, context, server_hostname="wrong.example")
    assert summary["scheme"] == "https"


def test_a_tls_1_1_client_is_refused(serve: Any, certificates: Certificates) -> None:
    server = serve(app, **certificates.server_options())

    def attempt(newest: ssl.TLSVersion) -> str:
        context = client_context(certificates)
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer old protocols
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = newest
        try:
            _, session = get_over_ssl(server.port, context)
        except (ssl.SSLError, ConnectionError) as exc:
            return f"refused: {exc}"
        return session.version or ""

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        tls_1_1 = ssl.TLSVersion.TLSv1_1
    assert attempt(tls_1_1).startswith("refused")
    # The same client allowed TLS 1.2 gets in: the version was the reason.
    assert attempt(ssl.TLSVersion.TLSv1_2) == "TLSv1.2"


def test_encrypted_key_with_password_and_combined_file(
    serve: Any, certificates: Certificates
) -> None:
    encrypted = serve(
        app,
        ssl_certfile=str(certificates.server_cert),
        ssl_keyfile=str(certificates.server_key_encrypted),
        ssl_keyfile_password=Certificates.PASSWORD,
    )
    combined = serve(app, ssl_certfile=str(certificates.server_combined))
    for server in (encrypted, combined):
        summary, _ = get_over_ssl(server.port, client_context(certificates))
        assert summary["scheme"] == "https"


def test_a_client_that_never_finishes_its_handshake_is_dropped(
    serve: Any, certificates: Certificates
) -> None:
    server = serve(app, timeout_request_header=0.5, **certificates.server_options())
    with socket.create_connection((server.host, server.port), timeout=WAIT) as sock:
        sock.sendall(b"\x16\x03\x01")  # the start of a ClientHello, and then nothing
        assert sock.recv(1024) == b""


# ------------------------------------------------------------- mutual TLS


def mtls(certificates: Certificates, reqs: str) -> dict[str, Any]:
    return certificates.server_options(ssl_ca_certs=str(certificates.ca_file), ssl_cert_reqs=reqs)


def refused(port: int, context: ssl.SSLContext) -> bool:
    try:
        get_over_ssl(port, context)
    except (ssl.SSLError, ConnectionError, AssertionError, json.JSONDecodeError):
        return True
    return False


def test_mutual_tls_required_reports_the_client_certificate(
    serve: Any, certificates: Certificates
) -> None:
    server = serve(app, **mtls(certificates, "required"))
    for alpn in (["http/1.1"], ["h2"]):
        context = client_context(certificates, alpn=alpn, client_cert=certificates.client)
        if alpn == ["h2"]:
            with H2Client(server.host, server.port, tls=context) as client:
                tls = json.loads(client.response(client.request("/", scheme="https")).body)["tls"]
        else:
            tls = get_over_ssl(server.port, context)[0]["tls"]
        assert same_cert(tls["client_cert_chain"][0], certificates.client_cert_pem)
        assert tls["client_cert_name"] == certificates.client_subject
        assert tls["client_cert_error"] is None


def test_mutual_tls_required_refuses_clients_without_a_certificate(
    serve: Any, certificates: Certificates
) -> None:
    server = serve(app, **mtls(certificates, "required"))
    assert refused(server.port, client_context(certificates))
    stranger = client_context(certificates, client_cert=certificates.stranger)
    assert refused(server.port, stranger)
    # And the server is fine for the next, proper client.
    good = client_context(certificates, client_cert=certificates.client)
    assert not refused(server.port, good)


def test_mutual_tls_optional(serve: Any, certificates: Certificates) -> None:
    server = serve(app, **mtls(certificates, "optional"))
    anonymous = get_over_ssl(server.port, client_context(certificates))[0]["tls"]
    assert (anonymous["client_cert_chain"], anonymous["client_cert_name"]) == ([], None)
    context = client_context(certificates, client_cert=certificates.client)
    known = get_over_ssl(server.port, context)[0]["tls"]
    assert known["client_cert_name"] == certificates.client_subject
    # A certificate that does not verify is refused even when optional.
    assert refused(server.port, client_context(certificates, client_cert=certificates.stranger))


# ----------------------------------------------------------- command line


def test_cli_serves_https_and_keeps_the_password_to_itself(
    pounce: Any, certificates: Certificates
) -> None:
    process = pounce(
        "support.apps:app",
        "--ssl-certfile",
        str(certificates.server_cert),
        "--ssl-keyfile",
        str(certificates.server_key_encrypted),
        "--ssl-keyfile-password",
        Certificates.PASSWORD,
        "--log-level",
        "debug",
    )
    assert process.url.startswith("https://127.0.0.1:")
    response = httpx.get(process.url + "/", verify=client_context(certificates), timeout=WAIT)
    assert response.text == "hello"
    process.kill()
    assert Certificates.PASSWORD not in process.output


@pytest.mark.parametrize("case", ["wrong-password", "missing-file"])
def test_cli_tls_errors_are_one_line(certificates: Certificates, case: str) -> None:
    from support.servers import run_pounce

    if case == "wrong-password":
        args = [
            "--ssl-certfile",
            str(certificates.server_cert),
            "--ssl-keyfile",
            str(certificates.server_key_encrypted),
            "--ssl-keyfile-password",
            "guess",
        ]
        expected = "ssl_keyfile_password: wrong password for the private key in"
    else:
        args = ["--ssl-certfile", "/nonexistent/cert.pem"]
        expected = "ssl_certfile: no such file: /nonexistent/cert.pem"
    code, _, err = run_pounce("support.apps:app", "--port", "0", *args)
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert expected in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_https_with_several_workers(pounce: Any, certificates: Certificates, mode: str) -> None:
    """Every worker, including a separate process, serves TLS with HTTP/2 by ALPN."""
    process = pounce(
        "support.apps:app",
        "--workers",
        "2",
        "--worker-mode",
        mode,
        "--ssl-certfile",
        str(certificates.server_cert),
        "--ssl-keyfile",
        str(certificates.server_key),
    )
    assert process.url.startswith("https://127.0.0.1:")
    context = client_context(certificates)
    for _ in range(10):
        with httpx.Client(verify=context, http2=True, timeout=WAIT) as client:
            response = client.get(process.url + "/")
        assert response.status_code == 200
        assert response.http_version == "HTTP/2"
    process.send_signal(signal.SIGTERM)
    assert process.wait() == 0
