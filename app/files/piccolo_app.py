from piccolo.conf.apps import AppConfig

from app.config import ROOT
from app.files.tables import StoredFile

APP_CONFIG = AppConfig(
    app_name="files",
    migrations_folder_path=ROOT / "migrations" / "files",
    table_classes=[StoredFile],
    migration_dependencies=["app.accounts.piccolo_app"],
)
