"""The audit trail, for admins: filtered, newest first, in pages linked by a cursor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel

from fleet_server.auth.audit import AuditFilter, list_audit
from fleet_server.db.models import AuditEntry
from fleet_server.deps import RequireAdmin, SessionDep
from fleet_server.errors import InvalidInput

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditEntryPublic(BaseModel):
    """One audit record."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    site_id: str | None
    detail: dict[str, Any]
    request_id: str | None


class AuditPage(BaseModel):
    """A page of entries and the cursor for the next one (null on the last page)."""

    items: list[AuditEntryPublic]
    next_cursor: str | None


def entry_public(entry: AuditEntry) -> AuditEntryPublic:
    """The API view of an audit row."""
    return AuditEntryPublic(
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        site_id=entry.site_id,
        detail=entry.detail,
        request_id=entry.request_id,
    )


Text = Annotated[str | None, Query(max_length=200)]


def _in_utc(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:00-05:00 is past the last year
        raise InvalidInput(field, "out of the supported date range") from exc


@router.get("", response_model=AuditPage)
def list_entries(
    _: RequireAdmin,
    session: SessionDep,
    actor: Text = None,
    action: Text = None,
    target: Text = None,
    site_id: Text = None,
    since: Annotated[AwareDatetime | None, Query()] = None,
    until: Annotated[AwareDatetime | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Entries matching every filter given; `since` inclusive, `until` exclusive."""
    where = AuditFilter(
        actor, action, target, site_id, _in_utc(since, "since"), _in_utc(until, "until")
    )
    entries, next_cursor = list_audit(session, where, cursor, limit)
    return AuditPage(items=[entry_public(e) for e in entries], next_cursor=next_cursor)
