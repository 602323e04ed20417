"""The ``tongban`` command: serve, worker, migrate, seed, run, and the domain commands."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from app.config import ConfigError, get_settings


def _settings_or_exit() -> None:
    try:
        get_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """通办 Tongban — one-stop government services."""
    # Anyone may verify a signature offline: that command needs no configuration at all.
    if ctx.invoked_subcommand != "signature":
        _settings_or_exit()


@main.command()
@click.option("--host", default=None, help="Bind address (default TONGBAN_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default TONGBAN_PORT or 8000).")
@click.option("--workers", default=None, type=int, help="Web worker processes.")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the web application with granian."""
    settings = get_settings()
    web_server(
        "app.asgi:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.web_workers,
    ).serve()


def web_server(target: str, *, host: str, port: int, workers: int, factory: bool = False) -> Any:
    """The granian server of ``tongban serve``; bench/pages.py serves its bare baseline app
    with the very same settings."""
    from granian import Granian
    from granian.constants import Interfaces

    return Granian(
        target,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=factory,
        log_access=False,
        # Bound the graceful stop, so a stuck connection cannot hold a deploy or Ctrl-C.
        workers_kill_timeout=10,
        log_level=get_settings().log_level,  # type: ignore[arg-type]
    )


@main.command()
def worker() -> None:
    """Run an arq worker (SMS, image checks, reminders, sweeps)."""
    from arq.worker import run_worker

    from workers.settings import WorkerSettings

    run_worker(WorkerSettings.configure())  # type: ignore[arg-type]


@main.command()
def migrate() -> None:
    """Apply every pending database migration."""
    from app.core.database import migrate as run_migrations

    asyncio.run(run_migrations())
    click.echo("migrations applied")


@main.command()
def seed() -> None:
    """Insert demo data that is missing (safe to run again). Development only."""
    from app.seed import seed_all

    if get_settings().environment == "prod":
        # The demo admin has a published phone number: never in production.
        raise click.ClickException("demo data is for development only (TONGBAN_ENV=prod)")

    added = asyncio.run(seed_all())
    click.echo("seeded: " + ", ".join(f"{name} +{count}" for name, count in added.items()))


@main.command()
@click.option("--phone", required=True, help="Mainland mobile number, e.g. 13800000011.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["officer", "floor_manager", "courier", "admin", "citizen"]),
)
@click.option(
    "--department", default=None, help="Department code (officers only), e.g. market-regulation."
)
@click.option("--name", default="", help="Display name.")
def createuser(phone: str, role: str, department: str | None, name: str) -> None:
    """Create an account; staff must add a passkey at their first sign-in."""
    from app.accounts.phone import normalise_phone
    from app.accounts.services import AccountError, create_account
    from app.accounts.tables import Role
    from app.core.display import mask_phone

    number = normalise_phone(phone)
    if number is None:
        raise click.ClickException("not a valid mainland mobile number")
    try:
        account = asyncio.run(
            create_account(number, Role(role), department_code=department, name=name)
        )
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {role} account {account.id} for {mask_phone(number)}")


@main.group()
def catalogue() -> None:
    """The service catalogue."""


@catalogue.command("generate")
@click.argument("count", type=click.IntRange(min=0))
@click.option("--seed", default=1093, show_default=True, help="Random seed: same seed, same items.")
def catalogue_generate(count: int, seed: int) -> None:
    """Replace the synthetic items with COUNT generated ones (tests and benchmarks)."""
    from app.catalogue.generate import generate

    try:
        made = asyncio.run(generate(count, seed))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"synthetic items: {made}")


@main.group()
def signature() -> None:
    """Passkey signatures."""


@signature.command("verify")
@click.argument("file")
@click.option("--seal-key", default=None, help="The seal key to expect (base64url, 32 bytes).")
def signature_verify(file: str, seal_key: str | None) -> None:
    """Verify an evidence bundle offline (exit 0 valid, 1 invalid, 2 unreadable)."""
    from app.signing.evidence import from_b64url
    from app.signing.verify import MAX_BYTES, EvidenceError, verify_bundle

    expected = None
    if seal_key is not None:
        try:
            expected = from_b64url(seal_key)
        except ValueError:
            expected = b""
        if len(expected) != 32:
            click.echo("--seal-key must be a 32-byte key in base64url", err=True)
            sys.exit(2)
    try:
        with open(file, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)  # enough to tell that it is too large
    except OSError as exc:
        click.echo(f"cannot read {file!r}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    try:
        verified = verify_bundle(data, seal_key=expected)
    except EvidenceError as exc:
        click.echo(f"invalid: {exc.reason}", err=True)
        sys.exit(1)
    signer = verified.signer
    # Masked names come from the file: keep the report on one line whatever they hold.
    name = "".join(c if c.isprintable() else "?" for c in signer["name_masked"] or "-")
    click.echo(
        f"valid: {verified.id} signed {verified.signed_at} by account {signer['account_id']}"
        f" ({name}), document {verified.document_sha256},"
        f" sealed by key {verified.seal_fingerprint}"
    )


@main.group()
def audit() -> None:
    """The audit trail of applications."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the audit trail's hash chain (exit 0 intact, 1 broken, 2 unreadable)."""
    from app.applications.audit import verify_chain

    try:
        result = asyncio.run(verify_chain())
    except Exception as exc:  # a database that cannot be read: say so, no traceback
        click.echo(f"cannot read the audit trail: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
    if not result.ok:
        click.echo(f"audit chain broken at entry {result.first_broken_id}: {result.reason}")
        sys.exit(1)
    click.echo(f"audit chain intact: {result.checked} entries, head {result.head}")


@main.command("makemigrations")
@click.argument("apps", nargs=-1)
def makemigrations(apps: tuple[str, ...]) -> None:
    """Write new auto migrations for the apps whose tables changed (default: all)."""
    from app.core.database import make_migrations

    asyncio.run(make_migrations(list(apps)))


@main.command()
@click.option("--worker", "for_worker", is_flag=True, help="Check the worker heartbeat instead.")
def healthcheck(for_worker: bool) -> None:
    """Container health probe: the web's /healthz, or (--worker) a fresh worker heartbeat."""
    import urllib.request

    from app.core.health import check_worker
    from app.core.redis import make_client, resolve_redis_url

    settings = get_settings()
    if for_worker:

        async def probe() -> None:
            client = make_client(resolve_redis_url(settings))
            try:
                await check_worker(client)
            finally:
                await client.aclose()

        try:
            asyncio.run(probe())
        except Exception as exc:
            raise click.ClickException(f"worker unhealthy: {exc}") from exc
        return
    url = f"http://127.0.0.1:{settings.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            if response.status != 200:
                raise click.ClickException(f"web unhealthy: HTTP {response.status}")
    except OSError as exc:
        raise click.ClickException(f"web unhealthy: {exc}") from exc


@main.command()
def run() -> None:
    """Everything on one machine: migrate, seed, Redis, a worker and the web server."""
    from app.supervisor import run_all

    sys.exit(run_all())


if __name__ == "__main__":
    main()
