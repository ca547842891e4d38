"""HTTP/1.1: the asyncio connection, its WebSocket upgrade and the h2c upgrade to HTTP/2."""
