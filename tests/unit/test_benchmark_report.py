"""The benchmark harness's report: the table and the verdicts on the targets.

Built from made-up samples (no server, no load generator): what is checked is
the arithmetic and the wording of the report, never a speed.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("pounce_bench_run", HARNESS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve the module's annotations through sys.modules.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def _row(bench: ModuleType, server: str, *, workers: int = 1, mode: str = "", **figures: Any):
    servers = {s.key: s for s in bench.SERVERS}
    hello = next(w for w in bench.WORKLOADS if w.key == "hello")
    return bench.Row(hello, workers, servers[server], mode, [bench.Sample(**figures)])


def test_targets_are_judged_as_ratios_to_pounce(bench):
    rows = [
        _row(bench, "pounce", rate=10_000, p99_us=4_000),
        _row(bench, "uvicorn", rate=8_000, p99_us=5_000),
        _row(bench, "uvicorn-h11", rate=3_000, p99_us=9_000),
        _row(bench, "hypercorn", rate=4_000, p99_us=9_000),
        _row(bench, "granian", rate=20_000, p99_us=2_000),
    ]
    lines = bench.targets(rows)
    assert "- Pounce req/s ≥ 1x Uvicorn (httptools+uvloop): 1.25x (met)" in lines
    assert "- Pounce req/s ≥ 3x Uvicorn (h11+asyncio): 3.33x (met)" in lines
    assert "- Pounce req/s ≥ 3x Hypercorn: 2.50x (NOT met)" in lines
    assert "- Pounce p99 ≤ Uvicorn (httptools+uvloop) p99: 4.00 ms vs 5.00 ms (met)" in lines
    assert "- Granian (ceiling): 2.00x Pounce" in lines


def test_a_missing_peer_is_said_to_be_unmeasured(bench):
    lines = bench.targets([_row(bench, "pounce", rate=1_000, p99_us=1_000)])
    assert "- Pounce vs hypercorn: not measured in this run" in lines
    assert bench.targets([]) == ["targets: no Pounce hello-world figure in this run"]


def test_free_threaded_targets(bench):
    group = [
        _row(bench, "pounce", mode="thread", rate=1_000, rss_mb=60),
        _row(bench, "pounce", workers=2, mode="thread", rate=1_800, rss_mb=70),
        _row(bench, "pounce", workers=2, mode="process", rate=1_900, rss_mb=150),
    ]
    lines = bench.free_threaded_targets(group)
    assert any(line.startswith("- 2 thread workers ≥ 1.7x 1 worker: 1.80x (met") for line in lines)
    assert "70 MB vs 150 MB = 0.47 (met)" in lines[-1]
    group[1].samples[0].rate = 1_500
    group[1].samples[0].rss_mb = 90
    lines = bench.free_threaded_targets(group)
    assert "1.50x (NOT met" in lines[1]
    assert lines[-1].endswith("= 0.60 (NOT met)")


def test_free_threaded_targets_without_figures(bench):
    group = [
        _row(bench, "pounce", mode="thread", note="n/a: not supported yet (worker modes)"),
        _row(bench, "pounce", workers=2, mode="thread", rate=1.0),
        _row(bench, "pounce", workers=2, mode="process", rate=1.0),
    ]
    assert bench.free_threaded_targets(group)[-1] == (
        "- not measured: n/a: not supported yet (worker modes)"
    )


def test_table_rows_and_ratios(bench):
    rows = [
        _row(bench, "pounce", rate=10_000, p50_us=1_500, p99_us=4_000, rss_mb=50, cpu_us=60),
        _row(bench, "uvicorn", rate=5_000, p50_us=3_000, p99_us=8_000, rss_mb=40, cpu_us=40),
        _row(bench, "granian", note="n/a: granian not installed"),
    ]
    text = bench.table(rows)
    assert "| plain-text hello | 1 | Pounce | 10,000 | 1.50 | 4.00 | 0 | 50 | 60 | 1.00x |" in text
    assert "| Uvicorn (httptools+uvloop) | 5,000 |" in text
    assert "| 0.50x |" in text
    assert "| plain-text hello | 1 | Granian (ceiling) | n/a: granian not installed |" in text


def test_saved_files_keep_the_whole_version_in_their_name(bench, tmp_path):
    args = bench.parse_args(["--results", str(tmp_path)])
    info = {"implementation": "CPython", "python": "3.14.7", "gil": False, "cpus": 2}
    info |= {"cpu_model": "", "load_average": [0.0, 0.0, 0.0], "versions": {}}
    rows = [_row(bench, "pounce", rate=1_000, p99_us=1_000)]
    base = bench.save(args, info, rows, ["a note"])
    assert base.name.endswith("-cpython3.14.7t")
    assert (tmp_path / f"{base.name}.json").is_file()
    markdown = (tmp_path / f"{base.name}.md").read_text()
    assert "| plain-text hello | 1 | Pounce | 1,000 |" in markdown
    assert "a note" in markdown
