from piccolo.conf.apps import AppConfig

from app.applications.tables import (
    Application,
    AttachedFile,
    AuditEntry,
    Case,
    Complaint,
    MaterialEntry,
    Rating,
)
from app.config import ROOT

APP_CONFIG = AppConfig(
    app_name="applications",
    migrations_folder_path=ROOT / "migrations" / "applications",
    table_classes=[AuditEntry, Application, Case, MaterialEntry, AttachedFile, Rating, Complaint],
    migration_dependencies=[
        "app.accounts.piccolo_app",
        "app.catalogue.piccolo_app",
        "app.files.piccolo_app",
        "app.licences.piccolo_app",
    ],
)
