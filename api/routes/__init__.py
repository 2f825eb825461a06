"""Routers of the API, one per concern."""
