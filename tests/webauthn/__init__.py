"""Tests of WebAuthn building blocks, checked against py_webauthn directly."""
