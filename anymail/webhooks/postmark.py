"""Postmark webhooks.

Postmark posts one JSON object per request, for tracking events and for
received (inbound) messages alike. Its webhooks have no signature: they are
secured only by the shared WEBHOOK_SECRET basic auth.
"""

import json
import re
from base64 import b64decode
from datetime import timezone
from email.errors import MessageError

from django.utils.dateparse import parse_datetime

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
from ..utils import DEFAULT_DOWNLOAD_CHUNK_SIZE, quote_string
from .base import AnymailBaseWebhookView


class PostmarkBaseWebhookView(AnymailBaseWebhookView):
    """What Postmark's tracking and inbound webhooks have in common."""

    esp_name = "Postmark"

    def load_esp_event(self, request):
        """The posted JSON object (a dict).

        Raises ValueError or TypeError for anything else, which the base view
        answers with a 400.
        """
        return _load_json_object(request.body)


class PostmarkTrackingWebhookView(PostmarkBaseWebhookView):
    """Postmark's delivery, bounce, spam complaint, open, click and
    subscription change webhooks (all may share this one URL)."""

    signal = tracking

    #: RecordType → the event_type before refinement
    record_types = {
        "Bounce": EventType.BOUNCED,
        "SpamComplaint": EventType.COMPLAINED,
        "Delivery": EventType.DELIVERED,
        "Open": EventType.OPENED,
        "Click": EventType.CLICKED,
        "SubscriptionChange": EventType.UNSUBSCRIBED,
    }

    #: Bounce/spam ``Type`` (and suppression reasons) → (event_type, reject_reason)
    bounce_types = {
        "HardBounce": (EventType.BOUNCED, RejectReason.BOUNCED),
        "SoftBounce": (EventType.BOUNCED, RejectReason.BOUNCED),
        "Transient": (EventType.DEFERRED, None),
        "DnsError": (EventType.DEFERRED, None),
        "OpenRelayTest": (EventType.DEFERRED, None),
        "Unsubscribe": (EventType.UNSUBSCRIBED, RejectReason.UNSUBSCRIBED),
        "ManualSuppression": (EventType.UNSUBSCRIBED, RejectReason.UNSUBSCRIBED),
        "Subscribe": (EventType.SUBSCRIBED, None),
        "AutoResponder": (EventType.AUTORESPONDED, None),
        "AddressChange": (EventType.AUTORESPONDED, None),
        "ChallengeVerification": (EventType.AUTORESPONDED, None),
        "SpamNotification": (EventType.COMPLAINED, RejectReason.SPAM),
        "SpamComplaint": (EventType.COMPLAINED, RejectReason.SPAM),
        "VirusNotification": (EventType.BOUNCED, RejectReason.OTHER),
        "BadEmailAddress": (EventType.REJECTED, RejectReason.INVALID),
        "ManuallyDeactivated": (EventType.REJECTED, RejectReason.BLOCKED),
        "Blocked": (EventType.REJECTED, RejectReason.BLOCKED),
        "DMARCPolicy": (EventType.REJECTED, RejectReason.BLOCKED),
        "Unconfirmed": (EventType.REJECTED, None),
        "SMTPApiError": (EventType.FAILED, None),
        "TemplateRenderingFailed": (EventType.FAILED, None),
        "InboundError": (EventType.INBOUND_FAILED, None),
        "Unknown": (EventType.UNKNOWN, None),
    }

    #: Fields that may carry the event time, in order of preference
    timestamp_fields = ("DeliveredAt", "BouncedAt", "ReceivedAt", "ChangedAt")

    def parse_events(self, request):
        esp_event = self.load_esp_event(request)
        return [self.esp_to_anymail_event(esp_event)]

    def esp_to_anymail_event(self, esp_event):
        record_type = _get_str(esp_event, "RecordType")
        if record_type == "Inbound" or (
            record_type is None and "FromFull" in esp_event
        ):
            raise AnymailConfigurationError(
                "You seem to have set Postmark's *inbound* webhook"
                " to Anymail's Postmark *tracking* webhook URL."
            )

        event_type, reject_reason = self.classify(esp_event, record_type)

        metadata = esp_event.get("Metadata")
        if metadata is None:
            # missing, or JSON null (which django-anymail 15.2 crashes on)
            metadata = {}
        elif not isinstance(metadata, dict):
            raise TypeError(f"Postmark Metadata is not an object: {metadata!r}")

        # Postmark's bulk API has no per-message ids: Anymail sends its own in
        # the metadata, and that is what anymail_status reported at send time
        message_id = metadata.get("anymail_id")
        if message_id is None:
            message_id = _get_str(esp_event, "MessageID")
        else:
            message_id = str(message_id)

        recipient = _get_str(esp_event, "Email")
        if recipient is None:
            recipient = _get_str(esp_event, "Recipient")

        tag = _get_str(esp_event, "Tag")
        tags = [] if tag is None else [tag]  # "" is a tag, as Postmark reports it

        event_id = esp_event.get("ID")
        if event_id is not None:
            if isinstance(event_id, bool) or not isinstance(event_id, (int, str)):
                raise TypeError(f"Postmark ID is not a number: {event_id!r}")
            event_id = str(event_id)

        return AnymailTrackingEvent(
            event_type=event_type,
            timestamp=self.get_timestamp(esp_event),
            event_id=event_id,
            esp_event=esp_event,
            message_id=message_id,
            recipient=recipient,
            metadata=metadata,
            tags=tags,
            reject_reason=reject_reason,
            description=_get_str(esp_event, "Description"),
            mta_response=_get_str(esp_event, "Details"),
            user_agent=_get_str(esp_event, "UserAgent"),
            click_url=_get_str(esp_event, "OriginalLink"),
        )

    def classify(self, esp_event, record_type):
        """(event_type, reject_reason) for the event."""
        event_type = self.record_types.get(record_type, EventType.UNKNOWN)
        reject_reason = None

        if event_type in (EventType.BOUNCED, EventType.COMPLAINED):
            bounce_type = _get_str(esp_event, "Type")
            if bounce_type in self.bounce_types:
                event_type, reject_reason = self.bounce_types[bounce_type]

        if event_type == EventType.UNSUBSCRIBED:
            suppress_sending = esp_event.get("SuppressSending")
            if suppress_sending is None:
                suppress_sending = True  # bounces don't include it
            elif not isinstance(suppress_sending, bool):
                raise TypeError(
                    f"Postmark SuppressSending is not a boolean: {suppress_sending!r}"
                )
            if suppress_sending:
                # A suppression: the reason says why (hard bounce, spam
                # complaint, or an unsubscribe or manual suppression)
                reason = _get_str(esp_event, "SuppressionReason")
                if reason in self.bounce_types:
                    event_type, reject_reason = self.bounce_types[reason]
            else:
                # Suppression lifted: the recipient can receive mail again
                event_type, reject_reason = EventType.SUBSCRIBED, None

        return event_type, reject_reason

    def get_timestamp(self, esp_event):
        for field in self.timestamp_fields:
            value = esp_event.get(field)
            if value is not None:
                return _parse_iso_datetime(value, field)
        return None


