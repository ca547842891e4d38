"""How a :class:`ServerConfig` field is presented outside Python.

Every server setting is declared once, as a field of ``ServerConfig`` whose
metadata comes from :func:`option`. The CLI flags, the ``pounce.run(**kwargs)``
keywords and the textual parsing used for flags and files are all derived from
those declarations by :func:`option_specs`, so a new setting is one new field.
"""

from __future__ import annotations

import dataclasses
import string
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "FeatureUnavailable",
    "InvalidSetting",
    "OptionKind",
    "OptionSpec",
    "option",
    "option_specs",
]

_METADATA_KEY = "pounce.option"

OptionKind = Literal["bool", "int", "float", "str", "choice", "list"]


class FeatureUnavailable(ValueError):
    """A setting was used whose feature is not installed; says what to install."""

    def __init__(self, flag: str, extra: str | None = None) -> None:
        self.requirement = "pounce-extras" + (f"[{extra}]" if extra else "")
        super().__init__(f"{flag} needs {self.requirement}: pip install '{self.requirement}'")


class InvalidSetting(ValueError):
    """A setting's value (or a combination of settings) that ``ServerConfig`` refuses.

    The message is a template naming every setting it speaks of as
    ``{field_name}``: ``str()`` fills in the field names (what ``pounce.run()``
    keywords and config-file keys are called), and :meth:`render` fills in
    whatever the user typed instead (the command line names flags).
    """

    def __init__(self, template: str, **values: object) -> None:
        self.template = template
        self.values = values
        super().__init__(self.render(lambda name: name))

    @property
    def fields(self) -> tuple[str, ...]:
        """The settings the message names, in order."""
        names = [name for _, name, _, _ in string.Formatter().parse(self.template) if name]
        return tuple(dict.fromkeys(name for name in names if name not in self.values))

    def render(self, name_of: Callable[[str], str]) -> str:
        """The message with each setting called ``name_of(field_name)``."""
        return self.template.format(**{name: name_of(name) for name in self.fields}, **self.values)


@dataclass(frozen=True, slots=True, kw_only=True)
class _OptionInfo:
    help: str
    group: str
    flag: str | None
    aliases: tuple[str, ...]
    metavar: str | None
    separator: str | None
    secret: bool
    feature: str | None
    extra: str | None
    value_aliases: Mapping[str, str]
    env: tuple[str, ...]
    common: bool


