"""The HTTP API: FastAPI routes over `search.Searcher`, nothing more."""
