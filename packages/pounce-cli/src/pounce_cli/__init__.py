"""The ``pounce`` command line.

``pounce APP [OPTIONS]`` serves an app; every option maps onto a
:class:`pounce.ServerConfig` field, generated from its declaration. Beside
serving: ``pounce check``, ``pounce info``, ``pounce config show`` and
``pounce config schema``.

Serving stays the default action: a first argument that is not a command
name is the start of a ``serve`` command line, so ``pounce myapp:app --port
8000`` means ``pounce serve myapp:app --port 8000``. An app is always
``module:attribute`` and a command name never contains ``:``, so the two
cannot be confused; ``pounce serve APP`` is the explicit form.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from pounce_cli._commands import (
    check_command,
    config_schema_command,
    config_show_command,
    info_command,
)
from pounce_cli._serve import COMMANDS_EPILOG, serve_command

__all__ = ["COMMANDS", "build_cli", "main", "route"]

__version__ = "0.1.0"

COMMANDS = ("serve", "check", "info", "config")


def build_cli() -> typer.Typer:
    """The ``pounce`` typer application (its commands; see :func:`route`)."""
    settings = {"help_option_names": ["-h", "--help"]}
    cli = typer.Typer(
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings=settings,
        help="Pounce, an ASGI server. 'pounce APP' is short for 'pounce serve APP'.",
    )
    cli.command(name="serve", epilog=COMMANDS_EPILOG)(serve_command())
    cli.command(name="check")(check_command())
    cli.command(name="info")(info_command())
    config = typer.Typer(
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings=settings,
        help="Inspect the configuration.",
        no_args_is_help=True,
    )
    config.command(name="show")(config_show_command())
    config.command(name="schema")(config_schema_command())
    cli.add_typer(config, name="config")
    return cli


def route(args: Sequence[str]) -> list[str]:
    """The command line with ``serve`` made explicit when no command is named."""
    if args and args[0] in COMMANDS:
        return list(args)
    return ["serve", *args]


def main() -> None:
    """Console-script entry point."""
    build_cli()(args=route(sys.argv[1:]), prog_name="pounce")
