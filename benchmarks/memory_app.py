"""A FastAPI app of a realistic size for the worker-memory benchmark.

A few routers, pydantic models with validation, dependencies, a middleware
and a lifespan that builds some per-worker state: what a small production
service imports and allocates, without any I/O outside the process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.middleware.gzip import GZipMiddleware
from pydantic import BaseModel, Field


class Status(StrEnum):
    active = "active"
    suspended = "suspended"


class Address(BaseModel):
    street: str
    city: str
    country: str = Field(min_length=2, max_length=2)


class User(BaseModel):
    id: int
    name: str = Field(min_length=1, max_length=100)
    email: str
    status: Status = Status.active
    addresses: list[Address] = []
    created: datetime


class Order(BaseModel):
    id: int
    user_id: int
    lines: list[dict[str, Any]]
    total: float = Field(ge=0)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    # Per-worker state, as a connection pool or a cache would be.
    users = {
        i: User(id=i, name=f"user {i}", email=f"u{i}@example.com", created=datetime(2024, 1, 1))
        for i in range(2000)
    }
    yield {"users": users}


app = FastAPI(lifespan=lifespan, title="memory benchmark")
app.add_middleware(GZipMiddleware, minimum_size=1000)

users = APIRouter(prefix="/users", tags=["users"])
orders = APIRouter(prefix="/orders", tags=["orders"])


def pagination(
    offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> tuple[int, int]:
    return offset, limit


@users.get("/", response_model=list[User])
async def list_users(
    request: Request, page: Annotated[tuple[int, int], Depends(pagination)]
) -> Any:
    offset, limit = page
    return list(request.state.users.values())[offset : offset + limit]


@users.get("/{user_id}", response_model=User)
async def get_user(request: Request, user_id: int) -> Any:
    try:
        return request.state.users[user_id]
    except KeyError:
        raise HTTPException(404, "no such user") from None


@orders.post("/", response_model=Order, status_code=201)
async def create_order(order: Order) -> Any:
    return order


@app.get("/whoami")
async def whoami() -> dict[str, Any]:
    return {"pid": os.getpid(), "thread": threading.current_thread().name}


app.include_router(users)
app.include_router(orders)
