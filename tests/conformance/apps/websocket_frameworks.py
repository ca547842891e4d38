"""WebSocket endpoints written with FastAPI and Starlette, as their users write them."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.endpoints import WebSocketEndpoint
from starlette.responses import PlainTextResponse
from starlette.routing import WebSocketRoute

disconnects: list[int] = []
"""Close codes the endpoints saw (read by the tests)."""

app = FastAPI()


@app.websocket("/chat/{room}")
async def chat(websocket: WebSocket, room: str, name: str = "anonymous") -> None:
    """Greets, then echoes JSON with the room and name until the client leaves."""
    offered = websocket.scope["subprotocols"]
    await websocket.accept(subprotocol="chat.v1" if "chat.v1" in offered else None)
    await websocket.send_text(f"welcome {name} to {room}")
    try:
        while True:
            data: Any = await websocket.receive_json()
            await websocket.send_json({"room": room, "name": name, "echo": data})
    except WebSocketDisconnect as exc:
        disconnects.append(exc.code)


@app.websocket("/bytes")
async def echo_bytes(websocket: WebSocket) -> None:
    await websocket.accept()
    async for data in websocket.iter_bytes():
        await websocket.send_bytes(data[::-1])


@app.websocket("/private")
async def private(websocket: WebSocket) -> None:
    """Refuses with the denial-response extension unless a token is given."""
    if websocket.query_params.get("token") != "secret":
        await websocket.send_denial_response(PlainTextResponse("token required", status_code=401))
        return
    await websocket.accept()
    await websocket.send_text("in")
    await websocket.close(code=4000, reason="done")


@app.websocket("/reject")
async def reject(websocket: WebSocket) -> None:
    await websocket.close(code=1008)


class Counter(WebSocketEndpoint):
    """Starlette's class-based endpoint: counts the text messages it gets."""

    encoding = "text"

    async def on_connect(self, websocket: WebSocket) -> None:
        self.count = 0
        await websocket.accept()

    async def on_receive(self, websocket: WebSocket, data: str) -> None:
        self.count += 1
        await websocket.send_text(f"{self.count}: {data}")

    async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
        disconnects.append(close_code)


app.router.routes.append(WebSocketRoute("/counter", Counter))
