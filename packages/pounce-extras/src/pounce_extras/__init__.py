"""Optional batteries for the Pounce ASGI server.

Each feature lives in its own module and is switched on by a ``ServerConfig``
setting (a CLI flag, a ``pounce.run()`` keyword); the server finds it through
the entry points this package declares (``_entry_points``), which import a
feature's module only when the config turns it on. Features that need a
third-party library sit behind an install extra: ``zstd``, ``redis``,
``metrics``, ``otel``, ``sentry``, or ``all``; without it they cost nothing
until they are asked for.

The layers that need nothing beyond the standard library are exported for
programs that assemble an app stack themselves.
"""

from pounce_extras._compression import CompressionLayer
from pounce_extras._cors import CORS
from pounce_extras._error_pages import render_error
from pounce_extras._json_logs import JSONFormatter
from pounce_extras._load_shedding import ConcurrencyLimiter, LoadShedding
from pounce_extras._rate_limit import MemoryStore, RateLimitLayer
from pounce_extras._request_id import RequestID
from pounce_extras._security_headers import SecurityHeaders
from pounce_extras._server_timing import ServerTiming
from pounce_extras._static import StaticFiles

__all__ = [
    "CORS",
    "CompressionLayer",
    "ConcurrencyLimiter",
    "JSONFormatter",
    "LoadShedding",
    "MemoryStore",
    "RateLimitLayer",
    "RequestID",
    "SecurityHeaders",
    "ServerTiming",
    "StaticFiles",
    "render_error",
]

__version__ = "0.1.0"
