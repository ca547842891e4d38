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

from pounce import OptionSpec, config_options
from pounce_cli._serve_line import (
    alias_parameter_name,
    build_config,
    require_app,
    resolve_from_cli,
    serve_values,
)
from pounce_cli._switches import switch_values
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


def _version_callback(value: bool | None) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit()


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
            parameter(alias_parameter_name(spec, i), alias, hidden=True)
            for i, alias in enumerate(spec.aliases)
        ),
    ]


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
        serve_values(values)

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
