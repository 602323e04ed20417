"""Checks on text that people type."""

from __future__ import annotations

import re


def has_control_characters(text: str) -> bool:
    """True for any character below 0x20 (tab, CR, LF…) or DEL: never wanted in a name or a
    path, and browsers silently drop tab, CR and LF from URLs (URL Standard)."""
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)


# What free text may not hold:
# - C0 controls and DEL (NUL breaks PostgreSQL text; browsers drop tab/CR/LF from URLs) and
#   C1 controls;
# - Unicode bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069),
#   which display text in another order than it is stored ("Trojan Source", CVE-2021-42574):
#   a passkey named "\u202elanigiro" would read as something else on the account page;
# - line and paragraph separators (U+2028, U+2029).
_INVISIBLE = "\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029"
_SINGLE_LINE = re.compile(f"[\x00-\x1f{_INVISIBLE}]")
_MULTI_LINE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f{_INVISIBLE}]")  # tab, LF, CR allowed


def unsafe_text(value: str, *, multiline: bool = False) -> bool:
    """True when ``value`` holds a character refused in free text (see the comment above)."""
    return (_MULTI_LINE if multiline else _SINGLE_LINE).search(value) is not None
