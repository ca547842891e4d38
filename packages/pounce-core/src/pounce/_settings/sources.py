"""Where settings come from: defaults, a config file, the environment, flags.

Every :class:`ServerConfig` field can be set in four places; a later one
overrides an earlier one:

1. the field's default, or a conventional environment variable some
   settings honour as their default (``WEB_CONCURRENCY`` for the workers,
   ``FORWARDED_ALLOW_IPS``: names other servers read too);
2. a config file: ``pounce.toml`` (settings at its top level) or the
   ``[tool.pounce]`` table of ``pyproject.toml``, found in the working
   directory (``pounce.toml`` first), or named with ``--config PATH`` /
   ``POUNCE_CONFIG``;
3. environment variables ``POUNCE_<FIELD>`` (``POUNCE_PORT=9000``);
4. command-line flags.

Keys are the field names (``timeout_keep_alive``; ``timeout-keep-alive`` is
read the same). A file may also name the app (``app = "myapp:app"``). An
unknown key is an error that suggests the closest valid name; a value of the
wrong type is an error naming the key and the file. Environment values are
text, parsed like flag arguments; ``POUNCE_*`` variables that name no
setting are ignored (other tools share the prefix).

The result is a plain ``dict`` of options for ``ServerConfig(**options)``
(which then validates the combination) and, for ``pounce config show``, the
source of every value. :meth:`ResolvedSettings.build` makes the config and,
when it is refused, says so in the user's words: each setting is called what
the user set it as (the flag typed, the variable, the file's key), and one
left at its default by its flag.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pounce._settings.config import ServerConfig, config_options
from pounce._settings.options import InvalidSetting, OptionSpec

__all__ = [
    "CONFIG_ENV",
    "ConfigFileError",
    "ResolvedSettings",
    "env_name",
    "find_config_file",
    "read_config_file",
    "read_environment",
    "resolve_settings",
]

CONFIG_ENV = "POUNCE_CONFIG"
_ENV_PREFIX = "POUNCE_"
_ENV_SOURCE = "env "
_EXTRA_KEYS = ("app",)
_SPECS = {spec.name: spec for spec in config_options()}


class ConfigFileError(ValueError):
    """A config file or environment variable holds something unusable."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedSettings:
    """Options for ``ServerConfig(**options)``, and where each came from.

    ``sources`` maps every field set anywhere but its default to a short
    description (``pounce.toml``, ``env POUNCE_PORT``, ``--port``).
    """

    options: dict[str, Any]
    sources: dict[str, str]
    app: str | None
    app_source: str | None
    file: Path | None

    def name_of(self, field_name: str) -> str:
        """What the user calls a setting: the flag typed, the variable set, the file's
        key; for a setting left at its default, its flag."""
        source = self.sources.get(field_name)
        if source is None:
            spec = _SPECS.get(field_name)
            return field_name if spec is None else spec.flag
        if source.startswith("--"):
            return source
        if source.startswith(_ENV_SOURCE):
            return source.removeprefix(_ENV_SOURCE)
        return field_name  # a config file's key

    def build(self) -> ServerConfig:
        """``ServerConfig(**options)``; a refusal is re-raised as a
        :class:`ConfigFileError` naming the settings as :meth:`name_of` does."""
        try:
            return ServerConfig(**self.options)
        except InvalidSetting as exc:
            raise ConfigFileError(exc.render(self.name_of)) from None


def env_name(spec: OptionSpec) -> str:
    """The environment variable of a setting: ``POUNCE_TIMEOUT_KEEP_ALIVE``."""
    return _ENV_PREFIX + spec.name.upper()


def find_config_file(directory: Path) -> Path | None:
    """``pounce.toml`` in ``directory``, else its ``pyproject.toml`` if it has
    a ``[tool.pounce]`` table, else None."""
    candidate = directory / "pounce.toml"
    if candidate.is_file():
        return candidate
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None  # not ours to judge; a named file is checked strictly
        tool = data.get("tool")
        if isinstance(tool, dict) and "pounce" in tool:
            return pyproject
    return None


def _kind_text(spec: OptionSpec) -> str:
    text = {
        "bool": "true or false",
        "int": "an integer",
        "float": "a number",
        "str": "a string",
        "choice": "one of " + ", ".join(repr(c) for c in spec.choices),
        "list": "a list of strings",
    }[spec.kind]
    return text + (" (or 'none')" if spec.optional else "")


