"""Serving from a plain command line, without typer.

A server runs for days; what parsed its command line should not stay in its
memory. typer (which now brings pydantic) costs a server process about
18 MB on CPython 3.11 and 27 MB on a free-threaded 3.14t, more than Pounce
itself. So ``pounce APP --flag value ...`` is read here, by a reader built
from the same :class:`pounce.OptionSpec` declarations the typer command is,
into the very ``values`` that typer would hand the serve function; then the
same code resolves and serves them.

The reader takes only command lines whose meaning is plain: known long
flags (``--flag value``, ``--flag=value``, ``--switch``, ``--no-switch``),
one APP, and values that do not look like flags. Anything else (help,
``--version``, a short option, an unknown flag, a missing value, ``--``, a
second positional argument) goes to typer, which answers or explains the
error as it always has. ``tests/unit/cli/test_serve_line.py`` holds the
reader to typer on generated command lines.

The rest of this module is what the serve command does with its values,
shared by both paths: merge them over the config file and the environment,
require an app, validate, run.
"""

from __future__ import annotations

import sys
from typing import Any, Literal, NoReturn

from pounce import (
    ConfigFileError,
    OptionSpec,
    ResolvedSettings,
    ServerConfig,
    config_options,
    resolve_settings,
)

__all__ = [
    "ALIAS_SEPARATOR",
    "alias_parameter_name",
    "build_config",
    "read_serve_line",
    "require_app",
    "resolve_from_cli",
    "serve_values",
]

ALIAS_SEPARATOR = "__as__"

# What a flag does to the values: set a switch on or off, take one value,
# or add one value to a repeatable option.
_Action = Literal["on", "off", "value", "append"]


def alias_parameter_name(spec: OptionSpec, index: int) -> str:
    """The parameter of another flag for ``spec`` (Uvicorn's name for it, say)."""
    return f"{spec.name}{ALIAS_SEPARATOR}{index}"


def _flags() -> dict[str, tuple[str, _Action]]:
    """Every long flag of the serve command: the parameter it fills, and how."""
    table: dict[str, tuple[str, _Action]] = {"--config": ("config_file", "value")}
    for spec in config_options():
        names = [(spec.flag, spec.name)]
        names += [(alias, alias_parameter_name(spec, i)) for i, alias in enumerate(spec.aliases)]
        for flag, name in names:
            if spec.kind == "bool":
                table[flag] = (name, "on")
                table["--no-" + flag.removeprefix("--")] = (name, "off")
            elif spec.kind == "list" and spec.separator is None:
                table[flag] = (name, "append")
            else:
                table[flag] = (name, "value")
    return table


def _plain_value(value: str) -> bool:
    """A value no parser could take for a flag (a negative number is fine)."""
    if not value.startswith("-"):
        return True
    try:
        float(value)
    except ValueError:
        return False
    return True


def read_serve_line(args: list[str]) -> dict[str, Any] | None:
    """The serve function's values for ``args`` (``["serve", ...]``, switches
    already normalized), or None when typer must read them."""
    if not args or args[0] != "serve":
        return None
    flags = _flags()
    values: dict[str, Any] = {}
    app: str | None = None
    rest = iter(args[1:])
    for arg in rest:
        if not arg.startswith("-"):
            if app is not None:
                return None  # typer's "unexpected extra argument"
            app = arg
            continue
        flag, equals, value = arg.partition("=")
        entry = flags.get(flag)
        if entry is None:
            return None  # help, --version, short options, "--", unknown flags
        name, action = entry
        if action in ("on", "off"):
            if equals:
                return None
            values[name] = action == "on"
            continue
        if not equals:
            following = next(rest, None)
            if following is None:
                return None
            value = following
        if not _plain_value(value):
            return None
        if action == "append":
            values.setdefault(name, []).append(value)
        else:
            values[name] = value
    values["app"] = app
    return values


def _usage_error(message: str, status: int) -> NoReturn:
    sys.stderr.write(f"Error: {message}\n")
    raise SystemExit(status)


def _convert(spec: OptionSpec, raw: Any) -> Any:
    if spec.kind == "bool":
        return raw
    if spec.kind == "list" and spec.separator is None:
        return tuple(raw)
    return spec.parse(raw)


def resolve_from_cli(values: dict[str, Any]) -> ResolvedSettings:
    """Merge the typed flags in ``values`` over the file and the environment.

    Exits with status 2 for a flag value that does not parse, and with 1 for
    an unusable config file or environment variable.
    """
    cli: dict[str, Any] = {}
    typed: dict[str, str] = {}
    for spec in config_options():
        given = [(spec.flag, values.get(spec.name))]
        given += [
            (alias, values.get(alias_parameter_name(spec, i)))
            for i, alias in enumerate(spec.aliases)
        ]
        for flag, raw in given:
            if raw is None:
                continue
            try:
                cli[spec.name] = _convert(spec, raw)
            except ValueError as exc:
                message = str(exc)
                if flag != spec.flag:
                    message = message.replace(spec.flag, flag, 1)
                _usage_error(message, 2)
            typed[spec.name] = flag
            break
    try:
        return resolve_settings(
            cli=cli,
            cli_app=values.get("app"),
            config_path=values.get("config_file"),
            cli_sources=typed,
        )
    except ConfigFileError as exc:
        _usage_error(str(exc), 1)


def build_config(settings: ResolvedSettings) -> ServerConfig | str:
    """The config, or why it is refused in the user's words (the flags typed)."""
    try:
        return settings.build()
    except (TypeError, ValueError) as exc:
        return str(exc)


def require_app(settings: ResolvedSettings) -> str:
    """The app to serve; exits with a usage error when none was named anywhere."""
    if settings.app is None:
        _usage_error(
            "Missing argument 'APP' (module:attribute), and no 'app' in a config "
            "file or POUNCE_APP.",
            2,
        )
    return settings.app


def serve_values(values: dict[str, Any]) -> None:
    """What ``pounce serve`` does with its values, however they were read."""
    import pounce  # noqa: PLC0415

    values.pop("version", None)  # answered before serving
    settings = resolve_from_cli(values)
    app = require_app(settings)
    config = build_config(settings)
    if isinstance(config, str):
        _usage_error(config, 1)
    pounce.run(app, **settings.options)
