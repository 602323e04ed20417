from piccolo.conf.apps import AppConfig

from app.config import ROOT
from app.licences.tables import Company, Licence, LicenceType, Representative

APP_CONFIG = AppConfig(
    app_name="licences",
    migrations_folder_path=ROOT / "migrations" / "licences",
    table_classes=[LicenceType, Company, Representative, Licence],
    migration_dependencies=["app.accounts.piccolo_app"],
)
