"""What starting costs, counted in modules imported (not in seconds).

``pounce --version`` answers before typer or the server is imported, and the
pytest plugin (loaded by every pytest run where pounce-core is installed,
Pounce-using or not) imports nothing of the server until a fixture is used.
benchmarks/startup.py measures the time these save.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

# Modules that mean "the server was imported": its rooms, the protocol
# machines and what they are built on.
SERVER = (
    "pounce._bridge",
    "pounce._edges",
    "pounce._reload",
    "pounce._runtime",
    "pounce._serve",
    "pounce._settings",
    "pounce._workers",
    "pounce.testing",
    "pounce_protocols",
    "h11",
    "h2",
    "wsproto",
)


def _imported(code: str) -> tuple[str, list[str]]:
    """Run ``code`` in a fresh interpreter: its output and the modules it imported."""
    probe = textwrap.dedent(code) + textwrap.dedent(
        """
        import json, sys
        print(json.dumps(sorted(sys.modules)))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    *output, modules = result.stdout.splitlines()
    return "\n".join(output), json.loads(modules)


def _server_modules(modules: list[str]) -> list[str]:
    return [m for m in modules if m.startswith(SERVER)]


def test_import_pounce_imports_no_server() -> None:
    _, modules = _imported("import pounce; assert pounce.__version__")
    assert _server_modules(modules) == []
    assert "asyncio" not in modules


def test_the_names_of_pounce_still_load_on_first_use() -> None:
    output, modules = _imported("import pounce; print(pounce.ServerConfig().port)")
    assert output == "8000"
    assert "pounce._settings.config" in modules
    assert "pounce._serve.server" not in modules


def test_version_imports_neither_typer_nor_the_server() -> None:
    output, modules = _imported(
        """
        import sys
        sys.argv = ["pounce", "--version"]
        import pounce_cli
        pounce_cli.main()
        """
    )
    assert output.startswith("Pounce 0.1.0 on ")
    assert _server_modules(modules) == []
    assert "asyncio" not in modules
    assert not [m for m in modules if m.split(".")[0] in ("typer", "click", "rich")]


def test_the_pytest_plugin_imports_no_server() -> None:
    _, modules = _imported("import pounce._pytest_plugin")
    assert _server_modules(modules) == []


def test_an_unrelated_pytest_run_pays_for_no_server(tmp_path: Path) -> None:
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    report = tmp_path / "modules.json"
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            f"""
            import json, sys

            def pytest_sessionfinish(session):
                with open({str(report)!r}, "w") as file:
                    json.dump(sorted(sys.modules), file)
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    modules = json.loads(report.read_text())
    assert "pounce._pytest_plugin" in modules  # the plugin was loaded...
    assert _server_modules(modules) == []  # ...and brought nothing with it


def test_a_plain_serve_line_imports_neither_typer_nor_pydantic() -> None:
    # The value is refused before anything is served, the way typer refused it.
    output, modules = _imported(
        """
        import sys
        sys.argv = ["pounce", "app:x", "--port", "eighty"]
        import pounce_cli
        try:
            pounce_cli.main()
        except SystemExit as exit:
            print("exit", exit.code)
        """
    )
    assert output == "exit 2"
    assert not [m for m in modules if m.split(".")[0] in ("typer", "click", "rich", "pydantic")]
