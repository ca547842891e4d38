"""Three layers, one direction: what each package may import.

``pounce_protocols`` is Sans-IO: it imports no other Pounce package and
nothing that does I/O or concurrency. ``pounce`` (core) never imports the CLI
or the extras built on top of it, and the extras never import the CLI. The
source is read with :mod:`ast`, so an import inside a function or behind
``TYPE_CHECKING`` counts too.
"""

from __future__ import annotations

import ast
import types
from pathlib import Path

import pytest

import pounce
import pounce_extras
import pounce_protocols

IO_MODULES = {
    "asyncio",
    "concurrent",
    "multiprocessing",
    "selectors",
    "socket",
    "ssl",
    "subprocess",
    "threading",
}


def imported_modules(source: str, package: str) -> set[str]:
    """Top-level names of every module ``source`` imports (relative: ``package``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.add(package)
            elif node.module:
                found.add(node.module.partition(".")[0])
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id == "__import__")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value.partition(".")[0])
    return found


def source_files(package: types.ModuleType) -> list[Path]:
    assert package.__file__ is not None
    files = sorted(Path(package.__file__).parent.rglob("*.py"))
    assert files, f"no source found for {package.__name__}: the check would prove nothing"
    return files


def imports_of(package: types.ModuleType) -> dict[str, set[str]]:
    return {
        path.name: imported_modules(path.read_text(encoding="utf-8"), package.__name__)
        for path in source_files(package)
    }


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        (pounce_protocols, {"pounce", "pounce_cli", "pounce_extras"} | IO_MODULES),
        (pounce, {"pounce_cli", "pounce_extras"}),
        (pounce_extras, {"pounce_cli"}),
    ],
    ids=["pounce_protocols", "pounce", "pounce_extras"],
)
def test_layering(package: types.ModuleType, forbidden: set[str]) -> None:
    violations = {
        module: sorted(names & forbidden)
        for module, names in imports_of(package).items()
        if names & forbidden
    }
    assert violations == {}


def test_core_builds_on_protocols() -> None:
    # The direction is checked above; this checks the scan sees real imports.
    assert any("pounce_protocols" in names for names in imports_of(pounce).values())


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import socket", {"socket"}),
        ("import os.path as p", {"os"}),
        ("from asyncio import run", {"asyncio"}),
        ("from . import _x", {"pkg"}),
        ("from ._x import y", {"pkg"}),
        ("def f():\n    import threading", {"threading"}),
        ("if TYPE_CHECKING:\n    from pounce import Server", {"pounce"}),
        ("importlib.import_module('pounce_cli.main')", {"pounce_cli"}),
        ("__import__('selectors')", {"selectors"}),
    ],
)
def test_import_scanner(source: str, expected: set[str]) -> None:
    assert imported_modules(source, "pkg") == expected
