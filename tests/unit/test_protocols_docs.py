"""docs/protocols.md, the guide to pounce-protocols as a library, kept true.

It must describe every public name of the package, the signatures it shows
must be the constructors' own (names, order, defaults), and its examples must
run: each ``python`` block is executed on its own, with its asserts.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
from pathlib import Path

import pytest

import pounce_protocols

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "protocols.md"
README = ROOT / "packages" / "pounce-protocols" / "README.md"
CODE_SPAN = re.compile(r"`([^`\n]+)`")
SIGNATURE_BLOCK = re.compile(r"^```text\n(\w+)(\(.*?\))\n```$", re.MULTILINE | re.DOTALL)
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _words_in_code(text: str) -> set[str]:
    """Every identifier written as code: in `spans` and in fenced blocks."""
    code = [*CODE_SPAN.findall(text), *re.findall(r"^```\w*\n(.*?)^```$", text, re.M | re.S)]
    return {word for chunk in code for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", chunk)}


def test_every_public_name_is_described() -> None:
    described = _words_in_code(GUIDE.read_text(encoding="utf-8"))
    missing = sorted(set(pounce_protocols.__all__) - described)
    assert not missing, f"docs/protocols.md does not describe {missing}"


def _signatures() -> list[tuple[str, str]]:
    return SIGNATURE_BLOCK.findall(GUIDE.read_text(encoding="utf-8"))


def _parameters(name: str, written: str) -> list[tuple[str, str, str | None]]:
    """(name, kind, default as source) of each parameter of a written signature."""
    (function,) = ast.parse(f"def {name}{written}: pass").body
    assert isinstance(function, ast.FunctionDef)
    args = function.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    found = [
        (arg.arg, "POSITIONAL_OR_KEYWORD", None if d is None else ast.unparse(d))
        for arg, d in zip(positional, defaults, strict=True)
    ]
    found += [
        (arg.arg, "KEYWORD_ONLY", None if d is None else ast.unparse(d))
        for arg, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    return found


def _actual(name: str) -> list[tuple[str, str, str | None]]:
    parameters = inspect.signature(getattr(pounce_protocols, name)).parameters.values()
    return [
        (
            p.name,
            p.kind.name,
            None if p.default is inspect.Parameter.empty else _source_of(p.default),
        )
        for p in parameters
    ]


def _source_of(value: object) -> str:
    if callable(value):  # time.monotonic, as the guide writes it
        return f"{value.__module__}.{getattr(value, '__name__', '')}"
    return repr(value)


def test_the_guide_shows_the_machines_signatures() -> None:
    shown = {name for name, _ in _signatures()}
    assert {"HTTP1ServerConnection", "HTTP2ServerConnection", "WebSocketMachine"} <= shown


@pytest.mark.parametrize(("name", "written"), _signatures(), ids=[n for n, _ in _signatures()])
def test_a_shown_signature_is_the_real_one(name: str, written: str) -> None:
    if name.startswith("HTTP3") and importlib.util.find_spec("aioquic") is None:
        pytest.skip("HTTP/3 needs aioquic, which has no free-threaded build")
    documented = [(n, kind, _evaluated(d)) for n, kind, d in _parameters(name, written)]
    assert documented == _actual(name), f"docs/protocols.md shows {name}{written}"


def _evaluated(default: str | None) -> str | None:
    """A written default as the signature holds it: ``16 * 1024 * 1024`` is 16777216."""
    if default is None or "." in default:
        return default
    return repr(eval(default, {}))  # a literal or arithmetic on literals


def test_the_readme_points_to_the_guide() -> None:
    readme = README.read_text(encoding="utf-8")
    assert "docs/protocols.md" in readme
    # What an index shows names the machines and what each needs installed.
    for name in ("HTTP1ServerConnection", "HTTP2ServerConnection", "WebSocketMachine"):
        assert name in readme, name
    for extra in ("[http2]", "[websocket]", "[http3]"):
        assert extra in readme, extra


def _examples() -> list[tuple[str, str]]:
    return [
        (f"{path.relative_to(ROOT)} example {number}", source)
        for path in (GUIDE, README)
        for number, source in enumerate(PYTHON_BLOCK.findall(path.read_text("utf-8")), 1)
    ]


def test_the_guide_has_examples() -> None:
    assert sum(name.startswith("docs/") for name, _ in _examples()) >= 6


@pytest.mark.parametrize(("name", "source"), _examples(), ids=[name for name, _ in _examples()])
def test_example_runs(name: str, source: str) -> None:
    exec(compile(source, name, "exec"), {})
