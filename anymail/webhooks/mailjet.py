"""Mailjet tracking and inbound webhooks.

Tracking: Mailjet's event webhooks ("triggers") post JSON, either an array of
event objects (when "group events" is on) or one bare event object.

Inbound: Mailjet's Parse API posts one already-parsed message as a JSON
object: its headers, its text and HTML bodies, and every attachment as a
base64 string under a top-level key named by the part's ``ContentRef``.

Mailjet doesn't sign either webhook, so both are secured only by the shared
WEBHOOK_SECRET basic auth (and warn when it isn't set).
"""

import json
import math
import re
from base64 import b64decode
from email.encoders import encode_base64

from ..inbound import AnymailInboundMessage
from ..signals import (
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    RejectReason,
    inbound,
    tracking,
)
from .base import (
    AnymailBaseWebhookView,
    epoch_to_datetime,
    get_list,
    get_str,
    header_pairs,
    load_json,
)


class MailjetTrackingWebhookView(AnymailBaseWebhookView):
    """Mailjet event webhooks: sent, open, click, bounce, blocked, spam, unsub."""

    esp_name = "Mailjet"
    signal = tracking

    #: Mailjet ``event`` → Anymail event_type (anything else is "unknown")
    event_types = {
        "sent": EventType.DELIVERED,  # accepted by the receiving MTA
        "open": EventType.OPENED,
        "click": EventType.CLICKED,
        "bounce": EventType.BOUNCED,
        "blocked": EventType.REJECTED,
        "spam": EventType.COMPLAINED,
        "unsub": EventType.UNSUBSCRIBED,
    }

    #: Mailjet ``error`` → Anymail reject_reason (anything else is "other")
    reject_reasons = {
        # recipient problems
        "user unknown": RejectReason.BOUNCED,
        "mailbox inactive": RejectReason.BOUNCED,
        "quota exceeded": RejectReason.BOUNCED,
        "blacklisted": RejectReason.BLOCKED,
        "spam reporter": RejectReason.SPAM,
        # domain problems
        "invalid domain": RejectReason.BOUNCED,
        "no mail host": RejectReason.BOUNCED,
        "relay/access denied": RejectReason.BOUNCED,
        "greylisted": RejectReason.OTHER,  # temporary: Mailjet retries
        "typofix": RejectReason.INVALID,
        # content and policy problems
        "sender blocked": RejectReason.BLOCKED,
        "content blocked": RejectReason.BLOCKED,
        "policy issue": RejectReason.BLOCKED,
        # Mailjet's own decisions
        "preblocked": RejectReason.BLOCKED,
        "duplicate in campaign": RejectReason.OTHER,
    }

    def parse_events(self, request):
        esp_events = load_json(request.body)
        if isinstance(esp_events, dict):
            # "group events" off: one bare event per post
            esp_events = [esp_events]
        elif not isinstance(esp_events, list):
            raise TypeError(
                "Mailjet tracking payload must be a JSON array or object,"
                f" not {type(esp_events).__name__}"
            )
        return [self.esp_to_anymail_event(esp_event) for esp_event in esp_events]

    def esp_to_anymail_event(self, esp_event):
        if not isinstance(esp_event, dict):
            raise TypeError(
                f"Mailjet tracking event must be a JSON object, not {esp_event!r}"
            )
        if "event" not in esp_event:
            # (e.g., a Parse API inbound message posted to the tracking URL)
            raise KeyError(
                "Mailjet tracking event has no 'event' field"
                " (is this Mailjet's inbound parse route?)"
            )
        mailjet_event = esp_event["event"]
        event_type = EventType.UNKNOWN
        if isinstance(mailjet_event, str):
            event_type = self.event_types.get(mailjet_event, EventType.UNKNOWN)

        if "error" in esp_event:
            error = esp_event["error"]
            reject_reason = RejectReason.OTHER
            if isinstance(error, str):
                reject_reason = self.reject_reasons.get(error, RejectReason.OTHER)
            if error == "greylisted" and not esp_event.get("hard_bounce"):
                # a temporary failure that Mailjet will retry
                event_type = EventType.DEFERRED
        else:
            reject_reason = None

        message_id = esp_event.get("MessageID")
        if message_id is not None:
            # Mailjet's MessageID is a (big) integer: as a string it matches
            # the message_id in the send's anymail_status
            message_id = str(message_id)

        campaign = get_str(esp_event, "customcampaign")
        tags = [campaign] if campaign else []

        seconds = esp_event.get("time")
        if isinstance(seconds, str):
            seconds = float(seconds)  # (ValueError if it isn't numeric)

        return AnymailTrackingEvent(
            event_type=event_type,
            timestamp=epoch_to_datetime(seconds),
            event_id=None,  # Mailjet gives its events no unique id
            esp_event=esp_event,
            message_id=message_id,
            recipient=get_str(esp_event, "email"),
            metadata=_decode_payload(esp_event.get("Payload")),
            tags=tags,
            reject_reason=reject_reason,
            description=None,
            mta_response=get_str(esp_event, "smtp_reply"),
            user_agent=get_str(esp_event, "agent"),
            click_url=get_str(esp_event, "url"),
        )


