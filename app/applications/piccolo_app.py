from piccolo.conf.apps import AppConfig

from app.applications.tables import AuditEntry
from app.config import ROOT

APP_CONFIG = AppConfig(
    app_name="applications",
    migrations_folder_path=ROOT / "migrations" / "applications",
    table_classes=[AuditEntry],
    migration_dependencies=["app.accounts.piccolo_app"],
)
