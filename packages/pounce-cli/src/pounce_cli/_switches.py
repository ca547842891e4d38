"""A switch given a value, as Uvicorn spells them: ``--access-log false``."""

from __future__ import annotations

from pounce import config_options

__all__ = ["switch_values"]

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
