"""Option specs derived from ``ServerConfig`` and the parsing of textual values."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from pounce import OptionSpec, ServerConfig, config_options
from pounce._settings.options import option, option_specs

SPECS = {spec.name: spec for spec in config_options()}


def spec_of(name: str) -> OptionSpec:
    return SPECS[name]


# ------------------------------------------------------------ derivation


def test_one_spec_per_field_in_declaration_order() -> None:
    assert list(SPECS) == [f.name for f in dataclasses.fields(ServerConfig)]


def test_defaults_match_the_config() -> None:
    config = ServerConfig()
    for spec in config_options():
        assert spec.default == getattr(config, spec.name), spec.name


def test_flags_are_derived_from_names_and_unique() -> None:
    flags = [spec.flag for spec in config_options()]
    flags += [alias for spec in config_options() for alias in spec.aliases]
    assert len(flags) == len(set(flags))
    assert spec_of("timeout_keep_alive").flag == "--timeout-keep-alive"
    assert spec_of("headers").flag == "--header"  # overridden: one header per flag
    assert spec_of("limit_request_header_size").aliases == ("--h11-max-incomplete-event-size",)


def test_every_option_is_documented() -> None:
    for spec in config_options():
        assert spec.help.strip(), spec.name
        assert spec.group.strip(), spec.name


@pytest.mark.parametrize(
    ("name", "kind", "optional", "choices"),
    [
        ("host", "str", False, ()),
        ("port", "int", False, ()),
        ("uds", "str", True, ()),
        ("fd", "int", True, ()),
        ("factory", "bool", False, ()),
        ("lifespan", "choice", False, ("auto", "on", "off")),
        ("log_level", "choice", False, ("critical", "error", "warning", "info", "debug", "trace")),
        ("forwarded_allow_ips", "list", False, ()),
        ("headers", "list", False, ()),
        ("timeout_keep_alive", "float", False, ()),
    ],
)
def test_kinds_follow_the_type_hints(
    name: str, kind: str, optional: bool, choices: tuple[str, ...]
) -> None:
    spec = spec_of(name)
    assert (spec.kind, spec.optional, spec.choices) == (kind, optional, choices)


def test_list_separators() -> None:
    assert spec_of("forwarded_allow_ips").separator == ","
    assert spec_of("headers").separator is None


def test_specs_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec_of("port").default = 1  # type: ignore[misc]


def test_option_specs_of_another_config_class() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Small:
        mode: Literal["a", "b"] = field(default="a", metadata=option("Mode.", group="G"))
        names: tuple[str, ...] = field(default=(), metadata=option("Names.", separator=";"))
        secret: str | None = field(default=None, metadata=option("Token.", secret=True))
        untracked: int = 0

    specs = option_specs(Small)
    assert [s.name for s in specs] == ["mode", "names", "secret"]
    assert specs[0].choices == ("a", "b")
    assert specs[0].group == "G"
    assert specs[1].separator == ";"
    assert specs[2].secret
    assert specs[2].optional


@pytest.mark.parametrize(
    "hint",
    [dict[str, str], int | str, list[int], bytes],
    ids=["dict", "union", "list", "bytes"],
)
def test_unsupported_option_types_are_refused(hint: Any) -> None:
    @dataclass
    class Bad:
        value: Any = field(default=None, metadata=option("x"))

    Bad.__annotations__["value"] = hint
    with pytest.raises(TypeError, match="unsupported option type"):
        option_specs(Bad)


def test_option_without_default_is_refused() -> None:
    @dataclass
    class Bad:
        value: int = field(metadata=option("x"))

    with pytest.raises(TypeError, match="needs a default"):
        option_specs(Bad)


# --------------------------------------------------------------- parsing


@pytest.mark.parametrize("text", ["1", "true", "True", "YES", "on", " on "])
def test_parse_bool_true(text: str) -> None:
    assert spec_of("access_log").parse(text) is True


@pytest.mark.parametrize("text", ["0", "false", "FALSE", "no", "off", "Off "])
def test_parse_bool_false(text: str) -> None:
    assert spec_of("access_log").parse(text) is False


@pytest.mark.parametrize("text", ["", "2", "maybe", "none", "y"])
def test_parse_bool_invalid(text: str) -> None:
    with pytest.raises(ValueError, match=r"^--access-log: expected a boolean"):
        spec_of("access_log").parse(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("8000", 8000), (" 42 ", 42), ("0", 0), ("-1", -1), ("0x1F", 31), ("0o17", 15)],
)
def test_parse_int(text: str, value: int) -> None:
    assert spec_of("port").parse(text) == value


@pytest.mark.parametrize("text", ["", "80.0", "1e3", "eighty", "0x", "0b101"])
def test_parse_int_invalid(text: str) -> None:
    with pytest.raises(ValueError, match=r"^--port: expected an integer"):
        spec_of("port").parse(text)


@pytest.mark.parametrize(("text", "value"), [("5", 5.0), ("2.5", 2.5), (" 1e1 ", 10.0)])
def test_parse_float(text: str, value: float) -> None:
    assert spec_of("timeout_keep_alive").parse(text) == value


@pytest.mark.parametrize("text", ["", "five", "1,5"])
def test_parse_float_invalid(text: str) -> None:
    with pytest.raises(ValueError, match=r"^--timeout-keep-alive: expected a number"):
        spec_of("timeout_keep_alive").parse(text)


def test_parse_choice() -> None:
    assert spec_of("lifespan").parse(" on ") == "on"
    with pytest.raises(ValueError, match=r"^--lifespan: expected one of auto, on, off, got 'ON'"):
        spec_of("lifespan").parse("ON")


def test_parse_str_strips_whitespace() -> None:
    assert spec_of("host").parse(" 0.0.0.0 ") == "0.0.0.0"
    assert spec_of("root_path").parse("") == ""


@pytest.mark.parametrize("text", ["", "none", "None", " NONE "])
def test_parse_optional_none(text: str) -> None:
    assert spec_of("uds").parse(text) is None
    assert spec_of("fd").parse(text) is None


def test_parse_optional_value() -> None:
    assert spec_of("uds").parse("/run/pounce.sock") == "/run/pounce.sock"
    assert spec_of("fd").parse("3") == 3


def test_parse_list_with_separator() -> None:
    spec = spec_of("forwarded_allow_ips")
    assert spec.parse("10.0.0.1, 10.0.0.2,,") == ("10.0.0.1", "10.0.0.2")
    assert spec.parse("*") == ("*",)


def test_parse_list_without_separator_is_one_item() -> None:
    assert spec_of("headers").parse("Cache-Control: no-cache, no-store") == (
        "Cache-Control: no-cache, no-store",
    )


# Repeatable list flags (no separator) take one item per flag: no text form.
ROUND_TRIP = [s for s in config_options() if not (s.kind == "list" and s.separator is None)]


@pytest.mark.parametrize("spec", ROUND_TRIP, ids=lambda s: s.name)
def test_every_default_survives_a_text_round_trip(spec: OptionSpec) -> None:
    # What the CLI shows as the default must parse back to that default.
    if spec.default is None:
        text = ""
    elif spec.kind == "list":
        assert spec.separator is not None
        text = spec.separator.join(spec.default)
    else:
        text = str(spec.default)
    assert spec.parse(text) == spec.default


# ------------------------------------------------------------ other names of values


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("ws", "wsproto", "on"),
        ("ws", "none", "off"),
        ("ws", "on", "on"),
        ("ssl_cert_reqs", "2", "required"),
        ("ssl_cert_reqs", " 1 ", "optional"),
        ("loop", "none", "asyncio"),
        ("http", "httptools", "auto"),
    ],
)
def test_parse_accepts_other_names_of_a_choice(name: str, text: str, value: str) -> None:
    assert spec_of(name).parse(text) == value


def test_a_refused_choice_lists_the_other_names_too() -> None:
    with pytest.raises(ValueError, match=r"^--ws: expected one of auto, on, off, none, websockets"):
        spec_of("ws").parse("yes")


def test_value_aliases_map_onto_declared_choices() -> None:
    for spec in config_options():
        assert set(spec.value_aliases.values()) <= set(spec.choices), spec.name
        assert not set(spec.value_aliases) & set(spec.choices), spec.name


def test_conventional_environment_variables() -> None:
    assert spec_of("workers").env == ("WEB_CONCURRENCY",)
    assert spec_of("forwarded_allow_ips").env == ("FORWARDED_ALLOW_IPS",)
    assert [spec.name for spec in config_options() if spec.env] == [
        "workers",
        "forwarded_allow_ips",
    ]


def test_the_common_settings_fit_one_screen_of_help() -> None:
    common = [spec.name for spec in config_options() if spec.common]
    assert {"host", "port", "workers", "reload", "log_level", "ssl_certfile"} <= set(common)
    assert len(common) <= 24
