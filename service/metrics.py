"""Prometheus metrics: request counts and latency by route template, documents and vectors per collection."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from latent.store.store import Store

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class StoreCollector(Collector):
    """Reads counts from SQL at scrape time, so they are right even when another process writes."""

    def __init__(self) -> None:
        self.store: Store | None = None

    def describe(self) -> list[Metric]:
        return []  # keeps registration from querying a store that is not open yet

    def collect(self) -> Iterator[Metric]:
        if self.store is None:
            return
        docs = GaugeMetricFamily("latent_documents", "Documents stored, per collection.", labels=["collection"])
        vecs = GaugeMetricFamily("latent_vectors", "Chunk vectors stored, per collection.", labels=["collection"])
        for info in self.store.list_collections():
            docs.add_metric([info.name], info.documents)
            vecs.add_metric([info.name], info.chunks)
        yield docs
        yield vecs
        yield from serving_metrics(self.store.serving.stats())


def serving_metrics(stats: dict) -> Iterator[Metric]:
    """The query cache's hit rate and the batcher's coalescing, from the store's serving encoders."""
    cache = stats["cache"]
    if cache is not None:
        for key in ("hits", "misses", "size", "evictions"):
            yield GaugeMetricFamily(f"latent_query_cache_{key}", f"Query vector cache {key}.", value=cache[key])
        yield GaugeMetricFamily(
            "latent_query_cache_hit_rate", "Share of query texts answered from the cache.", value=cache["hit_rate"]
        )
    batching = stats["batching"]
    yield GaugeMetricFamily(
        "latent_query_batch_calls", "Small encode calls that went through the batcher.", value=batching["calls"]
    )
    yield GaugeMetricFamily("latent_query_batches", "Encoder calls the batcher made.", value=batching["batches"])
    yield GaugeMetricFamily(
        "latent_query_batch_mean_size", "Mean texts per batched encoder call.", value=batching["mean_batch_size"]
    )


class Metrics:
    """One registry per app, so several apps (tests) never collide in the global registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "latent_http_requests",
            "HTTP requests served.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "latent_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.store_collector = StoreCollector()
        self.registry.register(self.store_collector)


class MetricsMiddleware:
    """Labels by route template (`/v1/collections/{name}/search`), never the raw path: bounded cardinality."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(scope["method"], template).observe(time.perf_counter() - start)
