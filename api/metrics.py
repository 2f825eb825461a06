"""One log line and one Prometheus observation per request, and the index's gauges.

Each app has its own `CollectorRegistry` (made in `install_metrics`, never at import
time), so two apps in one process never share counters. With `uvicorn --workers N` each
worker process holds its own registry as well: a scrape reaches one worker and shows that
worker's requests. Prometheus' multiprocess mode is not used.
"""

import copy
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from semsearch.indexer.background import SyncStatus
from semsearch.indexer.errors import IndexerError
from semsearch.indexer.milvus_stats import store_stats

access_log = logging.getLogger("semsearch.access")

# Seconds; the last buckets leave room for a large batch search or a first model load.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# The route label of a request no route matched: one label, not one per scanned URL.
UNMATCHED = "unmatched"


class RequestMetrics:
    """The registry of one app: request counters, latencies, and the index's gauges."""

    def __init__(self, read_counts: Callable[[], dict[str, int] | None],
                 read_sync: Callable[[], SyncStatus | None]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("semsearch_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("semsearch_http_request_duration_seconds",
                                 "Time to answer an HTTP request", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.registry.register(_IndexCollector(read_counts, read_sync))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        access_log.info("%s %s %d %.1fms", method, route, status, seconds * 1000)

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """The registry in the format the `Accept` header asks for, and its content type."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


class _IndexCollector(Collector):
    """Gauges read at scrape time: what the index holds and what the background sync does."""

    def __init__(self, read_counts: Callable[[], dict[str, int] | None],
                 read_sync: Callable[[], SyncStatus | None]) -> None:
        self.read_counts, self.read_sync = read_counts, read_sync

    def collect(self) -> Iterator[Metric]:
        counts = self.read_counts()
        if counts is not None:
            yield _gauge("semsearch_index_documents", "Documents indexed", counts["documents"])
            yield _gauge("semsearch_index_chunks", "Chunks indexed", counts["chunks"])
            yield _gauge("semsearch_index_skipped_files", "Files skipped", counts["skipped"])
        status = self.read_sync()
        if status is None:
            return
        yield _gauge("semsearch_sync_running", "1 while a background sync runs",
                     int(status.running))
        yield _gauge("semsearch_sync_files_done", "Files examined by the current or last sync",
                     status.files_done)
        yield _gauge("semsearch_sync_files_total", "Files the current or last sync examines",
                     status.files_total)
        yield _gauge("semsearch_sync_chunks_encoded", "Chunks encoded by the current or last "
                     "sync", status.chunks_encoded)
        if status.last_report is not None:
            yield _gauge("semsearch_sync_last_duration_seconds",
                         "Duration of the last finished sync", status.last_report.seconds)
        if status.finished_at is not None:
            yield _gauge("semsearch_sync_last_finished_timestamp_seconds",
                         "When the last sync finished (Unix time)", status.finished_at)
            yield _gauge("semsearch_sync_last_failed", "1 when the last sync failed",
                         int(status.last_error is not None))


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class RequestMetricsMiddleware:
    """Pure ASGI middleware (no response buffering): times each HTTP request.

    It sits inside Starlette's error middleware, so a request that raised is counted
    with status 500.
    """

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            self.metrics.observe(scope["method"], route_template(scope), status,
                                 time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The matched route's template (`/documents/{doc_id}`), never the raw path.

    A mounted app (`/mcp`) gives `/mcp/{path}`. Requests that no route matched, or that a
    middleware answered before routing (401 without a key, 413), give `unmatched`.
    """
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if template:
        return str(template)
    if "app_root_path" in scope:  # set by a Mount that matched: root_path grew by its prefix
        prefix = str(scope.get("root_path", ""))[len(str(scope["app_root_path"])):]
        if prefix:
            return prefix + "/{path}"
    return UNMATCHED


def install_metrics(app: FastAPI) -> RequestMetrics:
    """Add the request middleware and the registry (kept on `app.state.metrics`)."""
    metrics = RequestMetrics(lambda: _index_counts(app), lambda: _sync_status(app))
    app.state.metrics = metrics
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return metrics


def _index_counts(app: FastAPI) -> dict[str, int] | None:
    searcher = getattr(app.state, "searcher", None)
    if searcher is None:  # before the lifespan opened the index
        return None
    try:
        stats = store_stats(searcher.index_dir, app.state.settings.milvus_target())
    except IndexerError as error:  # a scrape reports what it can; the log says why not
        logging.getLogger(__name__).warning("index counts unavailable: %s", error)
        return None
    return {"documents": stats.documents, "chunks": stats.chunks, "skipped": stats.skipped}


def _sync_status(app: FastAPI) -> SyncStatus | None:
    sync = getattr(app.state, "sync", None)
    return sync.status() if sync is not None else None


def log_config() -> dict[str, Any]:
    """uvicorn's logging config, with the request lines of `semsearch.access` on stderr."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["semsearch.access"] = {
        "handlers": ["default"], "level": "INFO", "propagate": False}
    return config
