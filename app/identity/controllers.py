"""The citizen's pages of identity verification (docs/identity.md): what it takes and a start
button (``/identity``), then one page per verification with the challenge, the selfie and the
document, each part with its own state, and the way back to where the person came from.

Every page works without JavaScript: the selfie is a file input that opens the front camera,
the page offers a plain refresh while the worker checks. With JavaScript, camera.js shows a
live preview and sends the frame to the same form, and htmx refreshes the parts by itself.
Someone else's verification is not found. Nothing here is ever cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from anyio import CancelScope
from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Response, Template

from app.accounts import services as accounts
from app.accounts.controllers._shared import MAX_ID
from app.accounts.guards import requires_signed_in
from app.config import get_settings
from app.core.display import local_time
from app.core.errors import BadInput
from app.core.flash import flash
from app.core.forms import FORM_BODY, Form
from app.core.i18n import N_, _
from app.core.preferences import safe_next
from app.core.security import NO_STORE
from app.files import service as files
from app.files.controllers import MARGIN, incoming, max_file_bytes, storage_of
from app.files.sniff import Refused
from app.files.tables import StoredFile
from app.identity import service
from app.identity.service import DOCUMENT, SELFIE, IdentityError
from app.identity.tables import OPEN, Verification, VerificationState

PART_TITLES = {SELFIE: N_("Your selfie"), DOCUMENT: N_("Your identity card")}
# Past this, a part still "being checked" was probably never queued (Redis was away): the page
# lets the person send it again rather than wait for nothing.
STUCK = timedelta(minutes=2)


class StartForm(Form):
    next: str = ""


def _next(target: str) -> str:
    return safe_next(target)[:200] if target else ""


async def _signed(request: HTMXRequest) -> accounts.Signed:
    signed = await accounts.current(request)
    assert signed is not None  # the guard ran
    return signed


async def _mine(request: HTMXRequest, verification_id: int) -> Verification:
    if not 0 < verification_id <= MAX_ID:
        raise NotFoundException()
    signed = await _signed(request)
    found = await service.verification_of(int(signed.account.id), verification_id)
    if found is None:  # someone else's verification is simply not found
        raise NotFoundException()
    return found


# ---------------------------------------------------------------- the start page


async def _start_page(request: HTMXRequest, next_path: str, *, error: str = "") -> Template:
    signed = await _signed(request)
    account_id = int(signed.account.id)
    latest = await service.latest_of(account_id)
    ongoing = (
        latest
        if latest is not None
        and (latest.state in OPEN or latest.state == VerificationState.IN_REVIEW)
        else None
    )
    left = await service.attempts_left(account_id)
    context = {
        "verified": signed.account.identity_verified_at is not None,
        "next": next_path,
        "ongoing": ongoing,
        "left": left,
        "again_at": local_time(await service.next_attempt_at(account_id)) if not left else "",
        "image_days": get_settings().identity_image_days,
        "window_hours": get_settings().identity_window_hours,
        "error": error,
    }
    return Template(
        template_name="identity/start.html",
        context=context,
        status_code=400 if error else 200,
        headers=NO_STORE,
    )


@get("/identity", name="identity", guards=[requires_signed_in])
async def start_page(request: HTMXRequest, next: FromQuery[str] = "") -> Template:
    return await _start_page(request, _next(next))


@post("/identity/start", name="identity_start", guards=[requires_signed_in])
async def start(request: HTMXRequest, data: Annotated[StartForm, FORM_BODY]) -> Response[Any]:
    signed = await _signed(request)
    next_path = _next(data.next)
    try:
        verification = await service.start(signed.account, next_path)
    except IdentityError as error:
        if error.code == "verified":
            return Redirect(next_path or "/account", status_code=303, headers=NO_STORE)
        return await _start_page(request, next_path, error=error.message)
    return Redirect(f"/identity/{verification.id}", status_code=303, headers=NO_STORE)


# ---------------------------------------------------------------- one verification


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    title: str
    state: str  # waiting, checking, passed or failed
    failures: list[str] = field(default_factory=list)
    file_id: int | None = None
    from_licence: bool = False
    form: bool = False  # whether the person may send an image for it now


def _part(verification: Verification, name: str) -> Part:
    report = getattr(verification, f"{name}_report")
    file_id = getattr(verification, name)
    if report is not None:
        state = "passed" if report.get("ok") else "failed"
    elif file_id is not None:
        state = "checking"
    else:
        state = "waiting"
    failures = [
        translate(check)
        for check in (report or {}).get("checks", [])
        if not check.get("ok") and check.get("message")
    ]
    stuck = state == "checking" and verification.updated_at < service.now() - STUCK
    return Part(
        name=name,
        title=_(PART_TITLES[name]),
        state=state,
        failures=failures,
        file_id=None if verification.images_purged_at else file_id,
        from_licence=name == DOCUMENT and verification.licence is not None and state == "passed",
        form=verification.state in OPEN and (state in ("waiting", "failed") or stuck),
    )


async def _page(
    request: HTMXRequest, verification: Verification, *, error: str = "", status: int = 200
) -> Template:
    signed = await _signed(request)
    account_id = int(signed.account.id)
    parts = [_part(verification, name) for name in service.PARTS]
    ended = verification.state in (VerificationState.EXPIRED, VerificationState.REJECTED)
    left = await service.attempts_left(account_id) if ended or error else 1
    document = parts[1]
    context = {
        "verification": verification,
        "challenge": service.challenge_text(verification),
        "parts": parts,
        "checking": verification.state == VerificationState.CHECKING,
        "record": document.form and await service.id_card_record(account_id) is not None,
        "next": verification.next_path,
        "left": left,
        "again_at": local_time(await service.next_attempt_at(account_id)) if not left else "",
        "max_mb": max_file_bytes() // files.MIB,
        "error": error,
    }
    name = "identity/_parts.html" if request.htmx and not error else "identity/page.html"
    return Template(template_name=name, context=context, status_code=status, headers=NO_STORE)


@get("/identity/{verification_id:int}", name="identity_verification", guards=[requires_signed_in])
async def verification_page(request: HTMXRequest, verification_id: FromPath[int]) -> Template:
    """The whole page; to htmx (polling while a part is checked) only the parts."""
    return await _page(request, await _mine(request, verification_id))


async def _refused(request: HTMXRequest, verification_id: int, message: str) -> Template:
    return await _page(request, await _mine(request, verification_id), error=message, status=400)


def _back(verification: Verification, anchor: str = "") -> Redirect:
    return Redirect(f"/identity/{verification.id}{anchor}", status_code=303, headers=NO_STORE)


@post(
    "/identity/{verification_id:int}/licence",
    name="identity_licence",
    guards=[requires_signed_in],
)
async def use_licence(request: HTMXRequest, verification_id: FromPath[int]) -> Response[Any]:
    """The ID card record of the licence library stands for the document photo."""
    verification = await _mine(request, verification_id)
    signed = await _signed(request)
    try:
        await service.use_licence(signed.account, verification)
    except IdentityError as error:
        return await _refused(request, verification_id, error.message)
    return _back(verification, "#part-document")


@post(
    "/identity/{verification_id:int}/{part:str}",
    name="identity_upload",
    guards=[requires_signed_in],
    request_max_body_size=max_file_bytes() + MARGIN,
)
async def upload(
    request: HTMXRequest, verification_id: FromPath[int], part: FromPath[str]
) -> Response[Any]:
    """One image for one part: stored through the files service (type by content, size
    limit), handed to the rules, then checked by the worker. A refusal stores nothing."""
    verification = await _mine(request, verification_id)
    if part not in service.PARTS:
        raise NotFoundException()
    signed = await _signed(request)
    storage = storage_of(request)
    try:
        try:
            filename, chunks = (await incoming(request))[0]
        except KeyError as exc:  # a parsed form without the field: incoming's getall raises
            raise BadInput(detail=_("Please choose a file to upload.")) from exc
        stored = await files.receive(
            storage,
            int(signed.account.id),
            filename,
            chunks,
            max_bytes=max_file_bytes(),
            purpose=f"identity:{part}",
        )
    except (BadInput, Refused) as error:
        message = str(error.detail) if isinstance(error, BadInput) else error.message
        return await _refused(request, verification_id, message)
    try:
        if not stored.content_type.startswith("image/"):  # a PDF is a file, not a photo
            raise IdentityError("not_a_photo", _("Please send a photo (JPEG, PNG or HEIC)."))
        submitted = await service.submit_image(signed.account, verification, part, stored)
    except IdentityError as error:
        with CancelScope(shield=True):
            await StoredFile.delete().where(StoredFile.id == stored.id)
            await storage.delete(stored.storage_key)
        return await _refused(request, verification_id, error.message)
    if submitted.replaced_key:
        await storage.delete(submitted.replaced_key)
    await service.check_soon(int(verification.id), part, request.app.state.redis)
    flash(request, _("Received. The photo is being checked: this takes a few seconds."), "info")
    return _back(verification, f"#part-{part}")


ROUTES: list[Any] = [start_page, start, verification_page, use_licence, upload]


def translate(check: dict[str, Any]) -> str:
    """A check's message (an English msgid: app/identity/checks.py) in the page's language."""
    msgid: str = check.get("message", "")
    return _(msgid)
