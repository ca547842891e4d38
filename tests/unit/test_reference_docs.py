"""docs/reference is generated from the code and must not drift from it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("document", "renderer"), [("cli.md", "render_cli"), ("config.md", "render_config")]
)
def test_committed_reference_matches_the_code(document: str, renderer: str) -> None:
    expected = getattr(_generator(), renderer)()
    committed = (ROOT / "docs" / "reference" / document).read_text(encoding="utf-8")
    assert committed == expected, (
        f"docs/reference/{document} is stale: run `python scripts/gen_docs.py` and commit it"
    )


def test_every_setting_is_in_both_references() -> None:
    from pounce import config_options

    generator = _generator()
    cli, config = generator.render_cli(), generator.render_config()
    for spec in config_options():
        assert f"`{spec.flag}" in cli, spec.flag
        assert f"`{spec.name}`" in config, spec.name
