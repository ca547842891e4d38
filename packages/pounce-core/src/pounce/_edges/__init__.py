"""Protocol edges: where sockets meet the Sans-IO machines of ``pounce_protocols``.

One subpackage per protocol (``http1`` with h2c, ``http2`` with WebSocket over HTTP/2, ``http3``),
and what they share: listening sockets, TLS, protocol selection, connection limits, timers. May
import the bridge and the rooms below it; never a worker, the reloader or the server.
"""
