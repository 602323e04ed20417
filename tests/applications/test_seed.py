"""The demo applications (app/applications/seed.py), seeded with the rest of the demo data at
the start of the test session: made through the rules, so the audit trail verifies; the demo
officer's inbox has cases in several states; a second run adds nothing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio

from app.accounts.tables import Account
from app.applications import service
from app.applications.seed import DEMOS, LI_SI, OFFICER, ZHANG_SAN, seed_applications
from app.applications.tables import Application, AttachedFile, Case, Obligation, State
from app.config import get_settings
from app.files.storage import storage_from_settings
from app.files.tables import StoredFile
from app.licences.services import licences_of

ROOT = Path(__file__).resolve().parents[2]
DEMO_CODES = {demo.code for demo in DEMOS}


async def demo_applications() -> list[Application]:
    people = [
        row["id"]
        for row in await Account.select(Account.id).where(Account.phone.is_in([ZHANG_SAN, LI_SI]))
    ]
    rows = await Application.objects().where(Application.applicant.is_in(people))
    return [a for a in rows if (a.item_code or a.bundle_code) in DEMO_CODES]


async def demo_officer() -> Account:
    found = await Account.objects().where(Account.phone == OFFICER).first()
    assert found is not None
    return found


async def test_the_demo_citizens_have_applications_and_a_second_run_adds_none() -> None:
    before = await demo_applications()
    assert len(before) == len(DEMOS)
    assert await seed_applications() == 0
    assert len(await demo_applications()) == len(DEMOS)
    verified = await Account.select(Account.identity_verified_at).where(
        Account.phone.is_in([ZHANG_SAN, LI_SI])
    )
    assert all(row["identity_verified_at"] is not None for row in verified)


async def test_the_officers_department_has_cases_in_many_states() -> None:
    officer = await demo_officer()
    ids = [int(a.id) for a in await demo_applications()]
    states = {
        row["state"]
        for row in await Case.select(Case.state).where(
            Case.application.is_in(ids), Case.department == officer.department
        )
    }
    assert {
        State.SUBMITTED,
        State.PRE_REVIEW,
        State.CORRECTION,
        State.ACCEPTED,
        State.IN_REVIEW,
        State.ISSUED,
        State.REJECTED,
    } <= states


async def test_the_bundle_is_split_into_its_departments() -> None:
    [bundle] = [a for a in await demo_applications() if a.bundle_code == "open-restaurant"]
    departments = {
        row["department.code"]
        for row in await Case.select(Case.department.code).where(Case.application == bundle.id)
    }
    assert departments == {"market-regulation", "public-security", "tax", "water"}


async def test_the_tolerated_case_owes_its_material_and_the_issued_one_left_a_licence() -> None:
    applications = {a.item_code: a for a in await demo_applications()}
    food = applications["food-business-licence"]
    [case] = await service.cases_of(int(food.id))
    assert (case.state, case.mode, case.owed) == (State.ACCEPTED, "tolerated", 1)
    owed = [e for e in await service.entries_of(int(food.id)) if e.obligation == Obligation.OWED]
    assert [e.code for e in owed] == ["safety_manager"]

    registered = applications["special-equipment-registration"]
    li_si = await Account.objects().where(Account.phone == LI_SI).first()
    assert li_si is not None
    issued = [v for v in await licences_of(int(li_si.id)) if v.data.get("application")]
    assert service.display_code(registered.code) in {v.data["application"] for v in issued}


async def test_the_uploaded_pages_are_real_images_in_the_storage() -> None:
    ids = [int(a.id) for a in await demo_applications()]
    file_ids = [
        row["file"]
        for row in await AttachedFile.select(AttachedFile.file).where(
            AttachedFile.application.is_in(ids)
        )
    ]
    assert len(file_ids) >= len(DEMOS)
    stored = await StoredFile.objects().where(StoredFile.id == file_ids[0]).first()
    assert stored is not None and stored.content_type == "image/png"
    storage = storage_from_settings(get_settings())
    data = b"".join([chunk async for chunk in storage.open(stored.storage_key)])
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) == stored.size


async def test_the_audit_trail_verifies_after_seeding() -> None:
    assert await demo_applications()
    result = await anyio.run_process(
        [sys.executable, "-m", "app.cli", "audit", "verify"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # the test database
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.decode().startswith("audit chain intact: ")
