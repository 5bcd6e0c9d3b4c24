"""Webhook signatures: `X-Fleet-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.

The key is the webhook's secret (shown once when the webhook is created or its secret
rotated). A receiver computes the HMAC of the body bytes exactly as received, compares it
in constant time, then drops events whose `id` it has seen (deliveries are at-least-once)
and, if it wants replay protection, requests whose `X-Fleet-Timestamp` is too old.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Fleet-Signature"
TIMESTAMP_HEADER = "X-Fleet-Timestamp"
EVENT_ID_HEADER = "X-Fleet-Event-Id"
EVENT_TYPE_HEADER = "X-Fleet-Event"
DELIVERY_HEADER = "X-Fleet-Delivery"
SCHEME = "sha256="
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh random signing secret (URL-safe text, 256 bits)."""
    return "whsec_" + secrets.token_urlsafe(SECRET_BYTES)


def signature(secret: str, body: bytes) -> str:
    """The header value for `body` signed with `secret`."""
    return SCHEME + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of `body` with `secret` (constant-time compare)."""
    if not header or not header.startswith(SCHEME):
        return False
    return hmac.compare_digest(signature(secret, body), header)
