"""Security headers for every response (OWASP Secure Headers Project).

Scripts run only from our own origin or with the per-request nonce: no ``'unsafe-inline'``.
Styles come from our own stylesheet only, so templates carry no ``style=`` attributes.
"""

from __future__ import annotations

from app.config import Settings


def content_security_policy(nonce: str) -> str:
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "font-src 'self'",
            "connect-src 'self'",
            "media-src 'self' blob:",
            "manifest-src 'self'",
            "worker-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


# Personal pages and verdicts never enter a shared cache.
NO_STORE = {"Cache-Control": "no-store"}

# Camera for selfie capture on our own origin only; nothing else the app does not use.
PERMISSIONS_POLICY = (
    "camera=(self), microphone=(), geolocation=(), payment=(), usb=(), "
    "interest-cohort=(), browsing-topics=()"
)


_NONCE_MARK = "\x00nonce\x00"


class SecurityHeaders:
    """The headers of ``security_headers`` as byte strings built once; per response only the
    nonce is spliced into the CSP."""

    def __init__(self, settings: Settings, *, https: bool) -> None:
        headers = dict(security_headers(settings, _NONCE_MARK, https=https))
        csp = headers.pop(b"content-security-policy")
        self._csp_before, _mark, self._csp_after = csp.partition(_NONCE_MARK.encode())
        self._fixed = list(headers.items())

    def with_nonce(self, nonce: str) -> list[tuple[bytes, bytes]]:
        csp = self._csp_before + nonce.encode() + self._csp_after
        return [(b"content-security-policy", csp), *self._fixed]


def security_headers(settings: Settings, nonce: str, *, https: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", content_security_policy(nonce).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"permissions-policy", PERMISSIONS_POLICY.encode()),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if https or settings.is_https:
        # RFC 6797: only meaningful (and only honoured) over HTTPS.
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers
