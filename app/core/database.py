"""Schema management on top of Piccolo's migrations (``migrations/<domain>/``)."""

from __future__ import annotations

from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.commands.new import new
from piccolo.conf.apps import Finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.querystring import QueryString

from app.core.logging import get_logger
from app.core.sqlite import ReusingSQLiteEngine

log = get_logger("database")


class MigrationError(RuntimeError):
    pass


async def open_pool() -> bool:
    """Start the PostgreSQL pool of this process (web lifespan, worker start-up)."""
    from app.config import get_settings
    from app.piccolo_conf import DB

    settings = get_settings()
    if not isinstance(DB, PostgresEngine) or settings.database_pool_max <= 0:
        return False
    size = settings.database_pool_max
    await DB.start_connection_pool(min_size=min(2, size), max_size=size)
    return True


async def close_pool() -> None:
    """Stop the PostgreSQL pool, or close the reused SQLite connections, of this process."""
    from app.config import get_settings
    from app.piccolo_conf import DB

    if isinstance(DB, PostgresEngine) and get_settings().database_pool_max > 0:
        await DB.close_connection_pool()
    elif isinstance(DB, ReusingSQLiteEngine):
        await DB.close_connections()


async def migrate() -> None:
    from app.piccolo_conf import DB

    if isinstance(DB, SQLiteEngine):
        from pathlib import Path

        Path(DB.path).parent.mkdir(parents=True, exist_ok=True)
        # WAL lets readers and one writer work at once: several web processes and the worker
        # share the file in the embedded setup. The mode is stored in the file itself.
        await DB.run_querystring(QueryString("PRAGMA journal_mode=WAL"))
    result = await run_forwards(app_name="all")
    if not result.success:
        raise MigrationError(result.message)
    log.info("database_migrate_success")


async def make_migrations(apps: list[str]) -> None:
    names = apps or [config.app_name for config in Finder().get_app_configs()]
    for name in names:
        await new(app_name=name, auto=True)
