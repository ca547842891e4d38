"""The ``pounce`` command line.

``pounce APP [OPTIONS]`` serves an app; every option maps onto a
:class:`pounce.ServerConfig` field, generated from its declaration.
"""

from __future__ import annotations

import typer

from pounce_cli._serve import serve_command

__all__ = ["build_cli", "main"]

__version__ = "0.1.0"


def build_cli() -> typer.Typer:
    """The ``pounce`` typer application."""
    cli = typer.Typer(
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    cli.command(name="serve")(serve_command())
    return cli


def main() -> None:
    """Console-script entry point."""
    build_cli()()
