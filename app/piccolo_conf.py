"""Piccolo's configuration: the database engine and the registry of domain apps."""

from __future__ import annotations

from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine

from app.config import get_settings
from app.core.sqlite import ReusingSQLiteEngine


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        # Wait up to 10 s on a locked database instead of failing at once; several web
        # processes and the worker share one file in the embedded setup. Statements outside
        # transactions reuse this process's connections (app/core/sqlite.py).
        return ReusingSQLiteEngine(path=path, timeout=10)
    dsn = database_url.replace("postgres://", "postgresql://", 1)
    return PostgresEngine(config={"dsn": dsn})


DB = make_engine(get_settings().database_url)

APP_REGISTRY = AppRegistry(
    apps=[
        "app.catalogue.piccolo_app",
        "app.notifications.piccolo_app",
        "app.accounts.piccolo_app",
        "app.licences.piccolo_app",
        "app.signing.piccolo_app",
        "app.files.piccolo_app",
        "app.applications.piccolo_app",
        "app.identity.piccolo_app",
        "app.courier.piccolo_app",
        "app.appointments.piccolo_app",
    ]
)
