"""An app that imports an extension module which cannot be loaded in a
subinterpreter (readline uses single-phase initialization)."""

from __future__ import annotations

import readline  # noqa: F401 - imported for its refusal of subinterpreters

from support.apps import app

__all__ = ["app"]
