"""Resolving --workers and --worker-mode."""

from __future__ import annotations

import sys

import pytest

from pounce import ServerConfig
from pounce._workers.plan import plan_workers


@pytest.fixture(params=[True, False], ids=["gil", "free-threaded"])
def gil(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    enabled: bool = request.param
    monkeypatch.setattr("pounce._workers.plan.gil_enabled", lambda: enabled)
    return enabled


def test_auto_uses_threads_without_a_gil_and_processes_with_one(gil: bool) -> None:
    plan = plan_workers(ServerConfig(workers=4), app_is_import_string=True)
    assert plan.count == 4
    assert plan.mode == ("process" if gil else "thread")
    assert plan.note == ""


def test_auto_with_one_worker_is_a_thread(gil: bool) -> None:
    plan = plan_workers(ServerConfig(), app_is_import_string=True)
    assert (plan.count, plan.mode) == (1, "thread")


def test_auto_with_an_app_object_falls_back_to_threads(gil: bool) -> None:
    plan = plan_workers(ServerConfig(workers=2), app_is_import_string=False)
    assert plan.mode == "thread"
    assert ("pass an import string for processes" in plan.note) is gil


def test_explicit_thread_mode_says_when_the_gil_serialises_it(gil: bool) -> None:
    plan = plan_workers(ServerConfig(workers=2, worker_mode="thread"), app_is_import_string=True)
    assert plan.mode == "thread"
    assert ("will not run Python code in parallel" in plan.note) is gil


def test_explicit_process_mode_needs_an_import_string() -> None:
    config = ServerConfig(workers=2, worker_mode="process")
    assert plan_workers(config, app_is_import_string=True).mode == "process"
    with pytest.raises(ValueError, match="needs the app as an import string"):
        plan_workers(config, app_is_import_string=False)


@pytest.mark.skipif(sys.version_info < (3, 14), reason="subinterpreter workers need 3.14+")
def test_explicit_interpreter_mode_needs_an_import_string() -> None:
    config = ServerConfig(workers=2, worker_mode="interpreter")
    assert plan_workers(config, app_is_import_string=True).mode == "interpreter"
    with pytest.raises(ValueError, match="each worker interpreter imports the app itself"):
        plan_workers(config, app_is_import_string=False)


def test_auto_never_picks_interpreters(gil: bool) -> None:
    plan = plan_workers(ServerConfig(workers=4), app_is_import_string=True)
    assert plan.mode != "interpreter"


def test_zero_workers_means_one_per_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pounce._workers.plan._cpu_count", lambda: 6)
    assert plan_workers(ServerConfig(workers=0), app_is_import_string=True).count == 6
