"""The ``pounce`` command line, run as a real process."""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import textwrap
from pathlib import Path

import httpx
import pytest

from pounce import config_options
from support.raw import RawConnection
from support.servers import run_pounce

APP = "support.apps:app"


def _scope(url: str, path: str = "/scope", **kwargs) -> dict:
    response = httpx.get(url + path, timeout=30, **kwargs)
    assert response.status_code == 200
    return json.loads(response.text)


def _one_error_line(err: str) -> str:
    """The CLI's failure output: exactly one line, no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------ starting up


def test_python_dash_m_pounce_serves(pounce):
    server = pounce(APP)
    assert httpx.get(server.url, timeout=30).text == "hello"


def test_console_script_serves(pounce):
    server = pounce(APP, script=True)
    assert httpx.get(server.url, timeout=30).text == "hello"


def test_version():
    code, out, err = run_pounce("--version")
    assert code == 0
    assert out.startswith("Pounce 0.1.0 on ")
    assert platform.python_version() in out
    assert err == ""


def test_help_lists_the_common_options_and_help_all_every_one():
    code, out, _ = run_pounce("--help", env={"COLUMNS": "80"})
    assert code == 0
    for flag in ("--port", "--uds", "--root-path", "--workers", "--reload", "--help-all"):
        assert flag in out
    assert "--limit-request-body" not in out
    assert len(out.splitlines()) < 120
    code, out_all, _ = run_pounce("--help-all", env={"COLUMNS": "80"})
    assert code == 0
    for spec in config_options():
        # Whole, never cut, at 80 columns.
        assert re.search(rf"^  {re.escape(spec.flag)}\b", out_all, re.MULTILINE), spec.flag
    for text in (out, out_all):
        assert max(len(line) for line in text.splitlines()) <= 80
        assert "\u2026" not in text  # no ellipsis: nothing was cut


# ------------------------------------------------------------ load errors


def test_missing_module(tmp_path):
    code, _, err = run_pounce("no_such_module:app", "--port", "0", cwd=tmp_path)
    assert code == 1
    assert 'Could not import module "no_such_module"' in _one_error_line(err)


def test_missing_submodule(tmp_path):
    code, _, err = run_pounce("support.nothing_here:app", "--port", "0")
    assert code == 1
    assert 'Could not import module "support.nothing_here".' in _one_error_line(err)


def test_missing_parent_package_is_named(tmp_path):
    code, _, err = run_pounce("no_such_pkg.app:app", "--port", "0", cwd=tmp_path)
    assert code == 1
    line = _one_error_line(err)
    assert 'Could not import module "no_such_pkg.app": no package "no_such_pkg".' in line


def _error_and_traceback(err: str) -> tuple[str, list[str]]:
    """The CLI's failure output for an error in the app's own code: one logged
    line, then the traceback of the user's code, once."""
    first, *rest = [line for line in err.splitlines() if line.strip()]
    assert rest[0] == "Traceback (most recent call last):", err
    assert err.count("Traceback (most recent call last):") == 1, err
    return first, rest


def test_module_whose_import_fails_names_the_real_cause(tmp_path):
    (tmp_path / "broken.py").write_text("import a_dependency_that_is_not_installed\n")
    (tmp_path / "raising.py").write_text(
        "def load_settings():\n    raise RuntimeError('bad settings')\n\nload_settings()\n"
    )
    code, _, err = run_pounce("broken:app", "--port", "0", cwd=tmp_path)
    assert code == 1
    line, traceback = _error_and_traceback(err)
    assert 'Error importing module "broken"' in line
    assert "a_dependency_that_is_not_installed" in line
    assert f'  File "{tmp_path / "broken.py"}", line 1, in <module>' in traceback
    code, _, err = run_pounce("raising:app", "--port", "0", cwd=tmp_path)
    assert code == 1
    line, traceback = _error_and_traceback(err)
    assert 'Error importing module "raising": RuntimeError: bad settings' in line
    # The user's file and lines, and nothing of importlib or Pounce.
    frames = [entry.strip() for entry in traceback if entry.startswith("  File ")]
    assert frames == [
        f'File "{tmp_path / "raising.py"}", line 4, in <module>',
        f'File "{tmp_path / "raising.py"}", line 2, in load_settings',
    ]
    assert traceback[-1] == "RuntimeError: bad settings"


