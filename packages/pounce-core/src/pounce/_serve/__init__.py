"""The front door: ``Server`` and ``run()``, ``pounce check``'s preflight, the reloaded child.

It wires settings, app, listeners, workers and reload together and maps signals to shutdown and
reload. Every other room sits below it; only the public modules of ``pounce`` import it.
"""
