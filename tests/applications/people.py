"""Accounts and applications for the applications tests, made through the real rules."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

from app.accounts.tables import Account, Role
from app.applications import service
from app.applications.tables import Application, Case
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


async def draft(
    code: str = "seal-engraving",
    applicant: Account | None = None,
    answers: dict[str, frozenset[str]] | None = None,
) -> tuple[Account, Application]:
    """A new draft of ``code`` (an item or a bundle), nothing provided yet."""
    applicant = applicant or await account()
    application = await service.start(applicant, await guide_of(code), answers or {}, {})
    return applicant, await fresh(application)


async def submit(applicant: Account, application: Application, code: str) -> Application:
    """Submit (or resubmit) as the applicant, with the version just read."""
    current = await fresh(application)
    guide = await guide_of(code)
    await service.submit(
        applicant, current, version=current.version, assurance=2, items=guide.items
    )
    return await fresh(application)


async def case_in(application: Application, department: str) -> Case:
    """The application's case for ``department``, as stored now."""
    for case in await service.cases_of(int(application.id)):
        row = await Department.select(Department.code).where(Department.id == case.department)
        if row and row[0]["code"] == department:
            return case
    raise AssertionError(f"no case for {department}")


async def act(officer: Account, case_id: int, action: str, **options: Any) -> service.Moved:
    """An officer's action on the case as it is now (the version just read)."""
    case = await service.case_for_officer(officer, case_id)
    assert case is not None, "not a case of the officer's department"
    return await service.act(officer, case_id, action, version=case.version, **options)


async def to_review(
    officer: Account, case_id: int, mode: str = "complete", on: date | None = None
) -> service.Moved:
    """Pre-review, accept (in ``mode``, on ``on``) and start the review of a submitted case."""
    await act(officer, case_id, "prereview", on=on)
    await act(officer, case_id, "accept", mode=mode, on=on)
    return await act(officer, case_id, "review", on=on)
