"""``pounce APP [OPTIONS]``: the serve command, generated from ``ServerConfig``.

Nothing here restates a setting. Each option is built from an
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
from pounce import OptionSpec, config_options

__all__ = ["serve_command"]


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


def serve_command() -> Any:
    """The typer-ready serve function, with a signature built from the config."""
    specs = config_options()

    def serve(**values: Any) -> None:
        app = values.pop("app")
        values.pop("version", None)
        options: dict[str, Any] = {}
        for spec in specs:
            raw = values.get(spec.name)
            if raw is None:
                continue
            try:
                options[spec.name] = _convert(spec, raw)
            except ValueError as exc:
                typer.echo(f"Error: {exc}", err=True)
                raise typer.Exit(2) from None
        pounce.run(app, **options)

    parameters = [
        inspect.Parameter(
            "app",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=Annotated[
                str,
                typer.Argument(
                    help="The ASGI application, as module:attribute (e.g. myapp.main:app).",
                    show_default=False,
                ),
            ],
        ),
        *(_parameter(spec) for spec in specs),
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
    serve.__doc__ = "Serve an ASGI application with Pounce."
    return serve