def test_missing_attribute():
    code, _, err = run_pounce("support.apps:nope", "--port", "0")
    assert code == 1
    assert 'Attribute "nope" not found in module "support.apps"' in _one_error_line(err)


def test_not_callable():
    code, _, err = run_pounce("support.apps:not_callable", "--port", "0")
    assert code == 1
    assert "not callable" in _one_error_line(err)


def test_app_without_colon():
    code, _, err = run_pounce("support.apps", "--port", "0")
    assert code == 1
    assert "module:attribute" in _one_error_line(err)


def test_factory_without_flag_suggests_it():
    code, _, err = run_pounce("support.apps:make_app", "--port", "0")
    assert code == 1
    assert "--factory" in _one_error_line(err)


def test_factory(pounce):
    server = pounce("support.apps:make_app", "--factory")
    assert httpx.get(server.url, timeout=30).text == "hello"


def test_app_dir(pounce, tmp_path):
    app_dir = tmp_path / "project"
    app_dir.mkdir()
    (app_dir / "myapp.py").write_text(
        textwrap.dedent(
            """
            async def app(scope, receive, send):
                if scope["type"] != "http":
                    return
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"from app-dir"})
            """
        )
    )
    server = pounce("myapp:app", "--app-dir", str(app_dir), cwd=tmp_path)
    assert httpx.get(server.url, timeout=30).text == "from app-dir"


# ------------------------------------------------------------ bad options


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--port", "abc"], "--port: expected an integer, got 'abc'"),
        (["--lifespan", "maybe"], "--lifespan: expected one of auto, on, off, got 'maybe'"),
        (["--timeout-keep-alive", "soon"], "--timeout-keep-alive: expected a number"),
        (["--log-level", "loud"], "--log-level: expected one of"),
    ],
)
def test_bad_option_value(args, expected):
    code, _, err = run_pounce(APP, *args)
    assert code == 2
    assert expected in _one_error_line(err)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--port", "70000"], "port must be in 0..65535"),
        (["--timeout-keep-alive", "-1"], "--timeout-keep-alive must be positive"),
        (["--limit-request-body", "0"], "--limit-request-body must be positive"),
        (["--h11-max-incomplete-event-size", "0"], "--h11-max-incomplete-event-size must be"),
        (["--limit-queue", "5"], "--limit-queue needs --limit-concurrency"),
        (["--ssl-keyfile", "k.pem"], "--ssl-keyfile needs --ssl-certfile (TLS is off)"),
        (["--header", "no colon here"], "must look like 'Name: value'"),
        (["--forwarded-allow-ips", "not-an-ip"], "is not an IP address"),
        (["--root-path", "api/"], "--root-path must be empty or start with '/'"),
    ],
)
def test_invalid_setting(args, expected):
    code, _, err = run_pounce(APP, *args)
    assert code == 1
    assert expected in _one_error_line(err)


def test_unknown_option():
    code, _, err = run_pounce(APP, "--no-such-option", "1")
    assert code == 2
    assert "--no-such-option" in err
    assert "Traceback" not in err


def test_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run_pounce(APP, "--host", "127.0.0.1", "--port", str(port))
    assert code == 1
    assert f"Address 127.0.0.1:{port} is already in use." in _one_error_line(err)


# ------------------------------------------------------------ binding


def test_unix_domain_socket(pounce, tmp_path):
    path = str(tmp_path / "pounce.sock")
    server = pounce(APP, "--uds", path, bind=False)
    assert server.url == f"http+unix://{path}"
    with RawConnection(uds=path) as conn:
        conn.send_request("GET", "/scope")
        scope = json.loads(conn.read_response().body)
    assert scope["client"] is None
    assert scope["server"] == [path, None]
    transport = httpx.HTTPTransport(uds=path)
    with httpx.Client(transport=transport, timeout=30) as client:
        assert client.get("http://localhost/").text == "hello"
    server.send_signal(15)
    assert server.wait() == 0
    assert not os.path.exists(path), "the socket file is removed at exit"


