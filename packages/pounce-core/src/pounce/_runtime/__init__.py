"""What every room of the server shares: ASGI types, loggers, lifecycle events, app import.

Also the server's own error bodies, process exit codes and facts about the interpreter. May
import only ``pounce._settings``.
"""
