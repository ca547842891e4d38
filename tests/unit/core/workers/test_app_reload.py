"""Re-importing the app in-process for a thread-mode rolling reload."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pounce
from pounce import AppLoadError
from pounce._workers.app_reload import app_module_names, reimport_app

APP = """
import appreload_helper

VERSION = {version!r}

async def app(scope, receive, send):
    pass
"""


@pytest.fixture
def app_dir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "appreload_helper.py").write_text("HELPER = 1\n")
    yield tmp_path
    for name in ("appreload_main", "appreload_helper"):
        sys.modules.pop(name, None)
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def _write(directory: Path, version: str) -> None:
    (directory / "appreload_main.py").write_text(APP.format(version=version))
    # Whole-second mtimes: drop the bytecode cache so a same-second rewrite counts.
    for cached in (directory / "__pycache__").glob("appreload_main*"):
        cached.unlink()


def test_the_app_and_its_own_modules_are_imported_afresh(app_dir: Path) -> None:
    _write(app_dir, "one")
    first = reimport_app("appreload_main:app", factory=False, app_dir=str(app_dir))
    helper = sys.modules["appreload_helper"]
    _write(app_dir, "two")
    second = reimport_app("appreload_main:app", factory=False, app_dir=str(app_dir))
    assert first is not second
    assert sys.modules["appreload_main"].VERSION == "two"
    assert sys.modules["appreload_helper"] is not helper  # its helper too
    assert first.__globals__["VERSION"] == "one"  # type: ignore[attr-defined]


def test_only_modules_under_the_app_dir_are_dropped(app_dir: Path) -> None:
    _write(app_dir, "one")
    reimport_app("appreload_main:app", factory=False, app_dir=str(app_dir))
    names = app_module_names(str(app_dir))
    assert sorted(names) == ["appreload_helper", "appreload_main"]
    # The server's own modules and installed packages never are, even when
    # the app dir is a parent of them (a project with its venv inside).
    root = Path(pounce.__file__).resolve().parents[4]
    everything = app_module_names(str(root))
    assert not any(n == "pounce" or n.startswith("pounce.") for n in everything)
    assert "pytest" not in everything
    assert "json" not in everything


def test_a_failed_import_leaves_the_module_cache_as_it_was(app_dir: Path) -> None:
    _write(app_dir, "one")
    reimport_app("appreload_main:app", factory=False, app_dir=str(app_dir))
    main, helper = sys.modules["appreload_main"], sys.modules["appreload_helper"]
    (app_dir / "appreload_main.py").write_text("import appreload_helper\nraise ValueError('no')\n")
    for cached in (app_dir / "__pycache__").glob("appreload_main*"):
        cached.unlink()
    with pytest.raises(AppLoadError, match="ValueError: no"):
        reimport_app("appreload_main:app", factory=False, app_dir=str(app_dir))
    assert sys.modules["appreload_main"] is main
    assert sys.modules["appreload_helper"] is helper
