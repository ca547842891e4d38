"""The packages as an index would get them, installed as a user would.

Every sdist and wheel is built (``uv build --all-packages``: each wheel from
its sdist, so a file missing from an sdist breaks its wheel), checked for
what an index needs (the license, a README, project URLs, classifiers, the
typed marker), then installed into a fresh virtual environment made from
the running interpreter, without the workspace: ``pip install pounce-cli``,
nothing editable. The installed ``pounce`` command then serves a plain ASGI
app over HTTP/1.1 and WebSocket, refuses settings whose battery is not
installed (in ``pounce check`` as in serving), and a FastAPI WebSocket route
works after nothing more than ``pip install pounce-cli fastapi``.

Slow (a build and an install, with uv's cache of the index); uv is the one
the test run has (``$UV``, as ``uv run`` and nox set it, or on PATH).
"""

from __future__ import annotations

import email.message
import email.parser
import os
import re
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from support.isolated import clean_environment, run_isolated, uv
from support.servers import TESTS_DIR

pytestmark = pytest.mark.slow

REPO = TESTS_DIR.parent
LICENSE = (REPO / "LICENSE").read_text()
PACKAGES = ("pounce-protocols", "pounce-core", "pounce-cli", "pounce-extras")
READY = re.compile(r"serving on http://127\.0\.0\.1:(\d+)")
START_TIMEOUT = 120.0

# What a plain `pip install pounce-cli` must not pull in (HTTP/3 and the
# batteries are extras) and must (what uvicorn[standard] users expect).
NOT_INSTALLED = ("pounce_extras", "aioquic")
INSTALLED = ("pounce", "pounce_cli", "pounce_protocols", "h11", "h2", "wsproto")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run_isolated([uv(), "build", "--all-packages", "--out-dir", out], cwd=REPO)
    return out


def _wheel(dist: Path, package: str) -> Path:
    (found,) = dist.glob(f"{package.replace('-', '_')}-*.whl")
    return found


def _sdist(dist: Path, package: str) -> Path:
    (found,) = dist.glob(f"{package.replace('-', '_')}-*.tar.gz")
    return found


