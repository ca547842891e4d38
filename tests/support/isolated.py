"""Running built packages outside the workspace: uv, and an environment that
does not lead back to the checkout.

The packaging tests build wheels and sdists and install them into fresh
virtual environments, as a user would. They need uv, which the test run has:
``$UV`` (``uv run`` and ``uv tool run``, through which scripts/test.sh runs
nox, set it) or on PATH. Like the other programs the suites drive, a missing
uv fails the test unless ``POUNCE_SKIP_MISSING_TOOLS=1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

__all__ = ["clean_environment", "run_isolated", "uv"]


def uv() -> str:
    """The path of uv."""
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        message = "uv is not available to build and install the packages"
        if os.environ.get("POUNCE_SKIP_MISSING_TOOLS") == "1":
            pytest.skip(message)
        pytest.fail(message)
    return found


def clean_environment() -> dict[str, str]:
    """This environment without what ties a process to the workspace and its venv."""
    env = dict(os.environ)
    for name in (
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "PYTHONHOME",
        "UV_PROJECT_ENVIRONMENT",
        "CONDA_PREFIX",
    ):
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_isolated(args: Sequence[str | Path], *, cwd: Path, timeout: float = 600) -> str:
    """Run ``args`` in :func:`clean_environment`; fail with its output unless it succeeds."""
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout
