"""A JSON Schema of the config file, generated from ``ServerConfig``.

Editors that understand JSON Schema (for TOML too) complete and check
``pounce.toml`` with it; ``pounce config schema`` prints it. It describes a
file's contents, so a nullable setting also accepts the text ``"none"``
(TOML has no null).
"""

from __future__ import annotations

from typing import Any

from pounce._settings.config import config_options
from pounce._settings.options import OptionSpec

__all__ = ["config_schema"]

_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _property(spec: OptionSpec) -> dict[str, Any]:
    prop: dict[str, Any]
    if spec.kind == "choice":
        # The other names of the values are accepted in a file too (Uvicorn's:
        # ws = "wsproto", ssl_cert_reqs = 2).
        numbers = [int(alias) for alias in spec.value_aliases if alias.isdigit()]
        prop = {"enum": [*spec.accepted, *numbers]}
        if not numbers:
            prop = {"type": "string", **prop}
    elif spec.kind == "list":
        prop = {"type": "array", "items": {"type": "string"}}
        if spec.separator is not None:
            # One text value split at the separator, as on the command line.
            prop = {"anyOf": [prop, {"type": "string"}]}
    else:
        prop = {
            "type": {"bool": "boolean", "int": "integer", "float": "number"}.get(
                spec.kind, "string"
            )
        }
    if spec.optional:
        prop = {"anyOf": [prop, {"const": "none"}]}
    default = list(spec.default) if isinstance(spec.default, tuple) else spec.default
    if default is not None:
        prop["default"] = default
    prop["description"] = spec.help
    return prop


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``pounce.toml`` / ``[tool.pounce]``."""
    properties: dict[str, Any] = {
        "app": {
            "type": "string",
            "description": "The ASGI application, as module:attribute.",
        }
    }
    for spec in config_options():
        properties[spec.name] = _property(spec)
    return {
        "$schema": _SCHEMA_DIALECT,
        "title": "Pounce configuration",
        "description": "Settings of the Pounce ASGI server (pounce.toml or [tool.pounce]).",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
