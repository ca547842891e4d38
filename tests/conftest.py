"""Fixtures shared by every suite.

``serve``: an in-process server (``pounce.testing.live_server``) in a
background thread on a free 127.0.0.1 port, stopped at teardown.
``pounce``: the real command line in a subprocess, killed (with its whole
process group) at teardown whatever state it is in.

Both are factories, so a test can start several servers with different
settings; each one is stopped when the test ends.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from pounce.testing import LiveServer, live_server
from support.servers import TESTS_DIR, PounceProcess

# pytester runs the pounce pytest plugin's own tests in throw-away suites.
pytest_plugins = ["pytester"]

# The machines that run the suite are shared and noisy: how long an example
# takes says nothing about the property, so no property test may fail on time.
settings.register_profile("pounce", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("pounce")

ServeFactory = Callable[..., LiveServer]
PounceFactory = Callable[..., PounceProcess]


@pytest.fixture
def serve() -> Iterator[ServeFactory]:
    """``serve(app, **config) -> LiveServer``: a running in-process server."""
    with ExitStack() as stack:

        def start(app: Any, **options: Any) -> LiveServer:
            return stack.enter_context(live_server(app, **options))

        yield start


@pytest.fixture
def pounce() -> Iterator[PounceFactory]:
    """``pounce(*args, ready=True, bind=True, ...) -> PounceProcess``.

    Runs ``python -m pounce *args`` (``script=True``: the console script) with
    the tests directory as working directory, so ``support.apps:...`` imports.
    ``bind`` adds ``--host 127.0.0.1 --port 0``; ``ready`` waits for the
    startup line and learns the port.
    """
    started: list[PounceProcess] = []

    def start(
        *args: str,
        ready: bool = True,
        bind: bool = True,
        cwd: Path | str = TESTS_DIR,
        env: dict[str, str] | None = None,
        script: bool = False,
        pass_fds: Sequence[int] = (),
    ) -> PounceProcess:
        full = [*args, "--host", "127.0.0.1", "--port", "0"] if bind else list(args)
        process = PounceProcess(full, cwd=cwd, env=env, script=script, pass_fds=pass_fds)
        started.append(process)
        if ready:
            process.wait_ready()
        return process

    try:
        yield start
    finally:
        for process in started:
            process.kill()


@pytest.fixture
def require_tool() -> Callable[[str], str]:
    """``require_tool("h2load") -> path``: an external program a test drives.

    ``scripts/test.sh`` installs every such program, so a missing one fails
    the test instead of skipping it; set ``POUNCE_SKIP_MISSING_TOOLS=1`` to
    skip instead on a machine where they cannot be installed.
    """

    def find(name: str) -> str:
        path = shutil.which(name)
        if path is None:
            message = f"{name} is not installed (scripts/install-test-tools.sh installs it)"
            if os.environ.get("POUNCE_SKIP_MISSING_TOOLS") == "1":
                pytest.skip(message)
            pytest.fail(message)
        return path

    return find
