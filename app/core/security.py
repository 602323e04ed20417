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


# Camera for selfie capture on our own origin only; nothing else the app does not use.
PERMISSIONS_POLICY = (
    "camera=(self), microphone=(), geolocation=(), payment=(), usb=(), "
    "interest-cohort=(), browsing-topics=()"
)


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
