"""A bundle (一件事) through the service: "open a restaurant" is one application under one
code, one case per department deciding in parallel, shared materials handed in once, and the
application's state derived from its cases as they move separately."""

from __future__ import annotations

from collections import Counter

from app.applications import service
from app.applications.service import CODE_RE
from app.catalogue.tables import Department
from app.licences.services import licences_of
from tests.applications.people import (
    act,
    case_in,
    draft,
    fill,
    fresh,
    officer,
    stored_file,
    submit,
    to_review,
)

BUNDLE = "open-restaurant"


async def department_codes(application_id: int) -> dict[str, list[str]]:
    """Each case's department code and the items it decides."""
    found = {}
    for case in await service.cases_of(application_id):
        row = await Department.select(Department.code).where(Department.id == case.department)
        found[row[0]["code"]] = case.items
    return found


async def test_one_application_one_code_one_case_per_department() -> None:
    _applicant, application = await draft(BUNDLE)
    assert CODE_RE.match(application.code)
    assert (application.bundle_code, application.item_code) == (BUNDLE, "")
    assert application.title_zh == "我要开餐厅"
    found = await service.application_by_code(application.code)
    assert found is not None and found.id == application.id
    assert await department_codes(int(application.id)) == {
        # Items of one department are decided together, in one case.
        "market-regulation": ["company-establishment", "food-business-licence"],
        "public-security": ["seal-engraving"],
        "tax": ["tax-invoice-first-issue"],
        "water": ["drainage-permit"],
    }
    market = await case_in(application, "market-regulation")
    # The food business licence needs two review levels, so its case does.
    assert market.approval_levels == 2 and market.promised_days == 5
    assert (await case_in(application, "public-security")).approval_levels == 1


async def test_shared_materials_appear_once_for_every_item_asking_for_them() -> None:
    _applicant, application = await draft(BUNDLE)
    entries = await service.entries_of(int(application.id))
    counts = Counter(entry.code for entry in entries)
    for shared in ("id_card", "business_licence", "premises_proof"):
        assert counts[shared] == 1, shared
    # Each item still has its own application form.
    assert counts["application_form"] == 3
    by_code = {entry.code: entry for entry in entries}
    assert set(by_code["id_card"].items) == {
        "company-establishment",
        "seal-engraving",
        "tax-invoice-first-issue",
        "food-business-licence",
    }
    assert "drainage-permit" in by_code["business_licence"].items
    assert set(by_code["premises_proof"].items) == {
        "company-establishment",
        "food-business-licence",
    }
    # Shared first, then each item's own, in order.
    assert [entry.position for entry in entries] == list(range(len(entries)))
    assert [entry.code for entry in entries[:3]] == [
        "id_card",
        "premises_proof",
        "business_licence",
    ]


async def test_the_application_state_follows_its_cases_as_they_move_separately() -> None:
    applicant, application = await draft(BUNDLE)
    application = await submit(applicant, await fill(applicant, application), BUNDLE)
    assert application.state == "submitted"
    assert {case.state for case in await service.cases_of(int(application.id))} == {"submitted"}

    market_a, market_b = await officer("market-regulation"), await officer("market-regulation")
    police, tax, water = (
        await officer("public-security"),
        await officer("tax"),
        await officer("water"),
    )
    market = (await case_in(application, "market-regulation")).id
    seal = (await case_in(application, "public-security")).id
    invoices = (await case_in(application, "tax")).id
    drainage = (await case_in(application, "water")).id

    await to_review(market_a, market)
    # The least advanced running case speaks for the application.
    assert (await fresh(application)).state == "submitted"
    await to_review(police, seal)
    assert (await act(police, seal, "approve")).application.state == "submitted"
    assert (await case_in(application, "public-security")).state == "issued"

    # One department approved; another asks for a correction: the applicant is told so.
    await act(tax, invoices, "prereview")
    await act(water, drainage, "prereview")
    moved = await act(water, drainage, "return", reason="请补充排水管网平面图")
    assert moved.application.state == "correction"

    # The correction moves that case only; the others stay where they are.
    plan = next(
        e for e in await service.entries_of(int(application.id)) if e.code == "drainage_plan"
    )
    await service.attach(await fresh(application), plan.id, await stored_file(applicant))
    application = await submit(applicant, application, BUNDLE)
    states = {
        code: (await case_in(application, code)).state
        for code in ("market-regulation", "public-security", "tax", "water")
    }
    assert states == {
        "market-regulation": "in_review",
        "public-security": "issued",
        "tax": "pre_review",
        "water": "resubmitted",
    }
    assert application.state == "resubmitted"

    await act(tax, invoices, "accept", mode="complete")
    await act(tax, invoices, "review")
    await act(water, drainage, "prereview")
    assert (await fresh(application)).state == "pre_review"
    await act(water, drainage, "accept", mode="complete")
    await act(water, drainage, "review")
    assert (await act(tax, invoices, "approve")).application.state == "in_review"
    assert (await act(water, drainage, "approve")).application.state == "in_review"
    # The market case needs its second level before the application is done.
    assert (await act(market_a, market, "approve")).application.state == "in_review"
    assert (await act(market_b, market, "approve")).application.state == "issued"

    assert {case.state for case in await service.cases_of(int(application.id))} == {"issued"}
    held = Counter(licence.type_code for licence in await licences_of(int(applicant.id)))
    # One licence per item: the market case decides two items.
    assert held == {
        "business_licence": 1,
        "food_business_licence": 1,
        "approval_decision": 3,
    }


async def test_a_rejected_case_beside_issued_ones_leaves_the_application_issued() -> None:
    applicant, application = await draft(BUNDLE)
    application = await submit(applicant, await fill(applicant, application), BUNDLE)
    police, tax = await officer("public-security"), await officer("tax")
    seal = (await case_in(application, "public-security")).id
    invoices = (await case_in(application, "tax")).id
    await to_review(police, seal)
    await act(police, seal, "approve")
    await act(tax, invoices, "prereview")
    await act(tax, invoices, "reject", reason="未完成税务信息确认")
    assert (await fresh(application)).state == "submitted"  # two cases still wait

    # Withdrawing now withdraws only the undecided cases.
    current = await fresh(application)
    moved = await service.withdraw(applicant, current, version=current.version, reason="不开了")
    assert moved.application.state == "issued"
    states = sorted(case.state for case in await service.cases_of(int(application.id)))
    assert states == ["issued", "rejected", "withdrawn", "withdrawn"]
