from __future__ import annotations

from piccolo.columns import Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Department(Table, tablename="catalogue_department"):
    """A government department (委办局) that owns service items and employs officers."""

    id = Serial(primary_key=True)

    code = Varchar(
        length=40, unique=True, index=True, help_text="Stable slug, e.g. market-regulation."
    )
    name_zh = Varchar(length=100, help_text="Official name in Chinese.")
    name_en = Varchar(length=150, help_text="Name in English.")
    created_at = Timestamptz(default=TimestamptzNow())
