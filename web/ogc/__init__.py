"""Helpers shared by the OGC API routes: links, content negotiation, HTML, OpenAPI 3.0."""
