"""Optional batteries for the Pounce ASGI server.

Each feature lives in its own module and sits behind an install extra when it
needs a third-party dependency, so importing this package costs nothing.
"""

__all__: list[str] = []

__version__ = "0.1.0"
