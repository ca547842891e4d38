"""``--log-format json`` from a real process, and what start-up says when a
feature's dependency is missing."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import pytest

from conftest import PounceFactory
from support.servers import TESTS_DIR, run_pounce


def json_lines(output: str) -> list[dict[str, object]]:
    lines = []
    for line in output.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_json_logs_with_lifecycle_events_and_access_lines(pounce: PounceFactory) -> None:
    process = pounce("support.extras_apps:app", "--log-format", "json")
    httpx.get(process.url + "/x?y=1")
    process.wait_for_output('"logger": "pounce.access"')
    process.send_signal(signal.SIGTERM)
    assert process.wait() == 0
    records = json_lines(process.output)
    # Every line the server printed is JSON.
    assert len(records) == len([line for line in process.output.splitlines() if line.strip()])
    events = [r["event"] for r in records if r["logger"] == "pounce.lifecycle"]
    assert events == [
        "WorkerStarted",
        "ServerStarted",
        "ServerDraining",
        "WorkerStopped",
        "ServerStopped",
    ]
    worker = next(r for r in records if r.get("event") == "WorkerStarted")
    assert worker["slot"] == 0
    assert worker["mode"] in ("thread", "process")
    started = next(r for r in records if r.get("event") == "ServerStarted")
    assert started["addresses"] == [process.url]
    (access,) = [r for r in records if r["logger"] == "pounce.access"]
    assert access["method"] == "GET"
    assert access["path"] == "/x?y=1"
    assert access["status"] == 200
    assert access["client"].startswith("127.0.0.1:")  # type: ignore[union-attr]
    assert isinstance(access["duration_ms"], float)
    assert all(r["level"] in ("info", "warning") for r in records)


def test_text_logs_stay_the_default(pounce: PounceFactory) -> None:
    process = pounce("support.extras_apps:app")
    assert not json_lines(process.output)


@pytest.mark.parametrize(
    ("module", "args", "message"),
    [
        ("prometheus_client", ["--metrics"], "--metrics needs pounce-extras[metrics]"),
        ("opentelemetry", ["--otel"], "--otel needs pounce-extras[otel]"),
        (
            "sentry_sdk",
            ["--sentry-dsn", "http://k@127.0.0.1:9/1"],
            "--sentry-dsn needs pounce-extras[sentry]",
        ),
        (
            "redis",
            ["--rate-limit", "5", "--rate-limit-store", "redis://127.0.0.1:9/0"],
            "--rate-limit-store redis:// needs pounce-extras[redis]",
        ),
    ],
)
def test_a_missing_dependency_stops_start_up_with_the_install_line(
    tmp_path: Path, module: str, args: list[str], message: str
) -> None:
    # A package of the same name that fails to import hides the real one.
    shadow = tmp_path / module
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('not installed (simulated)')\n")
    env = {"PYTHONPATH": f"{tmp_path}:{TESTS_DIR}"}
    code, _, err = run_pounce("support.extras_apps:app", *args, "--port", "0", env=env)
    assert code == 1
    requirement = message.split("needs ")[1]
    assert f"{message}: pip install '{requirement}'" in err
    assert "Traceback" not in err


def test_missing_optional_libraries_cost_nothing_until_asked_for(
    tmp_path: Path, pounce: PounceFactory
) -> None:
    # None of the optional libraries importable: a server that uses none of
    # their features starts and serves, batteries included.
    for module in ("prometheus_client", "opentelemetry", "sentry_sdk", "redis", "zstandard"):
        (tmp_path / module).mkdir()
        (tmp_path / module / "__init__.py").write_text("raise ImportError('simulated')\n")
    env = {"PYTHONPATH": f"{tmp_path}:{TESTS_DIR}"}
    process = pounce(
        "support.extras_apps:app", "--rate-limit", "100", "--health-path", "/h", env=env
    )
    response = httpx.get(process.url + "/", headers={"accept-encoding": "zstd, gzip"})
    assert response.status_code == 200
    assert response.headers["ratelimit-policy"]
    assert httpx.get(process.url + "/h").text == "ok\n"
