from piccolo.conf.apps import AppConfig

from app.config import ROOT

APP_CONFIG = AppConfig(
    app_name="courier",
    migrations_folder_path=ROOT / "migrations" / "courier",
    table_classes=[],
    migration_dependencies=[
        "app.accounts.piccolo_app",
        "app.applications.piccolo_app",
    ],
)
