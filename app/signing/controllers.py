"""Signing pages: sign a document with a passkey, the public verify page, the evidence bundle
and the PDF of a signature, the seal key, and the data-use authorisation (授权书)."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
import msgspec
from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Response, Template

from app.accounts import services as accounts
from app.accounts.controllers._shared import MAX_ID
from app.accounts.guards import requires_signed_in
from app.core.context import current as request_context
from app.core.flash import flash
from app.core.forms import FORM_BODY
from app.core.i18n import _
from app.core.preferences import safe_next
from app.core.ratelimit import allow
from app.core.security import NO_STORE
from app.signing import evidence, service
from app.signing.pdf import seal_pdf, signed_pdf
from app.signing.schemas import AuthorisationForm, SignatureForm
from app.signing.tables import DocumentKind
from app.signing.verify import EvidenceError, verify_bundle


async def _signed(request: Request[Any, Any, Any]) -> accounts.Signed:
    signed = await accounts.current(request)
    assert signed is not None  # the guard ran
    return signed


async def _document(request: Request[Any, Any, Any], document_id: int) -> Any:
    signed = await _signed(request)
    if not 0 < document_id <= MAX_ID:  # beyond a Serial: no such document, not a database error
        raise NotFoundException()
    document = await service.document_for(int(signed.account.id), document_id)
    if document is None:  # someone else's document is simply not found
        raise NotFoundException()
    return signed, document


@get("/sign/{document_id:int}", name="sign", guards=[requires_signed_in])
async def sign_page(
    request: Request[Any, Any, Any], document_id: FromPath[int], next: FromQuery[str] = ""
) -> Template:
    signed, document = await _document(request, document_id)
    context = {
        "next": safe_next(next) if next else "",
        "document": document,
        "signer": json.loads(document.content)["signer"],
        "signature_id": await service.signature_of(int(document.id)),
        "has_passkey": await accounts.has_passkey(signed.account.id),
    }
    return Template(template_name="signing/sign.html", context=context, headers=NO_STORE)


@post(
    "/sign/{document_id:int}/options",
    name="sign_options",
    guards=[requires_signed_in],
    status_code=200,
)
async def sign_options(
    request: Request[Any, Any, Any], document_id: FromPath[int]
) -> Response[Any]:
    signed, document = await _document(request, document_id)
    redis, limit = request.app.state.redis, request.app.state.settings.passkey_options_per_minute
    # Each call keeps a challenge in Redis for 5 minutes: cap them per account.
    if not await allow(redis, "sign_options", str(signed.account.id), limit):
        return Response(
            {"detail": _("Too many requests. Please wait a moment and try again.")},
            status_code=429,
            headers=NO_STORE,
        )
    try:
        started = await service.start(redis, signed.account, document)
    except service.SigningError as exc:
        return Response({"detail": exc.message}, status_code=400, headers=NO_STORE)
    return Response(
        {"challenge_id": started.challenge_id, "options": msgspec.json.decode(started.options)},
        headers=NO_STORE,
    )


@post(
    "/sign/{document_id:int}/finish",
    name="sign_finish",
    guards=[requires_signed_in],
    status_code=200,
)
async def sign_finish(
    request: Request[Any, Any, Any], document_id: FromPath[int], data: JSONBody[SignatureForm]
) -> Response[Any]:
    signed, document = await _document(request, document_id)
    ctx = request_context()
    try:
        signature_id = await service.finish(
            request.app.state.redis,
            signed.account,
            document,
            data.challenge_id,
            data.credential,
            client_ip=ctx.client_ip,
            user_agent=request.headers.get("user-agent", ""),
        )
    except service.SigningError as exc:
        return Response({"detail": exc.message}, status_code=400, headers=NO_STORE)
    target = f"/signatures/{signature_id}/verify"
    if data.next:
        flash(request, _("Signed. You can see the signature in your account."), "success")
        target = safe_next(data.next)
    return Response({"redirect": target}, headers=NO_STORE)


async def _evidence(signature_id: str) -> tuple[bytes, dict[str, Any]]:
    found = await service.evidence_of(signature_id)
    if found is None:
        raise NotFoundException()
    return found


@get("/signatures/{signature_id:str}/verify", name="signature_verify")
async def verify_page(signature_id: FromPath[str]) -> Template:
    """Public: anyone holding the link sees the document, the masked signer and the time, and
    whether the stored evidence verifies — checked again on every view."""
    bundle, row = await _evidence(signature_id)
    context: dict[str, Any] = {
        "signature_id": signature_id,
        "row": row,
        "error": None,
        "fingerprint": None,
    }
    try:
        verified = verify_bundle(bundle, seal_key=evidence.seal_public_key())
    except EvidenceError as exc:
        context["error"] = exc.message()
        context["document"] = json.loads(row["document_content"])
        status = 409
    else:
        context["document"] = verified.document
        context["fingerprint"] = verified.seal_fingerprint
        status = 200
    context["signed_at"] = row["signed_at"]
    return Template(
        template_name="signing/verify.html",
        context=context,
        status_code=status,
        headers={"Cache-Control": "no-cache"},
    )


@get("/signatures/{signature_id:str}/evidence.json", name="signature_evidence")
async def evidence_download(signature_id: FromPath[str]) -> Response[bytes]:
    bundle, _row = await _evidence(signature_id)
    return Response(
        bundle,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="signature-{signature_id}.json"',
            "Cache-Control": "no-cache",
        },
    )


@get("/signatures/{signature_id:str}/document.pdf", name="signature_pdf")
async def document_pdf(
    request: Request[Any, Any, Any], signature_id: FromPath[str]
) -> Response[bytes]:
    bundle, _row = await _evidence(signature_id)
    url = f"{request.app.state.settings.public_url}/signatures/{signature_id}/verify"
    locale = request_context().locale
    # Laying out (and sealing) a PDF is tens of milliseconds of CPU: not on the event loop.
    body = await anyio.to_thread.run_sync(
        lambda: seal_pdf(signed_pdf(json.loads(bundle), verify_url=url, locale=locale))
    )
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="signature-{signature_id}.pdf"',
            "Cache-Control": "no-cache",
        },
    )


@get("/signatures/seal-key", name="signature_seal_key")
async def seal_key() -> Response[dict[str, str]]:
    """The public key of the platform's seal, to compare with the one a bundle names."""
    raw = evidence.seal_public_key()
    return Response(
        {
            "alg": evidence.SEAL_ALGORITHM,
            "public_key": evidence.b64url(raw),
            "fingerprint": evidence.fingerprint(raw),
        },
        headers={"Cache-Control": "public, max-age=3600"},
    )


