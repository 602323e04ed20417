from piccolo.conf.apps import AppConfig

from app.catalogue.tables import (
    Bundle,
    Department,
    GuideQuestion,
    LifeEvent,
    Material,
    ServiceItem,
)
from app.config import ROOT

APP_CONFIG = AppConfig(
    app_name="catalogue",
    migrations_folder_path=ROOT / "migrations" / "catalogue",
    table_classes=[Department, LifeEvent, ServiceItem, Material, GuideQuestion, Bundle],
)
