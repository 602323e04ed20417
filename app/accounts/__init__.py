"""Accounts: sign-in by SMS code and passkeys, roles, assurance levels, login sessions.

Exports the tables (``Account``, ``SmsChallenge``, ``Passkey``, ``LoginSession``), the guards in
``guards`` and the route handlers in ``controllers.ROUTES``.
"""
