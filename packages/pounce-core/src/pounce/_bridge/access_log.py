"""One access-log line and one lifecycle event per finished request.

Shared by every protocol connection so that a request is logged the same way
whichever HTTP version carried it.
"""

from __future__ import annotations

import logging
import time

from pounce._bridge.context import WorkerContext
from pounce._bridge.http_stream import HTTPStream
from pounce._runtime.lifecycle import RequestCompleted

__all__ = ["log_request"]


def log_request(ctx: WorkerContext, stream: HTTPStream) -> None:
    """Report a finished request to the lifecycle hooks and the access log."""
    if ctx.emitter.active:
        scope = stream.scope
        ctx.emitter.emit(
            RequestCompleted(
                worker_id=ctx.worker_id,
                method=scope["method"],
                path=scope["path"],
                http_version=scope["http_version"],
                status=stream.status,
                bytes_sent=stream.bytes_sent,
                duration=time.perf_counter() - stream.started_at,
                client=scope["client"],
            )
        )
    access = ctx.access_logger
    # `disabled` first: --no-access-log then costs one attribute read.
    if not access.disabled and access.isEnabledFor(logging.INFO) and stream.status:
        scope = stream.scope
        client = scope["client"]
        access.info(
            '%s - "%s %s HTTP/%s" %d %d %.1fms',
            f"{client[0]}:{client[1]}" if client else "-",
            scope["method"],
            scope["raw_path"].decode("latin-1")
            + ("?" + scope["query_string"].decode("latin-1") if scope["query_string"] else ""),
            scope["http_version"],
            stream.status,
            stream.bytes_sent,
            (time.perf_counter() - stream.started_at) * 1000,
        )
