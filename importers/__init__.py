"""Readers for survey files, field mapping, CRS handling and import reports."""
