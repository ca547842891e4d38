"""The Autobahn WebSocket test suite against Pounce's echo endpoint.

``wstest -m fuzzingclient`` (PyPI ``autobahntestsuite``, Python 2.7 only)
plays every case of the suite (framing, pings, reserved bits, opcodes,
fragmentation, UTF-8 handling, close codes, large messages, permessage-deflate)
against ``conformance.apps.websocket_echo`` served by a real ``pounce``
process, then reports a behaviour per case. Every case must be ``OK``,
``NON-STRICT`` or ``INFORMATIONAL``.

The whole suite takes minutes (the permessage-deflate sections most of it), so
it is marked ``autobahn``: deselected by default, run once in CI by the nox
session of that name. ``POUNCE_WSTEST`` names the ``wstest`` to use;
otherwise ``scripts/install-autobahn.sh`` provides one (installing it the
first time). ``POUNCE_AUTOBAHN_CASES`` (comma-separated, e.g. ``1.*,5.*``)
limits the run to some cases while working on them.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from support.servers import TESTS_DIR

pytestmark = [pytest.mark.autobahn, pytest.mark.slow]

REPO = TESTS_DIR.parent
ACCEPTED = {"OK", "NON-STRICT", "INFORMATIONAL"}
# Generous: the full suite takes about a quarter of this on a quiet 2-core machine.
SUITE_TIMEOUT = 1800


def wstest_path() -> str:
    configured = os.environ.get("POUNCE_WSTEST")
    if configured:
        return configured
    result = subprocess.run(
        [str(REPO / "scripts" / "install-autobahn.sh")],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if result.returncode != 0:
        pytest.fail(f"could not install the Autobahn test suite:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def shards() -> list[tuple[list[str], list[str]]]:
    """(cases, excluded cases) per wstest run.

    A fuzzing client plays one case at a time and waits for each echo, so a
    run keeps at most one core busy between it and the server. Two runs side
    by side, each with its own server, use both cores of a CI machine: the
    permessage-deflate sections (12 and 13, nearly all of the time) are split
    between them.
    """
    selected = os.environ.get("POUNCE_AUTOBAHN_CASES")
    if selected:
        return [(selected.split(","), [])]
    return [(["12.*"], []), (["*"], ["12.*"])]


@pytest.mark.timeout(SUITE_TIMEOUT + 300)
def test_autobahn_fuzzingclient(pounce, tmp_path: Path) -> None:
    wstest = wstest_path()
    runs: list[tuple[Path, subprocess.Popen[bytes]]] = []
    servers = []
    durations: list[float] = []
    started = time.monotonic()
    try:
        for index, (cases, excluded) in enumerate(shards()):
            server = pounce("conformance.apps.websocket_echo:app", "--no-access-log")
            servers.append(server)
            workdir = tmp_path / f"run{index}"
            workdir.mkdir()
            spec = {
                "outdir": str(workdir / "reports"),
                "servers": [{"agent": "pounce", "url": f"ws://127.0.0.1:{server.port}"}],
                "cases": cases,
                "exclude-cases": excluded,
                "exclude-agent-cases": {},
            }
            (workdir / "fuzzingclient.json").write_text(json.dumps(spec))
            with (workdir / "wstest.log").open("wb") as log:
                process = subprocess.Popen(
                    [wstest, "--mode", "fuzzingclient", "--spec", "fuzzingclient.json"],
                    cwd=workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            runs.append((workdir, process))
        finished: dict[int, float] = {}
        while len(finished) < len(runs):
            assert time.monotonic() - started < SUITE_TIMEOUT, "the Autobahn suite timed out"
            for index, (workdir, process) in enumerate(runs):
                if index not in finished and process.poll() is not None:
                    finished[index] = time.monotonic() - started
                    log = (workdir / "wstest.log").read_text()
                    assert process.returncode == 0, log[-5000:]
            time.sleep(1)
        durations.extend(finished[index] for index in range(len(runs)))
    finally:
        for _, process in runs:
            if process.poll() is None:
                process.kill()
                process.wait()
    elapsed = time.monotonic() - started

    results: dict[str, dict[str, str]] = {}
    for workdir, _ in runs:
        results.update(json.loads((workdir / "reports" / "index.json").read_text())["pounce"])
    behaviours = collections.Counter(r["behavior"] for r in results.values())
    closes = collections.Counter(r["behaviorClose"] for r in results.values())

    def case_key(case: str) -> list[int]:
        return [int(part) for part in case.split(".")]

    def listed(behaviour: str, key: str) -> str:
        cases = sorted((c for c, r in results.items() if r[key] == behaviour), key=case_key)
        return ", ".join(cases)

    runs_done = ", ".join(f"{d:.0f} s" for d in durations)
    print(f"\nAutobahn fuzzingclient: {len(results)} cases in {elapsed:.0f} s (runs: {runs_done})")
    print("  behaviour:       " + ", ".join(f"{k} {v}" for k, v in sorted(behaviours.items())))
    print("  close behaviour: " + ", ".join(f"{k} {v}" for k, v in sorted(closes.items())))
    for behaviour in sorted(set(behaviours) - {"OK"}):
        print(f"  {behaviour}: {listed(behaviour, 'behavior')}")

    bad = {
        case: (result["behavior"], result["behaviorClose"])
        for case, result in sorted(results.items(), key=lambda item: case_key(item[0]))
        if result["behavior"] not in ACCEPTED or result["behaviorClose"] not in ACCEPTED
    }
    assert not bad, f"cases not passed (reports in {tmp_path}): {bad}"
    for server in servers:
        assert "ERROR" not in server.output
