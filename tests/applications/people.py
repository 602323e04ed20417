"""Accounts and applications for the applications tests, made through the real rules."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from app.accounts.tables import Account, Role
from app.applications import service
from app.applications.tables import Application
from app.catalogue import services as catalogue
from app.catalogue.guide import Guide
from app.catalogue.tables import Department
from app.files.tables import CheckStatus, StoredFile
from tests.accounts.test_sms_signin import fresh_phone


async def account(
    role: Role = Role.CITIZEN, department: str | None = None, **values: object
) -> Account:
    _typed, phone = fresh_phone()
    department_id = None
    if department is not None:
        row = await Department.select(Department.id).where(Department.code == department).first()
        assert row is not None
        department_id = row["id"]
    person = Account(
        phone=phone,
        role=role.value,
        department=department_id,
        name=str(values.pop("name", "张三")),
        webauthn_user_id=secrets.token_urlsafe(16),
        identity_verified_at=values.pop("identity_verified_at", datetime.now(UTC)),
        **values,
    )
    await person.save()
    return person


async def officer(department: str = "market-regulation") -> Account:
    return await account(Role.OFFICER, department, name="李四")


async def guide_of(code: str) -> Guide:
    item = await catalogue.read_item(code)
    if item is not None:
        return Guide.of(code, (item,))
    bundles = {bundle.code: bundle for bundle in await catalogue._load_bundles()}
    bundle = bundles[code]
    items = tuple([found for c in bundle.items if (found := await catalogue.read_item(c))])
    return Guide.of(code, items, bundle)


async def stored_file(owner: Account, name: str = "page.jpg") -> StoredFile:
    row = StoredFile(
        owner=owner.id,
        storage_key=secrets.token_hex(16),
        original_name=name,
        content_type="image/jpeg",
        size=1000,
        sha256="0" * 64,
        check_status=CheckStatus.PENDING,
        check_result={},
    )
    await row.save()
    return row


async def fresh(application: Application) -> Application:
    found = await service.application_of(int(application.applicant), int(application.id))
    assert found is not None
    return found


async def fill(applicant: Account, application: Application) -> Application:
    """Provide every material the plain way: an upload where one is needed."""
    for entry in await service.entries_of(int(application.id)):
        if "upload" in service.provisions_for(entry) and entry.provision in ("", "upload"):
            await service.attach(
                await fresh(application), int(entry.id), await stored_file(applicant)
            )
    return await fresh(application)


async def submitted(
    code: str = "seal-engraving", applicant: Account | None = None
) -> tuple[Account, Application]:
    applicant = applicant or await account()
    application = await service.start(applicant, await guide_of(code), {}, {})
    application = await fill(applicant, application)
    guide = await guide_of(code)
    await service.submit(
        applicant, application, version=application.version, assurance=2, items=guide.items
    )
    return applicant, await fresh(application)
