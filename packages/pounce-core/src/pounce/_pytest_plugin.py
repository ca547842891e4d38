"""The ``pounce`` pytest plugin: test an app against a real Pounce server.

Registered through the ``pytest11`` entry point of pounce-core, so installing
Pounce is enough. Fixtures:

``pounce_server_factory``
    A function ``(app, **options) -> LiveServer`` (see
    :func:`pounce.testing.live_server`; ``tls=True`` serves HTTPS). Every
    server it starts is stopped when the test ends.
``pounce_server``
    One server for the app of the ``pounce_app`` fixture, which the test
    suite defines (an ASGI app or an import string), with the options of the
    ``pounce_server_options`` fixture (default: none).

Disable with ``-p no:pounce``.

pytest loads this module in every run where pounce-core is installed, for
projects that never use Pounce too: so it imports nothing of the server
until a fixture is used (``tests/unit/test_startup_cost.py`` holds it to that).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pounce._runtime.asgi_types import ASGIApp
    from pounce.testing import LiveServer

__all__ = ["pounce_app", "pounce_server", "pounce_server_factory", "pounce_server_options"]

ServerFactory = Callable[..., "LiveServer"]


@pytest.fixture
def pounce_server_factory() -> Iterator[ServerFactory]:
    """Start real Pounce servers on free loopback ports; stopped after the test."""
    from pounce.testing import live_server  # noqa: PLC0415 - the server, only when used

    with contextlib.ExitStack() as stack:

        def start(app: str | ASGIApp, **options: Any) -> LiveServer:
            return stack.enter_context(live_server(app, **options))

        yield start


@pytest.fixture
def pounce_app() -> str | ASGIApp:
    """The app ``pounce_server`` serves: override this fixture in your suite."""
    pytest.fail(
        "the pounce_server fixture serves the app of a 'pounce_app' fixture: define one "
        "(returning an ASGI app or an import string such as 'myapp:app') in your conftest.py",
        pytrace=False,
    )


@pytest.fixture
def pounce_server_options() -> dict[str, Any]:
    """Options for ``pounce_server`` (ServerConfig fields, ``tls``): override to change."""
    return {}


@pytest.fixture
def pounce_server(
    pounce_server_factory: ServerFactory,
    pounce_app: str | ASGIApp,
    pounce_server_options: dict[str, Any],
) -> LiveServer:
    """A real Pounce server serving ``pounce_app``; ``.url`` and ``.ws_url`` reach it."""
    return pounce_server_factory(pounce_app, **pounce_server_options)
