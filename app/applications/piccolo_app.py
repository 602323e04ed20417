from piccolo.conf.apps import AppConfig

from app.config import ROOT

APP_CONFIG = AppConfig(
    app_name="applications",
    migrations_folder_path=ROOT / "migrations" / "applications",
    table_classes=[],
    migration_dependencies=["app.accounts.piccolo_app"],
)
