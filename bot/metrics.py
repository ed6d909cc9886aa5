"""Prometheus metrics: the message pipeline, the outbox and the scheduler's ticks."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("linli_messages_total", "Inbound messages handled", ["channel", "outcome"])
MESSAGE_SECONDS = Histogram(
    "linli_message_seconds",
    "Time to handle one inbound message",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8),
)
SHED = Counter(
    "linli_shed_total", "Callbacks refused because the pipeline backlog was full", ["channel"]
)
REFUSED = Counter(
    "linli_webhook_refused_total",
    "Callbacks refused before they had any effect (bad signature, stale, replay, …)",
    ["channel", "reason"],
)
OUTBOX_RESULTS = Counter(
    "linli_outbox_results_total",
    "Outbox delivery attempts by outcome (sent, retry, dead)",
    ["channel", "kind", "outcome"],
)
OUTBOX_DEPTH = Gauge("linli_outbox_depth", "Outbox rows waiting (pending or being sent)")
OUTBOX_OLDEST = Gauge(
    "linli_outbox_oldest_pending_seconds", "Age of the oldest outbox row still waiting"
)
OUTBOX_DEAD = Gauge("linli_outbox_dead", "Outbox rows given up on (they need a person to look)")
TICK_SECONDS = Histogram(
    "linli_tick_seconds",
    "Duration of one scheduler tick",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300),
)
TICK_ERRORS = Counter("linli_tick_errors_total", "Scheduler ticks that failed", ["job"])
