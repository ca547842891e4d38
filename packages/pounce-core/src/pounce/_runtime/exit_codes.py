"""The exit statuses of a Pounce server process.

They are few and distinct so a process manager (or a test) can tell why a
server ended without parsing its log.
"""

from __future__ import annotations

__all__ = ["EXIT_BAD_CONFIG", "EXIT_CRASH_LOOP", "EXIT_OK", "EXIT_STARTUP_FAILED"]

EXIT_OK = 0
EXIT_BAD_CONFIG = 1  # the app does not import, a setting or the address is unusable
EXIT_STARTUP_FAILED = 3  # the app's lifespan startup failed
EXIT_CRASH_LOOP = 4  # a worker kept crashing; the server gave up on it
