"""Outbound webhooks of the operations-centre feed: manage them, see their health and
dead letters, redeliver or discard those (admin); feed status for the console (viewer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet_server.auth.audit import record_audit
from fleet_server.auth.roles import Role
from fleet_server.db.models import FeedEvent, Site, Webhook, WebhookDelivery
from fleet_server.deps import ActorDep, CurrentUser, RequireAdmin, ServicesDep, SessionDep
from fleet_server.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from fleet_server.feeds.schemas import (
    DeadLetter,
    FeedStatus,
    FeedWebhookStatus,
    WebhookCreate,
    WebhookHealth,
    WebhookPublic,
    WebhookUpdate,
    WebhookWithSecret,
)
from fleet_server.feeds.signing import new_secret
from fleet_server.feeds.store import dead_letter_counts, pending_counts, redeliver

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DeliveryId = Annotated[int, Path(ge=1, le=2**62)]
FAILING_AFTER = 1
"""Consecutive failed tries after which a webhook counts as failing."""


def _health(hook: Webhook, pending: int, dead: int) -> WebhookHealth:
    return WebhookHealth(
        healthy=hook.consecutive_failures < FAILING_AFTER and dead == 0,
        last_success_at=hook.last_success_at,
        last_failure_at=hook.last_failure_at,
        last_error=hook.last_error,
        consecutive_failures=hook.consecutive_failures,
        pending=pending,
        dead_letters=dead,
    )


def _public(session: Session, hook: Webhook) -> WebhookPublic:
    dead = dead_letter_counts(session).get(hook.id, 0)
    pending = pending_counts(session).get(hook.id, 0)
    return WebhookPublic(
        id=hook.id,
        name=hook.name,
        url=hook.url,
        event_types=list(hook.event_types),
        site_id=hook.site_id,
        enabled=hook.enabled,
        created_by=hook.created_by,
        created_at=hook.created_at,
        health=_health(hook, pending, dead),
    )


def _with_secret(session: Session, hook: Webhook) -> WebhookWithSecret:
    return WebhookWithSecret(**_public(session, hook).model_dump(), secret=hook.secret)


def _webhook(session: Session, webhook_id: int) -> Webhook:
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound(f"no webhook {webhook_id}")
    return hook


def _check_site(session: Session, site_id: str | None) -> None:
    if site_id is not None and session.get(Site, site_id) is None:
        raise InvalidInput("site_id", f"no site {site_id!r}")


def _check_name(session: Session, name: str, webhook_id: int | None = None) -> None:
    other = session.scalar(select(Webhook).where(Webhook.name == name))
    if other is not None and other.id != webhook_id:
        raise Conflict(f"a webhook named {name!r} exists already")


@router.get("/status", response_model=FeedStatus)
def feed_status(session: SessionDep, principal: CurrentUser, services: ServicesDep) -> FeedStatus:
    """Each webhook healthy or failing, its dead letters, and the MQTT bridge (viewer)."""
    if not principal.has_anywhere(Role.VIEWER):
        raise PermissionDenied("requires the viewer role")
    dead = dead_letter_counts(session)
    hooks = session.scalars(select(Webhook).order_by(Webhook.name))
    bridge = services.feeds.bridge if services.feeds is not None else None
    return FeedStatus(
        webhooks=[
            FeedWebhookStatus(
                id=h.id,
                name=h.name,
                enabled=h.enabled,
                healthy=_health(h, 0, dead.get(h.id, 0)).healthy,
                consecutive_failures=h.consecutive_failures,
                dead_letters=dead.get(h.id, 0),
                last_success_at=h.last_success_at,
            )
            for h in hooks
        ],
        mqtt_bridge_enabled=bridge is not None,
        mqtt_bridge_connected=bridge is not None and bridge.connected,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookWithSecret)
def create(
    body: WebhookCreate, session: SessionDep, _admin: RequireAdmin, actor: ActorDep
) -> WebhookWithSecret:
    """A new webhook; the answer shows its signing secret, the only time it is shown."""
    _check_site(session, body.site_id)
    _check_name(session, body.name)
    hook = Webhook(
        name=body.name,
        url=body.url,
        secret=new_secret(),
        event_types=body.event_types,
        site_id=body.site_id,
        enabled=body.enabled,
        created_by=actor.name,
        consecutive_failures=0,
    )
    session.add(hook)
    session.flush()
    record_audit(
        session, actor, "webhook.create", target=f"webhook:{hook.id}", detail={"url": hook.url}
    )
    session.commit()
    return _with_secret(session, hook)


@router.get("", response_model=list[WebhookPublic])
def list_(session: SessionDep, _admin: RequireAdmin) -> list[WebhookPublic]:
    """Every webhook with its health."""
    return [_public(session, h) for h in session.scalars(select(Webhook).order_by(Webhook.id))]


@router.get("/{webhook_id}", response_model=WebhookPublic)
def get(webhook_id: WebhookId, session: SessionDep, _admin: RequireAdmin) -> WebhookPublic:
    """One webhook with its health."""
    return _public(session, _webhook(session, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookWithSecret | WebhookPublic)
def update(
    webhook_id: WebhookId,
    body: WebhookUpdate,
    session: SessionDep,
    _admin: RequireAdmin,
    actor: ActorDep,
) -> WebhookWithSecret | WebhookPublic:
    """Change a webhook; with `rotate_secret` the answer shows the new secret."""
    hook = _webhook(session, webhook_id)
    given = body.model_fields_set
    if body.name is not None:
        _check_name(session, body.name, hook.id)
        hook.name = body.name
    if body.url is not None:
        hook.url = body.url
    if body.event_types is not None:
        hook.event_types = body.event_types
    if "site_id" in given:
        _check_site(session, body.site_id)
        hook.site_id = body.site_id
    if body.enabled is not None:
        hook.enabled = body.enabled
    if body.rotate_secret:
        hook.secret = new_secret()
    record_audit(
        session,
        actor,
        "webhook.update",
        target=f"webhook:{hook.id}",
        detail={"fields": sorted(given)},
    )
    session.commit()
    return _with_secret(session, hook) if body.rotate_secret else _public(session, hook)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(
    webhook_id: WebhookId, session: SessionDep, _admin: RequireAdmin, actor: ActorDep
) -> Response:
    """Delete a webhook with its pending deliveries and dead letters."""
    hook = _webhook(session, webhook_id)
    session.delete(hook)
    record_audit(session, actor, "webhook.delete", target=f"webhook:{webhook_id}")
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _dead_letter(session: Session, webhook_id: int, delivery_id: int) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.webhook_id != webhook_id or delivery.state != "dead":
        raise NotFound(f"no dead letter {delivery_id} of webhook {webhook_id}")
    return delivery


@router.get("/{webhook_id}/dead-letters", response_model=list[DeadLetter])
def dead_letters(
    webhook_id: WebhookId,
    session: SessionDep,
    _admin: RequireAdmin,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeadLetter]:
    """Deliveries that failed their last try, oldest first."""
    _webhook(session, webhook_id)
    query = (
        select(WebhookDelivery, FeedEvent)
        .join(FeedEvent, FeedEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.state == "dead")
        .order_by(WebhookDelivery.id)
        .limit(limit)
    )
    return [
        DeadLetter(
            id=d.id,
            event={
                "id": str(e.id),
                "type": e.type,
                "site_id": e.site_id,
                "occurred_at": e.occurred_at.isoformat(),
                "data": e.data,
            },
            attempts=d.attempts,
            last_status=d.last_status,
            last_error=d.last_error,
            dead_since=d.finished_at,
        )
        for d, e in session.execute(query).all()
    ]


@router.post(
    "/{webhook_id}/dead-letters/{delivery_id}/redeliver", status_code=status.HTTP_202_ACCEPTED
)
def redeliver_(
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
    session: SessionDep,
    services: ServicesDep,
    _admin: RequireAdmin,
    actor: ActorDep,
) -> dict[str, str]:
    """Queue a dead letter again, with a fresh count of tries."""
    delivery = _dead_letter(session, webhook_id, delivery_id)
    redeliver(session, delivery, datetime.now(UTC))
    record_audit(
        session,
        actor,
        "webhook.redeliver",
        target=f"webhook:{webhook_id}",
        detail={"delivery": delivery_id},
    )
    session.commit()
    if services.feeds is not None:
        services.feeds.wake_sender_from_thread()
    return {"state": "pending"}


@router.delete("/{webhook_id}/dead-letters/{delivery_id}", status_code=status.HTTP_204_NO_CONTENT)
def discard(
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
    session: SessionDep,
    _admin: RequireAdmin,
    actor: ActorDep,
) -> Response:
    """Drop a dead letter for good."""
    session.delete(_dead_letter(session, webhook_id, delivery_id))
    record_audit(
        session,
        actor,
        "webhook.discard",
        target=f"webhook:{webhook_id}",
        detail={"delivery": delivery_id},
    )
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
