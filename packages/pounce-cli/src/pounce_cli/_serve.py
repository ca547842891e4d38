"""``pounce APP [OPTIONS]``: the serve command, generated from ``ServerConfig``.

``--config`` and ``POUNCE_*`` variables add a file and the environment
underneath the flags (see :mod:`pounce._settings.sources`). Nothing here
restates a setting. Each option is built from an
:class:`pounce.OptionSpec` (flag, aliases, help, group, default), and every
value arrives as text that :meth:`OptionSpec.parse` converts, the same parser
files and environment variables use. An option left off the command line is
``None`` here, so only what the user typed overrides the defaults.

Another flag for a setting (``--h11-max-incomplete-event-size``, Uvicorn's
name) is an option of its own, hidden from help, so that an error can name
the flag the user actually typed. A switch may also be given a value, as
Uvicorn spells ``--ws-per-message-deflate false`` (:func:`switch_values`).
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer

import pounce
from pounce import (
    ConfigFileError,
    OptionSpec,
    ResolvedSettings,
    ServerConfig,
    config_options,
    resolve_settings,
)
from pounce_cli._version import version_line

__all__ = [
    "COMMANDS_EPILOG",
    "app_parameter",
    "build_config",
    "option_parameters",
    "require_app",
    "resolve_from_cli",
    "serve_command",
    "switch_values",
]

_ALIAS_SEPARATOR = "__as__"


def _version_callback(value: bool | None) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit()


def _alias_parameter_name(spec: OptionSpec, index: int) -> str:
    return f"{spec.name}{_ALIAS_SEPARATOR}{index}"


def _value_aliases_note(spec: OptionSpec) -> str:
    """``Also accepted: none (= off); websockets, wsproto (= on).``"""
    by_value: dict[str, list[str]] = {}
    for alias, value in spec.value_aliases.items():
        by_value.setdefault(value, []).append(alias)
    parts = [f"{', '.join(aliases)} (= {value})" for value, aliases in by_value.items()]
    return " Also accepted (Uvicorn's values): " + "; ".join(parts) + "."


def _help_text(spec: OptionSpec) -> str:
    text = spec.help
    if spec.value_aliases:
        text += _value_aliases_note(spec)
    if spec.aliases:
        text += " Also spelt " + ", ".join(spec.aliases) + "."
    return text


def _parameters(spec: OptionSpec, *, show_all: bool) -> list[inspect.Parameter]:
    """The option of a setting, then one hidden option per other flag for it."""
    metavar = spec.metavar
    if metavar is None and spec.kind == "choice":
        metavar = "[" + "|".join(spec.choices) + "]"
    elif metavar is None and spec.kind != "bool":
        float_name = "SECONDS" if "timeout" in spec.name else "NUMBER"
        metavar = {"int": "INTEGER", "float": float_name}.get(spec.kind, "TEXT")
    if spec.kind == "bool":
        annotation: Any = bool | None
        default_text = spec.flag if spec.default else "--no-" + spec.flag.removeprefix("--")
        if spec.default is None:
            default_text = ""
    elif spec.kind == "list" and spec.separator is None:
        annotation = list[str] | None
        default_text = ", ".join(spec.default) if spec.default else ""
    else:
        annotation = str | None
        if spec.kind == "list":
            default_text = spec.separator.join(spec.default) if spec.separator else ""
        else:
            default_text = "" if spec.default is None else str(spec.default)

    def decls(flag: str) -> list[str]:
        if spec.kind == "bool":
            return [f"{flag}/--no-{flag.removeprefix('--')}"]
        return [flag]

    def parameter(name: str, flag: str, *, hidden: bool) -> inspect.Parameter:
        option = typer.Option(
            *decls(flag),
            help=_help_text(spec),
            rich_help_panel=spec.group,
            metavar=metavar,
            show_default=default_text or False,
            hidden=hidden,
        )
        return inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[annotation, option],
        )

    return [
        parameter(spec.name, spec.flag, hidden=not (show_all or spec.common)),
        *(
            parameter(_alias_parameter_name(spec, i), alias, hidden=True)
            for i, alias in enumerate(spec.aliases)
        ),
    ]


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def switch_values(args: list[str]) -> list[str]:
    """``--switch VALUE`` and ``--switch=VALUE`` as ``--switch`` / ``--no-switch``.

    Only a boolean word after a switch is taken as its value; an APP is
    always ``module:attribute``, so it is never mistaken for one.
    """
    switches = {
        flag
        for spec in config_options()
        if spec.kind == "bool"
        for flag in (spec.flag, *spec.aliases)
    }
    out: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            return [*out, arg, *args[index:]]
        flag, equals, value = arg.partition("=")
        if flag in switches:
            if not equals and index < len(args) and args[index].lower() in (*_TRUE, *_FALSE):
                value, equals = args[index], "="
                index += 1
            if equals and value.lower() in _TRUE:
                out.append(flag)
                continue
            if equals and value.lower() in _FALSE:
                out.append("--no-" + flag.removeprefix("--"))
                continue
        out.append(arg)
    return out


def _convert(spec: OptionSpec, raw: Any) -> Any:
    if spec.kind == "bool":
        return raw
    if spec.kind == "list" and spec.separator is None:
        return tuple(raw)
    return spec.parse(raw)


def option_parameters(*, show_all: bool = True) -> list[inspect.Parameter]:
    """One keyword parameter per setting (and per other flag of one), plus ``--config``.

    Without ``show_all`` only the common settings are visible in help.
    """
    parameters = [p for spec in config_options() for p in _parameters(spec, show_all=show_all)]
    return [*parameters, _config_parameter()]


def _config_parameter() -> inspect.Parameter:
    return inspect.Parameter(
        "config_file",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            str | None,
            typer.Option(
                "--config",
                help=(
                    "Read settings from this TOML file (pounce.toml, or the tool.pounce "
                    "table of a pyproject.toml); default: ./pounce.toml, else "
                    "./pyproject.toml if it has that table. Flags override environment "
                    "variables (POUNCE_*), which override the file."
                ),
                rich_help_panel="Configuration",
                metavar="PATH",
                show_default=False,
            ),
        ],
    )


def app_parameter(*, required: bool = False) -> inspect.Parameter:
    """The APP argument (optional when a config file may name the app)."""
    return inspect.Parameter(
        "app",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        default=... if required else None,
        annotation=Annotated[
            str | None,
            typer.Argument(
                help=(
                    "The ASGI application, as module:attribute (e.g. myapp.main:app); "
                    "default: 'app' in the config file or POUNCE_APP."
                ),
                metavar="APP",
                show_default=False,
            ),
        ],
    )


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
            (alias, values.get(_alias_parameter_name(spec, i)))
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
                typer.echo(f"Error: {message}", err=True)
                raise typer.Exit(2) from None
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
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None


def build_config(settings: ResolvedSettings) -> ServerConfig | str:
    """The config, or why it is refused in the user's words (the flags typed)."""
    try:
        return settings.build()
    except (TypeError, ValueError) as exc:
        return str(exc)