def test_inherited_file_descriptor(pounce):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        fd = listener.fileno()
        server = pounce(APP, "--fd", str(fd), bind=False, pass_fds=[fd])
    assert server.url == f"http://127.0.0.1:{port}"
    assert httpx.get(server.url, timeout=30).text == "hello"


def test_bad_file_descriptor():
    code, _, err = run_pounce(APP, "--fd", "97")
    assert code == 1
    assert "97" in _one_error_line(err)


# ------------------------------------------------------------ options reach the app


def test_root_path_is_reflected_in_scope(pounce):
    server = pounce(APP, "--root-path", "/api")
    scope = _scope(server.url, "/v1/scope?q=1")
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/api/v1/scope"
    assert scope["raw_path"] == "/api/v1/scope"
    assert scope["query_string"] == "q=1"


def test_extra_response_headers(pounce):
    server = pounce(APP, "--header", "X-Served-By: pounce-test", "--header", "X-Other:2")
    response = httpx.get(server.url, timeout=30)
    assert response.headers["x-served-by"] == "pounce-test"
    assert response.headers["x-other"] == "2"


def test_env_file(pounce, tmp_path):
    env_file = tmp_path / "settings.env"
    env_file.write_text('# settings\nGREETING="hello from the file"\nexport OVERRIDDEN=file\n')
    server = pounce(APP, "--env-file", str(env_file), env={"OVERRIDDEN": "environment"})
    get = lambda name: httpx.get(server.url + f"/env?name={name}", timeout=30).text  # noqa: E731
    assert get("GREETING") == "hello from the file"
    assert get("OVERRIDDEN") == "environment"  # the real environment wins


def test_missing_env_file(tmp_path):
    code, _, err = run_pounce(APP, "--env-file", str(tmp_path / "absent.env"))
    assert code == 1
    assert "cannot read env file" in _one_error_line(err)


def test_proxy_headers_from_a_trusted_peer(pounce):
    server = pounce(APP)  # 127.0.0.1 is trusted by default
    scope = _scope(
        server.url,
        headers={"x-forwarded-for": "203.0.113.9, 127.0.0.1", "x-forwarded-proto": "https"},
    )
    assert scope["client"] == ["203.0.113.9", 0]
    assert scope["scheme"] == "https"


@pytest.mark.parametrize(
    "args", [["--forwarded-allow-ips", "10.0.0.1,192.0.2.0/24"], ["--no-proxy-headers"]]
)
def test_proxy_headers_from_an_untrusted_peer_are_ignored(pounce, args):
    server = pounce(APP, *args)
    scope = _scope(
        server.url, headers={"x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https"}
    )
    assert scope["client"][0] == "127.0.0.1"
    assert scope["scheme"] == "http"


def test_limits_from_the_command_line(pounce):
    server = pounce(APP, "--limit-request-body", "10", "--limit-request-line", "100")
    assert httpx.post(server.url, content=b"x" * 11, timeout=30).status_code == 413
    assert httpx.get(server.url + "/" + "a" * 200, timeout=30).status_code == 414
    assert httpx.post(server.url, content=b"x" * 10, timeout=30).status_code == 200


def test_lifespan_state_reaches_requests(pounce):
    server = pounce(APP)
    assert _scope(server.url)["state"] == ["started_at"]
    server.send_signal(15)
    assert server.wait() == 0
    assert "app: lifespan shutdown" in server.output


def test_working_directory_is_on_the_path(pounce, tmp_path: Path):
    (tmp_path / "here.py").write_text("from support.apps import app\n")
    server = pounce("here:app", cwd=tmp_path)
    assert httpx.get(server.url, timeout=30).text == "hello"