@dataclass(frozen=True)
class Venv:
    root: Path
    uv: str

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def python(self, code: str, cwd: Path) -> str:
        return run_isolated([self.bin / "python", "-c", code], cwd=cwd)

    def pounce(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "pounce"), *args],
            cwd=cwd,
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A fresh venv of this interpreter with `pip install pounce-cli`, from the wheels."""
    place = tmp_path_factory.mktemp("venv")
    uv_path = uv()
    root = place / "venv"
    run_isolated([uv_path, "venv", "--python", sys.executable, root], cwd=place)
    # The wheels of what pounce-cli needs, named as files so that the index
    # is asked only for third-party packages.
    wheels = [_wheel(dist, p) for p in ("pounce-cli", "pounce-core", "pounce-protocols")]
    run_isolated(
        [uv_path, "pip", "install", "--python", root / "bin" / "python", *wheels], cwd=place
    )
    return Venv(root=root, uv=uv_path)


# ------------------------------------------------------------ what is built


@pytest.mark.parametrize("package", PACKAGES)
def test_every_sdist_has_the_license_readme_and_project(dist: Path, package: str) -> None:
    with tarfile.open(_sdist(dist, package)) as sdist:
        names = {Path(*Path(m.name).parts[1:]).as_posix() for m in sdist.getmembers()}
        assert {"LICENSE", "README.md", "pyproject.toml"} <= names
        top = Path(sdist.getnames()[0]).parts[0]
        member = sdist.extractfile(f"{top}/LICENSE")
        assert member is not None
        assert member.read().decode() == LICENSE


def _metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return email.parser.Parser().parsestr(wheel.read(name).decode())


@pytest.mark.parametrize("package", PACKAGES)
def test_every_wheel_is_fit_for_an_index(dist: Path, package: str) -> None:
    with zipfile.ZipFile(_wheel(dist, package)) as wheel:
        names = wheel.namelist()
        (license_file,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert wheel.read(license_file).decode() == LICENSE
        module = {"pounce-core": "pounce"}.get(package, package.replace("-", "_"))
        assert f"{module}/py.typed" in names
        meta = _metadata(wheel)
    assert meta["License-Expression"] == "BSD-3-Clause"
    assert meta["License-File"] == "LICENSE"
    classifiers = meta.get_all("Classifier") or []
    for version in ("3.11", "3.12", "3.13", "3.14"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert "Programming Language :: Python :: Free Threading :: 2 - Beta" in classifiers
    assert "Typing :: Typed" in classifiers
    if package != "pounce-protocols":
        assert "Framework :: AsyncIO" in classifiers
    # PEP 639: the license is the expression; a License :: classifier beside it is refused.
    assert not [c for c in classifiers if c.startswith("License ::")]
    urls = dict(entry.split(", ", 1) for entry in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Source", "Issues"} <= set(urls)
    readme = meta.get_payload()
    assert isinstance(readme, str)
    assert readme.startswith(f"# {package}\n")
    # Each says how it relates to the others.
    others = [p for p in PACKAGES if p != package]
    assert sum(other in readme for other in others) >= 2, readme


def test_the_plain_install_is_the_server_users_expect(dist: Path) -> None:
    with zipfile.ZipFile(_wheel(dist, "pounce-cli")) as wheel:
        requires = _metadata(wheel).get_all("Requires-Dist") or []
    assert "pounce-core[standard]==0.1.0" in requires
    with zipfile.ZipFile(_wheel(dist, "pounce-core")) as wheel:
        requires = _metadata(wheel).get_all("Requires-Dist") or []
    # uvloop 0.23+ (free-threaded builds that keep the GIL off), CPython
    # only, no Windows build; wsproto through pounce-protocols.
    marker = "(sys_platform != 'win32' and platform_python_implementation == 'CPython')"
    assert f"uvloop>=0.23; {marker} and extra == 'standard'" in requires
    assert "pounce-protocols[websocket]==0.1.0; extra == 'standard'" in requires
    assert not [r for r in requires if "aioquic" in r or ("http3" in r and "standard" in r)]


def test_the_readme_opens_with_the_install_line_then_the_run_line() -> None:
    """What the tests below install (the pounce-cli wheel and what it needs) is
    what the README's first lines tell a user to run."""
    text = (REPO / "README.md").read_text()
    first_block = text.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    assert first_block[0] == "$ pip install pounce-cli"
    assert first_block[1].startswith("$ pounce myapp:app")
    assert text.index("```console") < text.index("\n## ")


# ------------------------------------------------------------ installed


def test_pip_install_pounce_cli_brings_http2_and_websocket_not_the_extras(
    venv: Venv, tmp_path: Path
) -> None:
    probe = textwrap.dedent(
        f"""
        import importlib.util, pounce
        print(pounce.__file__)
        for name in {INSTALLED + NOT_INSTALLED!r}:
            print(name, importlib.util.find_spec(name) is not None)
        """
    )
    first, *found = venv.python(probe, cwd=tmp_path).splitlines()
    assert Path(first).is_relative_to(venv.root), "pounce must come from the venv"
    present = dict(line.split() for line in found)
    assert {name: present[name] for name in INSTALLED} == dict.fromkeys(INSTALLED, "True")
    assert {name: present[name] for name in NOT_INSTALLED} == dict.fromkeys(NOT_INSTALLED, "False")


# A plain ASGI app (HTTP and a WebSocket echo) that imports nothing of Pounce.
PLAIN_APP = (TESTS_DIR / "support" / "standalone_app.py").read_text()

