"""Protocol-wide constants and the VDA 5050 timestamp format (§6.4)."""

from __future__ import annotations

from datetime import UTC, datetime

PROTOCOL_VERSION = "2.1.0"
"""Value of the ``version`` header field of every message we send (§6.4)."""

MAJOR_VERSION = "v2"
"""Major-version topic level, "v" followed by the major number (§6.3)."""

UINT32_MAX = 2**32 - 1
"""Upper bound of the spec's ``uint32`` fields (headerId, sequenceId, orderUpdateId, ...)."""


def utc_timestamp(now: datetime | None = None) -> str:
    """Format ``now`` (default: the current time) as ISO 8601 UTC with milliseconds and 'Z'.

    §6.4 asks for ``YYYY-MM-DDTHH:mm:ss.ffZ``; milliseconds keep every message sortable
    at state-message rates. Naive datetimes are refused because their zone is a guess.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"timestamp {now.isoformat()} has no time zone; pass an aware datetime")
    # isoformat truncates to milliseconds (never rounds up into the next second) and is
    # about twice as fast as strftime; this runs for every message encoded.
    return now.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
