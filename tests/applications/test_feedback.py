"""Feedback: ratings of decided cases (好差评), complaints and suggestions with the officer's
reply and its SMS (找茬), department isolation, the figures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest

from app.accounts.services import create_account
from app.accounts.tables import Account, Role
from app.applications import service
from app.applications.feedback import figures_of, reply_due
from app.applications.tables import Application, Complaint, ComplaintState, Rating
from app.applications.workdays import add_working_days
from app.asgi import create_app
from app.catalogue.tables import Department
from app.core import holidays
from app.core.i18n import translations
from app.notifications.services import render
from app.notifications.tables import Notification
from tests.accounts.helpers import sign_in
from tests.accounts.test_sms_signin import fresh_phone
from tests.applications.people import account, fresh, officer, submitted
from tests.conftest import PageClient, csrf_from
from tests.people import passkey_session

ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
def client(client: PageClient) -> PageClient:
    """Pages in English: the assertions read our msgids, whatever the catalogue holds."""
    client.headers.update(ENGLISH)
    return client


@pytest.fixture
async def desk() -> AsyncIterator[PageClient]:
    """A second browser, for the officer."""
    async with PageClient(app=create_app(), base_url="http://tongban.local") as other:
        other.headers.update(ENGLISH)
        yield other


async def officer_with_passkey(client: PageClient, department: str) -> Account:
    """An officer who signed in by SMS once, added a passkey and came back with it."""
    typed, phone = fresh_phone()
    person = await create_account(phone, Role.OFFICER, department_code=department, name="王窗口")
    await Account.update({Account.locale: "en"}).where(Account.id == person.id)
    await sign_in(client, typed)
    await passkey_session(client)
    return person


async def decided(applicant: Account | None = None) -> tuple[Account, Application]:
    """A seal-engraving application approved (and so issued) by public security."""
    applicant, application = await submitted(applicant=applicant)
    clerk = await officer("public-security")
    for action, extra in (
        ("prereview", {}),
        ("accept", {"mode": "complete"}),
        ("review", {}),
        ("approve", {}),
    ):
        case = (await service.cases_of(int(application.id)))[0]
        await service.act(clerk, int(case.id), action, version=case.version, **extra)
    return applicant, await fresh(application)


def said(locale: str, msgid: str, **values: object) -> str:
    return translations(locale).gettext(msgid) % values


async def token(client: PageClient, path: str) -> str:
    return csrf_from(await client.get(path))


# ---------------------------------------------------------------- ratings


async def test_the_applicant_rates_a_decided_case_once(client: PageClient) -> None:
    applicant, application = await decided(await account(locale="en"))
    case = (await service.cases_of(int(application.id)))[0]
    await sign_in(client, applicant.phone)
    path = f"/applications/{application.id}/rating"
    page = await client.get(path)
    assert page.status_code == 200
    assert 'name="score"' in page.text and 'value="papers_twice"' in page.text
    sent = await client.post(
        path,
        data={
            "_csrf_token": csrf_from(page),
            "case": str(case.id),
            "score": "5",
            "reasons": ["fast", "clear"],
            "comment": "窗口很耐心",
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    rating = await Rating.objects().where(Rating.case == case.id).output(load_json=True).first()
    assert rating is not None
    assert (rating.score, rating.reasons, rating.comment) == (5, ["clear", "fast"], "窗口很耐心")
    assert rating.department == case.department
    again = await client.post(
        path,
        data={
            "_csrf_token": await token(client, path),
            "case": str(case.id),
            "score": "1",
            "reasons": "slow",
        },
    )
    assert again.status_code == 400 and "You have rated this case already." in again.text
    assert await Rating.count().where(Rating.case == case.id) == 1
    shown = await client.get(path)
    assert "You rated it: 5 of 5" in shown.text and 'name="score"' not in shown.text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"score": "1", "reasons": "fast"}, "Choose what went well for a good rating"),
        ({"score": "5", "reasons": "unfriendly"}, "Choose what went well for a good rating"),
        ({"score": "2"}, "Please say what went wrong"),
        ({"score": "9"}, "Choose a rating from 1 to 5 stars."),
        ({"score": "", "reasons": "fast"}, "Choose a rating from 1 to 5 stars."),
        ({"score": "4", "comment": "x" * 501}, "Please keep it under 500 characters."),
        ({"score": "4", "comment": "bad\u202eidea"}, "without invisible control characters"),
    ],
)
async def test_a_rating_that_breaks_a_rule_is_refused_inline_and_saves_nothing(
    client: PageClient, fields: dict[str, str], message: str
) -> None:
    applicant, application = await decided(await account(locale="en"))
    case = (await service.cases_of(int(application.id)))[0]
    await sign_in(client, applicant.phone)
    path = f"/applications/{application.id}/rating"
    refused = await client.post(
        path, data={"_csrf_token": await token(client, path), "case": str(case.id), **fields}
    )
    assert refused.status_code == 400
    assert message in refused.text
    assert 'class="error"' in refused.text
    assert not await Rating.exists().where(Rating.case == case.id)


async def test_an_undecided_case_cannot_be_rated(client: PageClient) -> None:
    applicant, application = await submitted(applicant=await account(locale="en"))
    case = (await service.cases_of(int(application.id)))[0]
    await sign_in(client, applicant.phone)
    path = f"/applications/{application.id}/rating"
    page = await client.get(path)
    assert page.status_code == 400
    assert "You can rate the service once a decision has been made." in page.text
    refused = await client.post(
        path,
        data={"_csrf_token": await token(client, "/feedback"), "case": str(case.id), "score": "5"},
    )
    assert refused.status_code == 400 and "has not been decided yet" in refused.text
    assert not await Rating.exists().where(Rating.case == case.id)


async def test_another_persons_application_and_case_are_not_theirs_to_rate(
    client: PageClient,
) -> None:
    _owner, theirs = await decided()
    applicant, mine = await decided(await account(locale="en"))
    their_case = (await service.cases_of(int(theirs.id)))[0]
    await sign_in(client, applicant.phone)
    csrf = await token(client, "/feedback")
    assert (await client.get(f"/applications/{theirs.id}/rating")).status_code == 404
    for application_id in (theirs.id, 2**31):
        refused = await client.post(
            f"/applications/{application_id}/rating",
            data={"_csrf_token": csrf, "case": str(their_case.id), "score": "5"},
        )
        assert refused.status_code == 404
    # Their case through my application: not part of it.
    wrong = await client.post(
        f"/applications/{mine.id}/rating",
        data={"_csrf_token": csrf, "case": str(their_case.id), "score": "5"},
    )
    assert wrong.status_code == 400 and "not part of this application" in wrong.text
    assert not await Rating.exists().where(Rating.case == their_case.id)


# ---------------------------------------------------------------- complaints


async def send_feedback(client: PageClient, **fields: str) -> object:
    data = {
        "_csrf_token": await token(client, "/feedback"),
        "category": "complaint",
        "department": "market-regulation",
        "body": "窗口让我交了两次同样的材料。",
        **fields,
    }
    return await client.post("/feedback", data=data, follow_redirects=False)


async def newest_complaint(person: Account) -> Complaint:
    found = (
        await Complaint.objects()
        .where(Complaint.account == person.id)
        .order_by(Complaint.id, ascending=False)
        .first()
    )
    assert found is not None
    return found


@pytest.mark.parametrize("locale", ["zh-Hans", "en"])
async def test_a_complaint_is_answered_and_the_citizen_told_by_sms_in_their_language(
    client: PageClient, desk: PageClient, locale: str
) -> None:
    citizen = await account(locale=locale)
    _applicant, application = await submitted(applicant=citizen)
    await sign_in(client, citizen.phone)
    sent = await send_feedback(client, application=str(application.id))
    assert sent.status_code == 303  # type: ignore[attr-defined]
    complaint = await newest_complaint(citizen)
    department = (
        await Department.select(Department.id).where(Department.code == "market-regulation").first()
    )
    assert department is not None
    assert (complaint.department, complaint.application, complaint.state) == (
        department["id"],
        application.id,
        ComplaintState.OPEN,
    )
    assert complaint.due_on == add_working_days(service.today(), 5)
    mine = await client.get("/feedback")  # in the citizen's language
    assert said(locale, "No. %(number)s", number=complaint.id) in mine.text
    assert said(locale, "Waiting for a reply") in mine.text
    assert complaint.due_on.isoformat() in mine.text

    clerk = await officer_with_passkey(desk, "market-regulation")
    inbox = await desk.get("/officer/complaints")
    assert inbox.status_code == 200 and f'href="/officer/complaints/{complaint.id}"' in inbox.text
    detail = await desk.get(f"/officer/complaints/{complaint.id}")
    assert detail.status_code == 200 and "窗口让我交了两次同样的材料。" in detail.text
    assert service.display_code(application.code) in detail.text
    assert citizen.phone not in detail.text
    empty = await desk.post(
        f"/officer/complaints/{complaint.id}/reply",
        data={"_csrf_token": csrf_from(detail), "reply": "  "},
    )
    assert empty.status_code == 400 and "Please write the reply." in empty.text
    replied = await desk.post(
        f"/officer/complaints/{complaint.id}/reply",
        data={"_csrf_token": csrf_from(detail), "reply": "已核实，已提醒窗口人员。"},
        follow_redirects=False,
    )
    assert replied.status_code == 303
    answered = await Complaint.objects().where(Complaint.id == complaint.id).first()
    assert answered is not None
    assert (answered.state, answered.reply, answered.replied_by) == (
        ComplaintState.ANSWERED,
        "已核实，已提醒窗口人员。",
        clerk.id,
    )
    assert answered.replied_at is not None
    sms = (
        await Notification.objects()
        .where(Notification.kind == "complaint_reply", Notification.user_id == citizen.id)
        .output(load_json=True)
    )
    assert len(sms) == 1 and sms[0].recipient == citizen.phone and sms[0].locale == locale
    text = render("complaint_reply", sms[0].locale, sms[0].params)
    assert f"{complaint.id}" in text
    assert ("您的意见" in text) == (locale == "zh-Hans")
    # A second reply (another officer's tab) changes nothing and sends nothing.
    twice = await desk.post(
        f"/officer/complaints/{complaint.id}/reply",
        data={"_csrf_token": csrf_from(detail), "reply": "再次答复"},
    )
    assert twice.status_code == 400 and "answered already" in twice.text
    assert (
        await Notification.count().where(
            Notification.kind == "complaint_reply", Notification.user_id == citizen.id
        )
        == 1
    )
    assert "已核实，已提醒窗口人员。" in (await client.get("/feedback")).text


async def test_another_departments_officer_does_not_see_the_complaint(
    client: PageClient, desk: PageClient
) -> None:
    citizen = await account(locale="en")
    await sign_in(client, citizen.phone)
    await send_feedback(client, body="税务以外的部门找茬ZZY")
    complaint = await newest_complaint(citizen)
    await officer_with_passkey(desk, "tax")
    inbox = await desk.get("/officer/complaints")
    assert inbox.status_code == 200 and "ZZY" not in inbox.text
    assert (await desk.get(f"/officer/complaints/{complaint.id}")).status_code == 404
    csrf = csrf_from(inbox)
    reply = await desk.post(
        f"/officer/complaints/{complaint.id}/reply", data={"_csrf_token": csrf, "reply": "x"}
    )
    assert reply.status_code == 404
    assert (await Complaint.objects().where(Complaint.id == complaint.id).first()).state == "open"  # type: ignore[union-attr]
    for path in ("/officer/complaints/0", f"/officer/complaints/{2**31}"):
        assert (await desk.get(path)).status_code == 404


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"category": "rant"}, "Choose what kind of feedback this is."),
        ({"department": "no-such-department"}, "Choose the department it is about."),
        ({"body": "   "}, "Please write what you want to tell the department."),
        ({"body": "长" * 2001}, "Please keep it under 2000 characters."),
        ({"application": "abc"}, "Choose one of your own applications, or none."),
        ({"application": str(2**31)}, "Choose one of your own applications, or none."),
    ],
)
async def test_a_complaint_that_breaks_a_rule_is_refused_and_saves_nothing(
    client: PageClient, fields: dict[str, str], message: str
) -> None:
    citizen = await account(locale="en")
    await sign_in(client, citizen.phone)
    refused = await send_feedback(client, **fields)
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert message in refused.text  # type: ignore[attr-defined]
    assert not await Complaint.exists().where(Complaint.account == citizen.id)


async def test_someone_elses_application_cannot_be_named(client: PageClient) -> None:
    _owner, theirs = await submitted()
    citizen = await account(locale="en")
    await sign_in(client, citizen.phone)
    refused = await send_feedback(client, application=str(theirs.id))
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "Choose one of your own applications" in refused.text  # type: ignore[attr-defined]
    assert not await Complaint.exists().where(Complaint.account == citizen.id)


def test_the_reply_date_is_five_working_days_on_or_unknown_beyond_the_calendar() -> None:
    last_year = holidays.last_known_year()
    friday = next(
        day for day in (service.today() + timedelta(days=n) for n in range(7)) if day.weekday() == 4
    )
    assert reply_due(friday) == add_working_days(friday, 5)
    assert reply_due(date(last_year, 12, 31)) is None


async def test_an_unknown_deadline_is_said_so_on_the_citizens_page(client: PageClient) -> None:
    citizen = await account(locale="en")
    await sign_in(client, citizen.phone)
    await send_feedback(client)
    complaint = await newest_complaint(citizen)
    # What the handler writes when the calendar does not know the year (see the test above).
    await Complaint.update({Complaint.due_on: None}).where(Complaint.id == complaint.id)
    page = await client.get("/feedback")
    assert "The reply deadline cannot be computed yet" in page.text


# ---------------------------------------------------------------- officers' pages and figures


async def test_staff_pages_need_an_officer_with_a_passkey(
    client: PageClient, desk: PageClient
) -> None:
    citizen = await account(locale="en")
    await sign_in(client, citizen.phone)
    for path in ("/officer/complaints", "/officer/figures", "/officer/complaints/1"):
        assert (await client.get(path)).status_code == 403, path
    typed, phone = fresh_phone()
    await create_account(phone, Role.OFFICER, department_code="market-regulation")
    await sign_in(desk, typed)  # by SMS only
    assert (await desk.get("/officer/complaints")).status_code == 403


async def test_figures_count_the_departments_ratings_and_complaints(
    client: PageClient, desk: PageClient
) -> None:
    clerk = await officer_with_passkey(desk, "public-security")
    assert (await desk.get("/officer/figures")).status_code == 200
    department = int(clerk.department)  # type: ignore[arg-type]
    # Other tests rate and write to the same department: compare with the figures before.
    before = await figures_of(department, service.today())
    for score, reasons in ((5, ["fast", "helpful"]), (4, ["fast"]), (1, ["slow"])):
        _applicant, application = await decided()
        case = (await service.cases_of(int(application.id)))[0]
        await Rating(case=case.id, department=case.department, score=score, reasons=reasons).save()
    citizen = await account(locale="en")
    await sign_in(client, citizen.phone)
    for _ in range(3):
        await send_feedback(client, department="public-security")
    late = await newest_complaint(citizen)
    await Complaint.update({Complaint.due_on: service.today() - timedelta(days=1)}).where(
        Complaint.id == late.id
    )
    inbox = await desk.get("/officer/complaints")
    assert inbox.text.count("Overdue") >= 1
    answered = (await newest_complaint(citizen)).id - 2
    detail = await desk.get(f"/officer/complaints/{answered}")
    await desk.post(
        f"/officer/complaints/{answered}/reply",
        data={"_csrf_token": csrf_from(detail), "reply": "已处理"},
    )
    after = await figures_of(department, service.today())
    assert after.ratings - before.ratings == 3
    assert {s: after.distribution[s] - before.distribution[s] for s in range(1, 6)} == {
        1: 1,
        2: 0,
        3: 0,
        4: 1,
        5: 1,
    }
    assert "fast" in dict(after.top_reasons)
    assert (after.open - before.open, after.overdue - before.overdue) == (2, 1)
    assert after.answered - before.answered == 1
    assert after.reply_days is not None and after.reply_days < 1
    assert after.average is not None and 1 <= after.average <= 5
    page = await desk.get("/officer/figures")
    assert page.status_code == 200 and "Quick" in page.text and "Average time to reply" in page.text


async def test_each_department_of_a_bundle_is_rated_for_its_own_case(client: PageClient) -> None:
    applicant, application = await submitted("open-restaurant", await account(locale="en"))
    cases = await service.cases_of(int(application.id))
    assert len(cases) >= 2
    seal = next(case for case in cases if "seal-engraving" in case.items)
    clerk = await officer("public-security")
    for action, extra in (
        ("prereview", {}),
        ("accept", {"mode": "complete"}),
        ("review", {}),
        ("approve", {}),
    ):
        case = next(c for c in await service.cases_of(int(application.id)) if c.id == seal.id)
        await service.act(clerk, int(case.id), action, version=case.version, **extra)
    await sign_in(client, applicant.phone)
    path = f"/applications/{application.id}/rating"
    page = await client.get(path)
    assert page.status_code == 200
    assert page.text.count('name="score" value="5"') == 1  # one form: the decided case
    assert "Not decided yet" in page.text
    other = next(case for case in cases if case.id != seal.id)
    refused = await client.post(
        path, data={"_csrf_token": csrf_from(page), "case": str(other.id), "score": "5"}
    )
    assert refused.status_code == 400 and "has not been decided yet" in refused.text
    rated = await client.post(
        path,
        data={"_csrf_token": csrf_from(page), "case": str(seal.id), "score": "4"},
        follow_redirects=False,
    )
    assert rated.status_code == 303
    saved = await Rating.objects().where(Rating.case.is_in([int(c.id) for c in cases]))
    assert [(r.case, r.department) for r in saved] == [(seal.id, seal.department)]
