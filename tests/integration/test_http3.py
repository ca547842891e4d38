"""HTTP/3 against a real server, with aioquic's client (tests/support/h3client.py).

GET, POST bodies, streamed responses, concurrent streams, the limits, Alt-Svc
on HTTP/1.1 and HTTP/2 responses, 0-RTT with a resumed session, graceful
shutdown and several workers. The start-up refusals, which need no aioquic,
are in test_http3_refusals.py.
"""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

import httpx
import pytest

pytest.importorskip(
    "aioquic",
    reason="HTTP/3 needs aioquic, which has no free-threaded build (stable-ABI wheels only)",
)

from pounce._runtime.asgi_types import Receive, Scope, Send
from support.apps import read_body, respond
from support.h3client import H3Request, run_h3
from support.tls import Certificates, certificates, client_context

__all__ = ["certificates"]  # the fixture, used by name below


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(5):
            await send({"type": "http.response.body", "body": b"%d;" % i, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"end"})
        return
    if path == "/big":
        chunk = b"x" * 65536
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(32):  # 2 MiB: more than the client's initial window
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/slow":
        await asyncio.sleep(0.5)
    body = await read_body(receive)
    summary = {
        "http_version": scope["http_version"],
        "scheme": scope["scheme"],
        "method": scope["method"],
        "path": path,
        "query": scope["query_string"].decode(),
        "host": dict(scope["headers"]).get(b"host", b"").decode(),
        "body": len(body),
        "body_sum": sum(body) % 65521,
    }
    await respond(send, json.dumps(summary), content_type=b"application/json")


def _serve(serve: Any, certs: Certificates, **options: Any) -> Any:
    return serve(app, http3=True, **certs.server_options(**options))


def test_get(serve: Any, certificates: Certificates) -> None:
    server = _serve(serve, certificates)
    result = run_h3(server.port, str(certificates.ca_file), [H3Request(path="/a/b?x=1")])
    (response,) = result.responses
    assert response.status == 200
    summary = json.loads(response.body)
    assert summary["http_version"] == "3"
    assert summary["scheme"] == "https"
    assert summary["path"] == "/a/b"
    assert summary["query"] == "x=1"
    assert summary["host"] == f"localhost:{server.port}"
    assert response.header(b"server") == b"pounce"


def test_post_body(serve: Any, certificates: Certificates) -> None:
    server = _serve(serve, certificates)
    body = bytes(range(256)) * 1024  # 256 KiB, more than one flow-control window
    chunks = [body[i : i + 10_000] for i in range(0, len(body), 10_000)]
    result = run_h3(
        server.port,
        str(certificates.ca_file),
        [
            H3Request(method="POST", path="/upload", body=body),
            H3Request(method="PUT", path="/chunked", body_chunks=chunks),
        ],
    )
    for response in result.responses:
        assert response.status == 200
        summary = json.loads(response.body)
        assert summary["body"] == len(body)
        assert summary["body_sum"] == sum(body) % 65521


def test_streaming_response(serve: Any, certificates: Certificates) -> None:
    server = _serve(serve, certificates)
    result = run_h3(server.port, str(certificates.ca_file), [H3Request(path="/stream")])
    (response,) = result.responses
    assert response.status == 200
    assert response.body == b"0;1;2;3;4;end"
    assert response.data_events > 1  # it came in pieces, as the app sent them


def test_large_response_waits_for_the_client(serve: Any, certificates: Certificates) -> None:
    server = _serve(serve, certificates)
    result = run_h3(server.port, str(certificates.ca_file), [H3Request(path="/big")])
    assert result.responses[0].status == 200
    assert result.responses[0].body == b"x" * (32 * 65536)


def test_concurrent_streams(serve: Any, certificates: Certificates) -> None:
    server = _serve(serve, certificates)
    requests = [H3Request(path="/slow", headers=[(b"x-n", b"%d" % i)]) for i in range(10)]
    requests += [H3Request(path=f"/fast/{i}") for i in range(10)]
    result = run_h3(server.port, str(certificates.ca_file), requests)
    assert [r.status for r in result.responses] == [200] * 20
    paths = [json.loads(r.body)["path"] for r in result.responses]
    assert paths == ["/slow"] * 10 + [f"/fast/{i}" for i in range(10)]


def test_stream_limit(serve: Any, certificates: Certificates) -> None:
    # The QUIC stream limit holds the client back: every request completes.
    server = _serve(serve, certificates, http3_max_concurrent_streams=2)
    requests = [H3Request(path="/slow") for _ in range(6)]
    result = run_h3(server.port, str(certificates.ca_file), requests)
    assert [r.status for r in result.responses] == [200] * 6


