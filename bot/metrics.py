"""Prometheus metrics of the message pipeline."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
