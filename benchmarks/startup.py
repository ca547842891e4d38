"""What starting costs: ``pounce --version`` against ``uvicorn --version``, and
what an installed Pounce adds to a pytest run of an unrelated project.

    python benchmarks/startup.py [-n 20] [--source DIR] [--check]

Builds the wheels of the Pounce checkout at ``--source`` (default: this one),
installs them into a fresh virtual environment of the running interpreter
beside Uvicorn and pytest (``pip install pounce-cli uvicorn pytest``), and a
second one with pytest alone. Then runs, ``-n`` times each after one warm-up
run (which compiles the bytecode):

* ``pounce --version`` and ``uvicorn --version``, from the same environment;
* ``pytest --collect-only`` of a directory holding one empty test file, in
  the environment with Pounce installed (its pytest plugin is loaded) and in
  the one without.

Each command's cost is the CPU time (user + system) of the process, read
from ``getrusage(RUSAGE_CHILDREN)`` around it, which a busy machine disturbs
far less than wall time; both are printed, as the median of the runs. With
``--check`` the exit status is 1 unless ``pounce --version`` costs at most
1.5 times ``uvicorn --version`` (the target of the "fast to start" work).

Needs uv (``$UV`` or on PATH) and the package index (or uv's cache).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

TARGET_RATIO = 1.5
ROOT = Path(__file__).resolve().parent.parent


def _uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        sys.exit("uv is needed (https://docs.astral.sh/uv/)")
    return found


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT"):
        env.pop(name, None)
    return env


def _run(args: Sequence[str | Path], cwd: Path) -> None:
    subprocess.run([str(a) for a in args], cwd=cwd, env=_environment(), check=True)


def _measure(args: Sequence[str | Path], cwd: Path) -> tuple[float, float]:
    """CPU seconds (user + system) and wall seconds of one run of ``args``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def _venv(uv: str, root: Path, *requirements: str | Path) -> Path:
    _run([uv, "venv", "--quiet", "--python", sys.executable, root], cwd=root.parent)
    python = root / "bin" / "python"
    _run([uv, "pip", "install", "--quiet", "--python", python, *requirements], cwd=root.parent)
    return root / "bin"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20, help="runs of each command (default 20)")
    parser.add_argument("--source", type=Path, default=ROOT, help="the Pounce checkout to build")
    parser.add_argument("--check", action="store_true", help="exit 1 above the target ratio")
    options = parser.parse_args(argv)
    uv = _uv()
    with tempfile.TemporaryDirectory(prefix="pounce-startup-") as scratch:
        place = Path(scratch)
        dist = place / "dist"
        _run([uv, "build", "--quiet", "--all-packages", "--out-dir", dist], cwd=options.source)
        wheels = [
            next(dist.glob(f"{name}-*.whl"))
            for name in ("pounce_cli", "pounce_core", "pounce_protocols")
        ]
        with_pounce = _venv(uv, place / "with-pounce", *wheels, "uvicorn", "pytest")
        without = _venv(uv, place / "without-pounce", "pytest")
        project = place / "unrelated"
        project.mkdir()
        (project / "test_empty.py").write_text("def test_nothing():\n    pass\n")
        collect = ["-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        commands = {
            "pounce --version": [with_pounce / "pounce", "--version"],
            "uvicorn --version": [with_pounce / "uvicorn", "--version"],
            "pytest, Pounce installed": [with_pounce / "python", *collect],
            "pytest, no Pounce": [without / "python", *collect],
        }
        results: dict[str, tuple[float, float]] = {}
        for name, args in commands.items():
            _measure(args, project)  # warm-up: bytecode compiled, files cached
            runs = [_measure(args, project) for _ in range(options.n)]
            results[name] = (
                statistics.median(cpu for cpu, _ in runs),
                statistics.median(wall for _, wall in runs),
            )
    print(f"Python {sys.version.split()[0]}, {options.n} runs each, median")
    print(f"{'command':<28} {'CPU ms':>8} {'wall ms':>8}")
    for name, (cpu, wall) in results.items():
        print(f"{name:<28} {cpu * 1000:8.0f} {wall * 1000:8.0f}")
    ratio = results["pounce --version"][0] / results["uvicorn --version"][0]
    plugin = results["pytest, Pounce installed"][0] - results["pytest, no Pounce"][0]
    print(f"pounce --version / uvicorn --version (CPU): {ratio:.2f}x (target <= {TARGET_RATIO}x)")
    print(f"what an installed Pounce adds to an unrelated pytest run (CPU): {plugin * 1000:.0f} ms")
    if options.check and ratio > TARGET_RATIO:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
