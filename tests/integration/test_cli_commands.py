"""``pounce check``, ``info``, ``config show``, ``config schema``, and config files."""

from __future__ import annotations

import json
import platform
import socket

import httpx

from support.servers import TESTS_DIR, run_pounce

APP = "support.apps:app"
PYTHONPATH = {"PYTHONPATH": str(TESTS_DIR)}


def test_serving_reads_pounce_toml_in_the_working_directory(pounce, tmp_path):
    (tmp_path / "pounce.toml").write_text(
        f'app = "{APP}"\nheaders = ["x-from: file"]\naccess_log = false\n'
    )
    server = pounce(cwd=tmp_path)  # no APP: the file names it
    response = httpx.get(server.url, timeout=30)
    assert response.text == "hello"
    assert response.headers["x-from"] == "file"


def test_flags_override_the_environment_which_overrides_the_file(tmp_path):
    (tmp_path / "pounce.toml").write_text("port = 1001\nbacklog = 7\nworkers = 2\n")
    code, out, err = run_pounce(
        "config", "show", "--json", "--port", "1003",
        cwd=tmp_path,
        env={"POUNCE_PORT": "1002", "POUNCE_WORKERS": "3"},
    )  # fmt: skip
    assert code == 0, err
    shown = json.loads(out)
    assert shown["port"] == {"value": 1003, "source": "--port"}
    assert shown["workers"] == {"value": 3, "source": "env POUNCE_WORKERS"}
    assert shown["backlog"] == {"value": 7, "source": str(tmp_path / "pounce.toml")}
    assert shown["host"] == {"value": "127.0.0.1", "source": "default"}


def test_config_show_redacts_secrets(tmp_path):
    config = tmp_path / "server.toml"
    config.write_text('ssl_certfile = "cert.pem"\nssl_keyfile_password = "hunter2"\n')
    code, out, _ = run_pounce("config", "show", "--config", str(config))
    assert code == 0
    assert "hunter2" not in out
    assert "ssl_keyfile_password" in out
    assert '"********"' in out
    assert f"# config file: {config}" in out


def test_an_unknown_key_in_the_file_is_an_error_with_a_suggestion(tmp_path):
    (tmp_path / "pounce.toml").write_text("prot = 9000\n")
    code, _, err = run_pounce(APP, cwd=tmp_path, env=PYTHONPATH)
    assert code == 1
    assert "unknown setting 'prot'. Did you mean 'port'?" in err
    assert "Traceback" not in err


def test_a_type_error_in_pyproject_names_key_and_file(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.pounce]\nworkers = "many"\n')
    code, _, err = run_pounce("check", APP, cwd=tmp_path, env=PYTHONPATH)
    assert code == 1
    assert f"{tmp_path / 'pyproject.toml'}: tool.pounce.workers: expected an integer" in err


def test_no_app_anywhere_is_a_usage_error(tmp_path):
    code, _, err = run_pounce(cwd=tmp_path)
    assert code == 2
    assert "Missing argument 'APP'" in err


def test_check_passes_for_a_good_setup():
    code, out, _ = run_pounce("check", APP, "--port", "0")
    assert code == 0, out
    for line in ("ok    config: valid", "ok    app: imported support.apps:app", "ok    bind:"):
        assert line in out
    assert out.rstrip().endswith("All checks passed.")


def test_check_reports_every_problem_with_status_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, _ = run_pounce(
            "check", "support.apps:missing", "--port", str(port),
            "--on-worker-start", "support.nowhere:hook",
        )  # fmt: skip
    assert code == 1
    assert 'FAIL  app: Attribute "missing" not found' in out
    assert f"FAIL  bind: Address 127.0.0.1:{port} is already in use." in out
    assert "FAIL  worker hooks: cannot load on_worker_start hook 'support.nowhere:hook'" in out
    assert "3 problem(s) found." in out


def test_check_reports_an_invalid_setting():
    code, out, _ = run_pounce("check", APP, "--port", "70000")
    assert code == 1
    assert "FAIL  config: --port must be in 0..65535" in out


def test_info_describes_the_interpreter_and_packages():
    code, out, _ = run_pounce("info")
    assert code == 0
    assert f"{platform.python_implementation()} {platform.python_version()}" in out
    assert "auto picks" in out
    assert "pounce-core: 0.1.0" in out
    assert "[websocket] installed (wsproto)" in out


def test_info_json():
    code, out, _ = run_pounce("info", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["python"]["version"] == platform.python_version()
    assert data["workers"]["auto_mode"] in ("thread", "process")
    assert data["versions"]["pounce-cli"] == "0.1.0"
    http2 = data["extras"]["pounce-protocols"]["http2"]
    assert "h2" in http2["requires"]
    assert http2["installed"] is True


def test_config_schema_is_json_schema():
    code, out, _ = run_pounce("config", "schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "on_worker_start" in schema["properties"]


def test_serve_is_the_explicit_form(pounce):
    server = pounce("serve", APP)
    assert httpx.get(server.url, timeout=30).text == "hello"


def test_help_lists_the_other_commands():
    code, out, _ = run_pounce("--help")
    assert code == 0
    assert "pounce check" in out
    assert "--config" in out
