"""The ASGI bridge: protocol events in, ASGI messages out, the same for every HTTP version.

HTTP and WebSocket streams and sessions, the scope, lifespan, the app as served (layers and
server plugins), the health endpoint, access logging and the ``WorkerContext`` that one worker's
connections share. May import ``pounce._runtime``, ``pounce._settings`` and ``pounce_protocols``;
never a protocol edge, a worker or the server.
"""
