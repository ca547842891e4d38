"""Helpers shared by the integration and conformance suites.

``raw``: HTTP/1.1 over a plain socket, for what httpx will not send or hides
(pipelining, interim responses, hostile bytes, connection reuse).
``servers``: a real ``pounce`` process on a free loopback port, always killed.
``apps``: small pure-ASGI apps, importable by in-process and subprocess servers.
``waiting``: polling with a deadline, for facts another thread makes true.
"""
