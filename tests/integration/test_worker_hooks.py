"""``--on-worker-start``, ``--on-worker-draining``, ``--on-worker-stop`` in every worker mode."""

from __future__ import annotations

import re
import signal
import sys
from collections import defaultdict

import httpx
import pytest

HOOKS = [
    "--on-worker-start",
    "support.worker_hooks:start",
    "--on-worker-draining",
    "support.worker_hooks:draining",
    "--on-worker-stop",
    "support.worker_hooks:stop",
]
MODES = [
    "thread",
    "process",
    pytest.param(
        "interpreter",
        marks=pytest.mark.skipif(
            sys.version_info < (3, 14), reason="subinterpreter workers need CPython 3.14+"
        ),
    ),
]


def _stories(log: str) -> dict[str, list[str]]:
    stories: dict[str, list[str]] = defaultdict(list)
    for line in log.splitlines():
        key, _, rest = line.partition(" ")
        stories[key].append(rest)
    return stories


@pytest.mark.parametrize("mode", MODES)
def test_hooks_run_in_order_around_the_lifespan_in_every_worker(pounce, tmp_path, mode):
    log = tmp_path / "hooks.log"
    server = pounce(
        "support.worker_hooks:app",
        "--workers",
        "2",
        "--worker-mode",
        mode,
        *HOOKS,
        env={"POUNCE_TEST_HOOK_LOG": str(log)},
    )
    assert httpx.get(server.url, timeout=30).text == "hello"
    server.send_signal(signal.SIGHUP)
    server.wait_for_output("Reload complete", timeout=60)
    server.send_signal(signal.SIGTERM)
    assert server.wait() == 0
    stories = _stories(log.read_text())
    assert len(stories) == 4, stories  # two workers, then two of generation 1
    generations = defaultdict(set)
    for story in stories.values():
        events = [entry.split(" ")[0] for entry in story]
        assert events == ["start", "lifespan-startup", "draining", "lifespan-shutdown", "stop"]
        infos = {entry.partition(" ")[2] for entry in story if not entry.startswith("lifespan")}
        assert len(infos) == 1, story  # the same WorkerInfo for all three hooks
        info = infos.pop()
        assert f"mode={mode}" in info
        match = re.search(r"slot=(\d) gen=(\d)", info)
        assert match is not None
        generations[int(match.group(2))].add(int(match.group(1)))
    assert generations == {0: {0, 1}, 1: {0, 1}}


@pytest.mark.parametrize("mode", MODES)
def test_a_failing_start_hook_fails_the_worker_before_the_lifespan(pounce, tmp_path, mode):
    log = tmp_path / "hooks.log"
    server = pounce(
        "support.worker_hooks:app",
        "--worker-mode",
        mode,
        "--on-worker-start",
        "support.worker_hooks:failing_start",
        ready=False,
        env={"POUNCE_TEST_HOOK_LOG": str(log)},
    )
    assert server.wait(timeout=60) == 3
    assert (
        "on_worker_start hook 'support.worker_hooks:failing_start' raised RuntimeError: "
        "the database is unreachable" in server.output
    )
    assert not log.exists()  # the lifespan never started


def test_a_start_hook_that_does_not_import_is_reported(pounce):
    server = pounce(
        "support.apps:app", "--on-worker-start", "support.no_such_module:start", ready=False
    )
    assert server.wait(timeout=60) == 3
    assert "cannot load on_worker_start hook 'support.no_such_module:start'" in server.output
