"""`create_app`: the FastAPI application, its lifespan and its routers."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from fastapi import Depends, FastAPI

from semsearch.api.deps import bearer_scheme, require_read
from semsearch.api.errors import install_error_handlers
from semsearch.api.mcp_server import mount_mcp
from semsearch.api.metrics import install_metrics
from semsearch.api.routes import context as context_routes
from semsearch.api.routes import index, metrics, openai_compat, rerank, search, tools, web
from semsearch.api.security import install_security
from semsearch.indexer.background import BackgroundSync
from semsearch.indexer.encoders import EncoderSpec
from semsearch.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the searcher opens in the lifespan, so creating an app is cheap.

    With no `settings`, they are read from `SEMSEARCH_*` variables (uvicorn's factory).
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        searcher = settings.open_searcher()
        app.state.searcher = searcher
        # What startup made (model, tokenizer, modules) lives as long as the server:
        # frozen out of the collector, a full collection no longer walks it (it paused
        # a query for 66-320 ms about once in 300).
        gc.collect()
        gc.freeze()
        # Background syncs reuse the searcher's model and keep the chunking the index
        # was built with.
        job = settings.store_job(Path(searcher.reader.manifest.root), searcher.index_dir)
        # A MilvusSyncJob has the fields BackgroundSync reads (root, index_dir, run).
        app.state.sync = BackgroundSync(replace(  # type: ignore[arg-type]
            job, encoder=EncoderSpec.of(searcher.encoder),
            options=replace(job.options, chunk_tokens=None, chunk_overlap=None)))
        log.info("serving index %s", searcher.index_dir)
        # The MCP endpoint's session manager lives as long as the app, inside its lifespan.
        async with app.state.mcp.session_manager.run():
            yield
        app.state.sync.join(timeout=0)
        searcher.close()

    app = FastAPI(title="semsearch", version="0.1.0", lifespan=lifespan,
                  description="Semantic, lexical and hybrid search over your own documents.")
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(index.health_router)
    # The page and its assets hold no data (it all comes from the routes below): no key.
    app.include_router(web.router)
    # Every route but /health and the page needs a key when keys are set (api/security.py);
    # `protected` is read access, and routes that sync or delete add `require_admin`.
    install_security(app, settings)
    # Added last, so outermost: it also counts and logs the 401s and 413s answered above.
    install_metrics(app)
    # bearer_scheme only declares the key in the OpenAPI schema; require_read checks it.
    protected = [Depends(require_read), Depends(bearer_scheme)]
    app.include_router(index.router, dependencies=protected)
    app.include_router(search.router, dependencies=protected)
    app.include_router(tools.router, dependencies=protected)
    app.include_router(rerank.router, dependencies=protected)
    app.include_router(openai_compat.router, dependencies=protected)
    app.include_router(metrics.router, dependencies=protected)
    app.include_router(context_routes.router, dependencies=protected)
    app.state.mcp = mount_mcp(app, settings)  # /mcp, behind the same API key
    return app
