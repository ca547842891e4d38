"""``--reload``: the server restarts when a watched file changes, keeps its
port, survives broken code, and never leaves its server process behind."""

from __future__ import annotations

import logging
import os
import re
import signal
from pathlib import Path

import httpx
import pytest

from conftest import PounceFactory
from pounce import ServerConfig
from pounce._reload.reloader import run_reloader
from support.apps import app as hello
from support.servers import PounceProcess
from support.waiting import wait_for
from support.worker_apps import write_reloadable

SERVING_PID = re.compile(r"serving on .*; pid (\d+)\b")


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _start(pounce: PounceFactory, directory: Path, *extra: str) -> PounceProcess:
    write_reloadable(directory, "v1")
    return pounce(
        "reloadable:app",
        "--app-dir",
        str(directory),
        "--reload",
        "--reload-delay",
        "0.1",
        *extra,
    )


def _serves(server: PounceProcess, body: str) -> None:
    def check() -> bool:
        try:
            return httpx.get(server.url + "/").text == body
        except httpx.TransportError:
            return False  # between two server processes: the next try will do

    wait_for(check, what=f"the server to answer {body!r}")


def _server_pids(server: PounceProcess) -> list[int]:
    return [int(m.group(1)) for m in SERVING_PID.finditer(server.output)]


def test_a_changed_file_restarts_the_server_on_the_same_port(
    pounce: PounceFactory, tmp_path: Path
) -> None:
    server = _start(pounce, tmp_path)
    server.wait_for_output(rf"Reloading enabled: watching {re.escape(str(tmp_path))}\.")
    _serves(server, "v1 h1")
    write_reloadable(tmp_path, "v2", helper="h2")
    server.wait_for_output(r"Detected changes in reloadable(?:_helper)?\.py")
    _serves(server, "v2 h2")
    wait_for(lambda: len(_server_pids(server)) == 2)
    first, second = _server_pids(server)
    assert first != second
    assert server.proc.pid not in (first, second)  # the watcher serves nothing itself
    assert not _alive(first)


def test_includes_and_excludes_choose_the_watched_files(
    pounce: PounceFactory, tmp_path: Path
) -> None:
    server = _start(pounce, tmp_path, "--reload-include", "*.txt", "--reload-exclude", "scratch_*")
    _serves(server, "v1 h1")
    (tmp_path / "scratch_notes.py").write_text("x = 1\n")  # excluded, though *.py
    (tmp_path / ".hidden.py").write_text("x = 1\n")  # hidden: never watched
    (tmp_path / "notes.txt").write_text("watched\n")  # included
    line = server.wait_for_output(r"Detected changes in .*; restarting\.").string
    assert "notes.txt" in line
    assert "scratch_notes.py" not in line
    assert ".hidden.py" not in line
    assert line.count("Detected changes") == 1
    assert server.output.count("Detected changes") == 1


def test_broken_code_waits_for_the_next_change(pounce: PounceFactory, tmp_path: Path) -> None:
    server = _start(pounce, tmp_path)
    _serves(server, "v1 h1")
    (tmp_path / "reloadable.py").write_text("def broken(:\n")
    server.wait_for_output('Error importing module "reloadable": SyntaxError')
    server.wait_for_output("The server exited with status 1; waiting for a change to restart it")
    assert server.proc.poll() is None
    write_reloadable(tmp_path, "v3", helper="h3")
    _serves(server, "v3 h3")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_process_then_the_watcher(
    pounce: PounceFactory, tmp_path: Path, signum: int
) -> None:
    server = _start(pounce, tmp_path)
    _serves(server, "v1 h1")
    (child,) = _server_pids(server)
    server.send_signal(signum)
    assert server.wait() == 0
    assert not _alive(child)
    output = server.output
    assert "Received SIGTERM: shutting down gracefully" in output  # passed on as SIGTERM
    assert "shutting down now" not in output  # Ctrl-C is not counted twice


def test_the_server_process_stops_when_the_watcher_dies(
    pounce: PounceFactory, tmp_path: Path
) -> None:
    server = _start(pounce, tmp_path)
    _serves(server, "v1 h1")
    (child,) = _server_pids(server)
    os.kill(server.proc.pid, signal.SIGKILL)
    wait_for(lambda: not _alive(child), what="the orphaned server process to stop")


def test_reload_needs_an_import_string(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pounce")
    assert run_reloader(ServerConfig(port=0, reload=True), hello) == 1
    assert "--reload needs the app as an import string" in caplog.text
