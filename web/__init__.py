"""FastAPI app, CLI and the map page: the composition root."""
