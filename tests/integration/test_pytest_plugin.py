"""The ``pounce`` pytest plugin, run in throw-away test suites (pytester)."""

from __future__ import annotations

import pytest

from support.servers import TESTS_DIR

# Served by the throw-away suites: it imports nothing of the test suite.
APP = (TESTS_DIR / "support" / "standalone_app.py").read_text()

SUITE = """
import httpx
import pytest
from websockets.sync.client import connect


@pytest.fixture
def pounce_app():
    return "myapp:app"


def test_http11(pounce_server):
    assert httpx.get(pounce_server.url, timeout=30).json()["http_version"] == "1.1"


def test_http2_prior_knowledge(pounce_server):
    with httpx.Client(http1=False, http2=True, timeout=30) as client:
        assert client.get(pounce_server.url).json()["http_version"] == "2"


def test_websocket(pounce_server):
    assert pounce_server.ws_url.startswith("ws://127.0.0.1:")
    with connect(pounce_server.ws_url + "/chat", open_timeout=30) as ws:
        ws.send("hi")
        assert ws.recv(timeout=30) == "echo hi"


def test_factory_with_tls(pounce_server_factory):
    server = pounce_server_factory("myapp:app", tls=True, workers=2)
    assert server.url.startswith("https://")
    with httpx.Client(verify=server.client_ssl_context(), http2=True, timeout=30) as client:
        data = client.get(server.url).json()
    assert data == {"http_version": "2", "scheme": "https"}
"""


def test_fixtures_serve_http1_http2_websocket_and_tls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(myapp=APP, test_suite=SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_options_fixture_configures_the_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        myapp=APP,
        test_options="""
import httpx
import pytest

@pytest.fixture
def pounce_app():
    return "myapp:app"

@pytest.fixture
def pounce_server_options():
    return {"headers": ["x-suite: yes"], "server_header": False}

def test_headers(pounce_server):
    response = httpx.get(pounce_server.url, timeout=30)
    assert response.headers["x-suite"] == "yes"
    assert "server" not in response.headers
""",
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_pounce_server_without_an_app_says_what_to_define(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(pounce_server):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*'pounce_app' fixture: define one*"])


def test_the_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(pounce_server):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:pounce", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'pounce_server' not found*"])
