"""What the signing endpoints accept."""

from __future__ import annotations

from typing import Any

from app.core.forms import Form


class SignatureForm(Form):
    """The browser's answer to ``navigator.credentials.get`` for a signing request."""

    challenge_id: str = ""
    credential: Any = None
    next: str = ""  # where to go once signed; the signature's page when empty


class AuthorisationForm(Form):
    next: str = ""  # where to come back to once the authorisation is signed
