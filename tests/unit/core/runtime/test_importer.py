"""``load_app``: each way of failing to load an app gets its own one-line message."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import itertools
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pounce import AppLoadError, load_app

_names = itertools.count()


@pytest.fixture
def make_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """Write a module (or package) into tmp_path, importable for this test only.

    Returns its unique name. The test modules are forgotten afterwards so no
    test sees another's.
    """
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(source: str, *, package: bool = False) -> str:
        name = f"pounce_test_app_{next(_names)}"
        if package:
            (tmp_path / name).mkdir()
            (tmp_path / name / "__init__.py").write_text(textwrap.dedent(source))
        else:
            (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    yield make
    for name in [n for n in sys.modules if n.startswith("pounce_test_app_")]:
        del sys.modules[name]


def module_file(name: str) -> str:
    """The file a test module was written to."""
    spec = importlib.util.find_spec(name)
    assert spec is not None
    assert spec.origin is not None
    return spec.origin


ASGI3 = """
async def app(scope, receive, send):
    pass
"""


def run_app(app: Any, scope: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Call an ASGI 3 app once; the messages it sent."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope or {"type": "http"}, receive, send))
    return sent


# ---------------------------------------------------------------- success


def test_asgi3_function(make_module: Callable[..., str]) -> None:
    name = make_module(ASGI3)
    app = load_app(f"{name}:app")
    assert app is sys.modules[name].app


def test_dotted_attribute(make_module: Callable[..., str]) -> None:
    name = make_module(
        """
        class Holder:
            async def app(self, scope, receive, send):
                pass
        holder = Holder()
        """
    )
    app = load_app(f"{name}:holder.app")
    assert app == sys.modules[name].holder.app


def test_submodule_of_a_package(make_module: Callable[..., str], tmp_path: Path) -> None:
    name = make_module("", package=True)
    (tmp_path / name / "main.py").write_text(ASGI3)
    assert callable(load_app(f"{name}.main:app"))


def test_asgi3_class_instance(make_module: Callable[..., str]) -> None:
    name = make_module(
        """
        class App:
            async def __call__(self, scope, receive, send):
                await send({"type": "called"})
        app = App()
        """
    )
    app = load_app(f"{name}:app")
    assert app is sys.modules[name].app
    assert run_app(app) == [{"type": "called"}]


def test_asgi2_class_is_adapted(make_module: Callable[..., str]) -> None:
    name = make_module(
        """
        class App:
            def __init__(self, scope):
                self.scope = scope
            async def __call__(self, receive, send):
                await send({"type": "asgi2", "scope": self.scope["type"]})
        """
    )
    app = load_app(f"{name}:App")
    assert app is not sys.modules[name].App
    assert run_app(app) == [{"type": "asgi2", "scope": "http"}]


def test_asgi2_function_is_adapted(make_module: Callable[..., str]) -> None:
    name = make_module(
        """
        def app(scope):
            async def instance(receive, send):
                await send({"type": "asgi2-function"})
            return instance
        """
    )
    assert run_app(load_app(f"{name}:app")) == [{"type": "asgi2-function"}]


def test_factory(make_module: Callable[..., str]) -> None:
    name = make_module(
        """
        calls = []
        def create_app():
            calls.append(1)
            async def app(scope, receive, send):
                await send({"type": "from-factory"})
            return app
        """
    )
    app = load_app(f"{name}:create_app", factory=True)
    assert sys.modules[name].calls == [1]
    assert run_app(app) == [{"type": "from-factory"}]


def test_app_objects_pass_through() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    assert load_app(app) is app


def test_callables_returning_awaitables_are_asgi3() -> None:
    async def base(scope: Any, receive: Any, send: Any, *, flag: bool) -> None:
        await send({"type": "partial", "flag": flag})

    partial = functools.partial(base, flag=True)
    assert load_app(partial) is partial
    assert run_app(partial) == [{"type": "partial", "flag": True}]


def test_app_dir_is_put_first_on_sys_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    app_dir = tmp_path / "src"
    app_dir.mkdir()
    name = f"pounce_test_app_{next(_names)}"
    (app_dir / f"{name}.py").write_text(ASGI3)
    try:
        assert callable(load_app(f"{name}:app", app_dir=str(app_dir)))
        assert sys.path[0] == str(app_dir)
    finally:
        sys.modules.pop(name, None)


# ---------------------------------------------------------------- failure


@pytest.mark.parametrize("target", ["app", "module:", ":app", "", "module"])
def test_malformed_target(target: str) -> None:
    with pytest.raises(AppLoadError, match=r'^APP must look like "module:attribute"'):
        load_app(target)


def test_module_not_found() -> None:
    with pytest.raises(AppLoadError) as info:
        load_app("pounce_no_such_module_xyz:app")
    assert str(info.value) == 'Could not import module "pounce_no_such_module_xyz".'


def test_submodule_not_found(make_module: Callable[..., str]) -> None:
    name = make_module("", package=True)
    with pytest.raises(AppLoadError) as info:
        load_app(f"{name}.missing:app")
    assert str(info.value) == f'Could not import module "{name}.missing".'


def test_module_whose_own_import_is_missing(make_module: Callable[..., str]) -> None:
    # The module exists; what it imports does not. That must not be reported
    # as the module being missing.
    name = make_module("import pounce_no_such_dependency_xyz\n")
    with pytest.raises(AppLoadError) as info:
        load_app(f"{name}:app")
    first, *traceback = str(info.value).splitlines()
    assert first == (
        f'Error importing module "{name}": ModuleNotFoundError: '
        "No module named 'pounce_no_such_dependency_xyz'"
    )
    # Then where: the user's import line, as a traceback would show it.
    assert traceback == [
        "Traceback (most recent call last):",
        f'  File "{module_file(name)}", line 1, in <module>',
        "    import pounce_no_such_dependency_xyz",
        "ModuleNotFoundError: No module named 'pounce_no_such_dependency_xyz'",
    ]


def test_module_whose_import_raises(make_module: Callable[..., str]) -> None:
    name = make_module(
        """
        import os

        def settings():
            raise RuntimeError('database url not set')

        DATABASE = settings()
        """
    )
    with pytest.raises(AppLoadError) as info:
        load_app(f"{name}:app")
    first, *traceback = str(info.value).splitlines()
    assert first == f'Error importing module "{name}": RuntimeError: database url not set'
    assert isinstance(info.value.__cause__, RuntimeError)
    # The user's frames, file and line, and none of importlib's or Pounce's.
    assert traceback[0] == "Traceback (most recent call last):"
    frames = [line.strip() for line in traceback if line.startswith("  File ")]
    assert frames == [
        f'File "{module_file(name)}", line 7, in <module>',
        f'File "{module_file(name)}", line 5, in settings',
    ]
    assert "    raise RuntimeError('database url not set')" in traceback
    assert traceback[-1] == "RuntimeError: database url not set"


def test_module_with_a_syntax_error(make_module: Callable[..., str]) -> None:
    name = make_module("def broken(:\n")
    with pytest.raises(AppLoadError, match=f'^Error importing module "{name}": SyntaxError'):
        load_app(f"{name}:app")


@pytest.mark.parametrize("attribute", ["missing", "app.missing"])
def test_attribute_not_found(make_module: Callable[..., str], attribute: str) -> None:
    name = make_module(ASGI3)
    with pytest.raises(AppLoadError) as info:
        load_app(f"{name}:{attribute}")
    assert str(info.value) == f'Attribute "{attribute}" not found in module "{name}".'


@pytest.mark.parametrize("value", ["42", "'a string'", "None"])
def test_not_callable(make_module: Callable[..., str], value: str) -> None:
    name = make_module(f"app = {value}\n")
    with pytest.raises(
        AppLoadError, match=f"'{name}:app' is not an ASGI application: .* is not callable"
    ):
        load_app(f"{name}:app")


def test_not_callable_object() -> None:
    with pytest.raises(AppLoadError, match="'int' is not an ASGI application: int is not callable"):
        load_app(42)  # type: ignore[arg-type]


def test_function_without_arguments_suggests_factory(make_module: Callable[..., str]) -> None:
    name = make_module("def create_app():\n    return None\n")
    with pytest.raises(AppLoadError) as info:
        load_app(f"{name}:create_app")
    assert str(info.value) == (
        f'"{name}:create_app" is a function with no arguments; '
        "if it builds the app, pass --factory."
    )


def test_wrong_arity(make_module: Callable[..., str]) -> None:
    name = make_module("def app(scope, receive):\n    pass\n")
    with pytest.raises(AppLoadError, match="it takes 2 arguments, an ASGI app takes"):
        load_app(f"{name}:app")


def test_factory_not_callable(make_module: Callable[..., str]) -> None:
    name = make_module("create_app = 1\n")
    with pytest.raises(AppLoadError, match="is not callable"):
        load_app(f"{name}:create_app", factory=True)


def test_factory_called_with_wrong_arguments(make_module: Callable[..., str]) -> None:
    name = make_module("def create_app(settings):\n    pass\n")
    with pytest.raises(AppLoadError, match=r"^Error calling the app factory: TypeError: "):
        load_app(f"{name}:create_app", factory=True)


def test_factory_that_raises_shows_where(make_module: Callable[..., str]) -> None:
    name = make_module("def create_app():\n    raise KeyError('SECRET_KEY')\n")
    with pytest.raises(AppLoadError) as info:
        load_app(f"{name}:create_app", factory=True)
    first, *traceback = str(info.value).splitlines()
    assert first == "Error calling the app factory: KeyError: 'SECRET_KEY'"
    assert f'  File "{module_file(name)}", line 2, in create_app' in traceback
    assert not any("importer.py" in line for line in traceback)


def test_factory_returning_a_non_app(make_module: Callable[..., str]) -> None:
    name = make_module("def create_app():\n    return 'not an app'\n")
    with pytest.raises(AppLoadError, match="is not an ASGI application: str is not callable"):
        load_app(f"{name}:create_app", factory=True)


def test_every_message_but_the_apps_own_errors_is_one_line(
    make_module: Callable[..., str],
) -> None:
    name = make_module(ASGI3)
    for target in [f"{name}:missing", "pounce_no_such_module_xyz:app", "bad"]:
        with pytest.raises(AppLoadError) as info:
            load_app(target)
        assert "\n" not in str(info.value)
