"""Server-Timing, Prometheus metrics, OpenTelemetry spans and Sentry events,
each checked with the real library on the other side."""

from __future__ import annotations

import re
import signal
import time
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import PounceFactory, ServeFactory
from support.extras_apps import app as routes
from support.extras_apps import respond_with
from support.raw import RawConnection
from support.waiting import WAIT, wait_for

from .conftest import SentryCollector

# ----------------------------------------------------------- Server-Timing

METRIC = r"(\w+);dur=(\d+\.\d{3})"


def test_server_timing_header_has_parse_and_app(serve: ServeFactory) -> None:
    server = serve(routes, server_timing=True)
    response = httpx.get(server.url + "/slow?s=0.05")
    header = response.headers["server-timing"]
    metrics = dict(re.findall(METRIC, header))
    assert set(metrics) == {"parse", "app"}
    assert float(metrics["app"]) >= 45  # the app slept 50 ms before starting its response
    assert float(metrics["parse"]) >= 0


def test_send_duration_comes_as_a_trailer_to_clients_that_accept_trailers(
    serve: ServeFactory,
) -> None:
    server = serve(respond_with(b"x" * 10_000), server_timing=True, compression=False)
    with RawConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/", headers=[("te", "trailers")])
        head = conn.read_head()
        assert head.header("transfer-encoding") == "chunked"
        assert head.header("trailer") == "server-timing"
        assert "app;dur=" in (head.header("server-timing") or "")
        deadline = time.monotonic() + WAIT
        body = b""
        while size := int(conn.read_line(deadline).split(b";")[0], 16):
            body += conn.read_exactly(size, deadline)
            conn.read_line(deadline)
        trailers = []
        while line := conn.read_line(deadline).rstrip(b"\r\n"):
            trailers.append(line)
    assert body == b"x" * 10_000
    assert len(trailers) == 1
    assert re.fullmatch(rb"server-timing: send;dur=\d+\.\d{3}", trailers[0])


def test_without_te_trailers_the_framing_is_untouched(serve: ServeFactory) -> None:
    server = serve(respond_with(b"x" * 100), server_timing=True)
    response = httpx.get(server.url + "/")
    assert response.headers["content-length"] == "100"
    assert "trailer" not in response.headers


def test_no_server_timing_by_default(serve: ServeFactory) -> None:
    assert "server-timing" not in httpx.get(serve(routes).url + "/").headers


# ------------------------------------------------------------- Prometheus


