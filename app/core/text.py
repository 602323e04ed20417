"""Checks on text that people type."""

from __future__ import annotations


def has_control_characters(text: str) -> bool:
    """True for any character below 0x20 (tab, CR, LF…) or DEL: never wanted in a name or a
    path, and browsers silently drop tab, CR and LF from URLs (URL Standard)."""
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)
