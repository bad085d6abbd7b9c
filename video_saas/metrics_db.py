"""The gauges read from the database when /metrics is scraped: due steps per queue (the query KEDA scales on,
pipeline/due_steps.py) and the webhook backlog (webhooks/delivery.py). Nothing is stored between scrapes, so every
process reports the same truth; a database that does not answer leaves these families out of that scrape."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)


def queue_families() -> list[GaugeMetricFamily]:
    from video_generation.pipeline import due_steps

    due = GaugeMetricFamily("video_saas_queue_due_steps", "Steps due on a queue (being worked on, or ready).",
                            labels=["queue"])
    oldest = GaugeMetricFamily("video_saas_queue_oldest_due_seconds",
                               "Seconds the oldest due step nobody works on has waited.", labels=["queue"])
    for queue, backlog in due_steps.backlog().items():
        due.add_metric([queue], backlog.due)
        oldest.add_metric([queue], backlog.oldest_seconds)
    return [due, oldest]


def webhook_families() -> list[GaugeMetricFamily]:
    from webhooks.delivery import backlog

    count, oldest_seconds = backlog()
    return [GaugeMetricFamily("video_saas_webhook_deliveries_due", "Webhook deliveries whose attempt is due.",
                              value=count),
            GaugeMetricFamily("video_saas_webhook_oldest_due_seconds",
                              "Seconds the oldest due webhook delivery has waited.", value=oldest_seconds)]


class DatabaseCollector:
    """Prometheus collector: the families above, read at scrape time."""

    def collect(self):
        for read in (queue_families, webhook_families):
            try:
                yield from read()
            except DatabaseError as exc:
                logger.warning("metrics: %s could not be read (%s)", read.__name__, type(exc).__name__)