def scrape(
    url: str, client: httpx.Client | None = None
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = (client or httpx).get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_on_the_main_listener(serve: ServeFactory) -> None:
    server = serve(routes, metrics=True)
    with httpx.Client() as client:  # one connection for everything
        for _ in range(3):
            client.get(server.url + "/")
        client.post(server.url + "/scope", content=b"x" * 1000)
        client.get(server.url + "/fail")
        found = wait_for(
            lambda: (
                (s := scrape(server.url + "/metrics", client)).get(
                    ("pounce_requests_total", (("method", "GET"), ("status", "500")))
                )
                and s
            ),
            what="the failed request to be counted",
        )
    assert found[("pounce_requests_total", (("method", "GET"), ("status", "200")))] == 3
    assert found[("pounce_requests_total", (("method", "POST"), ("status", "200")))] == 1
    assert found[("pounce_request_duration_seconds_count", (("method", "GET"),))] == 4
    assert found[("pounce_request_body_bytes_total", ())] == 1000
    assert found[("pounce_response_body_bytes_total", ())] > 0
    assert found[("pounce_connections_total", ())] == 1
    assert found[("pounce_connections_open", ())] == 1
    assert found[("pounce_requests_in_flight", ())] == 0
    assert found[("pounce_worker_restarts_total", ())] == 0
    wait_for(
        lambda: scrape(server.url + "/metrics")[("pounce_connections_open", ())] == 1,
        what="the closed connection to be counted out (the scrape's own is open)",
    )


def test_metrics_path_option(serve: ServeFactory) -> None:
    server = serve(routes, metrics=True, metrics_path="/internal/prom")
    assert ("pounce_requests_in_flight", ()) in scrape(server.url + "/internal/prom")
    assert httpx.get(server.url + "/metrics").text == "hello\n"  # the app's now


def test_in_flight_counts_requests_being_handled(serve: ServeFactory) -> None:
    import threading

    release = threading.Event()
    from support.extras_apps import streaming

    server = serve(streaming(release), metrics=True)
    with httpx.Client() as client, client.stream("GET", server.url + "/") as response:
        chunks = response.iter_raw()
        next(chunks)
        assert scrape(server.url + "/metrics")[("pounce_requests_in_flight", ())] == 1
        release.set()
        for _ in chunks:
            pass
    wait_for(lambda: scrape(server.url + "/metrics")[("pounce_requests_in_flight", ())] == 0)


def test_metrics_on_a_separate_listener(pounce: PounceFactory) -> None:
    process = pounce("support.extras_apps:app", "--metrics", "--metrics-bind", "127.0.0.1:0")
    match = process.wait_for_output(r"Metrics served on (http://127\.0\.0\.1:\d+/metrics)")
    httpx.get(process.url + "/")
    found = wait_for(
        lambda: (
            (s := scrape(match.group(1))).get(
                ("pounce_requests_total", (("method", "GET"), ("status", "200")))
            )
            and s
        )
    )
    assert found[("pounce_requests_total", (("method", "GET"), ("status", "200")))] == 1
    # Not on the main listener: it belongs to the app there.
    assert httpx.get(process.url + "/metrics").text == "hello\n"
    process.send_signal(signal.SIGTERM)
    assert process.wait() == 0


def test_metrics_bind_in_use_stops_start_up(pounce: PounceFactory) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = pounce(
            "support.extras_apps:app", "--metrics", "--metrics-bind", f"127.0.0.1:{port}",
            ready=False,
        )  # fmt: skip
        assert process.wait() == 1
    assert f"--metrics-bind 127.0.0.1:{port}: cannot listen" in process.output
    assert "Traceback" not in process.output


# ----------------------------------------------------------- OpenTelemetry


def test_a_server_span_per_request(serve: ServeFactory, spans: Any) -> None:
    from opentelemetry.trace import SpanKind

    server = serve(routes, otel=True)
    httpx.get(server.url + "/scope?x=1", headers={"user-agent": "probe/1"})
    (span,) = wait_for(spans.get_finished_spans)
    assert span.name == "GET"
    assert span.kind is SpanKind.SERVER
    attributes = dict(span.attributes)
    assert attributes["http.request.method"] == "GET"
    assert attributes["url.path"] == "/scope"
    assert attributes["url.query"] == "x=1"
    assert attributes["url.scheme"] == "http"
    assert attributes["http.response.status_code"] == 200
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == server.port
    assert attributes["client.address"] == "127.0.0.1"
    assert attributes["network.protocol.version"] == "1.1"
    assert attributes["user_agent.original"] == "probe/1"
    assert span.parent is None


def test_traceparent_is_continued(serve: ServeFactory, spans: Any) -> None:
    server = serve(routes, otel=True)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent_id = "00f067aa0ba902b7"
    httpx.get(server.url + "/", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    (span,) = wait_for(spans.get_finished_spans)
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == parent_id
    assert span.parent.is_remote


def test_the_apps_spans_are_children_of_the_server_span(serve: ServeFactory, spans: Any) -> None:
    from opentelemetry import trace

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        with trace.get_tracer("app").start_as_current_span("work"):
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    server = serve(app, otel=True)
    httpx.get(server.url + "/")
    finished = wait_for(lambda: len(spans.get_finished_spans()) == 2 and spans.get_finished_spans())
    work, request = sorted(finished, key=lambda s: s.name != "work")
    assert work.parent is not None
    assert work.parent.span_id == request.context.span_id


def test_an_app_exception_marks_the_span(serve: ServeFactory, spans: Any) -> None:
    from opentelemetry.trace import StatusCode

    server = serve(routes, otel=True)
    assert httpx.get(server.url + "/fail").status_code == 500
    (span,) = wait_for(spans.get_finished_spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "RuntimeError"
    assert any(event.name == "exception" for event in span.events)


def test_a_5xx_response_is_an_error_span(serve: ServeFactory, spans: Any) -> None:
    from opentelemetry.trace import StatusCode

    server = serve(respond_with(b"down", status=503), otel=True)
    httpx.get(server.url + "/")
    (span,) = wait_for(spans.get_finished_spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "503"


# ------------------------------------------------------------------ Sentry


def test_an_app_exception_reaches_sentry_with_its_request(
    serve: ServeFactory, sentry_collector: SentryCollector
) -> None:
    server = serve(routes, sentry_dsn=sentry_collector.dsn, sentry_environment="testing")
    response = httpx.get(
        server.url + "/fail?page=2",
        headers={"authorization": "Bearer secret", "x-trace": "abc"},
    )
    assert response.status_code == 500

    def is_ours(event: dict[str, Any]) -> bool:
        values = event.get("exception", {}).get("values", [])
        return any(v.get("value") == "the app failed on purpose" for v in values)

    event = sentry_collector.wait_for_event(is_ours)
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["stacktrace"]["frames"]
    assert event["environment"] == "testing"
    request = event["request"]
    assert request["method"] == "GET"
    assert request["url"] == f"{server.url}/fail"
    assert request["query_string"] == "page=2"
    assert request["headers"]["x-trace"] == "abc"
    assert "authorization" not in {k.lower() for k in request["headers"]}
    assert request["env"] == {"REMOTE_ADDR": "127.0.0.1"}


def test_successful_requests_send_nothing(
    serve: ServeFactory, sentry_collector: SentryCollector
) -> None:
    server = serve(routes, sentry_dsn=sentry_collector.dsn)
    assert httpx.get(server.url + "/").status_code == 200
    assert httpx.get(server.url + "/fail").status_code == 500
    sentry_collector.wait_for_event(lambda event: "exception" in event)
    events = sentry_collector.events()
    assert all("exception" in event for event in events)
    assert len(events) == 1  # captured once, not again from the error log


@pytest.mark.parametrize("flag", ["--sentry-dsn"])
def test_sentry_from_the_command_line(
    pounce: PounceFactory, sentry_collector: SentryCollector, flag: str
) -> None:
    process = pounce("support.extras_apps:app", flag, sentry_collector.dsn)
    httpx.get(process.url + "/fail")
    event = sentry_collector.wait_for_event(lambda event: "exception" in event)
    assert event["request"]["url"].endswith("/fail")
    process.send_signal(signal.SIGTERM)
    assert process.wait() == 0
