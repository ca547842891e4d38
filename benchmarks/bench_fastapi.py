"""The FastAPI workload: one JSON route with a path and a query parameter."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

app = FastAPI()


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None) -> dict[str, Any]:
    return {"item_id": item_id, "q": q, "tags": ["a", "b", "c"]}