def option(
    help: str,
    *,
    group: str = "Server",
    flag: str | None = None,
    aliases: tuple[str, ...] = (),
    metavar: str | None = None,
    separator: str | None = None,
    secret: bool = False,
    feature: str | None = None,
    extra: str | None = None,
    value_aliases: Mapping[str, str] | None = None,
    env: tuple[str, ...] = (),
    common: bool = False,
) -> dict[str, Any]:
    """Field metadata declaring a setting.

    ``flag`` overrides the CLI flag derived from the field name
    (``timeout_keep_alive`` -> ``--timeout-keep-alive``); ``aliases`` are extra
    flags accepted for the same setting. For list settings, ``separator`` makes
    one textual value split into several (``--forwarded-allow-ips a,b``);
    without it the flag is repeated instead. ``secret`` values are redacted
    wherever configuration is displayed.

    ``feature`` names the plugin (an entry point of a ``pounce.*`` group) that
    implements the setting, for settings provided by pounce-extras; ``extra``
    is the pounce-extras install extra it needs (``None``: none). Using such
    a setting without its plugin installed stops start-up with the ``pip
    install`` line to run.

    ``value_aliases`` maps other names of a choice's values onto them (the
    values Uvicorn uses for the same setting: ``--ws wsproto`` is ``on``);
    they are accepted wherever a value is (flags, files, environment,
    ``pounce.run()``). ``env`` names conventional environment variables read
    for the setting besides ``POUNCE_<NAME>`` and below it (``WEB_CONCURRENCY``
    for the workers). ``common`` settings are those ``pounce --help`` shows;
    ``pounce --help-all`` shows every one.
    """
    info = _OptionInfo(
        help=help,
        group=group,
        flag=flag,
        aliases=aliases,
        metavar=metavar,
        separator=separator,
        secret=secret,
        feature=feature,
        extra=extra,
        value_aliases=types.MappingProxyType(dict(value_aliases or {})),
        env=env,
        common=common,
    )
    return {_METADATA_KEY: info}


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionSpec:
    """A setting as seen from outside Python: its flag, kind, default and help."""

    name: str
    flag: str
    aliases: tuple[str, ...]
    kind: OptionKind
    optional: bool
    default: Any
    help: str
    group: str
    metavar: str | None
    choices: tuple[str, ...]
    separator: str | None
    secret: bool
    feature: str | None = None
    extra: str | None = None
    value_aliases: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({})
    )
    env: tuple[str, ...] = ()
    common: bool = False

    def canonical(self, value: Any) -> Any:
        """A choice given by one of its other names (or Uvicorn's number) as its own name."""
        if self.kind != "choice" or not self.value_aliases:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(int(value))  # ssl.CERT_REQUIRED is 2
        if isinstance(value, str):
            return self.value_aliases.get(value, value)
        return value

    def parse(self, text: str) -> Any:
        """Convert one textual value (a flag argument, an environment variable)."""
        text = text.strip()
        if self.optional and text.lower() in ("", "none"):
            return None
        if self.kind == "bool":
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"{self.flag}: expected a boolean, got {text!r}")
        if self.kind == "int":
            try:
                return int(text, 0) if text.lower().startswith(("0x", "0o")) else int(text)
            except ValueError:
                raise ValueError(f"{self.flag}: expected an integer, got {text!r}") from None
        if self.kind == "float":
            try:
                return float(text)
            except ValueError:
                raise ValueError(f"{self.flag}: expected a number, got {text!r}") from None
        if self.kind == "choice":
            value = self.canonical(text)
            if value not in self.choices:
                raise ValueError(
                    f"{self.flag}: expected one of {', '.join(self.accepted)}, got {text!r}"
                )
            return value
        if self.kind == "list":
            if self.separator is None:
                return (text,)
            return tuple(part.strip() for part in text.split(self.separator) if part.strip())
        return text

    @property
    def accepted(self) -> tuple[str, ...]:
        """Every value a choice accepts: its own, then the other names of them."""
        return (*self.choices, *(a for a in self.value_aliases if a not in self.choices))


def _classify(hint: Any) -> tuple[OptionKind, bool, tuple[str, ...]]:
    """Map a field's type hint to (kind, optional, choices)."""
    optional = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            raise TypeError(f"unsupported option type {hint!r}")
        hint = args[0]
        origin = typing.get_origin(hint)
    if origin is Literal:
        return "choice", optional, tuple(str(a) for a in typing.get_args(hint))
    if origin is tuple:
        return "list", optional, ()
    kinds: dict[Any, OptionKind] = {bool: "bool", int: "int", float: "float", str: "str"}
    if hint in kinds:
        return kinds[hint], optional, ()
    raise TypeError(f"unsupported option type {hint!r}")


def option_specs(config_cls: type) -> tuple[OptionSpec, ...]:
    """The :class:`OptionSpec` of every declared field of ``config_cls``, in order."""
    hints = typing.get_type_hints(config_cls)
    specs = []
    for field in dataclasses.fields(config_cls):
        info = field.metadata.get(_METADATA_KEY)
        if info is None:
            continue
        kind, optional, choices = _classify(hints[field.name])
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            raise TypeError(f"option {field.name} needs a default")
        specs.append(
            OptionSpec(
                name=field.name,
                flag=info.flag or "--" + field.name.replace("_", "-"),
                aliases=info.aliases,
                kind=kind,
                optional=optional,
                default=default,
                help=info.help,
                group=info.group,
                metavar=info.metavar,
                choices=choices,
                separator=info.separator,
                secret=info.secret,
                feature=info.feature,
                extra=info.extra,
                value_aliases=info.value_aliases,
                env=info.env,
                common=info.common,
            )
        )
    return tuple(specs)
