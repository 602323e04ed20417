"""The accounts pages, by what a person does: sign in and out (``signin``), look after their
account, passkeys and devices (``account``), and land on the staff page (``staff``). Thin:
rules live in ``sms``, ``passkeys`` and ``services``."""

from app.accounts.controllers import account, signin, staff

ROUTES = [*signin.ROUTES, *account.ROUTES, *staff.ROUTES]
