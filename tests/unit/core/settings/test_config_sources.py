"""Settings from a config file and POUNCE_* variables, under the flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pounce import ConfigFileError, ServerConfig, config_options, config_schema, resolve_settings
from pounce._settings.sources import find_config_file, read_config_file


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_precedence_is_defaults_then_file_then_environment_then_flags(tmp_path: Path) -> None:
    _write(tmp_path, "pounce.toml", 'app = "m:app"\nport = 1\nworkers = 2\nbacklog = 10\n')
    settings = resolve_settings(
        cli={"port": 3},
        directory=tmp_path,
        environ={"POUNCE_PORT": "2", "POUNCE_WORKERS": "4"},
    )
    assert settings.options == {"port": 3, "workers": 4, "backlog": 10}
    assert settings.sources == {
        "port": "--port",
        "workers": "env POUNCE_WORKERS",
        "backlog": str(tmp_path / "pounce.toml"),
    }
    assert settings.app == "m:app"
    config = ServerConfig(**settings.options)
    assert (config.port, config.workers, config.backlog, config.host) == (3, 4, 10, "127.0.0.1")


def test_nothing_found_means_defaults(tmp_path: Path) -> None:
    settings = resolve_settings(cli={}, directory=tmp_path, environ={})
    assert (settings.options, settings.sources, settings.app, settings.file) == ({}, {}, None, None)


def test_pounce_toml_is_preferred_to_pyproject(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", "[tool.pounce]\nport = 1\n")
    assert find_config_file(tmp_path) == tmp_path / "pyproject.toml"
    _write(tmp_path, "pounce.toml", "port = 2\n")
    assert find_config_file(tmp_path) == tmp_path / "pounce.toml"


def test_a_pyproject_without_tool_pounce_is_not_a_config_file(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", "[project]\nname = 'x'\n")
    assert find_config_file(tmp_path) is None


def test_pyproject_tool_pounce_table(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "pyproject.toml",
        '[project]\nname = "x"\n[tool.pounce]\napp = "m:app"\n'
        'timeout-keep-alive = 7\nforwarded_allow_ips = ["10.0.0.1"]\n',
    )
    options, app = read_config_file(path)
    assert app == "m:app"
    assert options == {"timeout_keep_alive": 7.0, "forwarded_allow_ips": ("10.0.0.1",)}


def test_named_file_wins_over_discovery(tmp_path: Path) -> None:
    _write(tmp_path, "pounce.toml", "port = 1\n")
    other = _write(tmp_path, "other.toml", "port = 2\n")
    settings = resolve_settings(cli={}, config_path=str(other), directory=tmp_path, environ={})
    assert settings.options == {"port": 2}
    via_env = resolve_settings(cli={}, directory=tmp_path, environ={"POUNCE_CONFIG": str(other)})
    assert via_env.options == {"port": 2}


def test_unknown_key_suggests_the_closest_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "pounce.toml", "timeout_keepalive = 3\n")
    with pytest.raises(ConfigFileError) as caught:
        read_config_file(path)
    assert str(caught.value) == (
        f"{path}: unknown setting 'timeout_keepalive'. Did you mean 'timeout_keep_alive'?"
    )


def test_unknown_key_in_pyproject_names_the_table(tmp_path: Path) -> None:
    path = _write(tmp_path, "pyproject.toml", "[tool.pounce]\nwrokers = 3\n")
    with pytest.raises(ConfigFileError, match=r"unknown setting 'tool.pounce.wrokers'.*'workers'"):
        read_config_file(path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('port = "eighty"', "port: expected an integer, got 'eighty'"),
        ("port = true", "port: expected an integer, got True"),
        ("access_log = 1", "access_log: expected true or false, got 1"),
        ('lifespan = "maybe"', "lifespan: expected one of 'auto', 'on', 'off', got 'maybe'"),
        ("headers = [1, 2]", "headers: expected a list of strings, got [1, 2]"),
        ("timeout_keep_alive = [1]", "timeout_keep_alive: expected a number, got [1]"),
        ("app = 3", "app: expected a string, got 3"),
    ],
)
def test_type_errors_name_the_key_and_the_file(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path, "pounce.toml", line + "\n")
    with pytest.raises(ConfigFileError) as caught:
        read_config_file(path)
    assert str(caught.value) == f"{path}: {message}"


def test_none_stands_for_null_in_a_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "pounce.toml", 'ws_ping_interval = "none"\nlimit_max_requests = 5\n')
    assert read_config_file(path)[0] == {"ws_ping_interval": None, "limit_max_requests": 5}


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "pounce.toml", "port = \n")
    with pytest.raises(ConfigFileError, match="not valid TOML"):
        read_config_file(path)


def test_a_missing_named_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="cannot read config file"):
        resolve_settings(cli={}, config_path=str(tmp_path / "nope.toml"), environ={})


def test_environment_values_are_parsed_like_flags() -> None:
    settings = resolve_settings(
        cli={},
        directory=Path("/nonexistent"),
        environ={
            "POUNCE_FORWARDED_ALLOW_IPS": "10.0.0.1, 10.0.0.2",
            "POUNCE_HEADERS": '["a: 1", "b: 2"]',
            "POUNCE_ACCESS_LOG": "off",
            "POUNCE_WS_PING_INTERVAL": "none",
            "POUNCE_APP": "m:app",
            "POUNCE_PYTHON314": "/usr/bin/python3.14",  # shares the prefix: ignored
        },
    )
    assert settings.options == {
        "forwarded_allow_ips": ("10.0.0.1", "10.0.0.2"),
        "headers": ("a: 1", "b: 2"),
        "access_log": False,
        "ws_ping_interval": None,
    }
    assert (settings.app, settings.app_source) == ("m:app", "env POUNCE_APP")


def test_a_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigFileError, match=r"^POUNCE_PORT: expected an integer, got 'x'$"):
        resolve_settings(cli={}, directory=Path("/nonexistent"), environ={"POUNCE_PORT": "x"})


def test_every_setting_can_be_set_in_a_file(tmp_path: Path) -> None:
    # The value each setting has by default, written out as TOML, reads back.
    lines = []
    for spec in config_options():
        value = spec.default
        if value is None:
            value = "none"
        elif isinstance(value, tuple):
            value = list(value)
        lines.append(f"{spec.name} = {json.dumps(value)}")
    path = _write(tmp_path, "pounce.toml", "\n".join(lines) + "\n")
    options, _ = read_config_file(path)
    assert ServerConfig(**options) == ServerConfig()


def test_schema_covers_every_setting_and_nothing_else() -> None:
    schema = config_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"app", *(spec.name for spec in config_options())}
    assert schema["properties"]["worker_mode"]["enum"] == [
        "auto",
        "thread",
        "process",
        "interpreter",
    ]
    assert schema["properties"]["port"] == {
        "type": "integer",
        "default": 8000,
        "description": "Bind socket to this port (0 = any free port).",
    }
    json.dumps(schema)  # serialisable as it stands


# ------------------------------------------------------------ conventional variables


def test_web_concurrency_is_the_default_of_workers(tmp_path: Path) -> None:
    settings = resolve_settings(cli={}, directory=tmp_path, environ={"WEB_CONCURRENCY": "3"})
    assert settings.options == {"workers": 3}
    assert settings.sources == {"workers": "env WEB_CONCURRENCY"}


@pytest.mark.parametrize(
    ("file", "environ", "cli", "workers", "source"),
    [
        ("workers = 2\n", {"WEB_CONCURRENCY": "3"}, {}, 2, "pounce.toml"),
        ("", {"WEB_CONCURRENCY": "3", "POUNCE_WORKERS": "4"}, {}, 4, "env POUNCE_WORKERS"),
        ("", {"WEB_CONCURRENCY": "3"}, {"workers": 5}, 5, "--workers"),
    ],
    ids=["file", "pounce-variable", "flag"],
)
def test_web_concurrency_is_below_everything_else(  # noqa: PLR0917 - parametrized
    tmp_path: Path,
    file: str,
    environ: dict[str, str],
    cli: dict[str, int],
    workers: int,
    source: str,
) -> None:
    _write(tmp_path, "pounce.toml", file)
    settings = resolve_settings(cli=cli, directory=tmp_path, environ=environ)
    assert settings.options["workers"] == workers
    assert settings.sources["workers"].removeprefix(str(tmp_path) + "/") == source


def test_forwarded_allow_ips_variable() -> None:
    settings = resolve_settings(
        cli={}, directory=Path("/nonexistent"), environ={"FORWARDED_ALLOW_IPS": "10.0.0.1, *"}
    )
    assert settings.options == {"forwarded_allow_ips": ("10.0.0.1", "*")}


def test_a_bad_conventional_variable_names_it() -> None:
    with pytest.raises(ConfigFileError, match=r"^WEB_CONCURRENCY: expected an integer, got 'x'"):
        resolve_settings(cli={}, directory=Path("/nonexistent"), environ={"WEB_CONCURRENCY": "x"})


def test_uvicorn_values_are_read_from_files_and_variables(tmp_path: Path) -> None:
    _write(tmp_path, "pounce.toml", 'ws = "wsproto"\nssl_cert_reqs = 2\n')
    settings = resolve_settings(cli={}, directory=tmp_path, environ={"POUNCE_LOOP": "none"})
    assert settings.options == {"ws": "on", "ssl_cert_reqs": "required", "loop": "asyncio"}


# ------------------------------------------------------------ refusals in the user's words


def test_a_refusal_names_flags_variables_and_keys_as_they_were_given(tmp_path: Path) -> None:
    _write(tmp_path, "pounce.toml", "limit_queue = 3\n")
    settings = resolve_settings(cli={}, directory=tmp_path, environ={})
    # From the file: the file's key; the other one, left at its default: its flag.
    with pytest.raises(ConfigFileError, match=r"^limit_queue needs --limit-concurrency$"):
        settings.build()
    settings = resolve_settings(
        cli={}, directory=Path("/nonexistent"), environ={"POUNCE_TIMEOUT_KEEP_ALIVE": "-1"}
    )
    with pytest.raises(ConfigFileError, match=r"^POUNCE_TIMEOUT_KEEP_ALIVE must be positive"):
        settings.build()
    settings = resolve_settings(
        cli={"limit_request_header_size": 0},
        directory=Path("/nonexistent"),
        environ={},
        cli_sources={"limit_request_header_size": "--h11-max-incomplete-event-size"},
    )
    with pytest.raises(ConfigFileError, match=r"^--h11-max-incomplete-event-size must be positive"):
        settings.build()


def test_build_returns_the_config() -> None:
    settings = resolve_settings(cli={"port": 9}, directory=Path("/nonexistent"), environ={})
    assert settings.build().port == 9
