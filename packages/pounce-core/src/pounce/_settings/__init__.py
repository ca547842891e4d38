"""Settings: ``ServerConfig`` and where its values come from.

The one frozen config (``config``), the option metadata that drives CLI flags, ``pounce.run()``
keywords, the config file and environment (``options``, ``sources``, ``env_file``), and its JSON
schema (``schema``). This room imports nothing else of ``pounce``: every other room reads it.
"""
