"""The serve command line read without typer, held to typer.

``read_serve_line`` must hand the serve function exactly the values typer
would, or decline (None) and leave the line to typer. Command lines are
generated from the option declarations themselves: every flag and its other
spellings, both ``--flag value`` and ``--flag=value``, repeats, switches on
and off, values that look like flags, unknown flags, help.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pounce_cli
from pounce import config_options
from pounce_cli import build_cli, route
from pounce_cli._serve_line import read_serve_line
from pounce_cli._switches import switch_values

_SPECS = list(config_options())
_FLAGS = [(spec, flag) for spec in _SPECS for flag in (spec.flag, *spec.aliases)]


class _Served(Exception):
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values


def _typer_values(args: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any] | None:
    """What typer hands the serve function for ``args``; None if it never does."""

    def capture(values: dict[str, Any]) -> None:
        raise _Served(dict(values))

    monkeypatch.setattr("pounce_cli._serve.serve_values", capture)
    command = build_cli()
    try:
        command(args=args, prog_name="pounce", standalone_mode=False)
    except _Served as served:
        values = served.values
        values.pop("version", None)
        return {name: value for name, value in values.items() if value is not None}
    except BaseException:  # a usage error, help, or an exit: typer answered itself
        return None
    return None


def _compare(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    line = switch_values(route(args))
    ours = read_serve_line(line)
    if ours is None:
        return  # typer reads it, as before
    ours = {name: value for name, value in ours.items() if value is not None}
    theirs = _typer_values(line, monkeypatch)
    assert ours == theirs, args


@st.composite
def _arguments(draw: st.DrawFn) -> list[str]:
    spec, flag = draw(st.sampled_from(_FLAGS))
    if spec.kind == "bool":
        return [draw(st.sampled_from([flag, "--no-" + flag.removeprefix("--"), flag + "=no"]))]
    value = draw(
        st.one_of(
            st.sampled_from(["8001", "0", "-1", "1.5", "", "none", "x:y", "--port", "-x", "a=b"]),
            st.text(alphabet="abc-=:/. 019", max_size=6),
        )
    )
    if draw(st.booleans()):
        return [f"{flag}={value}"]
    return [flag, value]


_EXTRA = st.sampled_from(
    [
        ["--help"],
        ["-h"],
        ["--"],
        ["--unknown-flag"],
        ["other:app"],
        ["--config", "pounce.toml"],
        ["--config=x.toml"],
        ["--reload"],
        ["--port"],
    ]
)


@given(
    app=st.sampled_from([["myapp:app"], [], ["pkg.mod:factory"]]),
    parts=st.lists(st.one_of(_arguments(), _EXTRA), max_size=6),
    serve_word=st.booleans(),
)
def test_the_reader_gives_the_values_typer_gives(
    app: list[str], parts: list[list[str]], serve_word: bool
) -> None:
    args = [*app, *[arg for part in parts for arg in part]]
    if serve_word:
        args = ["serve", *args]
    with pytest.MonkeyPatch.context() as patch:
        _compare(args, patch)


@pytest.mark.parametrize(("spec", "flag"), _FLAGS, ids=[flag for _, flag in _FLAGS])
def test_every_flag_is_read_as_typer_reads_it(
    spec: Any, flag: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if spec.kind == "bool":
        lines = [["app:x", flag], ["app:x", "--no-" + flag.removeprefix("--")]]
    else:
        value = spec.flag and "7"
        lines = [["app:x", flag, value], ["app:x", f"{flag}={value}"], [flag, value, "app:x"]]
        if spec.kind == "list" and spec.separator is None:
            lines.append(["app:x", flag, "a", flag, "b"])
    for args in lines:
        line = switch_values(route(args))
        assert read_serve_line(line) is not None, args
        _compare(args, monkeypatch)


@pytest.mark.parametrize(
    "args",
    [
        ["app:x", "--help"],
        ["app:x", "-h"],
        ["app:x", "--version"],
        ["app:x", "--port"],
        ["app:x", "--port", "--host"],
        ["app:x", "other:y"],
        ["app:x", "--", "--port", "1"],
        ["app:x", "--no-such-flag"],
        ["app:x", "--access-log=maybe"],
        ["check", "app:x"],
    ],
)
def test_lines_with_anything_to_explain_go_to_typer(args: list[str]) -> None:
    assert read_serve_line(switch_values(route(args))) is None


def test_a_plain_line_is_served_without_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[dict[str, Any]] = []
    monkeypatch.setattr("pounce_cli._serve_line.serve_values", served.append)
    monkeypatch.setattr("sys.argv", ["pounce", "app:x", "--port", "9000", "--no-access-log"])
    monkeypatch.setattr("pounce_cli.build_cli", _refuse)
    pounce_cli.main()
    assert served == [{"app": "app:x", "port": "9000", "access_log": False}]


def _refuse(**_: Any) -> Any:
    raise AssertionError("typer was built for a plain serve line")
