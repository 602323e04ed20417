"""The counter and the floor board over HTTP: a passkey session is needed, the officer picks a
counter kept in the session, calls the next number, and the citizen's page and the hall
display show it; the floor manager sees waits with long ones flagged."""

from __future__ import annotations

from datetime import timedelta

from app.accounts.tables import Role
from app.appointments import queue
from app.appointments.slots import utcnow
from app.appointments.tables import Counter, Ticket
from tests.accounts.helpers import sign_in
from tests.accounts.test_sms_signin import fresh_phone
from tests.appointments.helpers import post_form
from tests.appointments.people import centre
from tests.conftest import PageClient
from tests.people import staff_signed_in


async def test_counter_needs_an_officer_in_a_passkey_session(client: PageClient) -> None:
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    assert (await client.get("/counter")).status_code == 403
    assert (await client.get("/floor")).status_code == 403
    client.cookies.clear()
    await staff_signed_in(client, Role.FLOOR_MANAGER)
    assert (await client.get("/counter")).status_code == 403
    assert (await client.get("/floor")).status_code == 200


async def test_officer_calls_the_next_number_and_the_citizen_sees_it(client: PageClient) -> None:
    place = await centre()
    counter = await Counter.objects().where(Counter.centre == place.id, Counter.number == 1).first()
    assert counter is not None
    ticket = await queue.walk_in(place, "market", None)
    ref = queue.ticket_ref(int(ticket.id))

    number = queue.label(ticket.prefix, ticket.number)
    hall = f"/centres/{place.id}/board"
    assert number not in (await client.get(hall)).text  # the hall display, now in the cache

    await staff_signed_in(client, Role.OFFICER)
    choose = await client.get("/counter")
    assert choose.status_code == 200 and "Choose your counter" in choose.text
    chosen = await post_form(client, "/counter", "/counter/choose", counter=str(counter.id))
    assert chosen.status_code == 303  # type: ignore[attr-defined]
    page = await client.get("/counter")
    assert "Counter 1" in page.text and queue.label(ticket.prefix, ticket.number) in page.text
    fragment = await client.get("/counter", headers={"HX-Request": "true"})
    assert 'id="counter-waiting"' in fragment.text and "<html" not in fragment.text
    called = await post_form(client, "/counter", "/counter/next")
    assert called.status_code == 303  # type: ignore[attr-defined]
    page = await client.get("/counter")
    assert "Now serving" in page.text and "Call again" in page.text

    # The ticket page and the hall display are public: whoever holds the number sees them.
    status = await client.get(f"/tickets/{ref}", headers={"HX-Request": "true"})
    assert "Called — counter 1" in status.text
    assert number in (await client.get(hall)).text

    for _n in range(2):
        await post_form(client, "/counter", f"/counter/tickets/{ticket.id}/recall")
    page = await client.get("/counter")
    assert "No-show" in page.text
    await post_form(client, "/counter", f"/counter/tickets/{ticket.id}/no_show")
    row = await Ticket.objects().where(Ticket.id == ticket.id).first()
    assert row is not None and row.state == "no_show"
    for headers in ({}, {"HX-Request": "true"}):  # the page and the fragment htmx polls
        assert number not in (await client.get(hall, headers=headers)).text
    refused = await post_form(client, "/counter", f"/counter/tickets/{ticket.id}/explode")
    assert refused.status_code == 404  # type: ignore[attr-defined]
    left = await post_form(client, "/counter", "/counter/leave")
    assert left.status_code == 303  # type: ignore[attr-defined]
    assert "Choose your counter" in (await client.get("/counter")).text
    nothing = await post_form(client, "/counter", "/counter/next")
    assert nothing.status_code == 404  # type: ignore[attr-defined]


async def test_floor_board_highlights_long_waits(client: PageClient) -> None:
    place = await centre()
    old = await queue.walk_in(place, "market", None)
    await Ticket.update({Ticket.issued_at: utcnow() - timedelta(minutes=31)}).where(
        Ticket.id == old.id
    )
    await staff_signed_in(client, Role.FLOOR_MANAGER)
    board = await client.get(f"/floor/centres/{place.id}")
    assert board.status_code == 200
    assert "long wait" in board.text and "31 min" in board.text
    fragment = await client.get(f"/floor/centres/{place.id}", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and 'hx-trigger="every 10s"' in fragment.text
    assert (await client.get("/floor/centres/0")).status_code == 404
