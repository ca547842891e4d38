"""A plain ASGI app that imports nothing of Pounce or of the test suite.

Tests copy this file where only an installed Pounce can serve it (a
throw-away pytest suite, a fresh virtual environment): ``/`` answers with the
request's HTTP version and scheme as JSON, a WebSocket echoes one message,
and lifespan events complete.
"""

import json


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].removeprefix("lifespan.")
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": "echo " + message["text"]})
        await send({"type": "websocket.close"})
        return
    body = json.dumps({"http_version": scope["http_version"], "scheme": scope["scheme"]})
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body.encode()})
