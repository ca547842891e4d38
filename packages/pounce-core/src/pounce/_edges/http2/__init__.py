"""HTTP/2: the asyncio connection, with WebSocket over HTTP/2 (RFC 8441) on its streams."""