def test_header_and_body_limits(serve: Any, certificates: Certificates) -> None:
    server = _serve(
        serve,
        certificates,
        limit_request_line=2048,
        limit_request_header_size=4096,
        limit_request_body=1000,
    )
    result = run_h3(
        server.port,
        str(certificates.ca_file),
        [
            H3Request(headers=[(b"x-big", b"a" * 5000)]),
            H3Request(method="POST", body=b"a" * 2000),
            H3Request(method="POST", body=b"a" * 2000, headers=[(b"content-length", b"2000")]),
            H3Request(path="/fine"),
        ],
    )
    assert [r.status for r in result.responses] == [431, 413, 413, 200]


def test_alt_svc_on_http1_and_http2(serve: Any, certificates: Certificates) -> None:
    server = _serve(serve, certificates)
    expected = f'h3=":{server.port}"; ma=86400'
    for http2 in (False, True):
        with httpx.Client(http2=http2, verify=client_context(certificates), timeout=30) as client:
            response = client.get(f"https://localhost:{server.port}/")
        assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
        assert response.headers["alt-svc"] == expected


def test_no_alt_svc_without_http3(serve: Any, certificates: Certificates) -> None:
    server = serve(app, **certificates.server_options())
    with httpx.Client(verify=client_context(certificates), timeout=30) as client:
        response = client.get(f"https://localhost:{server.port}/")
    assert "alt-svc" not in response.headers


def test_zero_rtt_only_for_safe_methods(serve: Any, certificates: Certificates) -> None:
    server = _serve(serve, certificates)
    ca = str(certificates.ca_file)
    first = run_h3(server.port, ca, [H3Request()])
    assert first.responses[0].status == 200
    assert first.tickets, "the server issued no session ticket"
    early = run_h3(
        server.port,
        ca,
        [
            H3Request(method="GET", path="/early"),
            H3Request(method="OPTIONS", path="/early"),
            H3Request(method="POST", path="/early", body=b"pay"),
            H3Request(method="DELETE", path="/early"),
        ],
        session_ticket=first.tickets[-1],
        early=True,
    )
    assert early.session_resumed
    assert early.early_data_accepted
    # (No HEAD: aioquic's client holds a HEAD response's content-length against
    # its empty body and closes the connection.)
    assert [r.status for r in early.responses] == [200, 200, 425, 425]
    # A ticket is good for one resumption only: a replay gets a full handshake.
    again = run_h3(server.port, ca, [H3Request()], session_ticket=first.tickets[-1], early=True)
    assert not again.early_data_accepted
    assert again.responses[0].status == 200
    # After the handshake, the same POST is served.
    later = run_h3(server.port, ca, [H3Request(method="POST", body=b"pay")])
    assert later.responses[0].status == 200


def test_zero_rtt_can_be_turned_off(serve: Any, certificates: Certificates) -> None:
    server = _serve(serve, certificates, http3_0rtt=False)
    ca = str(certificates.ca_file)
    first = run_h3(server.port, ca, [H3Request()])
    assert first.responses[0].status == 200
    assert not first.tickets


def test_several_workers(serve: Any, certificates: Certificates) -> None:
    server = _serve(serve, certificates, workers=2)
    ca = str(certificates.ca_file)
    for _ in range(6):  # new client ports: the kernel spreads them over workers
        result = run_h3(server.port, ca, [H3Request(), H3Request(method="POST", body=b"1")])
        assert [r.status for r in result.responses] == [200, 200]


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_each_worker_serves_its_own_quic_connections(
    pounce: Any, certificates: Certificates, mode: str
) -> None:
    server = pounce(
        "support.worker_apps:app",
        "--workers",
        "2",
        "--worker-mode",
        mode,
        "--http3",
        "--no-access-log",
        *("--ssl-certfile", str(certificates.server_cert)),
        *("--ssl-keyfile", str(certificates.server_key)),
    )
    ca = str(certificates.ca_file)
    key = "thread" if mode == "thread" else "pid"
    seen: set[object] = set()
    for _ in range(20):  # each from a new UDP port, hashed to a worker by the kernel
        result = run_h3(server.port, ca, [H3Request(path="/whoami")] * 3)
        workers = {json.loads(r.body)[key] for r in result.responses}
        assert len(workers) == 1  # one connection, one worker
        seen |= workers
    assert len(seen) == 2
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0


def test_graceful_shutdown_completes_requests(serve: Any, certificates: Certificates) -> None:
    server = _serve(serve, certificates)

    async def scenario() -> list[int | None]:
        from support.h3client import h3_exchange

        task = asyncio.ensure_future(
            h3_exchange(server.port, str(certificates.ca_file), [H3Request(path="/slow")])
        )
        await asyncio.sleep(0.25)  # the request is in flight
        server.server.shutdown()
        result = await task
        return [r.status for r in result.responses]

    assert asyncio.run(scenario()) == [200]
