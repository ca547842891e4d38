"""Fixtures of the pounce-extras suites: real Redis, a Sentry collector, OTel spans."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from support.waiting import WAIT

__all__ = ["SentryCollector"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def redis_url(require_tool: Callable[[str], str], tmp_path: Path) -> Iterator[str]:
    """A real redis-server on a free port of 127.0.0.1, for this test only."""
    program = require_tool("redis-server")
    for _attempt in range(5):  # another process may grab the port first
        port = free_port()
        process = subprocess.Popen(
            [
                program,
                "--bind", "127.0.0.1",
                "--port", str(port),
                "--save", "",
                "--appendonly", "no",
                "--dir", str(tmp_path),
                "--protected-mode", "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + WAIT
        while process.poll() is None and not _redis_answers(port):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if process.poll() is None and _redis_answers(port):
            break
        process.kill()
        process.wait(WAIT)
    else:
        pytest.fail("redis-server did not start")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(WAIT)


class SentryCollector:
    """A local HTTP endpoint that accepts Sentry envelopes and keeps them."""

    def __init__(self) -> None:
        self.envelopes: list[list[tuple[dict[str, Any], Any]]] = []
        self._changed = threading.Condition()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                encoding = self.headers.get("content-encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                collector._add(body)
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.port = int(self.server.server_address[1])
        self.dsn = f"http://public@127.0.0.1:{self.port}/42"

    def _add(self, body: bytes) -> None:
        lines = body.split(b"\n")
        items: list[tuple[dict[str, Any], Any]] = []
        index = 1  # line 0 is the envelope header
        while index < len(lines) and lines[index].strip():
            header = json.loads(lines[index])
            payload = lines[index + 1] if index + 1 < len(lines) else b""
            try:
                parsed: Any = json.loads(payload)
            except ValueError:
                parsed = payload
            items.append((header, parsed))
            index += 2
        with self._changed:
            self.envelopes.append(items)
            self._changed.notify_all()

    def events(self) -> list[dict[str, Any]]:
        with self._changed:
            return [p for env in self.envelopes for h, p in env if h.get("type") == "event"]

    def wait_for_event(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        with self._changed:
            while True:
                for envelope in self.envelopes:
                    for header, payload in envelope:
                        if header.get("type") == "event" and predicate(payload):
                            return payload
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching Sentry event; got {self.envelopes!r}")
                self._changed.wait(remaining)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(WAIT)


@pytest.fixture
def sentry_collector() -> Iterator[SentryCollector]:
    collector = SentryCollector()
    try:
        yield collector
    finally:
        collector.close()


@pytest.fixture(scope="session")
def span_exporter() -> Any:
    """The SDK's in-memory exporter, behind the global tracer provider.

    OpenTelemetry allows the global provider to be set once per process, so
    it is set once for the session; each test clears the exporter first.
    """
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture
def spans(span_exporter: Any) -> Any:
    span_exporter.clear()
    return span_exporter
