"""pounce-protocols as another server would install it: its wheel alone, in a fresh venv.

The wheel is built from the workspace (``uv build --package pounce-protocols``)
and installed with its ``http2`` and ``websocket`` extras (and ``http3`` where
aioquic installs) into a new virtual environment of the running interpreter;
its dependencies come from the index. pounce-core, pounce-cli and
pounce-extras are not there. ``support/protocols_alone.py`` then drives each
machine with scripted bytes in that environment, with ``python -I`` so that
nothing of the checkout is on its path, and checks that ``pounce`` is not
importable. A machine that came to depend on the server (an import, a helper
only the core provides) fails here.

Slow (a build and an install, from uv's cache of the index); uv is the one the
test run has (``$UV``, as ``uv run`` and nox set it, or on PATH).
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import pytest

from support.isolated import run_isolated, uv
from support.servers import TESTS_DIR
from support.tls import make_certificates

pytestmark = pytest.mark.slow

REPO = TESTS_DIR.parent
SCRIPT = TESTS_DIR / "support" / "protocols_alone.py"
# aioquic ships stable-ABI wheels only, which a free-threaded build cannot load.
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


@pytest.fixture(scope="module")
def python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv of this interpreter holding the pounce-protocols wheel and its extras."""
    uv_path = uv()
    dist = tmp_path_factory.mktemp("dist")
    run_isolated(
        [uv_path, "build", "--package", "pounce-protocols", "--wheel", "--out-dir", dist], cwd=REPO
    )
    (wheel,) = dist.glob("pounce_protocols-*.whl")
    root = tmp_path_factory.mktemp("venv") / "venv"
    run_isolated([uv_path, "venv", "--python", sys.executable, root], cwd=root.parent)
    interpreter = root / "bin" / "python"
    extras = "http2,websocket" if FREE_THREADED else "http2,websocket,http3"
    requirement = f"pounce-protocols[{extras}] @ {wheel.as_uri()}"
    run_isolated([uv_path, "pip", "install", "--python", interpreter, requirement], cwd=root.parent)
    return interpreter


def test_the_wheel_installs_nothing_of_pounce(python: Path) -> None:
    listed = run_isolated([uv(), "pip", "list", "--python", python], cwd=python.parent)
    names = {line.split()[0].lower() for line in listed.splitlines()[2:] if line.strip()}
    assert "pounce-protocols" in names
    assert {"h11", "h2", "wsproto"} <= names
    assert not names & {"pounce-core", "pounce-cli", "pounce-extras"}, names


def test_every_machine_runs_without_the_server(python: Path, tmp_path: Path) -> None:
    args: list[str | Path] = [python, "-I", SCRIPT]
    if not FREE_THREADED:
        certs = make_certificates(tmp_path)
        args += ["--http3", certs.server_cert, certs.server_key, certs.ca_file]
    output = run_isolated(args, cwd=tmp_path)
    lines = [line.partition(":")[2].strip() for line in output.splitlines()]
    assert lines[0].startswith("pounce-protocols alone")
    assert lines[1:4] == [
        "HTTP/1.1 request, response, pipelining and a rejected request",
        "HTTP/2 preface, request, response frames and GOAWAY",
        "WebSocket handshake, masked frames and the close handshake",
    ]
    if FREE_THREADED:
        assert len(lines) == 4
    else:
        assert lines[4:] == ["HTTP/3 handshake, request and response"]


@pytest.mark.skipif(not FREE_THREADED, reason="HTTP/3 is installed and tested on this build")
def test_http3_is_left_out_on_free_threaded_builds(python: Path) -> None:
    # aioquic has stable-ABI wheels only: the [http3] extra cannot install on
    # a free-threaded build, and asking for HTTP/3 says what is missing.
    code = (
        "import pounce_protocols\n"
        "try:\n    pounce_protocols.HTTP3Endpoint\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    assert "install pounce-protocols[http3]" in run_isolated(
        [python, "-I", "-c", code], cwd=python.parent
    )
