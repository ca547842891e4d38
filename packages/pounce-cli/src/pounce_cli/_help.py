"""Help that reads at 80 columns: the common options, or all of them by group.

``pounce --help`` lists the options most servers need (those declared
``common``); ``pounce --help-all`` lists every option. Either way each group
of options (Binding, Workers, TLS...) is a section of its own, in click's
plain layout: an option name never gets cut, long ones put their
description on the next line.
"""

from __future__ import annotations

import re
from typing import Any

import typer.core

__all__ = ["HELP_ALL", "GroupedHelpCommand", "help_epilog"]

HELP_ALL = "--help-all"

# Defaults are declared as text (the value as typed), which click shows in
# parentheses, its mark of a description: shown as values they are.
_DESCRIBED_DEFAULT = re.compile(r"\[default: \((.*)\)\]$", re.DOTALL)


def help_epilog(epilog: str, *, show_all: bool) -> str:
    """The command's epilog, pointing at the full list when only part is shown."""
    if show_all:
        return epilog
    return f"{epilog} Only the common options are listed: {HELP_ALL} lists every one."


class GroupedHelpCommand(typer.core.TyperCommand):
    """A typer command whose help has a section per option group."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments: list[tuple[str, str]] = []
        groups: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                shown = getattr(param, "metavar", None) or (param.name or "").upper()
                arguments.append((shown, getattr(param, "help", "") or ""))
                continue
            name, text = record
            group = getattr(param, "rich_help_panel", None) or "Options"
            groups.setdefault(group, []).append(
                (name, _DESCRIBED_DEFAULT.sub(r"[default: \1]", text))
            )
            if param.name == "help":
                groups[group].append((HELP_ALL, "Show every option, by group, and exit."))
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        # The command's own options (--version, --help) come last.
        last = groups.pop("Options", [])
        for group, records in [*groups.items(), ("Options", last)]:
            if records:
                with formatter.section(group):
                    formatter.write_dl(records)
