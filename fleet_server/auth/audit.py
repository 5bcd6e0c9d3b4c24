"""The audit trail: every mutating call and security event, and queries over it."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from fleet_server.auth.roles import Principal
from fleet_server.db.models import AuditEntry
from fleet_server.errors import InvalidInput


@dataclass(frozen=True)
class Actor:
    """On whose behalf a change is made, and the request that made it."""

    name: str
    request_id: str | None = None
    token_prefix: str | None = None

    @classmethod
    def of(cls, principal: Principal, request_id: str | None) -> Actor:
        """The actor for a signed-in principal."""
        return cls(principal.username, request_id, principal.via_api_token)


SYSTEM = Actor("system")


def record_audit(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target: str | None = None,
    site_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the session; it commits with the change it describes."""
    body = dict(detail or {})
    if actor.token_prefix:
        body["api_token"] = actor.token_prefix
    entry = AuditEntry(
        actor=actor.name,
        action=action,
        target=target,
        site_id=site_id,
        detail=body,
        request_id=actor.request_id,
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to list; every field is optional."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    site_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def encode_cursor(last_id: int) -> str:
    """An opaque cursor that continues after the entry `last_id` (newest first)."""
    raw = json.dumps({"before": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The entry id a cursor continues after; `InvalidInput` naming `cursor` if it is not one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        before = value["before"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor", "not a cursor returned by this endpoint") from exc
    if not isinstance(before, int) or isinstance(before, bool) or before < 1:
        raise InvalidInput("cursor", "not a cursor returned by this endpoint")
    return before


def _filtered(query: Select[AuditEntry], where: AuditFilter) -> Select[AuditEntry]:
    if where.actor is not None:
        query = query.where(AuditEntry.actor == where.actor)
    if where.action is not None:
        query = query.where(AuditEntry.action == where.action)
    if where.target is not None:
        query = query.where(AuditEntry.target == where.target)
    if where.site_id is not None:
        query = query.where(AuditEntry.site_id == where.site_id)
    if where.since is not None:
        query = query.where(AuditEntry.at >= where.since)
    if where.until is not None:
        query = query.where(AuditEntry.at < where.until)
    return query


def list_audit(
    session: Session, where: AuditFilter, cursor: str | None, limit: int
) -> tuple[Sequence[AuditEntry], str | None]:
    """One page of entries, newest first, and the cursor of the next page (None at the end)."""
    query = _filtered(select(AuditEntry), where)
    if cursor is not None:
        query = query.where(AuditEntry.id < decode_cursor(cursor))
    rows = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], encode_cursor(rows[limit - 1].id)
    return rows, None