def require_app(settings: ResolvedSettings) -> str:
    """The app to serve; exits with a usage error when none was named anywhere."""
    if settings.app is None:
        typer.echo(
            "Error: Missing argument 'APP' (module:attribute), and no 'app' in a config "
            "file or POUNCE_APP.",
            err=True,
        )
        raise typer.Exit(2)
    return settings.app


COMMANDS_EPILOG = (
    "Other commands: pounce check (validate config, import the app, try the "
    "address), pounce info (Python build, worker model, installed extras), pounce "
    "config show | schema. 'pounce serve APP' is the explicit form of 'pounce APP'."
)


def serve_command(*, show_all: bool = True) -> Any:
    """The typer-ready serve function, with a signature built from the config.

    ``pounce --version`` does not reach it from the console script:
    :func:`pounce_cli.main` answers that before building the command line.
    """

    def serve(**values: Any) -> None:
        values.pop("version", None)  # handled by its callback
        settings = resolve_from_cli(values)
        app = require_app(settings)
        config = build_config(settings)
        if isinstance(config, str):
            typer.echo(f"Error: {config}", err=True)
            raise typer.Exit(1)
        pounce.run(app, **settings.options)

    parameters = [
        app_parameter(),
        *option_parameters(show_all=show_all),
        inspect.Parameter(
            "version",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                bool | None,
                typer.Option(
                    "--version",
                    callback=_version_callback,
                    is_eager=True,
                    help="Show the Pounce and Python versions and exit.",
                ),
            ],
        ),
    ]
    serve.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    serve.__doc__ = "Serve an ASGI application with Pounce (the default command)."
    return serve
