"""Brevo (formerly Sendinblue) tracking and inbound webhooks.

Brevo's webhooks carry no signature: both views are secured only by the
shared WEBHOOK_SECRET basic auth.

Tracking: one JSON event object per POST. Inbound: a JSON object whose
``items`` list holds messages Brevo has already parsed into fields. Brevo
doesn't include attachment content there, so the inbound view downloads each
attachment from Brevo's API (which is why it needs BREVO_API_KEY).
"""

from urllib.parse import quote

import requests

from ..exceptions import AnymailConfigurationError
from ..inbound import AnymailInboundMessage
from ..signals import (
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    RejectReason,
    inbound,
    tracking,
)
from ..utils import get_anymail_setting
from .base import (
    AnymailBaseWebhookView,
    epoch_to_datetime,
    esp_api_errors,
    esp_request_timeout,
    get_list,
    get_str,
    header_pairs,
    load_json,
)

DEFAULT_API_URL = "https://api.brevo.com/v3/"


class BrevoBaseWebhookView(AnymailBaseWebhookView):
    """What Brevo's tracking and inbound views have in common."""

    esp_name = "Brevo"


class BrevoTrackingWebhookView(BrevoBaseWebhookView):
    """Brevo transactional email webhooks (one event per POST)."""

    signal = tracking

    #: Brevo "event" → (event_type, reject_reason)
    event_types = {
        "request": (EventType.QUEUED, None),
        "delivered": (EventType.DELIVERED, None),
        "hard_bounce": (EventType.BOUNCED, RejectReason.BOUNCED),
        "soft_bounce": (EventType.BOUNCED, RejectReason.BOUNCED),
        "blocked": (EventType.REJECTED, RejectReason.BLOCKED),
        "spam": (EventType.COMPLAINED, RejectReason.SPAM),
        "complaint": (EventType.COMPLAINED, RejectReason.SPAM),
        "invalid_email": (EventType.BOUNCED, RejectReason.INVALID),
        "deferred": (EventType.DEFERRED, None),
        "unique_opened": (EventType.OPENED, None),
        "opened": (EventType.OPENED, None),
        "unique_proxy_open": (EventType.OPENED, None),
        "proxy_open": (EventType.OPENED, None),
        "click": (EventType.CLICKED, None),
        "unsubscribe": (EventType.UNSUBSCRIBED, None),
        "error": (EventType.FAILED, None),
        "list_addition": (EventType.SUBSCRIBED, None),
    }

    def parse_events(self, request):
        esp_event = load_json(request.body, dict)
        if "items" in esp_event:
            raise AnymailConfigurationError(
                "You seem to have set Brevo's *inbound* webhook URL"
                f" to Anymail's {self.esp_name} *tracking* webhook URL."
            )
        return [self.esp_to_anymail_event(esp_event)]

    def esp_to_anymail_event(self, esp_event):
        brevo_event = get_str(esp_event, "event")
        event_type, reject_reason = self.event_types.get(
            brevo_event, (EventType.UNKNOWN, None)
        )
        return AnymailTrackingEvent(
            event_type=event_type,
            # Brevo's "ts", "ts_event" and "date" are in the account's local
            # time zone (unlabeled); only "ts_epoch" is unambiguous
            timestamp=epoch_to_datetime(esp_event.get("ts_epoch"), milliseconds=True),
            # Brevo's "id" identifies the webhook, not the event
            event_id=None,
            esp_event=esp_event,
            message_id=get_str(esp_event, "message-id"),
            recipient=get_str(esp_event, "email"),
            metadata=_parse_metadata(esp_event.get("X-Mailin-custom")),
            tags=_parse_tags(esp_event),
            reject_reason=reject_reason,
            description=None,
            mta_response=get_str(esp_event, "reason"),
            user_agent=None,
            click_url=get_str(esp_event, "link"),
        )


