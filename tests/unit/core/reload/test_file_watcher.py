"""The --reload watcher: which files it watches and what it reports."""

from __future__ import annotations

import os
from pathlib import Path

from pounce._reload.watcher import FileWatcher


def _touch(path: Path, text: str = "x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    # Move the mtime on explicitly: two writes can share a timestamp.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_reports_added_modified_and_removed_python_files(tmp_path: Path) -> None:
    _touch(tmp_path / "app.py")
    _touch(tmp_path / "gone.py")
    watcher = FileWatcher([str(tmp_path)])
    assert watcher.changes() == []
    _touch(tmp_path / "app.py", "changed")
    _touch(tmp_path / "pkg" / "new.py")
    (tmp_path / "gone.py").unlink()
    assert watcher.changes() == sorted(
        [tmp_path / "app.py", tmp_path / "gone.py", tmp_path / "pkg" / "new.py"]
    )
    assert watcher.changes() == []


def test_hidden_cache_and_backup_files_are_never_watched(tmp_path: Path) -> None:
    for name in (".venv/lib/site.py", ".git/hook.py", "__pycache__/a.py", "node_modules/x.py"):
        _touch(tmp_path / name)
    _touch(tmp_path / "app.py~")
    _touch(tmp_path / "app.pyc")
    _touch(tmp_path / "README.md")
    _touch(tmp_path / "app.py")
    assert FileWatcher([str(tmp_path)]).watched() == [tmp_path / "app.py"]


def test_includes_add_and_excludes_remove(tmp_path: Path) -> None:
    _touch(tmp_path / "templates" / "page.html")
    _touch(tmp_path / "scratch.py")
    _touch(tmp_path / "tests" / "test_app.py")
    _touch(tmp_path / "app.py")
    watcher = FileWatcher([str(tmp_path)], includes=["*.html"], excludes=["scratch.py", "tests"])
    assert watcher.watched() == [tmp_path / "app.py", tmp_path / "templates" / "page.html"]


def test_patterns_may_name_a_relative_path(tmp_path: Path) -> None:
    _touch(tmp_path / "conf" / "settings.toml")
    _touch(tmp_path / "other" / "settings.toml")
    watcher = FileWatcher([str(tmp_path)], includes=["conf/*.toml"])
    assert watcher.watched() == [tmp_path / "conf" / "settings.toml"]


def test_several_directories(tmp_path: Path) -> None:
    _touch(tmp_path / "a" / "one.py")
    _touch(tmp_path / "b" / "two.py")
    _touch(tmp_path / "c" / "three.py")
    watcher = FileWatcher([str(tmp_path / "a"), str(tmp_path / "b")])
    assert watcher.watched() == [tmp_path / "a" / "one.py", tmp_path / "b" / "two.py"]
