"""`create_app`: the FastAPI application, its lifespan and its routers."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api.deps import require_api_key
from api.errors import install_error_handlers
from api.routes import index, search
from indexer.background import BackgroundSync
from indexer.settings import Settings
from indexer.stats import index_stats
from indexer.sync import SyncOptions
from search.searcher import Searcher

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the searcher opens in the lifespan, so creating an app is cheap.

    With no `settings`, they are read from `SEMSEARCH_*` variables (uvicorn's factory).
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        searcher = Searcher(settings.index_dir, device=settings.device,
                            rerank_model=settings.rerank_model)
        app.state.searcher = searcher
        recorded = index_stats(searcher.index_dir)
        # Background syncs keep the chunking the index was built with.
        app.state.sync = BackgroundSync(
            searcher.index_dir, searcher.model_name, lambda: searcher.encoder,
            SyncOptions(chunk_tokens=int(str(recorded["chunk_tokens"])),
                        chunk_overlap=int(str(recorded["chunk_overlap"])),
                        batch_size=settings.batch_size, max_file_bytes=settings.max_file_bytes),
        )
        log.info("serving index %s", searcher.index_dir)
        yield
        app.state.sync.join(timeout=0)
        searcher.close()

    app = FastAPI(title="semsearch", version="0.1.0", lifespan=lifespan,
                  description="Semantic, lexical and hybrid search over your own documents.")
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(index.health_router)
    protected = [Depends(require_api_key)]
    app.include_router(index.router, dependencies=protected)
    app.include_router(search.router, dependencies=protected)
    return app
