"""A FastAPI app touching the parts of ASGI a server can get wrong."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Form, HTTPException, Request, UploadFile
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel

events: list[str] = []
"""What the lifespan did, in order (read by the tests)."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    events.append("startup")
    yield {"greeting": "hello from lifespan", "hits": []}
    events.append("shutdown")


app = FastAPI(lifespan=lifespan)


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None, limit: int = 10) -> dict[str, Any]:
    return {"item_id": item_id, "q": q, "limit": limit}


@app.post("/items", status_code=201)
async def create_item(item: Item) -> Item:
    return item


@app.get("/sync")
def sync_route() -> dict[str, str]:
    return {"ran": "in a thread"}


@app.post("/form")
async def form(name: Annotated[str, Form()], age: Annotated[int, Form()]) -> dict[str, Any]:
    return {"name": name, "age": age}


@app.post("/upload")
async def upload(file: UploadFile, note: Annotated[str, Form()] = "") -> dict[str, Any]:
    data = await file.read()
    return {
        "filename": file.filename,
        "content_type": file.content_type,
        "size": len(data),
        "head": data[:10].decode("latin-1"),
        "note": note,
    }


@app.get("/stream")
async def stream(count: int = 5) -> StreamingResponse:
    async def numbers() -> AsyncIterator[bytes]:
        for number in range(count):
            yield f"chunk {number}\n".encode()
            await asyncio.sleep(0.01)

    return StreamingResponse(numbers(), media_type="text/plain")


@app.get("/forever")
async def forever() -> StreamingResponse:
    async def ticks() -> AsyncIterator[bytes]:
        while True:
            yield b"tick\n"
            await asyncio.sleep(0.01)

    return StreamingResponse(ticks(), media_type="text/plain")


@app.get("/state")
async def state(request: Request) -> dict[str, Any]:
    request.state.hits.append(1)
    return {"greeting": request.state.greeting, "hits": len(request.state.hits)}


@app.get("/teapot")
async def teapot() -> None:
    raise HTTPException(status_code=418, detail="short and stout")


@app.get("/crash")
async def crash() -> None:
    raise RuntimeError("fastapi route crashed")


@app.api_route("/text", methods=["GET", "HEAD"], response_class=PlainTextResponse)
async def text() -> str:
    return "plain"