def _from_toml(spec: OptionSpec, value: object, where: str) -> Any:
    """A TOML value converted to the field's type; ConfigFileError if it is not one."""
    wrong = ConfigFileError(f"{where}: expected {_kind_text(spec)}, got {value!r}")
    if isinstance(value, str) and (spec.kind not in ("str", "choice") or spec.optional):
        # TOML has no null: 'none' stands for it, and text is read as a flag's.
        try:
            return spec.parse(value)
        except ValueError:
            raise wrong from None
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
    elif spec.kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif spec.kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif spec.kind == "choice":
        value = spec.canonical(value)
        if isinstance(value, str) and value in spec.choices:
            return value
    elif spec.kind == "list":
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
    elif isinstance(value, str):
        return value
    raise wrong


def _suggest(key: str) -> str:
    names = sorted([*(spec.name for spec in config_options()), *_EXTRA_KEYS])
    close = difflib.get_close_matches(key, names, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def read_config_file(path: Path) -> tuple[dict[str, Any], str | None]:
    """The settings (and the app, if named) in ``path``; ConfigFileError if unusable."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigFileError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigFileError(f"{path}: not valid TOML: {exc}") from None
    prefix = ""
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("pounce") if isinstance(tool, dict) else None
        if table is None:
            raise ConfigFileError(f"{path} has no [tool.pounce] table")
        if not isinstance(table, dict):
            raise ConfigFileError(f"{path}: tool.pounce must be a table")
        data, prefix = table, "tool.pounce."
    specs = {spec.name: spec for spec in config_options()}
    options: dict[str, Any] = {}
    app: str | None = None
    for raw_key, value in data.items():
        key = raw_key.replace("-", "_")
        where = f"{path}: {prefix}{raw_key}"
        if key == "app":
            if not isinstance(value, str):
                raise ConfigFileError(f"{where}: expected a string, got {value!r}")
            app = value
            continue
        spec = specs.get(key)
        if spec is None:
            raise ConfigFileError(f"{path}: unknown setting {prefix + raw_key!r}.{_suggest(key)}")
        options[key] = _from_toml(spec, value, where)
    return options, app


def _from_env(spec: OptionSpec, text: str, name: str) -> Any:
    if spec.kind == "list" and spec.separator is None and text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if not (isinstance(items, list) and all(isinstance(v, str) for v in items)):
            raise ConfigFileError(f"{name}: expected a JSON list of strings, got {text!r}")
        return tuple(items)
    try:
        return spec.parse(text)
    except ValueError as exc:
        # The parser speaks of the flag; here the variable is what was set.
        message = str(exc).removeprefix(spec.flag + ": ")
        raise ConfigFileError(f"{name}: {message}") from None


def read_environment(
    environ: Mapping[str, str], *, conventional: bool = False
) -> tuple[dict[str, Any], dict[str, str]]:
    """Settings from ``POUNCE_*`` variables, and the variable each came from.

    With ``conventional``, from the other variables some settings honour
    instead (``WEB_CONCURRENCY``): the first one set counts.
    """
    options: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for spec in config_options():
        for name in spec.env if conventional else (env_name(spec),):
            if name in environ:
                options[spec.name] = _from_env(spec, environ[name], name)
                sources[spec.name] = _ENV_SOURCE + name
                break
    return options, sources


def resolve_settings(
    *,
    cli: Mapping[str, Any],
    cli_app: str | None = None,
    config_path: str | None = None,
    directory: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cli_sources: Mapping[str, str] | None = None,
) -> ResolvedSettings:
    """Merge defaults < conventional variables < file < ``POUNCE_*`` < ``cli``
    (only what was given).

    ``config_path`` (or ``POUNCE_CONFIG``) names the file; otherwise one is
    looked for in ``directory`` (the working directory). ``cli_sources`` says
    which flag gave a ``cli`` value when it was not the setting's own (an alias).
    """
    environ = os.environ if environ is None else environ
    directory = Path.cwd() if directory is None else directory
    named = config_path or environ.get(CONFIG_ENV) or None
    path = Path(named) if named else find_config_file(directory)
    options, sources = read_environment(environ, conventional=True)
    app, app_source = None, None
    if path is not None:
        file_options, app = read_config_file(path)
        options.update(file_options)
        sources.update(dict.fromkeys(file_options, str(path)))
        app_source = str(path) if app is not None else None
    env_options, env_sources = read_environment(environ)
    options.update(env_options)
    sources.update(env_sources)
    if "POUNCE_APP" in environ:
        app, app_source = environ["POUNCE_APP"], "env POUNCE_APP"
    for name, value in cli.items():
        options[name] = value
        sources[name] = (cli_sources or {}).get(name) or (
            _SPECS[name].flag if name in _SPECS else name
        )
    if cli_app is not None:
        app, app_source = cli_app, "command line"
    return ResolvedSettings(
        options=options, sources=sources, app=app, app_source=app_source, file=path
    )