class PostmarkInboundWebhookView(PostmarkBaseWebhookView):
    """Postmark's inbound webhook: one received message per request."""

    signal = inbound

    #: Headers that describe the original body, which a message rebuilt from
    #: Postmark's parsed fields doesn't have
    replaced_headers = {"mime-version", "content-type", "content-transfer-encoding"}

    def parse_events(self, request):
        esp_event = self.load_esp_event(request)
        return [self.esp_to_anymail_event(esp_event)]

    def esp_to_anymail_event(self, esp_event):
        record_type = _get_str(esp_event, "RecordType")
        if record_type is not None and record_type != "Inbound":
            raise AnymailConfigurationError(
                f"You seem to have set Postmark's *{record_type}* webhook"
                " to Anymail's Postmark *inbound* webhook URL."
            )

        headers = [_header_item(header) for header in _get_list(esp_event, "Headers")]
        # Postmark puts the envelope sender first, as a Return-Path header
        # that isn't part of the message (one anywhere else is the message's own)
        envelope_sender = None
        if headers and headers[0][0].lower() == "return-path":
            envelope_sender = _strip_angle_brackets(headers.pop(0)[1])

        raw_email = _get_str(esp_event, "RawEmail")
        if raw_email is not None:
            message = self.parse_raw_email(raw_email, esp_event)
        else:
            message = self.construct_message(esp_event, headers)

        message.envelope_sender = envelope_sender
        message.envelope_recipient = _get_str(esp_event, "OriginalRecipient")
        message.stripped_text = _get_str(esp_event, "StrippedTextReply")
        message.stripped_html = None
        spam_status = message.get("X-Spam-Status")
        message.spam_detected = spam_status is not None and spam_status.lower() == "yes"
        try:
            message.spam_score = float(message.get("X-Spam-Score"))
        except (TypeError, ValueError):
            message.spam_score = None

        return AnymailInboundEvent(
            event_type=EventType.INBOUND,
            timestamp=None,  # Postmark doesn't say when it received the message
            event_id=_get_str(esp_event, "MessageID"),
            esp_event=esp_event,
            message=message,
        )

    def parse_raw_email(self, raw_email, esp_event):
        """The message from the full source Postmark includes as RawEmail.

        The source is parsed in pieces, without another full copy of it.
        """
        message = AnymailInboundMessage.parse_raw_mime_chunks(_utf8_pieces(raw_email))
        # Bcc recipients aren't in the source (Postmark knows them from the
        # SMTP envelope)
        bcc = _format_address_list(esp_event, "BccFull")
        if bcc and "Bcc" not in message:
            _add_header(message, "Bcc", bcc)
        return message

    def construct_message(self, esp_event, headers):
        """The message rebuilt from Postmark's parsed fields."""
        message = AnymailInboundMessage.construct(
            text=_get_str(esp_event, "TextBody") or "",
            html=_get_str(esp_event, "HtmlBody") or "",
            attachments=[
                _construct_attachment(attachment)
                for attachment in _get_list(esp_event, "Attachments")
            ],
        )

        fields = []
        from_full = esp_event.get("FromFull")
        sender = "" if from_full is None else _format_address(from_full)
        if sender:
            fields.append(("From", sender))
        for header, key in (("To", "ToFull"), ("Cc", "CcFull"), ("Bcc", "BccFull")):
            addresses = _format_address_list(esp_event, key)
            if addresses:
                fields.append((header, addresses))
        fields.append(("Subject", _get_str(esp_event, "Subject") or ""))
        fields.extend(
            (name, value)
            for name, value in headers
            if name.lower() not in self.replaced_headers
        )
        # Postmark gives these as fields rather than in Headers
        present = {name.lower() for name, _ in fields}
        for header, key in (("Date", "Date"), ("Reply-To", "ReplyTo")):
            value = _get_str(esp_event, key)
            if value and header.lower() not in present:
                fields.append((header, value))

        # construct() made MIME-Version and Content-Type: they go last
        structure = message.items()
        for name, _ in structure:
            del message[name]
        for name, value in fields:
            _add_header(message, name, value)
        for name, value in structure:
            message[name] = value
        return message


