"""``pounce APP [OPTIONS]``: the serve command, generated from ``ServerConfig``.

``--config`` and ``POUNCE_*`` variables add a file and the environment
underneath the flags (see :mod:`pounce._settings.sources`). Nothing here
restates a setting. Each option is built from an
:class:`pounce.OptionSpec` (flag, aliases, help, group, default), and every
value arrives as text that :meth:`OptionSpec.parse` converts, the same parser
files and environment variables use. An option left off the command line is
``None`` here, so only what the user typed overrides the defaults.
"""

from __future__ import annotations

import inspect
import platform
import sys
from typing import Annotated, Any

import typer

import pounce
from pounce import (
    ConfigFileError,
    OptionSpec,
    ResolvedSettings,
    config_options,
    resolve_settings,
)

__all__ = [
    "COMMANDS_EPILOG",
    "app_parameter",
    "option_parameters",
    "require_app",
    "resolve_from_cli",
    "serve_command",
]


def _version_callback(value: bool) -> None:
    if value:
        gil = getattr(sys, "_is_gil_enabled", lambda: True)()
        typer.echo(
            f"Pounce {pounce.__version__} on {platform.python_implementation()} "
            f"{platform.python_version()} ({'GIL enabled' if gil else 'free-threaded'})"
        )
        raise typer.Exit()


def _parameter(spec: OptionSpec) -> inspect.Parameter:
    if spec.kind == "bool":
        negative = "--no-" + spec.flag.removeprefix("--")
        decls = [f"{spec.flag}/{negative}", *spec.aliases]
        annotation: Any = bool | None
        default_text = spec.flag if spec.default else negative
    elif spec.kind == "list" and spec.separator is None:
        decls = [spec.flag, *spec.aliases]
        annotation = list[str] | None
        default_text = ", ".join(spec.default) if spec.default else ""
    else:
        decls = [spec.flag, *spec.aliases]
        annotation = str | None
        if spec.kind == "list":
            default_text = spec.separator.join(spec.default) if spec.separator else ""
        else:
            default_text = "" if spec.default is None else str(spec.default)
    metavar = spec.metavar
    if metavar is None and spec.kind == "choice":
        metavar = "[" + "|".join(spec.choices) + "]"
    elif metavar is None and spec.kind != "bool":
        float_name = "SECONDS" if "timeout" in spec.name else "NUMBER"
        metavar = {"int": "INTEGER", "float": float_name}.get(spec.kind, "TEXT")
    option = typer.Option(
        *decls,
        help=spec.help,
        rich_help_panel=spec.group,
        metavar=metavar,
        show_default=default_text or False,
    )
    return inspect.Parameter(
        spec.name,
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[annotation, option],
    )


def _convert(spec: OptionSpec, raw: Any) -> Any:
    if spec.kind == "bool":
        return raw
    if spec.kind == "list" and spec.separator is None:
        return tuple(raw)
    return spec.parse(raw)


def option_parameters() -> list[inspect.Parameter]:
    """One keyword parameter per setting, plus ``--config``."""
    return [*(_parameter(spec) for spec in config_options()), _config_parameter()]


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
    for spec in config_options():
        raw = values.get(spec.name)
        if raw is None:
            continue
        try:
            cli[spec.name] = _convert(spec, raw)
        except ValueError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(2) from None
    try:
        return resolve_settings(
            cli=cli, cli_app=values.get("app"), config_path=values.get("config_file")
        )
    except ConfigFileError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None


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


def serve_command() -> Any:
    """The typer-ready serve function, with a signature built from the config."""

    def serve(**values: Any) -> None:
        values.pop("version", None)
        settings = resolve_from_cli(values)
        pounce.run(require_app(settings), **settings.options)

    parameters = [
        app_parameter(),
        *option_parameters(),
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
