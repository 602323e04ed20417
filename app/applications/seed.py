"""Demo applications for ``make run``: the demo citizens' applications in most states, most of
them in the market-regulation department, whose demo officer (+8613800000011) sees them in the
inbox.

Everything goes through app/applications/service.py — start, choose, attach, submit, act — so
each application has its real audit trail, notifications and (for the issued one) licence; the
uploaded pages are real PNG files stored through app/files/service.py in the configured
storage. Run once: nothing happens when any application exists.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from PIL import Image, ImageDraw

from app.accounts.tables import Account
from app.applications import service
from app.applications.tables import Application, Provision
from app.catalogue.guide import Answers, Guide
from app.catalogue.services import _load_bundles, read_item
from app.config import get_settings
from app.core.logging import get_logger
from app.files import service as files
from app.files.storage import Storage, storage_from_settings
from app.licences.services import licences_of

log = get_logger("applications")

ZHANG_SAN, LI_SI = "+8613800000001", "+8613800000002"
OFFICER = "+8613800000011"  # market-regulation
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Demo:
    """One demo application: who applies for what, and what the officer does with its
    market-regulation case (each action in turn; other departments' cases stay submitted)."""

    phone: str
    code: str  # an item or a bundle
    answers: Mapping[str, frozenset[str]]
    actions: tuple[tuple[str, str], ...] = ()  # (action, reason or acceptance mode)
    missing: tuple[str, ...] = ()  # tolerated materials (容缺), owed after acceptance
    returned: tuple[str, ...] = ()  # the materials a return for correction names


RESTAURANT = frozenset({"restaurant"})
DEMOS = (
    Demo(ZHANG_SAN, "company-establishment", {}),
    Demo(ZHANG_SAN, "individual-business-registration", {}, (("prereview", ""),)),
    Demo(
        ZHANG_SAN,
        "business-licence-replacement",
        {},
        (("prereview", ""), ("return", "申请书未签字，请签字后重新拍摄上传。")),
        returned=("application_form",),
    ),
    Demo(
        ZHANG_SAN,
        "food-business-licence",
        {"business_type": RESTAURANT},
        (("prereview", ""), ("accept", "tolerated")),
        missing=("safety_manager",),
    ),
    Demo(
        ZHANG_SAN,
        "open-restaurant",
        {
            "food-business-licence.business_type": RESTAURANT,
            "drainage-permit.discharger": frozenset({"catering"}),
        },
        (("prereview", ""), ("accept", "complete"), ("review", "")),
    ),
    Demo(
        LI_SI,
        "food-business-licence-change",
        {},
        (("prereview", ""), ("accept", "complete"), ("review", "")),
    ),
    Demo(
        LI_SI,
        "special-equipment-registration",
        {},
        (("prereview", ""), ("accept", "complete"), ("review", ""), ("approve", "")),
    ),
    Demo(
        LI_SI,
        "company-deregistration-online",
        {},
        (("prereview", ""), ("reject", "清算报告未经全体股东签字确认，不符合注销条件。")),
    ),
    Demo(LI_SI, "hk-macao-permit", {}),
)


def page_png(label: str) -> bytes:
    """A small scanned-looking page: big enough for the image check (400 px a side)."""
    image = Image.new("L", (600, 800), 250)
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 560, 760), outline=60, width=3)
    draw.text((70, 80), f"Tongban demo: {label}"[:60], fill=20)
    for y in range(140, 720, 28):
        draw.line((70, y, 530, y), fill=170)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _guide(code: str) -> Guide:
    item = await read_item(code)
    if item is not None:
        return Guide.of(code, (item,))
    bundle = next(found for found in await _load_bundles() if found.code == code)
    items = tuple([found for c in bundle.items if (found := await read_item(c))])
    return Guide.of(code, items, bundle)


async def _held(account: Account) -> dict[str, int]:
    """The licence types in the applicant's library, as the guide marks them 免于提交."""
    return {view.type_code: int(view.id) for view in await licences_of(int(account.id))}


async def _reload(application: Application) -> Application:
    found = await service.application_of(int(application.applicant), int(application.id))
    assert found is not None
    return found


async def _provide(
    account: Account, application: Application, demo: Demo, storage: Storage
) -> Application:
    max_bytes = get_settings().max_upload_mb * MIB
    for entry in await service.entries_of(int(application.id)):
        if entry.code in demo.missing and Provision.MISSING in service.provisions_for(entry):
            await service.choose(account, application, int(entry.id), Provision.MISSING)
        elif entry.provision in (Provision.NONE, Provision.UPLOAD) and (
            Provision.UPLOAD in service.provisions_for(entry)
        ):
            stored = await files.receive(
                storage,
                int(account.id),
                f"{entry.code}.png",
                _chunks(page_png(entry.code)),
                max_bytes=max_bytes,
                purpose="application",
            )
            await service.attach(await _reload(application), int(entry.id), stored)
    return await _reload(application)


async def _play(demo: Demo, people: dict[str, Account], storage: Storage) -> None:
    account, officer = people[demo.phone], people[OFFICER]
    guide = await _guide(demo.code)
    answers: Answers = dict(demo.answers)
    application = await service.start(account, guide, answers, await _held(account))
    application = await _provide(account, application, demo, storage)
    await service.submit(
        account, application, version=application.version, assurance=2, items=guide.items
    )
    for action, detail in demo.actions:
        case = next(
            case
            for case in await service.cases_of(int(application.id))
            if case.department == officer.department
        )
        mode = detail if action == "accept" else ""
        reason = "" if action == "accept" else detail
        materials = demo.returned if action == "return" else ()
        await service.act(
            officer,
            int(case.id),
            action,
            version=case.version,
            reason=reason,
            mode=mode,
            materials=materials,
        )


async def seed_applications() -> int:
    """The demo applications, unless there are applications already; returns how many."""
    if await Application.exists():
        return 0
    phones = (ZHANG_SAN, LI_SI, OFFICER)
    people = {
        person.phone: person
        for person in await Account.objects().where(Account.phone.is_in(list(phones)))
    }
    if set(people) != set(phones):
        return 0  # the demo accounts were removed: nobody to apply
    # The demo citizens count as verified at the counter (assurance 2): the items need it, and
    # the demo shows what a verified citizen sees.
    await Account.update({Account.identity_verified_at: datetime.now(UTC)}).where(
        Account.phone.is_in([ZHANG_SAN, LI_SI]), Account.identity_verified_at.is_null()
    )
    storage = storage_from_settings(get_settings())
    for demo in DEMOS:
        await _play(demo, people, storage)
    log.info("applications_seed_success", count=len(DEMOS))
    return len(DEMOS)
