"""The scripts of ``benchmarks/`` as modules, for the tests that check them."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@contextlib.contextmanager
def benchmark_script(filename: str) -> Iterator[ModuleType]:
    """``benchmarks/<filename>`` loaded under a name of its own, unloaded afterwards."""
    spec = importlib.util.spec_from_file_location(
        f"pounce_bench_{Path(filename).stem}", BENCHMARKS / filename
    )
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
