"""``pounce check``, ``pounce info``, ``pounce config show`` and ``pounce config schema``.

They sit beside serving: each resolves settings exactly as ``pounce APP``
does (defaults < config file < ``POUNCE_*`` < flags) and then, instead of
serving, reports. ``check`` and ``config show`` take every option ``serve``
takes, generated from the same declarations.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import fields
from typing import Annotated, Any

import typer

import pounce
from pounce import config_options, config_schema, preflight, runtime_info
from pounce_cli._serve import (
    app_parameter,
    build_config,
    option_parameters,
    require_app,
    resolve_from_cli,
)

__all__ = ["check_command", "config_schema_command", "config_show_command", "info_command"]

_REDACTED = "********"


def _json_parameter(help_text: str) -> inspect.Parameter:
    return inspect.Parameter(
        "as_json",
        inspect.Parameter.KEYWORD_ONLY,
        default=False,
        annotation=Annotated[bool, typer.Option("--json", help=help_text)],
    )


def check_command(*, show_all: bool = True) -> Any:
    """``pounce check [APP] [OPTIONS]``: the checks serving makes, each reported."""

    def check(**values: Any) -> None:
        settings = resolve_from_cli(values)
        app = require_app(settings)
        source = f" ({settings.file})" if settings.file is not None else ""
        config = build_config(settings)
        if isinstance(config, str):
            typer.echo(f"FAIL  config: {config}{source}")
            raise typer.Exit(1)
        typer.echo(f"ok    config: valid{source}")
        findings = preflight(app, config)
        for finding in findings:
            mark = "ok  " if finding.ok else "FAIL"
            typer.echo(f"{mark}  {finding.check}: {finding.detail}")
        failed = [f for f in findings if not f.ok]
        if failed:
            typer.echo(f"{len(failed)} problem(s) found.")
            raise typer.Exit(1)
        typer.echo("All checks passed.")

    check.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [app_parameter(), *option_parameters(show_all=show_all)]
    )
    check.__doc__ = (
        "Check that APP can be served: validate the settings, run every check serving "
        "runs (event loop, WebSocket, HTTP/3, the packages settings need, plugins, hooks, "
        "TLS, workers), import the app, and bind and release the address. Exit status 0 "
        "when all pass."
    )
    return check


def info_command() -> Any:
    """``pounce info [--json]``."""

    def info(as_json: bool = False) -> None:
        data = runtime_info()
        if as_json:
            typer.echo(json.dumps(data, indent=2))
            return
        py = data["python"]
        workers = data["workers"]
        gil = "enabled" if py["gil_enabled"] else "disabled"
        build = "free-threaded build" if py["free_threaded_build"] else "GIL build"
        lines = [
            f"Pounce {pounce.__version__}",
            f"Python: {py['implementation']} {py['version']} ({build}, GIL {gil})",
            f"  executable: {py['executable']}",
            f"  platform: {py['platform']}",
            f"  TLS: {py['openssl']}",
            f"Workers: auto picks {workers['auto_mode']} workers "
            f"(--workers 0 = {workers['cpus']} on this machine)",
            "  subinterpreter workers (--worker-mode interpreter): "
            + ("available" if workers["subinterpreters_available"] else "need CPython 3.14+"),
            f"  event loop (--loop auto): {workers['event_loop_auto']}",
            "Packages:",
        ]
        for name, version in data["versions"].items():
            lines.append(f"  {name}: {version or 'not installed'}")
            for extra, entry in data["extras"].get(name, {}).items():
                state = "installed" if entry["installed"] else "not installed"
                needs = ", ".join(entry["requires"]) or "nothing to install on this Python"
                lines.append(f"    [{extra}] {state} ({needs})")
        typer.echo("\n".join(lines))

    info.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [_json_parameter("Print the report as JSON.")]
    )
    info.__doc__ = (
        "Show the Python build, the GIL state, the worker model --worker-mode auto picks, "
        "and the installed Pounce packages and optional extras."
    )
    return info


def config_show_command(*, show_all: bool = True) -> Any:
    """``pounce config show [OPTIONS] [--json]``."""
    secrets = {spec.name for spec in config_options() if spec.secret}

    def show(**values: Any) -> None:
        as_json = values.pop("as_json", False)
        settings = resolve_from_cli(values)
        config = build_config(settings)
        if isinstance(config, str):
            typer.echo(f"Error: {config}", err=True)
            raise typer.Exit(1)
        rows: list[tuple[str, Any, str]] = []
        if settings.app is not None:
            rows.append(("app", settings.app, settings.app_source or ""))
        for field in fields(config):
            value = getattr(config, field.name)
            if field.name in secrets and value is not None:
                value = _REDACTED
            rows.append((field.name, value, settings.sources.get(field.name, "default")))
        if as_json:
            data = {
                name: {"value": list(v) if isinstance(v, tuple) else v, "source": source}
                for name, v, source in rows
            }
            typer.echo(json.dumps(data, indent=2))
            return
        if settings.file is not None:
            typer.echo(f"# config file: {settings.file}")
        width = max(len(name) for name, _, _ in rows)
        for name, value, source in rows:
            shown = json.dumps(list(value) if isinstance(value, tuple) else value)
            typer.echo(f"{name:<{width}} = {shown}  # {source}")

    show.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            app_parameter(),
            *option_parameters(show_all=show_all),
            _json_parameter("Print the settings as JSON."),
        ]
    )
    show.__doc__ = (
        "Show the effective settings and where each comes from (default, config file, "
        "POUNCE_* environment variable, or flag). Secrets are redacted."
    )
    return show


def config_schema_command() -> Any:
    """``pounce config schema``."""

    def schema() -> None:
        typer.echo(json.dumps(config_schema(), indent=2))

    schema.__doc__ = "Print the JSON Schema of the config file (generated from ServerConfig)."
    return schema