class MailjetInboundWebhookView(AnymailBaseWebhookView):
    """Mailjet Parse API: one received message per post."""

    esp_name = "Mailjet"
    signal = inbound

    def parse_events(self, request):
        esp_event = load_json(request.body)
        if isinstance(esp_event, list):
            raise TypeError(
                "Mailjet inbound payload is a JSON array, not one parsed message"
                " (is a Mailjet event webhook pointed at the inbound URL?)"
            )
        if not isinstance(esp_event, dict):
            raise TypeError(
                "Mailjet inbound payload must be a JSON object,"
                f" not {type(esp_event).__name__}"
            )
        is_parsed_message = "Headers" in esp_event or "Parts" in esp_event
        if "event" in esp_event and not is_parsed_message:
            raise ValueError(
                "Mailjet inbound payload looks like a tracking event"
                " (is a Mailjet event webhook pointed at the inbound URL?)"
            )
        return [self.esp_to_anymail_event(esp_event)]

    def esp_to_anymail_event(self, esp_event):
        # Mailjet doesn't post the raw message, so rebuild one from the parsed
        # fields. (The top-level From, Subject and Date convenience fields
        # repeat the Headers, so they aren't needed.)
        headers = _flatten_headers(esp_event.get("Headers"))
        attachments = [
            self.construct_attachment(part, esp_event)
            for part in get_list(esp_event, "Parts")
            if self.is_attachment_part(part)
        ]
        message = AnymailInboundMessage.construct(
            headers=headers,
            text=_get_text(esp_event, "Text-part"),
            html=_get_text(esp_event, "Html-part"),
            attachments=attachments,
        )
        message.envelope_sender = get_str(esp_event, "Sender")
        message.envelope_recipient = get_str(esp_event, "Recipient")
        message.spam_detected = None  # Mailjet gives only a score
        message.spam_score = _spam_score(esp_event.get("SpamAssassinScore"))

        return AnymailInboundEvent(
            event_type=EventType.INBOUND,
            timestamp=None,  # no receipt time (the Date header is the send time)
            event_id=None,
            esp_event=esp_event,
            message=message,
        )

    @staticmethod
    def is_attachment_part(part):
        """Whether a Parts item is an attachment (or inline), not a body."""
        if not isinstance(part, dict):
            raise TypeError(f"Mailjet Parts item is not an object: {part!r}")
        content_ref = part.get("ContentRef")
        if content_ref is None:
            return False
        if not isinstance(content_ref, str):
            raise TypeError(f"Mailjet ContentRef is not a string: {content_ref!r}")
        # Attachment1, InlineAttachment1, ... (but not Text-part, Html-part
        # or the multipart containers)
        return "Attachment" in content_ref

    @staticmethod
    def construct_attachment(part, esp_event):
        # Read the part's own headers with the email package, which handles
        # RFC 2231 filenames, quoting and the Content-Type name fallback
        part_headers = AnymailInboundMessage()
        for name, value in _flatten_headers(part.get("Headers")):
            part_headers.append_raw_header(name, value)

        content_ref = part["ContentRef"]
        if content_ref not in esp_event:
            raise KeyError(f"Mailjet inbound payload has no {content_ref!r} content")
        encoded = esp_event[content_ref]
        if not isinstance(encoded, str):
            raise TypeError(f"Mailjet {content_ref!r} content is not a string")
        content = _decode_base64(encoded)

        content_type = part_headers.get_content_type()  # text/plain if missing
        if part_headers.get_content_maintype() == "multipart":
            # an opaque blob can't be a multipart container
            content_type = "application/octet-stream"
        filename = part_headers.get_filename()
        content_id = str(part_headers.get("Content-ID", "")).strip() or None

        if part_headers.get_content_maintype() == "message":
            # Parse the attached message from its bytes, so one with 8-bit
            # non-UTF-8 content is still read (leniently), not refused
            attachment = AnymailInboundMessage.construct_attachment(
                content_type=content_type,
                content="",
                filename=filename,
                content_id=content_id,
            )
            attachment.set_payload(
                [AnymailInboundMessage.parse_raw_mime_bytes(content)]
            )
            return attachment

        attachment = AnymailInboundMessage.construct_attachment(
            content_type=content_type,
            content=content,
            filename=filename,
            content_id=content_id,
        )
        charset = part_headers.get_content_charset()
        if charset:
            # Label the charset, but keep the content byte for byte (having
            # construct_attachment re-encode it can change its line endings)
            attachment.set_param("charset", charset)
        # Base64 transfer encoding keeps the content exact through as_bytes()
        encode_base64(attachment)
        return attachment


# Helpers


def _get_text(data, key):
    """Like get_str, but safe to encode (lone surrogates become U+FFFD)."""
    value = get_str(data, key)
    return None if value is None else _clean_text(value)


def _decode_payload(payload):
    """Mailjet's Payload (the JSON string sent as EventPayload) → metadata dict.

    Missing, empty, or not a JSON object → {}.
    """
    if not payload or not isinstance(payload, str):
        return {}
    try:
        metadata = json.loads(payload)
    except ValueError:
        return {}
    return metadata if isinstance(metadata, dict) else {}


def _spam_score(value):
    """float(SpamAssassinScore) when it's a number or numeric string, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        score = float(value)
    except ValueError:
        return None
    return score if math.isfinite(score) else None


def _flatten_headers(headers):
    """Mailjet's Headers object → [(name, value), ...] in order."""
    return [
        (name, _clean_text(value))
        for name, value in header_pairs(headers, "Mailjet Headers")
    ]


def _clean_text(text):
    """text with any lone surrogates (from JSON \\ud800 escapes) → U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")


def _decode_base64(encoded):
    """Leniently decode base64: skips stray characters, tolerates lost padding."""
    data = _NOT_BASE64.sub("", encoded)
    if len(data) % 4 == 1:
        data = data[:-1]  # a truncated final character carries no whole byte
    data += "=" * (-len(data) % 4)
    return b64decode(data)  # (always valid now)
