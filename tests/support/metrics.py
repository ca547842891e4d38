"""Reading the Prometheus text the ``--metrics`` battery exposes."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["request_counts"]


def request_counts(exposition: str) -> dict[tuple[tuple[str, str], ...], float]:
    """``pounce_requests_total`` per label set, labels sorted: ``{(("method", "GET"), ...): n}``."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        if family.name == "pounce_requests"
        for sample in family.samples
        if sample.name == "pounce_requests_total"
    }
