"""The base of every form and JSON body the app accepts: free text is checked here, once.

Every ``str`` field of a ``Form`` is free text typed by a person and is refused when
``app.core.text.unsafe_text`` finds characters that have no business in it (controls, bidi
overrides, line separators). Fields named in ``__multiline__`` (a textarea) may also hold
newlines and tabs. Later forms get the check by inheriting from ``Form``.

By default a refusal is a localised 400 before the handler runs, so nothing changes. A page
that shows errors next to its fields sets ``__inline_errors__ = True`` and reads
``field_errors`` (field name -> localised message) instead; it must not save while any are
present.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec
from litestar.enums import RequestEncodingType
from litestar.params import Body

from app.core.errors import BadInput
from app.core.i18n import _
from app.core.text import unsafe_text

# How a handler takes a plain HTML form: ``data: Annotated[MyForm, FORM_BODY]``.
FORM_BODY = Body(media_type=RequestEncodingType.URL_ENCODED)


def unsafe_text_message() -> str:
    return _("Please type this on one line, without invisible control characters.")


class FieldError(BadInput):
    """A 400 for one field; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(detail=message)
        self.field = field


class Form(msgspec.Struct, dict=True):
    __multiline__: ClassVar[frozenset[str]] = frozenset()
    __inline_errors__: ClassVar[bool] = False

    def __post_init__(self) -> None:
        errors = {
            name: unsafe_text_message()
            for name in self.__struct_fields__
            if isinstance(value := getattr(self, name), str)
            and unsafe_text(value, multiline=name in self.__multiline__)
        }
        if errors and not self.__inline_errors__:
            field, message = next(iter(errors.items()))
            raise FieldError(field, message)
        self.field_errors: dict[str, str] = errors
