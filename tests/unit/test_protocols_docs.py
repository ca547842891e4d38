"""docs/protocols.md, the guide to pounce-protocols as a library, kept true.

It must describe every public name of the package, and its examples must run:
each ``python`` block is executed on its own, with its asserts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import pounce_protocols

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "protocols.md"
README = ROOT / "packages" / "pounce-protocols" / "README.md"
CODE_SPAN = re.compile(r"`([^`\n]+)`")
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _words_in_code(text: str) -> set[str]:
    """Every identifier written as code: in `spans` and in fenced blocks."""
    code = [*CODE_SPAN.findall(text), *re.findall(r"^```\w*\n(.*?)^```$", text, re.M | re.S)]
    return {word for chunk in code for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", chunk)}


def test_every_public_name_is_described() -> None:
    described = _words_in_code(GUIDE.read_text(encoding="utf-8"))
    missing = sorted(set(pounce_protocols.__all__) - described)
    assert not missing, f"docs/protocols.md does not describe {missing}"


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
