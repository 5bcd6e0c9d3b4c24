"""The ``instantActions`` message, master control → vehicle (§6.9)."""

from __future__ import annotations

from missions.vda5050.common import Action, Header


class InstantActions(Header):
    """Actions the vehicle is to execute as soon as they arrive (§6.9)."""

    actions: list[Action]
