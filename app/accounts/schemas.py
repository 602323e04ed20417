"""What the accounts pages and endpoints accept. Every struct is a ``Form``, so free text in
any of them is checked for control and bidi characters before a handler runs."""

from __future__ import annotations

from typing import Any

from app.core.forms import Form


class PhoneForm(Form):
    phone: str = ""
    next: str = "/account"


class CodeForm(Form):
    phone: str = ""
    code: str = ""
    next: str = "/account"


class ProfileForm(Form):
    __inline_errors__ = True  # the account page shows them next to the fields

    name: str = ""
    id_number: str = ""


class NameForm(Form):
    name: str = ""


class PasskeyRegistration(Form):
    """The browser's answer to ``navigator.credentials.create`` (WebAuthn JSON), plus a name."""

    challenge_id: str = ""
    credential: Any = None
    name: str = ""


class PasskeySignIn(Form):
    """The browser's answer to ``navigator.credentials.get`` and where to go next."""

    challenge_id: str = ""
    credential: Any = None
    next: str = "/account"
