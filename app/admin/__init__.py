"""Catalogue administration for admins (piccolo-admin behind Tongban's own sign-in)."""
