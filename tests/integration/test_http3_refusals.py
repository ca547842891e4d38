"""``--http3`` refused at start-up, with a reason, where it cannot be served.

Without TLS; on a free-threaded interpreter (for real on 3.14t, by
substitution on a GIL build); without aioquic. None of these needs aioquic,
so they run on every interpreter.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from typing import Any

import pytest

from pounce._runtime.asgi_types import Receive, Scope, Send
from support.apps import respond
from support.tls import Certificates, certificates

__all__ = ["certificates"]  # the fixture, used by name below

FREE_THREADED = not getattr(sys, "_is_gil_enabled", lambda: True)()


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await respond(send, "hello")


def _pounce_http3(pounce: Any, certificates: Certificates) -> Any:
    """``pounce --http3`` with a certificate, run to its exit."""
    process = pounce(
        "support.apps:app",
        "--http3",
        "--ssl-certfile",
        str(certificates.server_cert),
        "--ssl-keyfile",
        str(certificates.server_key),
        ready=False,
    )
    assert process.wait() != 0
    return process


def test_http3_needs_tls() -> None:
    from pounce import ServerConfig

    with pytest.raises(ValueError, match="http3 needs TLS"):
        ServerConfig(http3=True)


def test_cli_refuses_http3_without_tls(pounce: Any) -> None:
    process = pounce("support.apps:app", "--http3", ready=False)
    assert process.wait() != 0
    assert "http3 needs TLS" in process.output


@pytest.mark.skipif(FREE_THREADED, reason="the real refusal is tested below on this interpreter")
def test_http3_refused_when_free_threaded(
    serve: Any, certificates: Certificates, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    from pounce._edges.http3 import support

    monkeypatch.setattr(support, "gil_enabled", lambda: False)
    caplog.set_level(logging.ERROR)
    with pytest.raises(RuntimeError, match="did not start"):
        serve(app, http3=True, **certificates.server_options())
    assert "free-threaded" in caplog.text


@pytest.mark.skipif(not FREE_THREADED, reason="needs a free-threaded interpreter")
def test_cli_refuses_http3_on_free_threaded_python(pounce: Any, certificates: Certificates) -> None:
    # The server's own interpreter is this free-threaded one: nothing is substituted.
    process = _pounce_http3(pounce, certificates)
    assert "--http3 is not available on a free-threaded Python build" in process.output
    # The refusal comes before aioquic could be imported and switch the GIL on
    # (CPython warns when an extension module does that).
    assert "has been enabled" not in process.output


@pytest.mark.skipif(
    importlib.util.find_spec("aioquic") is not None, reason="aioquic is installed here"
)
@pytest.mark.skipif(FREE_THREADED, reason="the free-threaded refusal comes first")
def test_cli_refuses_http3_without_aioquic(pounce: Any, certificates: Certificates) -> None:
    process = _pounce_http3(pounce, certificates)
    assert "--http3 needs aioquic installed" in process.output
