"""Settings, read only from ``TONGBAN_*`` environment variables.

Every knob is listed in the README's configuration table; keep the two in step.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from app.core.holidays_file import EMPTY, Arrangement, HolidaysFileError, read

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "frontend"
ENVIRONMENTS = ("dev", "prod")


class ConfigError(RuntimeError):
    """Raised when the environment describes a configuration we refuse to run with."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"TONGBAN_{name}")
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _positive(name: str, default: int) -> int:
    value = _int(name, default)
    if value < 1:
        raise ConfigError(f"TONGBAN_{name} must be at least 1, got {value}")
    return value


def _int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"TONGBAN_{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True, slots=True)
class Settings:
    environment: str
    var_dir: Path
    database_url: str
    redis_url: str | None  # None: start an embedded Redis child (dev only)
    storage_dir: Path
    secret_key: str = field(repr=False)
    public_url: str
    rp_id: str
    host: str
    port: int
    web_workers: int
    log_level: str
    log_format: str  # "console" or "json"
    worker_heartbeat_max_age: int = 30
    # PostgreSQL connection pool per process; 0 opens a connection per query (the tests do
    # that: their client runs the app in another event loop than the test's own queries).
    database_pool_max: int = 10
    # How many reverse proxies stand in front of the app. With N > 0 the client address is
    # the N-th entry from the right of X-Forwarded-For and X-Forwarded-Proto is believed;
    # with 0 (direct exposure, dev) both headers are ignored, since anyone could set them.
    trusted_proxies: int = 0
    # Notifications (app/notifications): "console" keeps messages in the dev inbox; "http"
    # posts them to a gateway, signed with HMAC-SHA256 over the body.
    sms_provider: str = "console"
    sms_http_url: str | None = None
    sms_http_secret: str | None = field(default=None, repr=False)
    sms_http_timeout: float = 5.0
    # Sign-in by SMS code (app/accounts); see docs/security.md for the reasoning.
    sms_code_ttl: int = 300
    sms_code_max_attempts: int = 5
    sms_resend_after: int = 60
    sms_per_phone_hour: int = 5
    sms_per_phone_day: int = 10
    sms_per_ip_hour: int = 30
    track_lookups_per_minute: int = 30  # tracking pages and API, per client address
    # Limits someone else could spend count per (phone, requesting address); these ceilings
    # hold per phone whatever the number of addresses.
    sms_per_phone_day_ceiling: int = 20
    sms_verify_per_ip_hour: int = 60
    sms_wrong_per_phone_hour: int = 10
    sms_wrong_per_phone_day_ceiling: int = 30
    # Anonymous pages rendered once and reused (app/core/page_cache.py). Off in dev by default
    # so template edits show at once.
    page_cache: bool = True
    # Signed-in passkey registration starts per account per minute.
    passkey_register_per_minute: int = 10
    # Unauthenticated passkey sign-in options (each stores a challenge) per client per minute.
    passkey_options_per_minute: int = 30
    # A CJK font with TrueType outlines (.ttf, or .ttc: its first face) to embed in printed
    # checklists (app/catalogue/pdf.py). None: look in the usual system places, else fall back
    # to the reader's own STSong-Light (not embedded).
    pdf_font: Path | None = None
    # The platform's certificate and private key (PEM files) that seal signed-document PDFs
    # with a PAdES signature (app/signing/pdf.py). Both or neither. Unset: dev makes and keeps
    # a self-signed "Tongban development seal" under var/; prod hands out unsealed PDFs (the
    # evidence bundle, not the PDF, is what proves a signature) and logs a warning once.
    pdf_seal_cert: Path | None = None
    pdf_seal_key: Path | None = None
    # Uploaded files (app/files, docs/files.md): "local" keeps them under storage_dir, "s3"
    # in a bucket of an S3-compatible service. Limits are per file and per application.
    file_storage: str = "local"
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    s3_access_key_id: str | None = field(default=None, repr=False)
    s3_secret_access_key: str | None = field(default=None, repr=False)
    s3_region: str | None = None
    max_upload_mb: int = 10
    max_application_mb: int = 50
    # Remote identity verification (app/identity, docs/identity.md).
    identity_attempts: int = 5  # images submitted per account within the window
    identity_window_hours: int = 6
    identity_session_minutes: int = 30  # an unfinished verification expires after this
    identity_image_days: int = 30  # images are deleted this long after the decision
    # Courier service (app/courier, docs/courier.md): courier companies' webhook secrets
    # ("company=secret" pairs), the clock skew a signed timestamp may have, and the guesses
    # allowed at one handover or locker code. Pairs, not a dict: Settings must stay hashable
    # (functions cached per settings, e.g. the PDF seal's signer, take it as their key).
    courier_webhook_secrets: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    courier_webhook_skew: int = 300
    courier_code_attempts: int = 5
    # Appointments and queue numbers (app/appointments, docs/appointments.md): holds started
    # per account and per client address per hour (against slot-hoarding bots), walk-in
    # numbers per client address per hour, the wait after which the floor board flags a
    # ticket, and the service time assumed before the day's first ticket is served.
    appointments_holds_per_account_hour: int = 10
    appointments_holds_per_ip_hour: int = 60
    appointments_tickets_per_ip_hour: int = 30
    appointments_long_wait_minutes: int = 20
    appointments_service_minutes: int = 10
    holidays: Arrangement = EMPTY  # TONGBAN_HOLIDAYS_FILE, app/core/holidays.py

    def courier_secret(self, company: str) -> str | None:
        """The webhook secret of a courier company, None for a company not configured."""
        return dict(self.courier_webhook_secrets).get(company)

    @property
    def courier_companies(self) -> list[str]:
        return sorted(company for company, _secret in self.courier_webhook_secrets)

    @property
    def is_dev(self) -> bool:
        return self.environment == "dev"

    @property
    def is_https(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path:
        """``sqlite:///var/db.sqlite3`` is relative to the working directory,
        ``sqlite:////abs/path`` absolute, as in SQLAlchemy-style URLs."""
        return Path(self.database_url.removeprefix("sqlite:///"))


def _dev_secret(var_dir: Path) -> str:
    """A development secret generated once and kept under ``var/`` (mode 0600)."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load_settings() -> Settings:
    environment = (_env("ENV", "dev") or "dev").lower()
    if environment not in ENVIRONMENTS:
        raise ConfigError(
            f"TONGBAN_ENV must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}"
        )
    var_dir = Path(_env("VAR_DIR", "var") or "var").resolve()

    database_url = _env("DATABASE_URL") or f"sqlite:///{var_dir / 'tongban.sqlite3'}"
    if not database_url.startswith(("sqlite:///", "postgres://", "postgresql://")):
        raise ConfigError("TONGBAN_DATABASE_URL must be sqlite:///PATH or postgresql://…")

    redis_url = _env("REDIS_URL")
    if environment == "prod" and redis_url is None:
        raise ConfigError("TONGBAN_REDIS_URL is required when TONGBAN_ENV=prod")

    secret_key = _env("SECRET_KEY")
    if secret_key is None:
        if environment == "prod":
            raise ConfigError("TONGBAN_SECRET_KEY is required when TONGBAN_ENV=prod")
        secret_key = _dev_secret(var_dir)
    elif len(secret_key) < 32:
        raise ConfigError("TONGBAN_SECRET_KEY must be at least 32 characters")

    host = _env("HOST", "127.0.0.1") or "127.0.0.1"
    port = _int("PORT", 8000)
    public_url = (_env("PUBLIC_URL") or f"http://localhost:{port}").rstrip("/")
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"TONGBAN_PUBLIC_URL must be an http(s) URL, got {public_url!r}")
    if environment == "prod" and parts.scheme != "https":
        raise ConfigError("TONGBAN_PUBLIC_URL must use https when TONGBAN_ENV=prod")

    log_format = _env("LOG_FORMAT", "console" if environment == "dev" else "json") or "json"
    if log_format not in ("console", "json"):
        raise ConfigError("TONGBAN_LOG_FORMAT must be console or json")

    sms_provider = (_env("SMS_PROVIDER", "console") or "console").lower()
    if sms_provider not in ("console", "http"):
        raise ConfigError("TONGBAN_SMS_PROVIDER must be console or http")
    if sms_provider == "console" and environment == "prod":
        raise ConfigError(
            "TONGBAN_SMS_PROVIDER=console keeps messages on the server: use http in prod"
        )
    sms_http_url = _env("SMS_HTTP_URL")
    sms_http_secret = _env("SMS_HTTP_SECRET")
    if sms_provider == "http" and not (sms_http_url and sms_http_secret):
        raise ConfigError(
            "TONGBAN_SMS_PROVIDER=http needs TONGBAN_SMS_HTTP_URL and TONGBAN_SMS_HTTP_SECRET"
        )

    pdf_font = _env("PDF_FONT")
    if pdf_font is not None and not Path(pdf_font).is_file():
        raise ConfigError(f"TONGBAN_PDF_FONT must name a font file, got {pdf_font!r}")
    pdf_seal_cert, pdf_seal_key = _env("PDF_SEAL_CERT"), _env("PDF_SEAL_KEY")
    if (pdf_seal_cert is None) != (pdf_seal_key is None):
        raise ConfigError("TONGBAN_PDF_SEAL_CERT and TONGBAN_PDF_SEAL_KEY go together: set both")
    for name, value in (("PDF_SEAL_CERT", pdf_seal_cert), ("PDF_SEAL_KEY", pdf_seal_key)):
        if value is not None and not Path(value).is_file():
            raise ConfigError(f"TONGBAN_{name} must name a PEM file, got {value!r}")

    file_storage = (_env("FILE_STORAGE", "local") or "local").lower()
    if file_storage not in ("local", "s3"):
        raise ConfigError("TONGBAN_FILE_STORAGE must be local or s3")
    if file_storage == "s3" and _env("S3_BUCKET") is None:
        raise ConfigError("TONGBAN_FILE_STORAGE=s3 needs TONGBAN_S3_BUCKET")
    max_upload_mb, max_application_mb = _int("MAX_UPLOAD_MB", 10), _int("MAX_APPLICATION_MB", 50)
    if not 0 < max_upload_mb <= max_application_mb:
        raise ConfigError(
            "TONGBAN_MAX_UPLOAD_MB must be positive and at most TONGBAN_MAX_APPLICATION_MB"
        )

    return Settings(
        environment=environment,
        var_dir=var_dir,
        database_url=database_url,
        redis_url=redis_url,
        storage_dir=Path(_env("STORAGE_DIR") or var_dir / "files").resolve(),
        secret_key=secret_key,
        public_url=public_url,
        rp_id=_env("RP_ID") or parts.hostname,
        host=host,
        port=port,
        web_workers=_int("WEB_WORKERS", 1),
        log_level=(_env("LOG_LEVEL", "info") or "info").lower(),
        log_format=log_format,
        database_pool_max=_int("DATABASE_POOL_MAX", 10),
        trusted_proxies=_int("TRUSTED_PROXIES", 0),
        sms_provider=sms_provider,
        sms_http_url=sms_http_url,
        sms_http_secret=sms_http_secret,
        sms_http_timeout=float(_int("SMS_HTTP_TIMEOUT", 5)),
        sms_code_ttl=_int("SMS_CODE_TTL", 300),
        sms_code_max_attempts=_int("SMS_CODE_MAX_ATTEMPTS", 5),
        sms_resend_after=_int("SMS_RESEND_AFTER", 60),
        sms_per_phone_hour=_int("SMS_PER_PHONE_HOUR", 5),
        sms_per_phone_day=_int("SMS_PER_PHONE_DAY", 10),
        sms_per_ip_hour=_int("SMS_PER_IP_HOUR", 30),
        track_lookups_per_minute=_int("TRACK_LOOKUPS_PER_MINUTE", 30),
        sms_per_phone_day_ceiling=_int("SMS_PER_PHONE_DAY_CEILING", 20),
        sms_verify_per_ip_hour=_int("SMS_VERIFY_PER_IP_HOUR", 60),
        sms_wrong_per_phone_hour=_int("SMS_WRONG_PER_PHONE_HOUR", 10),
        sms_wrong_per_phone_day_ceiling=_int("SMS_WRONG_PER_PHONE_DAY_CEILING", 30),
        passkey_register_per_minute=_int("PASSKEY_REGISTER_PER_MINUTE", 10),
        page_cache=_int("PAGE_CACHE", 0 if environment == "dev" else 1) == 1,
        passkey_options_per_minute=_int("PASSKEY_OPTIONS_PER_MINUTE", 30),
        pdf_font=Path(pdf_font).resolve() if pdf_font else None,
        pdf_seal_cert=Path(pdf_seal_cert).resolve() if pdf_seal_cert else None,
        pdf_seal_key=Path(pdf_seal_key).resolve() if pdf_seal_key else None,
        file_storage=file_storage,
        s3_endpoint_url=_env("S3_ENDPOINT_URL"),
        s3_bucket=_env("S3_BUCKET"),
        s3_access_key_id=_env("S3_ACCESS_KEY_ID"),
        s3_secret_access_key=_env("S3_SECRET_ACCESS_KEY"),
        s3_region=_env("S3_REGION"),
        max_upload_mb=max_upload_mb,
        max_application_mb=max_application_mb,
        identity_attempts=_positive("IDENTITY_ATTEMPTS", 5),
        identity_window_hours=_positive("IDENTITY_WINDOW_HOURS", 6),
        identity_session_minutes=_positive("IDENTITY_SESSION_MINUTES", 30),
        identity_image_days=_positive("IDENTITY_IMAGE_DAYS", 30),
        courier_webhook_secrets=_courier_secrets(environment),
        courier_webhook_skew=_positive("COURIER_WEBHOOK_SKEW", 300),
        courier_code_attempts=_positive("COURIER_CODE_ATTEMPTS", 5),
        appointments_holds_per_account_hour=_positive("APPOINTMENTS_HOLDS_PER_ACCOUNT_HOUR", 10),
        appointments_holds_per_ip_hour=_positive("APPOINTMENTS_HOLDS_PER_IP_HOUR", 60),
        appointments_tickets_per_ip_hour=_positive("APPOINTMENTS_TICKETS_PER_IP_HOUR", 30),
        appointments_long_wait_minutes=_positive("APPOINTMENTS_LONG_WAIT_MINUTES", 20),
        appointments_service_minutes=_positive("APPOINTMENTS_SERVICE_MINUTES", 10),
        holidays=_holidays(),
    )


def _holidays() -> Arrangement:
    """The arrangements in ``TONGBAN_HOLIDAYS_FILE``, checked now: a mistyped file stops the
    start rather than a deadline later."""
    path = _env("HOLIDAYS_FILE")
    if path is None:
        return EMPTY
    try:
        return read(Path(path))
    except HolidaysFileError as exc:
        raise ConfigError(f"TONGBAN_HOLIDAYS_FILE: {exc}") from exc


# Courier service: the demo company's secret in dev, so the webhook can be tried out.
DEV_COURIER_SECRETS = {"demo": "tongban-dev-courier-webhook-secret"}


def _courier_secrets(environment: str) -> tuple[tuple[str, str], ...]:
    """``TONGBAN_COURIER_WEBHOOK_SECRETS=sf=long-secret,jd=other-secret``: company names
    (lower-case letters, digits, dashes) and their HMAC secrets, at least 32 characters."""
    raw = _env("COURIER_WEBHOOK_SECRETS")
    if raw is None:
        return tuple(DEV_COURIER_SECRETS.items()) if environment == "dev" else ()
    found: dict[str, str] = {}
    for pair in raw.split(","):
        company, _sep, secret = pair.strip().partition("=")
        company, secret = company.strip(), secret.strip()
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", company):
            raise ConfigError(f"TONGBAN_COURIER_WEBHOOK_SECRETS: bad company name {company!r}")
        if len(secret) < 32:
            raise ConfigError(
                f"TONGBAN_COURIER_WEBHOOK_SECRETS: the secret of {company!r} must be at least "
                "32 characters"
            )
        found[company] = secret
    return tuple(found.items())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