class BrevoInboundWebhookView(BrevoBaseWebhookView):
    """Brevo inbound parsing webhook (any number of messages per POST)."""

    signal = inbound

    # Settings (also accepted as as_view() kwargs)
    api_key = None
    api_url = None

    def __init__(self, **kwargs):
        self.api_key = get_anymail_setting(
            "api_key", esp_name=self.esp_name, kwargs=kwargs, allow_bare=True
        )
        api_url = get_anymail_setting(
            "api_url", esp_name=self.esp_name, kwargs=kwargs, default=DEFAULT_API_URL
        )
        if not api_url.endswith("/"):
            api_url += "/"
        self.api_url = api_url
        super().__init__(**kwargs)

    def parse_events(self, request):
        payload = load_json(request.body, dict)
        if "items" not in payload:
            raise AnymailConfigurationError(
                "You seem to have set Brevo's *tracking* webhook URL"
                f" to Anymail's {self.esp_name} *inbound* webhook URL."
            )
        items = payload["items"]
        if not isinstance(items, list):
            raise TypeError(f"Brevo inbound 'items' is not a list: {items!r}")
        return [self.esp_to_anymail_event(item) for item in items]

    def esp_to_anymail_event(self, item):
        if not isinstance(item, dict):
            raise TypeError(f"Brevo inbound item is not an object: {item!r}")

        text = item.get("RawTextBody", "")
        html = item.get("RawHtmlBody", "")
        for name, value in (("RawTextBody", text), ("RawHtmlBody", html)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"Brevo inbound {name} is not a string: {value!r}")

        # Every header comes from Brevo's "Headers" object (the separate From,
        # To, Subject... fields are just conveniences derived from them)
        message = AnymailInboundMessage.construct(
            headers=header_pairs(item.get("Headers"), "Brevo inbound Headers"),
            text=text,
            html=html,
            attachments=[
                self.fetch_attachment(attachment)
                for attachment in get_list(item, "Attachments")
            ],
        )
        # Brevo doesn't give the SMTP envelope, but these headers record it
        message.envelope_sender = _header_addr_spec(message, "Return-Path")
        message.envelope_recipient = _header_addr_spec(message, "Delivered-To")
        message.stripped_text = get_str(item, "ExtractedMarkdownMessage")
        message.spam_score = item.get("SpamScore")

        return AnymailInboundEvent(
            event_type=EventType.INBOUND,
            timestamp=None,  # Brevo doesn't say when it received the message
            event_id=_first_uuid(item.get("Uuid")),
            esp_event=item,
            message=message,
        )

    def fetch_attachment(self, attachment):
        """Download one of Brevo's attachments; return an AnymailInboundMessage part.

        A failed download raises requests.HTTPError (so Brevo gets a 500 and
        will retry the whole post later).
        """
        if not isinstance(attachment, dict):
            raise TypeError(f"Brevo inbound attachment is not an object: {attachment}")
        token = attachment["DownloadToken"]
        if not isinstance(token, str):
            raise TypeError(f"Brevo DownloadToken is not a string: {token!r}")
        filename = get_str(attachment, "Name")
        content_id = get_str(attachment, "ContentID")

        url = f"{self.api_url}inbound/attachments/{quote(token, safe='')}"
        with esp_api_errors(self.esp_name, f"download attachment {filename!r}"):
            response = requests.get(
                url, headers={"api-key": self.api_key}, timeout=esp_request_timeout()
            )
        response.raise_for_status()

        # The download's Content-Type includes the charset, when there is one
        content_type = response.headers.get("Content-Type") or get_str(
            attachment, "ContentType"
        )
        content_type = content_type or "application/octet-stream"
        content = response.content

        if content_type.split(";")[0].strip().lower().startswith("message/"):
            # An attached email: parse its bytes directly (whatever their
            # charset) rather than round-tripping them through str
            part = AnymailInboundMessage.construct_attachment(
                content_type=content_type,
                content="",
                filename=filename,
                content_id=content_id,
            )
            part.set_payload([AnymailInboundMessage.parse_raw_mime_bytes(content)])
            return part
        return AnymailInboundMessage.construct_attachment(
            content_type=content_type,
            content=content,
            filename=filename,
            content_id=content_id,
        )


# ---------------------------------------------------------------------------
# Helpers (private)


def _parse_metadata(custom):
    """Anymail metadata from Brevo's X-Mailin-custom header (a JSON string)."""
    if not isinstance(custom, str) or not custom:
        return {}
    return load_json(custom, dict)  # (invalid JSON: ValueError, a 400)


def _parse_tags(esp_event):
    """Brevo sends a "tags" list, or (in older events) a single "tag"."""
    tags = esp_event.get("tags")
    if isinstance(tags, list):
        return tags
    if tags is not None:
        return [tags]
    if "tag" in esp_event:
        return [esp_event["tag"]]
    return []


def _header_addr_spec(message, header):
    """The first `header` value, without surrounding whitespace, <> or quotes."""
    value = message.get(header)
    if value is None:
        return None
    value = str(value).strip()
    angle_wrapped = value[:1] == "<" and value[-1:] == ">"
    quoted = len(value) > 1 and value[0] == value[-1] == '"'
    if angle_wrapped or quoted:
        value = value[1:-1]
    return value.strip()


def _first_uuid(uuids):
    if uuids is None:
        return None
    if isinstance(uuids, str):
        return uuids
    if not isinstance(uuids, list):
        raise TypeError(f"Brevo inbound Uuid is not a list: {uuids!r}")
    return uuids[0] if uuids else None
