"""A real ``pounce`` process per test, on a free loopback port, always killed.

:class:`PounceProcess` runs the command line exactly as a user would
(``python -m pounce APP ...`` or the ``pounce`` console script) in a new
session, so the server and anything it starts form one process group. Its
stdout and stderr are read by background threads into a log the test can
wait on; the port is learnt from the startup line
``serving on http://127.0.0.1:PORT``. :meth:`PounceProcess.kill` sends
SIGKILL to the whole group and reaps it, and the fixtures call it in a
``finally``, so no test leaves a server behind, whatever happened to it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO

from pounce._runtime.stop_signals import BURST_SECONDS

__all__ = [
    "POUNCE_SCRIPT",
    "TESTS_DIR",
    "PounceProcess",
    "run_pounce",
    "unix_socket_answers",
]

TESTS_DIR = Path(__file__).resolve().parent.parent
POUNCE_SCRIPT = Path(sys.executable).parent / "pounce"
READY = re.compile(r"serving on (https?://127\.0\.0\.1:(\d+)|http\+unix://\S+?)[;,\s]")
# Generous: interpreter start-up plus imports on a busy 2-core machine.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def _command(args: Sequence[str], *, script: bool) -> list[str]:
    if script:
        return [str(POUNCE_SCRIPT), *args]
    return [sys.executable, "-m", "pounce", *args]


def _environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    # The server's Python should see the test suite's own helpers (support.apps).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS_DIR), env.get("PYTHONPATH", "")) if p)
    if extra:
        env.update(extra)
    return env


class PounceProcess:
    """A running ``pounce`` command and everything it has printed so far."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        cwd: Path | str = TESTS_DIR,
        env: Mapping[str, str] | None = None,
        script: bool = False,
        pass_fds: Iterable[int] = (),
        program: Sequence[str] = (),
    ) -> None:
        self.args = list(args)
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            # ``program``: another server that prints the same startup line
            # (the examples of examples/), given ``args`` as its arguments.
            [*program, *args] if program else _command(args, script=script),
            cwd=cwd,
            env=_environment(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, killed as one
            pass_fds=tuple(pass_fds),
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._pump, args=(stream,), daemon=True)
            for stream in (self.proc.stdout, self.proc.stderr)
        ]
        for reader in self._readers:
            reader.start()
        self.url = ""
        self.port = 0

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    # --------------------------------------------------------------- output

    @property
    def output(self) -> str:
        """Everything printed so far (stdout and stderr interleaved)."""
        with self._changed:
            return "\n".join(self._lines)

    def wait_for_output(
        self, pattern: str | re.Pattern[str], timeout: float = 30.0
    ) -> re.Match[str]:
        """The first output line matching ``pattern``; fails if none comes in time."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self._lines:
                    match = regex.search(line)
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                finished = self.proc.poll() is not None and not any(
                    r.is_alive() for r in self._readers
                )
                if remaining <= 0 or finished:
                    state = f"exited with {self.proc.returncode}" if finished else "still running"
                    raise AssertionError(
                        f"pounce ({state}) never printed {regex.pattern!r}; "
                        f"output:\n{chr(10).join(self._lines)}"
                    )
                self._changed.wait(min(remaining, 0.1))

    def wait_ready(self, timeout: float = START_TIMEOUT) -> PounceProcess:
        """Wait for the startup line and learn the address from it."""
        match = self.wait_for_output(READY, timeout)
        self.url = match.group(1)
        if match.group(2):
            self.port = int(match.group(2))
        return self

    # ------------------------------------------------------------- lifetime

    def send_signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def signal_again(self, signum: int) -> None:
        """Send a signal meant as a new request, not part of the previous one's
        burst (signals arriving together count as one: see
        :mod:`pounce._runtime.stop_signals`), by waiting out the burst first."""
        time.sleep(BURST_SECONDS * 1.5)
        self.proc.send_signal(signum)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        """Wait for the process to exit on its own; return its exit status."""
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return code

    def kill(self) -> None:
        """SIGKILL the whole process group and reap it. Safe to call twice."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(STOP_TIMEOUT)
        for reader in self._readers:
            reader.join(STOP_TIMEOUT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def unix_socket_answers(path: str) -> bool:
    """Whether something accepts connections on the UNIX socket at ``path``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(5)
        sock.connect(path)
    except OSError:
        return False
    else:
        return True
    finally:
        sock.close()


def run_pounce(
    *args: str,
    cwd: Path | str = TESTS_DIR,
    env: Mapping[str, str] | None = None,
    script: bool = False,
    timeout: float = 60.0,
) -> tuple[int, str, str]:
    """Run a ``pounce`` command that is expected to exit by itself.

    Returns (exit status, stdout, stderr). The process group is killed in any
    case, so a command that unexpectedly starts serving cannot outlive the test.
    """
    proc = subprocess.Popen(
        _command(args, script=script),
        cwd=cwd,
        env=_environment(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(STOP_TIMEOUT)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    return proc.returncode, out, err
