"""What the licence pages accept."""

from __future__ import annotations

import msgspec

from app.core.forms import Form


class ShareForm(Form):
    """亮证: the checked fields. A form sends one ``fields`` value per ticked box: a single one
    arrives as a string, several as a list."""

    fields: list[str] | str = msgspec.field(default_factory=list)

    def chosen(self) -> list[str]:
        return [self.fields] if isinstance(self.fields, str) else list(self.fields)
