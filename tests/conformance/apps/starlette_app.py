"""A Starlette app: routing, request streaming, forms, streaming responses."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    yield {"started": True, "name": "starlette-conformance"}


async def homepage(request: Request) -> Response:
    return PlainTextResponse("Hello, world!", headers={"x-framework": "starlette"})


async def user(request: Request) -> Response:
    return JSONResponse(
        {
            "username": request.path_params["username"],
            "page": request.query_params.get("page"),
            "tags": request.query_params.getlist("tag"),
            "url": str(request.url),
            "client": request.client.host if request.client else None,
        }
    )


async def digest(request: Request) -> Response:
    sha = hashlib.sha256()
    size = chunks = 0
    async for chunk in request.stream():
        sha.update(chunk)
        size += len(chunk)
        chunks += 1
    return JSONResponse({"size": size, "sha256": sha.hexdigest(), "chunks": chunks})


async def form(request: Request) -> Response:
    async with request.form() as data:
        result: dict[str, Any] = {}
        for key, value in data.multi_items():
            if isinstance(value, str):
                result[key] = value
            else:
                content = await value.read()
                result[key] = {"filename": value.filename, "size": len(content)}
    return JSONResponse(result)


async def stream(request: Request) -> Response:
    async def parts() -> AsyncIterator[str]:
        for word in ("streamed", " ", "by", " ", "starlette"):
            yield word

    return StreamingResponse(parts(), media_type="text/plain")


async def state(request: Request) -> Response:
    return JSONResponse({"started": request.state.started, "name": request.state.name})


async def only_post(request: Request) -> Response:
    return PlainTextResponse("posted")


async def no_content(request: Request) -> Response:
    return Response(status_code=204)


async def not_modified(request: Request) -> Response:
    return Response(status_code=304, headers={"etag": '"abc"'})


app = Starlette(
    routes=[
        Route("/", homepage),
        Route("/users/{username}", user),
        Route("/digest", digest, methods=["POST", "PUT"]),
        Route("/form", form, methods=["POST"]),
        Route("/stream", stream),
        Route("/state", state),
        Route("/only-post", only_post, methods=["POST"]),
        Route("/no-content", no_content),
        Route("/not-modified", not_modified),
    ],
    lifespan=lifespan,
)
