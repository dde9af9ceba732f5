"""Prometheus metrics, on the default registry (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter, Histogram, generate_latest

EVENTS = Counter("starling_events", "Events dispatched to the router", ["platform", "kind"])
ACK_SECONDS = Histogram(
    "starling_ack_seconds",
    "From receiving a platform request to having written its answer",
    ["platform"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
PLATFORM_ERRORS = Counter("starling_platform_errors", "Failed platform API calls", ["platform", "method", "error"])


def count_event(platform: str, event_type: type) -> None:
    """``CommandEvent`` → kind ``command``."""
    EVENTS.labels(platform, event_type.__name__.removesuffix("Event").lower()).inc()


def exposition() -> bytes:
    return generate_latest(REGISTRY)
