"""Test matrix, lint and type checks.

    nox -s tests          # every supported interpreter found on PATH
    nox -s tests-3.14t    # one interpreter
    nox -s lint typecheck
    nox -s autobahn       # the Autobahn WebSocket suite (once, not per Python)
    nox -s soak           # 45 s of mixed traffic, memory sampled (benchmarks/soak.py)

Each session installs the whole workspace (editable) from ``uv.lock`` into
its own environment. A session whose interpreter is not on PATH is skipped
with a message rather than failing, unless nox is given
``--error-on-missing-interpreters`` (scripts/test.sh does so in CI, where
every interpreter must be tested).

Free-threaded interpreters (3.14t) get everything but the ``http3`` dependency
group: aioquic publishes only stable-ABI wheels, which a free-threaded build
can neither load nor build, and no environment marker tells 3.14 from 3.14t,
so the choice is made here, from the session's own interpreter. The HTTP/3
tests skip there with that reason, and the ``--http3`` refusal is tested there
for real.
"""

from __future__ import annotations

import glob
import os

import nox

nox.needs_version = ">=2024.10.9"
nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = False
nox.options.sessions = ["lint", "typecheck", "tests"]

PYTHONS = ["3.11", "3.12", "3.13", "3.14", "3.14t"]

_SHOW_INTERPRETER = (
    "import sys; gil = getattr(sys, '_is_gil_enabled', lambda: True)(); "
    "print(sys.version, '| GIL', 'enabled' if gil else 'disabled')"
)


def _free_threaded(session: nox.Session) -> bool:
    """Whether the session's interpreter is a free-threaded build."""
    probe = "import sysconfig; print(int(bool(sysconfig.get_config_var('Py_GIL_DISABLED'))))"
    output = session.run("python", "-c", probe, silent=True)
    return str(output).strip() == "1"


def _test_groups(session: nox.Session) -> list[str]:
    """The dependency groups the test suite needs on this interpreter."""
    return ["test"] if _free_threaded(session) else ["test", "http3"]


def _sync(session: nox.Session, *groups: str) -> None:
    """Install the workspace and dependency groups into the session's venv."""
    args = ["uv", "sync", "--locked", "--all-packages", "--no-default-groups"]
    for group in groups:
        args += ["--group", group]
    python = session.virtualenv.location  # type: ignore[union-attr]
    session.run_install(
        *args,
        "--python",
        os.path.join(python, "bin", "python"),
        env={"UV_PROJECT_ENVIRONMENT": python},
        external=True,
    )


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole test suite: unit, integration and conformance."""
    _sync(session, *_test_groups(session))
    session.run("python", "-c", _SHOW_INTERPRETER)
    # Two runners, each taking whole files (module-scoped servers stay shared).
    session.run("pytest", "-n", "2", "--dist", "loadfile", *(session.posargs or ["tests"]))


@nox.session(python="3.11")
def autobahn(session: nox.Session) -> None:
    """The Autobahn WebSocket test suite (wstest on a private Python 2.7).

    It takes minutes, so a run given a pytest selection (``scripts/test.sh
    tests/unit``) skips it; the full check runs it.
    """
    if session.posargs:
        session.skip("a pytest selection was given; the Autobahn suite runs in the full check")
    _sync(session, *_test_groups(session))
    output = session.run("scripts/install-autobahn.sh", external=True, silent=True)
    wstest = str(output).strip().splitlines()[-1]
    session.run(
        "pytest",
        "-m",
        "autobahn",
        "-s",
        "tests/conformance/test_autobahn.py",
        env={"POUNCE_WSTEST": wstest},
    )


@nox.session(python="3.11")
def soak(session: nox.Session) -> None:
    """A short soak: 45 s of mixed HTTP/1.1, HTTP/2 and WebSocket traffic
    against one server, failing on any error or on memory growth (see
    benchmarks/soak.py; run it by hand for minutes). Like the Autobahn suite,
    it is skipped when a pytest selection is given.
    """
    if session.posargs:
        session.skip("a pytest selection was given; the soak runs in the full check")
    _sync(session, *_test_groups(session))
    session.run("python", "benchmarks/soak.py", "--duration", "45")


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff (lint rules and formatting) and the import contracts (pyproject.toml)."""
    _sync(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every package, and over the examples built on pounce-protocols."""
    _sync(session, "lint", "test", "http3")
    session.run("mypy")
    # One run each: every example is a module named ``server``.
    for script in sorted(glob.glob("examples/protocols-*/server.py")):
        session.run("mypy", script)
