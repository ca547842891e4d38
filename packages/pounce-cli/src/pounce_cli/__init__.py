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

Starting is kept cheap: ``pounce --version`` is answered before typer or any
of the server is imported, a plain ``pounce APP --flag value ...`` is read
and served without typer (:mod:`pounce_cli._serve_line`), and the typer
command line (about a hundred options) is only built when something else is
asked for: help, another command, or a line with an error to explain.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

__all__ = ["COMMANDS", "build_cli", "main", "route"]

__version__ = "0.1.0"

COMMANDS = ("serve", "check", "info", "config")


def build_cli(*, show_all: bool = True) -> typer.Typer:
    """The ``pounce`` typer application (its commands; see :func:`route`).

    Without ``show_all``, help lists only the common options of ``serve``,
    ``check`` and ``config show`` (every option is accepted either way).
    """
    import typer  # noqa: PLC0415 - not needed for --version

    from pounce_cli._commands import (  # noqa: PLC0415
        check_command,
        config_schema_command,
        config_show_command,
        info_command,
    )
    from pounce_cli._help import GroupedHelpCommand, help_epilog  # noqa: PLC0415
    from pounce_cli._serve import COMMANDS_EPILOG, serve_command  # noqa: PLC0415

    settings = {"help_option_names": ["-h", "--help"]}
    # rich_markup_mode=None: click's plain help layout, which wraps text and
    # never cuts an option's name at 80 columns.
    cli = typer.Typer(
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings=settings,
        rich_markup_mode=None,
        help="Pounce, an ASGI server. 'pounce APP' is short for 'pounce serve APP'.",
    )
    grouped = GroupedHelpCommand
    cli.command(name="serve", epilog=help_epilog(COMMANDS_EPILOG, show_all=show_all), cls=grouped)(
        serve_command(show_all=show_all)
    )
    cli.command(name="check", cls=grouped)(check_command(show_all=show_all))
    cli.command(name="info", cls=grouped)(info_command())
    config = typer.Typer(
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings=settings,
        rich_markup_mode=None,
        help="Inspect the configuration.",
        no_args_is_help=True,
    )
    config.command(name="show", cls=grouped)(config_show_command(show_all=show_all))
    config.command(name="schema", cls=grouped)(config_schema_command())
    cli.add_typer(config, name="config")
    return cli


def route(args: Sequence[str]) -> list[str]:
    """The command line with ``serve`` made explicit when no command is named."""
    if args and args[0] in COMMANDS:
        return list(args)
    return ["serve", *args]


def _asks_for_version(args: Sequence[str]) -> bool:
    # --version is eager: wherever it is on a serve command line, it wins.
    options = args[: args.index("--")] if "--" in args else args
    return bool(options) and options[0] == "serve" and "--version" in options


def main() -> None:
    """Console-script entry point."""
    args = route(sys.argv[1:])
    if _asks_for_version(args):
        from pounce_cli._version import version_line  # noqa: PLC0415

        sys.stdout.write(version_line() + "\n")
        return
    from pounce_cli._serve_line import read_serve_line, serve_values  # noqa: PLC0415
    from pounce_cli._switches import switch_values  # noqa: PLC0415

    args = switch_values(args)
    # A plain serve command line is read without typer, which would stay in
    # the server's memory for good (see pounce_cli._serve_line).
    values = read_serve_line(args)
    if values is not None:
        serve_values(values)
        return
    from pounce_cli._help import HELP_ALL  # noqa: PLC0415

    show_all = HELP_ALL in args
    if show_all:
        args = ["--help" if arg == HELP_ALL else arg for arg in args]
    build_cli(show_all=show_all)(args=args, prog_name="pounce")
