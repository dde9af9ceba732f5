"""Prometheus metrics, on the default registry (served at ``/metrics``).

Outbox and scheduler counters count what this process did; the gauges ``starling_outbox_pending`` and
``starling_outbox_dead_letters`` show the shared queue as the database has it (refreshed by the outbox
worker), so every replica reports the same figure.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest

EVENTS = Counter("starling_events", "Events dispatched to the router", ["platform", "kind"])
INBOX_PENDING = Gauge(
    "starling_inbox_pending",
    "Acknowledged events stored in the inbox and not yet handled, over all replicas (as the database has them)",
)
ACK_SECONDS = Histogram(
    "starling_ack_seconds",
    "From receiving a platform request to having written its answer",
    ["platform"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
GC_PAUSE_SECONDS = Histogram(
    "starling_gc_pause_seconds",
    "Garbage-collector pauses: the event loop, acknowledgements included, waits for each",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
)
PLATFORM_ERRORS = Counter("starling_platform_errors", "Failed platform API calls", ["platform", "method", "error"])


OUTBOX_SENT = Counter("starling_outbox_sent_total", "Messages the platform acknowledged", ["platform"])
OUTBOX_RETRIES = Counter(
    "starling_outbox_retries_total", "Sends to be tried again (rate limit or transient error)", ["platform", "reason"]
)
OUTBOX_DEAD = Counter("starling_outbox_dead_total", "Messages moved to the dead letters", ["platform"])
OUTBOX_RESENDS = Counter(
    "starling_outbox_resends_total", "Messages sent again after a worker died while sending them", ["platform"]
)
OUTBOX_RESENDS_AVOIDED = Counter(
    "starling_outbox_resends_avoided_total",
    "Messages whose lease ran out but which the platform showed had arrived (recorded as sent, not sent again)",
    ["platform"],
)
OUTBOX_PENDING = Gauge("starling_outbox_pending", "Messages waiting to be sent", ["platform"])
OUTBOX_DEAD_LETTERS = Gauge(
    "starling_outbox_dead_letters", "Dead letters in the outbox (see `starling outbox dead`)", ["platform"]
)
OUTBOX_SEND_SECONDS = Histogram(
    "starling_outbox_send_seconds",
    "Duration of one platform send",
    ["platform"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

SCHEDULER_TICKS = Counter("starling_scheduler_ticks_total", "Scheduler ticks run by this process")
SCHEDULER_LAST_TICK = Gauge("starling_scheduler_last_tick_timestamp_seconds", "When this process last ticked (Unix)")
SCHEDULER_JOB_FAILURES = Counter(
    "starling_scheduler_job_failures_total", "Scheduled functions (or parts of them) that failed", ["job"]
)
SCHEDULED_POSTS = Counter("starling_scheduled_posts_total", "Scheduled posts claimed and queued", ["kind"])
SCHEDULED_SKIPPED = Counter(
    "starling_scheduled_skipped_total",
    "Scheduled posts skipped because they were due longer ago than the grace",
    ["kind"],
)


def count_event(platform: str, event_type: type) -> None:
    """``CommandEvent`` → kind ``command``."""
    EVENTS.labels(platform, event_type.__name__.removesuffix("Event").lower()).inc()


def exposition() -> bytes:
    return generate_latest(REGISTRY)


def watch_gc_pauses() -> None:
    """Time every garbage collection into ``starling_gc_pause_seconds`` (once per process)."""
    import gc
    import time

    if any(getattr(cb, "_starling", False) for cb in gc.callbacks):
        return
    started = [0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            GC_PAUSE_SECONDS.labels(str(info["generation"])).observe(time.perf_counter() - started[0])

    timed._starling = True  # type: ignore[attr-defined]
    gc.callbacks.append(timed)
