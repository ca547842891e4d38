"""Notice changed files, for ``--reload``: a portable polling watcher.

Each look walks the watched directories and compares every matching file's
modification time and size with the previous look. A file matches when its
name (or its path relative to the watched directory) matches an include
glob — ``*.py`` always, plus ``--reload-include`` — and neither it nor any
directory on its way matches an exclude glob. Hidden files and directories
(``.git``, ``.venv``), ``__pycache__``, ``node_modules`` and editor backups
are always excluded, so a project's virtual environment is never walked.
Polling costs a ``stat`` per watched file per look; for the source tree of an
application that is well under a millisecond.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from fnmatch import fnmatch
from pathlib import Path, PurePath

__all__ = ["DEFAULT_EXCLUDES", "DEFAULT_INCLUDES", "FileWatcher"]

DEFAULT_INCLUDES = ("*.py",)
DEFAULT_EXCLUDES = (".*", "__pycache__", "node_modules", "*.py[cod]", "*~")

_Stamp = tuple[int, int]  # (mtime in ns, size)


class FileWatcher:
    """Reports which watched files changed since the previous look."""

    __slots__ = ("_dirs", "_excludes", "_includes", "_known")

    def __init__(
        self,
        dirs: Sequence[str],
        *,
        includes: Iterable[str] = (),
        excludes: Iterable[str] = (),
    ) -> None:
        self._dirs = [Path(d).resolve() for d in dirs]
        self._includes = (*DEFAULT_INCLUDES, *includes)
        self._excludes = (*DEFAULT_EXCLUDES, *excludes)
        self._known = self._scan()

    @property
    def dirs(self) -> list[Path]:
        return list(self._dirs)

    def watched(self) -> list[Path]:
        """Every file currently watched."""
        return sorted(Path(p) for p in self._known)

    def changes(self) -> list[Path]:
        """Files added, modified or removed since the previous call (or creation)."""
        current = self._scan()
        known = self._known
        changed = [p for p, stamp in current.items() if known.get(p) != stamp]
        changed += [p for p in known if p not in current]
        self._known = current
        return sorted(Path(p) for p in changed)

    def _excluded(self, relative: PurePath) -> bool:
        text = relative.as_posix()
        return any(
            fnmatch(part, pattern) for pattern in self._excludes for part in relative.parts
        ) or any(fnmatch(text, pattern) for pattern in self._excludes)

    def _included(self, relative: PurePath) -> bool:
        text = relative.as_posix()
        return any(
            fnmatch(relative.name, pattern) or fnmatch(text, pattern) for pattern in self._includes
        )

    def _scan(self) -> dict[str, _Stamp]:
        found: dict[str, _Stamp] = {}
        for root in self._dirs:
            for current, dirnames, filenames in os.walk(root):
                base = PurePath(os.path.relpath(current, root))
                # Pruned in place: an excluded directory is never walked.
                dirnames[:] = [d for d in dirnames if not self._excluded(base / d)]
                for name in filenames:
                    relative = base / name
                    if not self._included(relative) or self._excluded(relative):
                        continue
                    path = os.path.join(current, name)
                    try:
                        info = os.stat(path)
                    except OSError:
                        continue  # removed between the listing and now
                    found[path] = (info.st_mtime_ns, info.st_size)
        return found
