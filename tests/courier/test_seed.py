"""The courier demo data (app/courier/seed.py), seeded with the rest at the start of the test
session: the demo courier has jobs, dispatch has one waiting, a second run adds nothing."""

from __future__ import annotations

from app.accounts.tables import Account
from app.courier import service
from app.courier.seed import COURIER, seed_courier
from app.courier.tables import Status


async def test_the_demo_courier_has_jobs_and_dispatch_has_one_waiting() -> None:
    courier = await Account.objects().where(Account.phone == COURIER).first()
    assert courier is not None
    jobs = await service.jobs_of(int(courier.id))
    assert {job.status for job in jobs} >= {Status.ASSIGNED, Status.IN_TRANSIT}
    assert {job.kind for job in jobs} == {"pickup", "delivery"}
    board = await service.board()
    assert any(s.kind == "pickup" for s in board.unassigned)
    assert await seed_courier() == 0
