"""Apps that send files by path (``http.response.pathsend``), for tests.

``app`` is a Starlette app: ``/files/{name}`` is a ``FileResponse`` of that
file in the directory ``POUNCE_TEST_FILES`` names (Starlette sends it with
``http.response.pathsend`` when the server offers the extension), and
``/offered`` answers whether the scope offered it.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

__all__ = ["app", "make_app"]


def make_app(directory: Path) -> Starlette:
    async def files(request: Request) -> Response:
        name = request.path_params["name"]
        return FileResponse(directory / name, media_type=_media_type(name))

    async def offered(request: Request) -> Response:
        return JSONResponse(
            {"pathsend": "http.response.pathsend" in request.scope.get("extensions", {})}
        )

    return Starlette(routes=[Route("/files/{name}", files), Route("/offered", offered)])


def _media_type(name: str) -> str:
    return "text/plain" if name.endswith(".txt") else "application/octet-stream"


app = make_app(Path(os.environ.get("POUNCE_TEST_FILES", ".")))
