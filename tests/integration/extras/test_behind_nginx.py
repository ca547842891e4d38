"""Two Pounce instances behind a real nginx (Debian's), as in production.

nginx balances between the instances, sets the forwarding headers Pounce
trusts from 127.0.0.1, and retries an idempotent request on the other
instance when one refuses the connection. The rolling-restart test restarts
each instance in turn (SIGTERM, graceful drain, start again on the same
port) under a steady stream of requests and checks that every one of them
got its answer.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import PounceFactory
from support.raw import RawConnection
from support.servers import PounceProcess
from support.waiting import WAIT, wait_for

from .conftest import free_port

pytestmark = pytest.mark.slow

NGINX_CONF = """\
{user}
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    upstream pounce {{
        # max_fails=0: never mark an instance down; a refused connection is
        # simply retried on the other one (proxy_next_upstream).
        server 127.0.0.1:{port_a} max_fails=0;
        server 127.0.0.1:{port_b} max_fails=0;
    }}
    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_next_upstream error timeout;
        proxy_connect_timeout 5s;
        proxy_read_timeout 60s;
        # A location with any proxy_set_header inherits none from the server
        # block, so each one sets every header it needs.
        location / {{
            proxy_pass http://pounce;
            proxy_set_header Host $host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
        location /tls/ {{
            # As a TLS-terminating proxy would say it.
            proxy_pass http://pounce/;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-Host $host;
        }}
        location /rfc7239/ {{
            proxy_pass http://pounce/;
            proxy_set_header Host $host;
            proxy_set_header Forwarded "for=$remote_addr;proto=https;host=$host";
        }}
    }}
}}
"""


class Nginx:
    """A real nginx in front of two upstream ports; killed at teardown."""

    def __init__(self, program: str, tmp: Path, port_a: int, port_b: int) -> None:
        self.tmp = tmp
        self.port = free_port()
        tmp.mkdir(parents=True, exist_ok=True)
        # As root, nginx would run its workers as "nobody", who cannot reach
        # pytest's private temporary directory.
        user = "user root root;" if os.geteuid() == 0 else ""
        conf = NGINX_CONF.format(user=user, tmp=tmp, port=self.port, port_a=port_a, port_b=port_b)
        (tmp / "nginx.conf").write_text(conf)
        self.process = subprocess.Popen(
            [program, "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for(self._listening, what=f"nginx to listen ({self.errors()})")

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"nginx exited: {self.errors()}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def errors(self) -> str:
        log = self.tmp / "error.log"
        return log.read_text() if log.exists() else ""

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(WAIT)
        if self.process.stderr is not None:
            self.process.stderr.close()


class Pair:
    """Two Pounce instances on fixed ports, restartable on the same port."""

    def __init__(self, pounce: PounceFactory, *extra: str) -> None:
        self.pounce = pounce
        self.extra = extra
        self.ports = {"a": free_port(), "b": free_port()}
        self.processes = {name: self.start(name) for name in self.ports}

    def start(self, name: str) -> PounceProcess:
        return self.pounce(
            "support.extras_apps:app",
            "--host", "127.0.0.1",
            "--port", str(self.ports[name]),
            "--timeout-graceful-shutdown", "30",
            *self.extra,
            bind=False,
            env={"POUNCE_INSTANCE": name},
        )  # fmt: skip

    def restart(self, name: str) -> None:
        process = self.processes[name]
        process.send_signal(signal.SIGTERM)
        assert process.wait() == 0, process.output
        process.kill()  # reaps and closes its pipes
        self.processes[name] = self.start(name)


@pytest.fixture
def behind_nginx(
    pounce: PounceFactory, require_tool: Callable[[str], str], tmp_path: Path
) -> Iterator[Callable[..., tuple[Nginx, Pair]]]:
    started: list[Nginx] = []

    def start(*extra: str) -> tuple[Nginx, Pair]:
        program = require_tool("nginx")
        pair = Pair(pounce, *extra)
        nginx = Nginx(program, tmp_path / "nginx", pair.ports["a"], pair.ports["b"])
        started.append(nginx)
        return nginx, pair

    try:
        yield start
    finally:
        for nginx in started:
            nginx.stop()


def test_requests_are_balanced_over_both_instances(behind_nginx: Any) -> None:
    nginx, _ = behind_nginx()
    with httpx.Client() as client:
        names = {client.get(nginx.url + "/whoami").text.strip() for _ in range(10)}
    assert names == {"a", "b"}


def test_proxy_headers_from_nginx(behind_nginx: Any) -> None:
    nginx, _ = behind_nginx()
    headers = {"host": "shop.example", "x-forwarded-for": "203.0.113.7"}
    with httpx.Client() as client:
        plain = client.get(nginx.url + "/scope", headers=headers).json()
        tls = client.get(nginx.url + "/tls/scope", headers=headers).json()
        rfc = client.get(nginx.url + "/rfc7239/scope", headers={"host": "rfc.example"}).json()
    # nginx appended 127.0.0.1 (the test client) to what the client claimed;
    # only nginx (127.0.0.1) is trusted, so the rightmost other hop is the client.
    assert plain["client"][0] == "203.0.113.7"
    assert plain["scheme"] == "http"
    assert plain["headers"]["host"] == "shop.example"
    assert tls["scheme"] == "https"
    assert tls["client"][0] == "203.0.113.7"
    assert rfc["scheme"] == "https"
    assert rfc["client"][0] == "127.0.0.1"
    assert rfc["headers"]["host"] == "rfc.example"


def test_untrusted_proxy_headers_are_ignored_behind_nginx(behind_nginx: Any) -> None:
    nginx, _ = behind_nginx("--forwarded-allow-ips", "10.0.0.1")
    seen = httpx.get(nginx.url + "/tls/scope", headers={"x-forwarded-for": "203.0.113.7"}).json()
    assert seen["client"][0] == "127.0.0.1"  # nginx itself, not trusted here
    assert seen["scheme"] == "http"


# --------------------------------------------------------------- WebSocket


def _handshake(host: str, port: int, path: str = "/ws") -> RawConnection:
    key = base64.b64encode(os.urandom(16)).decode()
    conn = RawConnection(host, port)
    conn.send_request(
        "GET",
        path,
        headers=[
            ("host", f"{host}:{port}"),
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-key", key),
            ("sec-websocket-version", "13"),
        ],
    )
    return conn


def _speaks_websocket(port: int) -> bool:
    with _handshake("127.0.0.1", port) as conn:
        try:
            return conn.read_head().status == 101
        except (TimeoutError, OSError, ValueError):
            return False


def _send_text(conn: RawConnection, text: str) -> None:
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    conn.send(bytes([0x81, 0x80 | len(payload)]) + mask + masked)


def _read_text(conn: RawConnection) -> str:
    deadline = time.monotonic() + WAIT
    first, second = conn.read_exactly(2, deadline)
    assert first == 0x81  # FIN + text
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", conn.read_exactly(2, deadline))
    return conn.read_exactly(length, deadline).decode()


def test_websocket_through_nginx(behind_nginx: Any) -> None:
    nginx, pair = behind_nginx()
    if not _speaks_websocket(pair.ports["a"]):
        pytest.skip("this build of Pounce does not serve WebSocket yet")
    with _handshake("127.0.0.1", nginx.port) as conn:
        head = conn.read_head()
        assert head.status == 101
        assert (head.header("upgrade") or "").lower() == "websocket"
        _send_text(conn, "hello")
        assert _read_text(conn) == "echo: hello"


# ------------------------------------------------------------ rolling restart


def test_a_rolling_restart_drops_nothing(behind_nginx: Any) -> None:
    nginx, pair = behind_nginx()
    stop = threading.Event()
    results: list[tuple[int, str]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client_loop(method: str, path: str) -> None:
        with httpx.Client(timeout=WAIT) as client:
            while not stop.is_set():
                try:
                    response = client.request(method, nginx.url + path, content=b"payload")
                except httpx.HTTPError as exc:
                    with lock:
                        failures.append(repr(exc))
                    continue
                with lock:
                    results.append((response.status_code, response.text.strip()))

    # nginx retries a GET on the other instance even after sending it, which
    # would hide a request Pounce dropped; a POST, once sent, is never retried.
    threads = [
        threading.Thread(target=client_loop, args=("GET", "/whoami")),
        threading.Thread(target=client_loop, args=("POST", "/whoami")),
        threading.Thread(target=client_loop, args=("POST", "/whoami")),
        threading.Thread(target=client_loop, args=("POST", "/slow?s=0.3")),
    ]
    for thread in threads:
        thread.start()
    try:

        def served_since(mark: int, name: str) -> bool:
            with lock:
                return any(body == name for _, body in results[mark:])

        for name in ("a", "b"):
            with lock:
                before = len(results)
            pair.restart(name)
            # The new instance takes requests again before the next restart.
            wait_for(lambda n=name, m=before: served_since(m, n), what=f"{name} to serve again")
    finally:
        stop.set()
        for thread in threads:
            thread.join(WAIT)
    statuses = [status for status, _ in results]
    assert failures == []
    assert len(statuses) > 50
    bad = [status for status in statuses if status != 200]
    # Refused connections are expected (and retried); anything else explains a 502.
    other = [line for line in nginx.errors().splitlines() if "Connection refused" not in line]
    assert bad == [], "\n".join(other[-10:])
    assert {body for _, body in results} == {"a", "b", "slept"}
    assert nginx.errors().count("[emerg]") == 0
