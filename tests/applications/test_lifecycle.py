"""Whole lives of applications through app/applications/service.py, one per acceptance mode
(complete, tolerated, pledge, deferred), with correction, withdrawal, rejection and a
two-level approval; the licence an approval issues; the audit trail every step writes; and the
refusals that change nothing."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from app.accounts.tables import Account, Passkey
from app.applications import service
from app.applications.audit import verify_chain
from app.applications.machine import TransitionRefused
from app.applications.service import ApplicationError
from app.applications.tables import (
    Application,
    AuditEntry,
    Case,
    MaterialEntry,
    Mode,
    Obligation,
)
from app.licences.services import licences_of
from app.signing import evidence
from app.signing import service as signing
from app.signing.tables import Signature
from tests.applications.people import (
    account,
    act,
    case_in,
    draft,
    fill,
    fresh,
    guide_of,
    officer,
    stored_file,
    submit,
    submitted,
    to_review,
)
from tests.signing.helpers import ORIGIN, new_authenticator

RESTAURANT = {
    "business_type": frozenset({"restaurant"}),
    "scale": frozenset({"small"}),
    "sales_mode": frozenset({"retail"}),
    "on_site_preparation": frozenset({"no"}),
    "special_food": frozenset({"no"}),
}
CATERING = {"discharger": frozenset({"catering"})}


async def trail(application_id: int) -> list[dict[str, Any]]:
    return list(
        await AuditEntry.select()
        .where(
            AuditEntry.subject_type == "application", AuditEntry.subject_id == str(application_id)
        )
        .order_by(AuditEntry.seq)
        .output(load_json=True)
    )


async def entry(application_id: int, code: str) -> MaterialEntry:
    for found in await service.entries_of(application_id):
        if found.code == code:
            return found
    raise AssertionError(f"no material {code}")


async def sign(redis: Any, applicant: Account, document_id: int) -> str:
    """Sign a document for real: a passkey of a software authenticator, the WebAuthn assertion
    over the challenge bound to the document, verified by the signing service."""
    authenticator = new_authenticator()
    passkey = authenticator.credentials[0]
    await Passkey(
        account=applicant.id,
        credential_id=passkey.id,
        public_key=evidence.b64url(passkey.cose_public_key),
    ).save()
    document = await signing.document_for(int(applicant.id), document_id)
    assert document is not None
    started = await signing.start(redis, applicant, document)
    return await signing.finish(
        redis,
        applicant,
        document,
        started.challenge_id,
        authenticator.get(started.options, ORIGIN),
        client_ip="127.0.0.1",
        user_agent="pytest",
    )


# ---------------------------------------------------------------- the four acceptance modes


async def test_complete_materials_from_submission_to_an_issued_licence() -> None:
    applicant, application = await submitted("seal-engraving")
    assert application.state == "submitted" and application.submitted_at is not None
    police = await officer("public-security")
    case = await case_in(application, "public-security")
    assert case.state == "submitted" and case.items == ["seal-engraving"]

    await act(police, case.id, "prereview")
    with pytest.raises(ApplicationError) as refused:
        await act(police, case.id, "accept", mode="tolerated")
    assert refused.value.code == "mode_refused" and refused.value.message
    await act(police, case.id, "accept", mode="complete", on=date(2026, 3, 2))
    await act(police, case.id, "review")
    moved = await act(police, case.id, "approve", reason="材料齐全，准予备案")

    assert moved.application.state == "issued"
    case = await case_in(application, "public-security")
    assert (case.state, case.mode, case.approvals) == ("issued", "complete", 1)
    assert case.accepted_on == date(2026, 3, 2) and case.decided_at is not None
    held = await licences_of(int(applicant.id))
    assert [licence.type_code for licence in held] == ["approval_decision"]
    assert held[0].data["application"] == service.display_code(application.code)
    assert held[0].issuer


async def test_tolerated_missing_material_becomes_an_obligation_and_is_supplied() -> None:
    applicant, application = await draft("drainage-permit", answers=CATERING)
    grease = await entry(int(application.id), "grease_trap")
    assert service.provisions_for(grease) == ["upload", "missing"]
    await service.choose(applicant, await fresh(application), grease.id, "missing")
    application = await submit(applicant, await fill(applicant, application), "drainage-permit")
    water = await officer("water")
    case = await case_in(application, "water")
    await act(water, case.id, "prereview")
    with pytest.raises(ApplicationError) as refused:
        await act(water, case.id, "accept", mode="complete")
    assert refused.value.code == "mode_refused"

    accepted_on = date(2026, 6, 1)
    await act(water, case.id, "accept", mode="tolerated", on=accepted_on)
    case = await case_in(application, "water")
    assert (case.state, case.mode, case.owed) == ("accepted", Mode.TOLERATED, 1)
    grease = await entry(int(application.id), "grease_trap")
    assert grease.obligation == Obligation.OWED
    assert grease.due_on == accepted_on + timedelta(days=service.TOLERATED_DAYS)

    # The applicant supplies it while the case goes on; the application is not a draft.
    await service.attach(await fresh(application), grease.id, await stored_file(applicant))
    grease = await entry(int(application.id), "grease_trap")
    assert (grease.obligation, grease.provision) == (Obligation.SUPPLIED, "upload")
    case = await case_in(application, "water")
    assert case.owed == 0 and case.state == "accepted"
    assert (await trail(int(application.id)))[-1]["action"] == "obligation_supply"
    await act(water, case.id, "review")
    assert (await act(water, case.id, "approve")).application.state == "issued"


async def test_pledge_signed_with_a_passkey_then_accepted_as_pledge_and_approved_at_two_levels(
    redis: Any,
) -> None:
    applicant, application = await draft("food-business-licence", answers=RESTAURANT)
    rules = await entry(int(application.id), "safety_rules")
    assert "pledge" in service.provisions_for(rules)
    chosen = await service.choose(
        applicant,
        await fresh(application),
        rules.id,
        "pledge",
        pledge_title="告知承诺书",
        pledge_body="本人承诺食品安全管理制度已建立并执行。",
    )
    assert chosen.pledge_document is not None and chosen.provision == "pledge"
    application = await fill(applicant, application)

    # Unsigned, the pledge stops the submission.
    with pytest.raises(ApplicationError) as refused:
        await submit(applicant, application, "food-business-licence")
    assert refused.value.code == "incomplete"
    assert (await fresh(application)).state == "draft"

    signature_id = await sign(redis, applicant, int(chosen.pledge_document))
    assert await Signature.exists().where(Signature.id == signature_id)
    application = await submit(applicant, application, "food-business-licence")
    assert (await entry(int(application.id), "safety_rules")).pledge_signature == signature_id

    first, second = await officer("market-regulation"), await officer("market-regulation")
    case = await case_in(application, "market-regulation")
    assert case.approval_levels == 2
    await act(first, case.id, "prereview")
    for wrong in ("complete", "tolerated", "deferred", "", "bogus"):
        with pytest.raises(ApplicationError) as refused:
            await act(first, case.id, "accept", mode=wrong)
        assert refused.value.code == "mode_refused"
    await act(first, case.id, "accept", mode="pledge")
    await act(first, case.id, "review")

    moved = await act(first, case.id, "approve", reason="第一级审查通过")
    case = await case_in(application, "market-regulation")
    assert (moved.application.state, case.state, case.approvals) == ("in_review", "in_review", 1)
    assert await licences_of(int(applicant.id)) == []
    with pytest.raises(ApplicationError) as refused:
        await act(first, case.id, "approve")
    assert refused.value.code == "same_officer"
    assert (await case_in(application, "market-regulation")).approvals == 1

    moved = await act(second, case.id, "approve", reason="第二级审查通过")
    assert moved.application.state == "issued"
    case = await case_in(application, "market-regulation")
    assert (case.state, case.mode, case.approvals) == ("issued", "pledge", 2)
    held = await licences_of(int(applicant.id))
    assert [licence.type_code for licence in held] == ["food_business_licence"]
    assert held[0].number.startswith("JY")
    levels = [
        (row["action"], row["actor_id"], row["payload"])
        for row in await trail(int(application.id))
        if row["action"] in ("case_approve_level", "case_approve", "case_issue")
    ]
    assert [(action, actor) for action, actor, _payload in levels] == [
        ("case_approve_level", first.id),
        ("case_approve", second.id),
        ("case_issue", None),
    ]


async def test_deferred_material_follows_within_the_items_limit() -> None:
    applicant, application = await draft("public-place-hygiene-licence")
    report = await entry(int(application.id), "hygiene_test_report")
    assert service.provisions_for(report) == ["upload", "pledge", "later"]
    chosen_on = date(2026, 4, 1)
    chosen = await service.choose(
        applicant, await fresh(application), report.id, "later", on=chosen_on
    )
    assert chosen.due_on == chosen_on + timedelta(days=90)
    application = await submit(
        applicant, await fill(applicant, application), "public-place-hygiene-licence"
    )
    health = await officer("health")
    case = await case_in(application, "health")
    await act(health, case.id, "prereview")
    with pytest.raises(ApplicationError):
        await act(health, case.id, "accept", mode="complete")
    accepted_on = date(2026, 4, 8)
    await act(health, case.id, "accept", mode="deferred", on=accepted_on)
    report = await entry(int(application.id), "hygiene_test_report")
    assert report.obligation == Obligation.OWED
    assert report.due_on == accepted_on + timedelta(days=90)
    assert (await case_in(application, "health")).owed == 1


# ---------------------------------------------------------------- correction, withdrawal, rejection


async def test_return_for_correction_before_and_after_acceptance_then_resubmit() -> None:
    applicant, application = await submitted("drainage-permit")
    water = await officer("water")
    case = await case_in(application, "water")
    await act(water, case.id, "prereview")
    with pytest.raises(TransitionRefused) as refused:
        await act(water, case.id, "return", reason="   ")
    assert refused.value.code == "reason_required"
    assert (await case_in(application, "water")).state == "pre_review"

    moved = await act(water, case.id, "return", reason="平面图不清晰", materials=["drainage_plan"])
    assert moved.application.state == "correction"
    last = (await trail(int(application.id)))[-1]
    assert last["payload"] == {"case": case.id, "materials": ["drainage_plan"]}

    # The applicant may change the materials now, and resubmit.
    plan = await entry(int(application.id), "drainage_plan")
    await service.attach(await fresh(application), plan.id, await stored_file(applicant))
    application = await submit(applicant, application, "drainage-permit")
    assert application.state == "resubmitted"
    # Not accepted yet: pre-review again.
    with pytest.raises(TransitionRefused) as refused:
        await act(water, case.id, "review")
    assert refused.value.code == "not_accepted"
    await act(water, case.id, "prereview")
    await act(water, case.id, "accept", mode="complete")
    await act(water, case.id, "review")

    await act(water, case.id, "return", reason="请补充接驳井照片")
    application = await submit(applicant, application, "drainage-permit")
    assert application.state == "resubmitted"
    # Accepted before: the review resumes, no second pre-review.
    with pytest.raises(TransitionRefused) as refused:
        await act(water, case.id, "prereview")
    assert refused.value.code == "already_accepted"
    assert (await act(water, case.id, "review")).application.state == "in_review"


async def test_withdraw_moves_every_undecided_case_and_only_once() -> None:
    applicant, application = await submitted("seal-engraving")
    with pytest.raises(ApplicationError) as refused:
        await service.withdraw(
            applicant, application, version=application.version - 1, reason="不办了"
        )
    assert refused.value.code == "stale"
    assert (await fresh(application)).state == "submitted"

    moved = await service.withdraw(
        applicant, application, version=application.version, reason="不办了"
    )
    assert moved.application.state == "withdrawn"
    assert (await case_in(application, "public-security")).state == "withdrawn"
    last = (await trail(int(application.id)))[-1]
    assert (last["action"], last["actor_id"], last["reason"]) == (
        "case_withdraw",
        applicant.id,
        "不办了",
    )
    again = await fresh(application)
    with pytest.raises(ApplicationError) as refused:
        await service.withdraw(applicant, again, version=again.version, reason="")
    assert refused.value.code == "not_withdrawable"
    police = await officer("public-security")
    with pytest.raises(TransitionRefused) as wrong:
        await act(police, (await case_in(application, "public-security")).id, "prereview")
    assert wrong.value.code == "wrong_state"


async def test_reject_needs_a_reason_and_issues_nothing() -> None:
    applicant, application = await submitted("seal-engraving")
    police = await officer("public-security")
    case = await case_in(application, "public-security")
    await to_review(police, case.id)
    with pytest.raises(TransitionRefused) as refused:
        await act(police, case.id, "reject")
    assert refused.value.code == "reason_required"
    moved = await act(police, case.id, "reject", reason="  营业执照已吊销  ")
    assert moved.application.state == "rejected"
    case = await case_in(application, "public-security")
    assert (case.state, case.decision_reason) == ("rejected", "营业执照已吊销")
    assert case.decided_at is not None
    assert await licences_of(int(applicant.id)) == []
    with pytest.raises(TransitionRefused):
        await act(police, case.id, "approve")


# ---------------------------------------------------------------- the audit trail


async def test_every_step_is_in_the_audit_trail_and_the_chain_verifies() -> None:
    applicant, application = await submitted("seal-engraving")
    police = await officer("public-security")
    case = await case_in(application, "public-security")
    await act(police, case.id, "prereview")
    await act(police, case.id, "return", reason="身份证照片模糊")
    application = await submit(applicant, application, "seal-engraving")
    await to_review(police, case.id)
    await act(police, case.id, "approve", reason="同意")

    rows = await trail(int(application.id))
    steps = [
        (row["action"], row["actor_id"], row["from_state"], row["to_state"], row["reason"])
        for row in rows
    ]
    a, o = applicant.id, police.id
    assert steps == [
        ("application_create", a, "", "draft", ""),
        ("case_submit", a, "draft", "submitted", ""),
        ("case_prereview", o, "submitted", "pre_review", ""),
        ("case_return", o, "pre_review", "correction", "身份证照片模糊"),
        ("case_resubmit", a, "correction", "resubmitted", ""),
        ("case_prereview", o, "resubmitted", "pre_review", ""),
        ("case_accept", o, "pre_review", "accepted", ""),
        ("case_review", o, "accepted", "in_review", ""),
        ("case_approve", o, "in_review", "approved", "同意"),
        ("case_issue", None, "approved", "issued", ""),
    ]
    assert all(row["at"].tzinfo is not None for row in rows)
    assert [row["seq"] for row in rows] == sorted(row["seq"] for row in rows)
    assert (await verify_chain()).ok

    # Someone with database access edits one entry: verify names exactly that one.
    target = next(row for row in rows if row["action"] == "case_return")
    await AuditEntry.raw(
        "UPDATE applications_audit_entry SET reason = {} WHERE id = {}", "材料齐全", target["id"]
    )
    try:
        broken = await verify_chain()
        assert (broken.ok, broken.first_broken_id) == (False, target["id"])
    finally:
        await AuditEntry.raw(
            "UPDATE applications_audit_entry SET reason = {} WHERE id = {}",
            target["reason"],
            target["id"],
        )
    assert (await verify_chain()).ok


# ---------------------------------------------------------------- refusals change nothing


async def snapshot(application_id: int) -> tuple[Any, ...]:
    """What a refused request must leave as it was."""
    stored = await Application.select(Application.state, Application.version).where(
        Application.id == application_id
    )
    cases = [(c.state, c.version, c.mode) for c in await service.cases_of(application_id)]
    entries = [
        (e.provision, e.due_on, e.obligation) for e in await service.entries_of(application_id)
    ]
    return stored, cases, entries, len(await trail(application_id))


async def test_submit_refusals_change_nothing() -> None:
    applicant, application = await draft("drainage-permit")
    guide = await guide_of("drainage-permit")
    before = await snapshot(int(application.id))

    with pytest.raises(ApplicationError) as refused:
        await service.submit(
            applicant, application, version=application.version, assurance=2, items=guide.items
        )
    assert refused.value.code == "incomplete"
    assert await snapshot(int(application.id)) == before

    application = await fill(applicant, application)
    before = await snapshot(int(application.id))
    with pytest.raises(ApplicationError) as refused:
        await service.submit(
            applicant, application, version=application.version, assurance=1, items=guide.items
        )
    assert refused.value.code == "assurance" and "2" in refused.value.message
    with pytest.raises(ApplicationError) as refused:
        await service.submit(
            applicant,
            application,
            version=application.version - 1,
            assurance=2,
            items=guide.items,
        )
    assert refused.value.code == "stale"
    assert await snapshot(int(application.id)) == before


async def test_an_upload_without_pages_is_incomplete() -> None:
    applicant, application = await draft("seal-engraving")
    for found in await service.entries_of(int(application.id)):
        await MaterialEntry.update({MaterialEntry.provision: "upload"}).where(
            MaterialEntry.id == found.id
        )
    with pytest.raises(ApplicationError) as refused:
        await submit(applicant, application, "seal-engraving")
    assert refused.value.code == "incomplete"
    problems = await service.problems(
        await fresh(application), await service.entries_of(int(application.id))
    )
    assert len(problems) == 2 and all(p.message for p in problems)


@pytest.mark.parametrize(
    ("code", "material", "provision"),
    [
        ("drainage-permit", "application_form", "later"),  # not deferrable
        ("drainage-permit", "application_form", "missing"),  # not tolerable
        ("drainage-permit", "application_form", "pledge"),  # no pledge for this item
        ("public-place-hygiene-licence", "application_form", "later"),
        ("seal-engraving", "id_card", "original"),
        ("seal-engraving", "id_card", "licence"),  # the library holds none
        ("seal-engraving", "id_card", "bogus"),
        ("seal-engraving", "id_card", ""),
    ],
)
async def test_a_provision_the_item_does_not_allow_is_refused(
    code: str, material: str, provision: str
) -> None:
    applicant, application = await draft(code)
    target = await entry(int(application.id), material)
    before = await snapshot(int(application.id))
    with pytest.raises(ApplicationError) as refused:
        await service.choose(applicant, application, target.id, provision)
    assert refused.value.code == "provision_refused" and refused.value.message
    assert await snapshot(int(application.id)) == before


async def test_an_officer_acting_on_a_stale_version_changes_nothing() -> None:
    _applicant, application = await submitted("seal-engraving")
    police = await officer("public-security")
    case = await case_in(application, "public-security")
    await act(police, case.id, "prereview")
    before = await snapshot(int(application.id))
    with pytest.raises(ApplicationError) as refused:
        await service.act(police, case.id, "accept", version=case.version, mode="complete")
    assert refused.value.code == "stale"
    assert await snapshot(int(application.id)) == before
    assert (await Case.select(Case.mode).where(Case.id == case.id).first()) == {"mode": ""}


async def test_a_citizen_cannot_act_as_an_officer() -> None:
    applicant, application = await submitted("seal-engraving")
    case = await case_in(application, "public-security")
    with pytest.raises(ApplicationError) as refused:
        await service.act(applicant, case.id, "prereview", version=case.version)
    assert refused.value.code == "no_case"
    stranger = await account()
    assert await service.case_for_officer(stranger, case.id) is None
