"""Standard Webhooks signatures: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``.

The signature is ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with the subscription's
secret (``whsec_<base64 key>``), made by the ``standardwebhooks`` library so any receiver using
a Standard Webhooks verifier accepts it.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def signed_headers(secret: str, delivery_id: str, body: str, now: datetime) -> dict[str, str]:
    timestamp = now.astimezone(UTC).replace(microsecond=0)
    signature = Webhook(secret).sign(delivery_id, timestamp, body)
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": "Footfall-Webhooks/1",
    }