def authorisation_text() -> tuple[str, str]:
    """The title and body of the data-use authorisation, in the page's language."""
    return (
        _("Data-use authorisation"),
        _(
            "I authorise Tongban, when I apply for a government service, to take the electronic "
            "licences and their data that the licence library holds for me, or for a company I "
            "represent, and to use them to fill in my application, so that I need not hand "
            "them in again. The authorisation covers only applications I make myself. I can "
            "see every signature in my account."
        ),
    )


@post("/authorisation", name="authorisation", guards=[requires_signed_in])
async def authorisation(
    request: Request[Any, Any, Any], data: Annotated[AuthorisationForm, FORM_BODY]
) -> Redirect:
    """The person's unsigned data-use authorisation (made once), to sign now."""
    signed = await _signed(request)
    document = await service.unsigned_document(int(signed.account.id), DocumentKind.AUTHORISATION)
    if document is None:
        title, body = authorisation_text()
        document = await service.prepare(
            signed.account, DocumentKind.AUTHORISATION, title, body, [{"type": "licence-library"}]
        )
    query = "?" + urlencode({"next": safe_next(data.next)}) if data.next else ""
    return Redirect(f"/sign/{document.id}{query}", status_code=303)


ROUTES = [
    sign_page,
    sign_options,
    sign_finish,
    seal_key,
    verify_page,
    evidence_download,
    document_pdf,
    authorisation,
]
