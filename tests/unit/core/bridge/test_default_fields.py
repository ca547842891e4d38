"""The fields the server adds to every response, and their names."""

from __future__ import annotations

import asyncio

import pytest

from pounce._bridge.context import WorkerContext
from pounce._settings.config import ServerConfig


async def _app(scope: object, receive: object, send: object) -> None:
    raise AssertionError("no request reaches the app here")


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"server_header": False},
        {"date_header": False},
        {"server_header": False, "date_header": False},
        {"headers": ("X-Served-By: edge-1", "Strict-Transport-Security: max-age=60")},
    ],
    ids=["defaults", "no-server", "no-date", "neither", "extra"],
)
def test_the_names_are_those_of_the_fields(settings: dict[str, object]) -> None:
    async def main() -> None:
        ctx = WorkerContext(
            config=ServerConfig(**settings),  # type: ignore[arg-type]
            app=_app,
            loop=asyncio.get_running_loop(),
            lifespan_state={},
        )
        names = frozenset(name for name, _ in ctx.default_header_fields())
        assert ctx.default_field_names == names
        assert (b"date" in names) is settings.get("date_header", True)

    asyncio.run(main())