def _load_json_object(body):
    """Decode a JSON object (dict) from a request body.

    ValueError for anything that isn't JSON (including invalid UTF-8 and
    absurdly deep nesting), TypeError for JSON that isn't an object.
    """
    try:
        data = json.loads(body)
    except RecursionError as err:
        raise ValueError("JSON nested too deeply") from err
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, not {type(data).__name__}")
    return data


def _get_str(data, key):
    """data[key] if it is a str, None if missing or null; TypeError otherwise."""
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"Postmark {key} is not a string: {value!r}")
    return value


def _parse_iso_datetime(value, field="timestamp"):
    """Aware datetime from an ISO 8601 string.

    Fractions of a second beyond microseconds (Postmark sends seven digits)
    are truncated; "Z" is UTC, and so is a time without any offset. Raises
    TypeError or ValueError if `value` isn't such a string.
    """
    if not isinstance(value, str):
        raise TypeError(f"Postmark {field} is not a string: {value!r}")
    parsed = parse_datetime(value)  # ValueError if well-formed but impossible
    if parsed is None:
        raise ValueError(f"Postmark {field} is not an ISO 8601 datetime: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def _get_list(data, key):
    """data[key] if it is a list, [] if missing or null; TypeError otherwise."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"Postmark {key} is not a list: {value!r}")
    return value


def _get_object(value, what):
    if not isinstance(value, dict):
        raise TypeError(f"Postmark {what} is not an object: {value!r}")
    return value


#: An RFC 5322 header field name: printable ASCII other than colon
_FIELD_NAME = re.compile(r"[!-9;-~]+")
#: A line break, and any whitespace that continued the line
_LINE_BREAK = re.compile(r"[\r\n]+([ \t]*)")


def _header_item(header):
    """(name, value) from a Postmark {"Name": ..., "Value": ...} header.

    Line breaks in the value are unfolded, so a value can't smuggle in
    another header.
    """
    header = _get_object(header, "header")
    name = _get_str(header, "Name")
    if name is None:
        raise KeyError("Postmark header without a Name")
    value = _get_str(header, "Value") or ""
    return name.strip(), _LINE_BREAK.sub(lambda m: m.group(1) or " ", value)


def _add_header(message, name, value):
    """Append a header to message, keeping it even if Python can't parse it.

    A name that isn't a valid header field name is skipped. A value that
    Python's header parser chokes on (it has bugs with some malformed
    structured headers) is stored as unparsed source, as if it had come from
    raw MIME: reading it may then raise, just as for a parsed message.
    """
    if not _FIELD_NAME.fullmatch(name):
        return
    try:
        message[name] = value
    except (ValueError, TypeError, IndexError, AttributeError, MessageError):
        # as a bytes parser would have stored the UTF-8 source
        source = value.encode("utf-8", "surrogatepass").decode(
            "ascii", "surrogateescape"
        )
        message.set_raw(name, source)


def _format_address(full):
    """'Name <email>' (or just the email) from a Postmark {"Email", "Name"}."""
    full = _get_object(full, "address")
    email = _get_str(full, "Email") or ""
    name = _get_str(full, "Name") or ""
    return f"{quote_string(name)} <{email}>" if name else email


def _format_address_list(data, key):
    """Comma-joined addresses from a Postmark list like ToFull ("" if none)."""
    return ", ".join(_format_address(full) for full in _get_list(data, key))


def _strip_angle_brackets(value):
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value


def _construct_attachment(attachment):
    """An AnymailInboundMessage part from a Postmark Attachments entry."""
    attachment = _get_object(attachment, "attachment")
    content = attachment.get("Content")
    if content is None:
        content = attachment["Data"]  # Postmark's "Check" test payload uses Data
    if not isinstance(content, str):
        raise TypeError(f"Postmark attachment content is not a string: {content!r}")
    content = b64decode(content)  # binascii.Error (a ValueError) if invalid
    content_type = _get_str(attachment, "ContentType") or "application/octet-stream"
    # Postmark sends "" for a missing filename or Content-ID
    filename = _get_str(attachment, "Name") or None
    content_id = _get_str(attachment, "ContentID") or None

    is_message = content_type.split(";")[0].strip().lower().startswith("message/")
    part = AnymailInboundMessage.construct_attachment(
        content_type=content_type,
        content="" if is_message else content,
        filename=filename,
        content_id=content_id,
    )
    if is_message:
        # Parsed from the bytes, so a message that isn't UTF-8 is fine too
        part.set_payload([AnymailInboundMessage.parse_raw_mime_bytes(content)])
    return part


def _utf8_pieces(text, size=DEFAULT_DOWNLOAD_CHUNK_SIZE):
    """The UTF-8 encoding of text, a piece at a time.

    Lone surrogates (which JSON can carry) are encoded as they are, so they
    read back as U+FFFD rather than failing.
    """
    for start in range(0, len(text), size):
        yield text[start : start + size].encode("utf-8", "surrogatepass")
