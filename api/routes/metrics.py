"""GET /metrics: Prometheus' text format (behind the API key like the other data routes)."""

from fastapi import APIRouter, Request, Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from semsearch.api.metrics import RequestMetrics

router = APIRouter()


@router.get("/metrics", tags=["meta"], response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}}})
def scrape(request: Request) -> Response:
    """Request counts and latencies of this worker, index size and background sync progress.

    Prometheus' text format, or OpenMetrics when the scraper's Accept header asks for it.
    """
    metrics: RequestMetrics = request.app.state.metrics
    body, content_type = metrics.exposition(request.headers.get("accept", ""))
    return Response(body, media_type=content_type)
