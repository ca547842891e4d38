"""The benchmark harness's report: the table and the verdicts on the targets.

Built from made-up samples (no server, no load generator): what is checked is
the arithmetic and the wording of the report, never a speed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from support.benchmark_scripts import benchmark_script


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    with benchmark_script("run.py") as module:
        yield module


def _row(
    bench: ModuleType,
    server: str,
    *,
    workers: int = 1,
    mode: str = "",
    workload: str = "hello",
    **figures: Any,
):
    servers = {s.key: s for s in bench.SERVERS}
    chosen = next(w for w in bench.WORKLOADS if w.key == workload)
    return bench.Row(chosen, workers, servers[server], mode, [bench.Sample(**figures)])


def test_targets_are_judged_as_ratios_to_pounce(bench):
    rows = [
        _row(bench, "pounce", rate=10_000, p99_us=4_000),
        _row(bench, "uvicorn", rate=8_000, p99_us=5_000),
        _row(bench, "uvicorn-h11", rate=3_000, p99_us=9_000),
        _row(bench, "hypercorn", rate=4_000, p99_us=9_000),
        _row(bench, "granian", rate=20_000, p99_us=2_000),
    ]
    lines = bench.targets(rows)
    assert "- Pounce (core only) req/s ≥ 1x Uvicorn (httptools+uvloop): 1.25x (met)" in lines
    assert "- Pounce (core only) req/s ≥ 3x Uvicorn (h11+asyncio): 3.33x (met)" in lines
    assert "- Pounce (core only) req/s ≥ 3x Hypercorn: 2.50x (NOT met)" in lines
    assert (
        "- Pounce (core only) p99 ≤ Uvicorn (httptools+uvloop) p99: 4.00 ms vs 5.00 ms (met)"
        in lines
    )
    assert "- Granian (ceiling): 2.00x Pounce (core only)" in lines


def test_a_missing_peer_is_said_to_be_unmeasured(bench):
    lines = bench.targets([_row(bench, "pounce", rate=1_000, p99_us=1_000)])
    assert "- Pounce (core only) vs hypercorn: not measured in this run" in lines
    assert bench.targets([]) == ["targets: no Pounce hello-world figure in this run"]


def _free_threaded(bench: ModuleType, **uvicorn2: Any) -> list[Any]:
    return [
        _row(bench, "pounce", mode="thread", rate=1_000, rss_mb=60),
        _row(bench, "pounce", workers=2, mode="thread", rate=1_800, rss_mb=70),
        _row(bench, "pounce", workers=2, mode="process", rate=1_900, rss_mb=150),
        _row(bench, "uvicorn", workers=2, mode="process", **uvicorn2),
    ]


def test_free_threaded_targets(bench):
    group = _free_threaded(bench, rate=1_600, rss_mb=140)
    rows = [
        _row(bench, "pounce", rate=1_150, p99_us=1),
        _row(bench, "uvicorn", rate=1_000, p99_us=1),
        *group,
    ]
    lines = bench.free_threaded_targets(group, rows)
    assert lines[1:3] == [
        "- Pounce (core only), 1 worker req/s ≥ 1.15x Uvicorn (httptools+uvloop), 1 worker: "
        "1.15x (met)",
        "- Pounce (core only), 2 thread workers req/s ≥ 1.1x Uvicorn (httptools+uvloop), "
        "2 process workers: 1.12x (met)",
    ]
    assert lines[3].endswith("2 process workers: 70 MB vs 140 MB = 0.50x (NOT met)")
    assert lines[4].startswith(
        "- for reference: 2 thread workers 1.80x 1 worker, 2 process workers 1.90x"
    )
    assert lines[4].endswith("70 MB vs 2 process workers' 150 MB = 0.47x")
    # Just under each line: judged on the exact ratio, shown rounded.
    rows[0].samples[0].rate = 1_149
    group[1].samples[0].rate = 1_759
    lines = bench.free_threaded_targets(group, rows)
    assert lines[1].endswith("1 worker: 1.15x (NOT met)")
    assert lines[2].endswith("2 process workers: 1.10x (NOT met)")
    group[3].samples[0].rss_mb = 140.1
    assert bench.free_threaded_targets(group, rows)[3].endswith("= 0.50x (met)")


def test_free_threaded_targets_without_figures(bench):
    group = _free_threaded(bench, note="n/a: httptools not installed (no build for this Python?)")
    group[0].samples[0] = bench.Sample(note="n/a: not supported yet (worker modes)")
    lines = bench.free_threaded_targets(group, group)
    assert lines[1:] == [
        "- Pounce (core only) vs uvicorn, 1 worker: not measured in this run",
        "- Pounce (core only), 2 thread workers vs Uvicorn (httptools+uvloop), 2 process workers: "
        "not measured: n/a: httptools not installed (no build for this Python?)",
        "- for reference, thread against process workers: not measured: "
        "n/a: not supported yet (worker modes)",
    ]


def test_the_free_threaded_group_holds_uvicorn_with_two_processes(bench):
    by_key = {s.key: s for s in bench.SERVERS}
    group = bench.free_threaded_group(by_key)
    assert [(r.server.key, r.workers, r.mode) for r in group] == [
        ("pounce", 1, "thread"),
        ("pounce", 2, "thread"),
        ("pounce", 2, "process"),
        ("uvicorn", 2, "process"),
    ]
    assert all(r.workload.key == "hello" for r in group)


def test_table_rows_and_ratios(bench):
    rows = [
        _row(bench, "pounce", rate=10_000, p50_us=1_500, p99_us=4_000, rss_mb=50, cpu_us=60),
        _row(bench, "uvicorn", rate=5_000, p50_us=3_000, p99_us=8_000, rss_mb=40, cpu_us=40),
        _row(bench, "granian", note="n/a: granian not installed"),
    ]
    text = bench.table(rows)
    assert (
        "| plain-text hello | 1 | Pounce (core only) | 10,000 | 1.50 | 4.00 | 0 | 50 | 60 | 1.00x |"
        in text
    )
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
    assert "| plain-text hello | 1 | Pounce (core only) | 1,000 |" in markdown
    assert "a note" in markdown


def test_pounce_with_its_batteries_is_judged_against_pounce_alone_and_uvicorn(bench):
    rows = [
        _row(bench, "pounce", rate=10_000, p99_us=4_000),
        _row(bench, "pounce-batteries", rate=9_400, p99_us=6_000),
        _row(bench, "uvicorn", rate=8_000, p99_us=5_000),
    ]
    lines = bench.targets(rows)
    batteries = "- Pounce + pounce-extras[all] req/s"
    assert f"{batteries} ≥ 0.95x Pounce (core only): 0.94x (NOT met)" in lines
    assert f"{batteries} ≥ 1.1x Uvicorn (httptools+uvloop): 1.18x (met)" in lines
    assert (
        "- Pounce + pounce-extras[all] p99 ≤ Uvicorn (httptools+uvloop) p99: "
        "6.00 ms vs 5.00 ms (NOT met)"
    ) in lines
    assert not any("every workload" in line for line in lines)  # hello alone says it all
    assert bench.hello_ratios(rows) == (
        "Hello world, 1 worker: Pounce + pounce-extras[all] 0.94x Pounce (core only); "
        "Pounce (core only) 1.25x Uvicorn (httptools+uvloop); "
        "Pounce + pounce-extras[all] 1.18x Uvicorn (httptools+uvloop)"
    )


def test_every_workload_is_judged_against_uvicorn(bench):
    rows = []
    for workload, ours, theirs in (("hello", 10_000, 8_000), ("ws", 930, 1_000)):
        rows.append(_row(bench, "pounce", workload=workload, rate=ours, p99_us=1))
        rows.append(_row(bench, "pounce-batteries", workload=workload, rate=ours, p99_us=1))
        rows.append(_row(bench, "uvicorn", workload=workload, rate=theirs, p99_us=1))
    lines = bench.targets(rows)
    expected = (
        "≥ 1x Uvicorn (httptools+uvloop) on every workload (2 measured): lowest 0.93x, "
        "WebSocket echo (messages/s) (NOT met)"
    )
    assert f"- Pounce (core only) {expected}" in lines
    assert f"- Pounce + pounce-extras[all] {expected}" in lines
    rows[3].samples[0].rate = rows[5].samples[0].rate = 1_000
    assert "lowest 1.00x, WebSocket echo (messages/s) (met)" in bench.targets(rows)[-2]


def test_a_ratio_needs_both_sides(bench):
    rows = [_row(bench, "pounce-batteries", rate=1_000, p99_us=1_000)]
    assert bench.hello_ratios(rows) == "Hello world, 1 worker: no ratio measured"
    assert "- Pounce + pounce-extras[all] vs uvicorn: not measured in this run" in bench.targets(
        rows
    )


def test_quick_mode_is_the_hello_world_ratio_row(bench):
    args = bench.parse_args(["--quick"])
    assert (args.servers, args.workloads, args.workers) == (
        "pounce,pounce-batteries,uvicorn",
        "hello",
        "1",
    )
    assert args.rounds * 3 * (args.warmup + args.duration + 1.5) < 120  # with start and stop
    explicit = bench.parse_args(["--quick", "--servers", "pounce,gunicorn", "--rounds", "1"])
    assert (explicit.servers, explicit.rounds, explicit.workloads) == (
        "pounce,gunicorn",
        1,
        "hello",
    )
    full = bench.parse_args([])
    assert full.workers == "1,2"
    assert full.servers.split(",") == [s.key for s in bench.SERVERS]


def test_pounce_runs_alone_or_with_its_batteries_in_one_environment(bench):
    servers = {s.key: s for s in bench.SERVERS}
    core = servers["pounce"].build("bench_app:app", 8000, 1, "h1", "")
    batteries = servers["pounce-batteries"].build("bench_app:app", 8000, 1, "h1", "")
    assert core.argv == batteries.argv
    assert core.path == (str(bench.CORE_ONLY),)
    assert batteries.path == ()
    assert servers["pounce-batteries"].module == "pounce_extras"


def test_the_core_only_path_hides_the_batteries(bench):
    probe = (
        "from importlib.metadata import entry_points; "
        "print(sorted({e.dist.name for g in ('pounce.app_layers', 'pounce.server_plugins') "
        "for e in entry_points(group=g)}))"
    )
    seen = []
    for path in ((), (str(bench.CORE_ONLY),)):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
        out = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        seen.append(out.stdout.strip())
    assert seen == ["['pounce-extras']", "[]"]


def test_peers_of_2026(bench, monkeypatch):
    servers = {s.key: s for s in bench.SERVERS}
    h11 = servers["uvicorn-h11"].build("bench_app:app", 8000, 1, "h2", "")
    assert h11.unsupported == "n/a: Uvicorn's HTTP/2 needs --http zttp"
    # Gunicorn 27 and Uvicorn 0.55, whether or not they are installed here.
    monkeypatch.setattr(bench, "_has_module", lambda name: True)
    argv = servers["gunicorn"].build("bench_app:app", 8000, 2, "h2", "").argv
    assert argv is not None
    assert argv[argv.index("--worker-class") + 1] == "asgi"
    assert argv[argv.index("--workers") + 1] == "2"
    assert argv[argv.index("--http2-cleartext") + 1] == "both"
    assert "--http2-cleartext" not in (
        servers["gunicorn"].build("bench_app:app", 8000, 1, "h1", "").argv or []
    )
    monkeypatch.setattr(bench, "_has_module", lambda name: name != "gunicorn.workers.gasgi")
    older = servers["gunicorn"].build("bench_app:app", 8000, 1, "h1", "").unsupported
    assert older is not None
    assert older.endswith("has no asgi worker")
    monkeypatch.setattr(bench, "_has_module", lambda name: True)
    zttp = servers["uvicorn-zttp"].build("bench_app:app", 8000, 1, "h2", "")
    assert zttp.argv is not None
    assert zttp.argv[zttp.argv.index("--http") + 1] == "zttp"
    assert "--http2" in zttp.argv
    monkeypatch.setattr(bench, "_has_module", lambda name: name != "zttp")
    missing = servers["uvicorn-zttp"].build("bench_app:app", 8000, 1, "h1", "")
    assert missing.unsupported == "n/a: zttp not installed (no build for this Python?)"
    monkeypatch.setattr(bench, "_has_module", lambda name: "zttp_impl" not in name)
    old = servers["uvicorn-zttp"].build("bench_app:app", 8000, 1, "h1", "")
    assert old.unsupported is not None
    assert "has no --http zttp" in old.unsupported
