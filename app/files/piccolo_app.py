from piccolo.conf.apps import AppConfig

from app.config import ROOT

APP_CONFIG = AppConfig(
    app_name="files",
    migrations_folder_path=ROOT / "migrations" / "files",
    table_classes=[],
    migration_dependencies=["app.accounts.piccolo_app"],
)
