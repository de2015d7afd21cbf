"""The stand-in ESPs' webhook side: tracking events posted back to your site.

After the stand-in (example/standin.py) has "sent" a message, these functions
build the delivery event the real ESP would post to its tracking webhook, and
post it over real HTTP, authenticated the way that ESP does it:

- Postmark: JSON event, with HTTP Basic credentials in the webhook URL
  (Anymail's WEBHOOK_SECRET).
- Mailgun: JSON event signed with the webhook signing key (HMAC-SHA256 of
  timestamp + token), plus the same Basic credentials if given.

Standard library only, like the stand-in itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import secrets
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "mailgun_delivered_event",
    "post_webhook",
    "postmark_delivery_event",
]


def postmark_delivery_event(
    message_id: str, recipient: str, *, tag: str = "", metadata: dict | None = None
) -> dict[str, Any]:
    """A Postmark Delivery webhook payload."""
    return {
        "RecordType": "Delivery",
        "ServerID": 1,
        "MessageStream": "outbound",
        "MessageID": message_id,
        "Recipient": recipient,
        "Tag": tag,
        "DeliveredAt": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "Details": "smtp;250 2.0.0 OK (stand-in)",
        "Metadata": metadata or {},
    }


def mailgun_delivered_event(
    message_id: str,
    recipient: str,
    *,
    signing_key: str,
    tags: list[str] | None = None,
    user_variables: dict | None = None,
) -> dict[str, Any]:
    """A signed Mailgun "delivered" webhook payload (current JSON format).

    `message_id` is as the send API returned it ("<...>"); Mailgun's events
    carry it without the angle brackets.
    """
    timestamp = str(int(time.time()))
    token = secrets.token_hex(25)
    signature = hmac.new(
        signing_key.encode("ascii"),
        (timestamp + token).encode("ascii"),
        hashlib.sha256,
    ).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": {
            "id": secrets.token_urlsafe(16),
            "timestamp": time.time(),
            "event": "delivered",
            "recipient": recipient,
            "message": {"headers": {"message-id": message_id.strip("<>")}},
            "tags": tags or [],
            "user-variables": user_variables or {},
            "delivery-status": {
                "code": 250,
                "message": "OK (stand-in)",
                "description": "",
            },
        },
    }


def post_webhook(
    url: str, payload: Any, *, basic_auth: str | None = None, timeout: float = 10.0
) -> tuple[int, bytes]:
    """POST `payload` as JSON to `url`; returns (HTTP status, response body).

    `basic_auth` ("user:password") is sent as an HTTP Basic Authorization
    header, as ESPs do for credentials embedded in the webhook URL.
    """
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname, parts.port or 80, timeout=timeout
    )
    headers = {"Content-Type": "application/json", "User-Agent": "anymail-standin/1.0"}
    if basic_auth:
        token = base64.b64encode(basic_auth.encode("utf-8")).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        connection.request("POST", path, body=json.dumps(payload), headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
