"""What a robot's identity and kind may look like: VDA 5050 topic levels (§6.3)."""

from __future__ import annotations

import re

MAX_IDENTITY_CHARS = 100
"""The robots table's column width for manufacturer and serial number."""

# §6.3: a serial number consists of A-Z a-z 0-9 _ . : - only.
_SERIAL_NUMBER = re.compile(r"[A-Za-z0-9_.:\-]+")
# §6.3 forbids '/' in every level and advises against '$'; '+' and '#' are MQTT wildcards.
# Control characters would end up in broker password and ACL files.
_FORBIDDEN_IN_MANUFACTURER = re.compile(r"[/$+#\x00-\x1f\x7f]")
_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")


def check_manufacturer(value: str) -> str:
    """The manufacturer if it can be a topic level; ValueError saying why not."""
    if not value or value != value.strip():
        raise ValueError("must be non-empty, without leading or trailing spaces")
    if len(value) > MAX_IDENTITY_CHARS:
        raise ValueError(f"at most {MAX_IDENTITY_CHARS} characters")
    bad = _FORBIDDEN_IN_MANUFACTURER.search(value)
    if bad:
        raise ValueError(f"{bad.group()!r} cannot appear in an MQTT topic level (VDA 5050 §6.3)")
    return value


def check_serial_number(value: str) -> str:
    """The serial number if it uses only A-Z a-z 0-9 _ . : - (§6.3); ValueError otherwise."""
    if len(value) > MAX_IDENTITY_CHARS:
        raise ValueError(f"at most {MAX_IDENTITY_CHARS} characters")
    if not _SERIAL_NUMBER.fullmatch(value):
        raise ValueError("may only contain A-Z a-z 0-9 _ . : - (VDA 5050 §6.3)")
    return value


def check_kind(value: str) -> str:
    """A robot kind: a lower-case word of letters, digits and '_', at most 32 characters."""
    if not _KIND.fullmatch(value):
        raise ValueError(
            "must start with a-z and contain only a-z 0-9 _ (at most 32), e.g. uv_disinfection"
        )
    return value
