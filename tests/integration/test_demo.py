"""The bundled demo app (examples/demo/app.py), served the way its docs say."""

from __future__ import annotations

import httpx

from support.servers import TESTS_DIR

DEMO_DIR = TESTS_DIR.parent / "examples" / "demo"


def test_demo_app(pounce):
    server = pounce("app:app", "--app-dir", str(DEMO_DIR), cwd=DEMO_DIR.parent)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        home = client.get("/")
        assert home.status_code == 200
        assert home.headers["content-type"] == "text/html; charset=utf-8"
        for route in ("/hello", "/json", "/echo", "/stream", "/slow"):
            assert f'href="{route}' in home.text
        assert "App started at 2" in home.text  # a date from lifespan state

        assert client.get("/hello").text == "Hello, world!\n"

        described = client.get("/json", params={"a": "1"}).json()
        assert described["path"] == "/json"
        assert described["query"] == {"a": ["1"]}
        assert isinstance(described["started_at"], float)

        echoed = client.post("/echo", content=b"ping", headers={"content-type": "text/x-ping"})
        assert echoed.content == b"ping"
        assert echoed.headers["content-type"] == "text/x-ping"
        assert client.get("/echo").status_code == 405

        with client.stream("GET", "/stream") as response:
            # Decoded: the stream may be compressed (flushed chunk by chunk).
            chunks = [chunk for chunk in response.iter_bytes() if chunk]
        assert b"".join(chunks).decode().splitlines() == [
            *(f"chunk {n}" for n in range(1, 11)),
            "done",
        ]
        assert len(chunks) > 1  # it really streamed

        assert client.get("/slow", params={"seconds": "0.1"}).text == "Waited 0.1 s.\n"
        assert client.get("/slow", params={"seconds": "nan"}).status_code == 400
        assert client.get("/slow", params={"seconds": "61"}).status_code == 400
        assert client.get("/missing").status_code == 404
