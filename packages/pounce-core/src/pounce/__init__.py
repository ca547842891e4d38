"""Pounce: an ASGI server built for free-threaded Python.

``pounce.run("myapp:app", port=8000)`` serves an app until stopped;
:class:`ServerConfig` holds every setting; :class:`Server` embeds a server in
a program that manages its own lifetime.
"""

from pounce._asgi_types import ASGIApp, Message, Receive, Scope, Send
from pounce._config import ServerConfig, config_options
from pounce._http_stream import ClientDisconnected
from pounce._importer import AppLoadError, load_app
from pounce._options import OptionSpec
from pounce._server import VERSION as __version__
from pounce._server import Server, run

__all__ = [
    "ASGIApp",
    "AppLoadError",
    "ClientDisconnected",
    "Message",
    "OptionSpec",
    "Receive",
    "Scope",
    "Send",
    "Server",
    "ServerConfig",
    "__version__",
    "config_options",
    "load_app",
    "run",
]
