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


@pytest.mark.timeout(SUITE_TIMEOUT + 300)
def test_autobahn_fuzzingclient(pounce, tmp_path: Path) -> None:
    wstest = wstest_path()
    server = pounce("conformance.apps.websocket_echo:app", "--no-access-log")
    cases = os.environ.get("POUNCE_AUTOBAHN_CASES", "*").split(",")
    spec = {
        "outdir": str(tmp_path / "reports"),
        "servers": [{"agent": "pounce", "url": f"ws://127.0.0.1:{server.port}"}],
        "cases": cases,
        "exclude-cases": [],
        "exclude-agent-cases": {},
    }
    (tmp_path / "fuzzingclient.json").write_text(json.dumps(spec))
    started = time.monotonic()
    with (tmp_path / "wstest.log").open("w") as log:
        completed = subprocess.run(
            [wstest, "--mode", "fuzzingclient", "--spec", "fuzzingclient.json"],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=SUITE_TIMEOUT,
            check=False,
        )
    elapsed = time.monotonic() - started
    assert completed.returncode == 0, (tmp_path / "wstest.log").read_text()[-5000:]

    results = json.loads((tmp_path / "reports" / "index.json").read_text())["pounce"]
    behaviours = collections.Counter(r["behavior"] for r in results.values())
    closes = collections.Counter(r["behaviorClose"] for r in results.values())
    print(f"\nAutobahn fuzzingclient: {len(results)} cases in {elapsed:.0f} s")
    print("  behaviour:       " + ", ".join(f"{k} {v}" for k, v in sorted(behaviours.items())))
    print("  close behaviour: " + ", ".join(f"{k} {v}" for k, v in sorted(closes.items())))

    def case_key(case: str) -> list[int]:
        return [int(part) for part in case.split(".")]

    bad = {
        case: (result["behavior"], result["behaviorClose"])
        for case, result in sorted(results.items(), key=lambda item: case_key(item[0]))
        if result["behavior"] not in ACCEPTED or result["behaviorClose"] not in ACCEPTED
    }
    assert not bad, f"cases not passed (reports in {tmp_path / 'reports'}): {bad}"
    assert "ERROR" not in server.output
