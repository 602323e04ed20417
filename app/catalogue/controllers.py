"""Catalogue pages (see pages.py)."""

from app.catalogue.pages import ROUTES

__all__ = ["ROUTES"]