FASTAPI_APP = """
from fastapi import FastAPI, WebSocket

app = FastAPI()


@app.websocket("/ws")
async def echo(websocket: WebSocket):
    await websocket.accept()
    text = await websocket.receive_text()
    await websocket.send_text("echo " + text)
    await websocket.close()
"""


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    log: Path
    port: int = 0

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def serve_installed(venv: Venv, tmp_path: Path) -> Iterator[object]:
    """Start the venv's `pounce` on an app file; its output goes to a file; always stopped."""
    started: list[Served] = []

    def start(source: str, *args: str) -> Served:
        (tmp_path / "served_app.py").write_text(source)
        log = tmp_path / f"pounce-{len(started)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(venv.bin / "pounce"), "served_app:app", "--port", "0", *args],
                cwd=tmp_path,
                env=clean_environment(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        served = Served(proc=proc, log=log)
        started.append(served)
        deadline = time.monotonic() + START_TIMEOUT
        while not (match := READY.search(served.output)):
            assert proc.poll() is None, f"pounce exited:\n{served.output}"
            assert time.monotonic() < deadline, f"pounce never served:\n{served.output}"
            time.sleep(0.1)
        served.port = int(match.group(1))
        return served

    try:
        yield start
    finally:
        for served in started:
            if served.proc.poll() is None:
                os.killpg(served.proc.pid, signal.SIGKILL)
            served.proc.wait(60)


def _stop(served: Served) -> None:
    os.killpg(served.proc.pid, signal.SIGTERM)
    assert served.proc.wait(60) == 0, served.output
    assert "Finished server process" in served.output


def test_the_installed_command_serves_http_and_websocket(serve_installed) -> None:  # type: ignore[no-untyped-def]
    served = serve_installed(PLAIN_APP)
    response = httpx.get(f"http://127.0.0.1:{served.port}/", timeout=30)
    assert response.json() == {"http_version": "1.1", "scheme": "http"}
    with connect(f"ws://127.0.0.1:{served.port}/ws", open_timeout=30) as websocket:
        websocket.send("hi")
        assert websocket.recv(timeout=30) == "echo hi"
    assert "Application startup complete." in served.output
    assert "(Press CTRL+C to quit)" in served.output
    _stop(served)


def test_a_battery_that_is_not_installed_fails_check_as_it_fails_serving(
    venv: Venv, tmp_path: Path
) -> None:
    (tmp_path / "served_app.py").write_text(PLAIN_APP)
    wanted = "--metrics needs pounce-extras[metrics]: pip install 'pounce-extras[metrics]'"
    check = venv.pounce("check", "served_app:app", "--port", "0", "--metrics", cwd=tmp_path)
    assert check.returncode == 1
    assert f"FAIL  features: {wanted}" in check.stdout
    served = venv.pounce("served_app:app", "--port", "0", "--metrics", cwd=tmp_path)
    assert served.returncode == 1
    assert wanted in served.stderr
    assert "serving on" not in served.stderr


def test_info_says_what_is_not_installed(venv: Venv, tmp_path: Path) -> None:
    info = venv.pounce("info", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "    [http3] not installed (aioquic)" in info.stdout
    assert "  pounce-extras: not installed" in info.stdout
    assert "    [websocket] installed (wsproto)" in info.stdout


def test_a_fastapi_websocket_route_works_after_pip_install_pounce_cli_fastapi(
    venv: Venv, serve_installed
) -> None:  # type: ignore[no-untyped-def]
    run_isolated(
        [venv.uv, "pip", "install", "--python", venv.bin / "python", "fastapi"], cwd=venv.root
    )
    served = serve_installed(FASTAPI_APP)
    with connect(f"ws://127.0.0.1:{served.port}/ws", open_timeout=30) as websocket:
        websocket.send("fastapi")
        assert websocket.recv(timeout=30) == "echo fastapi"
    assert "wsproto is not installed" not in served.output
    _stop(served)


def test_an_installed_pytest_plugin_costs_unrelated_projects_nothing(
    venv: Venv, tmp_path: Path
) -> None:
    """pytest, installed beside pounce-core, loads the plugin and no server."""
    run_isolated(
        [venv.uv, "pip", "install", "--python", venv.bin / "python", "pytest"], cwd=venv.root
    )
    (tmp_path / "test_unrelated.py").write_text("def test_nothing():\n    pass\n")
    report = tmp_path / "loaded.txt"
    (tmp_path / "conftest.py").write_text(
        "import sys\n\n"
        "def pytest_sessionfinish(session):\n"
        "    loaded = sorted(m for m in sys.modules if m.startswith(('pounce', 'h11', 'h2')))\n"
        f"    open({str(report)!r}, 'w').write(' '.join(loaded))\n"
    )
    run_isolated(
        [venv.bin / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tmp_path
    )
    # The plugin was loaded, and brought nothing of the server with it.
    assert report.read_text().split() == ["pounce", "pounce._pytest_plugin", "pounce._version"]
