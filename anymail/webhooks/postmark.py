"""Postmark webhooks.

Postmark posts one JSON object per request, for tracking events and for
received (inbound) messages alike. Its webhooks have no signature: they are
secured only by the shared WEBHOOK_SECRET basic auth.
"""

from base64 import b64decode

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
from ..utils import quote_string, utf8_encoded_chunks
from .base import (
    AnymailBaseWebhookView,
    get_id,
    get_list,
    get_str,
    load_json,
    parse_iso_datetime,
)


class PostmarkBaseWebhookView(AnymailBaseWebhookView):
    """What Postmark's tracking and inbound webhooks have in common."""

    esp_name = "Postmark"

    def parse_events(self, request):
        # One JSON object per post
        esp_event = load_json(request.body, dict)
        return [self.esp_to_anymail_event(esp_event)]

    def esp_to_anymail_event(self, esp_event):
        raise NotImplementedError()


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

    def esp_to_anymail_event(self, esp_event):
        record_type = get_str(esp_event, "RecordType")
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
            message_id = get_str(esp_event, "MessageID")
        else:
            message_id = str(message_id)

        recipient = get_str(esp_event, "Email")
        if recipient is None:
            recipient = get_str(esp_event, "Recipient")

        tag = get_str(esp_event, "Tag")
        tags = [] if tag is None else [tag]  # "" is a tag, as Postmark reports it

        return AnymailTrackingEvent(
            event_type=event_type,
            timestamp=self.get_timestamp(esp_event),
            event_id=get_id(esp_event, "ID"),
            esp_event=esp_event,
            message_id=message_id,
            recipient=recipient,
            metadata=metadata,
            tags=tags,
            reject_reason=reject_reason,
            description=get_str(esp_event, "Description"),
            mta_response=get_str(esp_event, "Details"),
            user_agent=get_str(esp_event, "UserAgent"),
            click_url=get_str(esp_event, "OriginalLink"),
        )

    def classify(self, esp_event, record_type):
        """(event_type, reject_reason) for the event."""
        event_type = self.record_types.get(record_type, EventType.UNKNOWN)
        reject_reason = None

        if event_type in (EventType.BOUNCED, EventType.COMPLAINED):
            bounce_type = get_str(esp_event, "Type")
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
                reason = get_str(esp_event, "SuppressionReason")
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
                return parse_iso_datetime(value)
        return None


class PostmarkInboundWebhookView(PostmarkBaseWebhookView):
    """Postmark's inbound webhook: one received message per request."""

    signal = inbound

    #: Headers that describe the original body, which a message rebuilt from
    #: Postmark's parsed fields doesn't have
    replaced_headers = {"mime-version", "content-type", "content-transfer-encoding"}

    def esp_to_anymail_event(self, esp_event):
        record_type = get_str(esp_event, "RecordType")
        if record_type is not None and record_type != "Inbound":
            raise AnymailConfigurationError(
                f"You seem to have set Postmark's *{record_type}* webhook"
                " to Anymail's Postmark *inbound* webhook URL."
            )

        headers = [_header_item(header) for header in get_list(esp_event, "Headers")]
        # Postmark puts the envelope sender first, as a Return-Path header
        # that isn't part of the message (one anywhere else is the message's own)
        envelope_sender = None
        if headers and headers[0][0].lower() == "return-path":
            envelope_sender = _strip_angle_brackets(headers.pop(0)[1])

        raw_email = get_str(esp_event, "RawEmail")
        if raw_email is not None:
            message = self.parse_raw_email(raw_email, esp_event)
        else:
            message = self.construct_message(esp_event, headers)

        message.envelope_sender = envelope_sender
        message.envelope_recipient = get_str(esp_event, "OriginalRecipient")
        message.stripped_text = get_str(esp_event, "StrippedTextReply")
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
            event_id=get_str(esp_event, "MessageID"),
            esp_event=esp_event,
            message=message,
        )

    def parse_raw_email(self, raw_email, esp_event):
        """The message from the full source Postmark includes as RawEmail.

        The source is parsed in pieces, without another full copy of it.
        """
        message = AnymailInboundMessage.parse_raw_mime_chunks(
            utf8_encoded_chunks(raw_email)
        )
        # Bcc recipients aren't in the source (Postmark knows them from the
        # SMTP envelope)
        bcc = _format_address_list(esp_event, "BccFull")
        if bcc and "Bcc" not in message:
            message.append_raw_header("Bcc", bcc)
        return message

    def construct_message(self, esp_event, headers):
        """The message rebuilt from Postmark's parsed fields."""
        fields = []
        from_full = esp_event.get("FromFull")
        sender = "" if from_full is None else _format_address(from_full)
        if sender:
            fields.append(("From", sender))
        for header, key in (("To", "ToFull"), ("Cc", "CcFull"), ("Bcc", "BccFull")):
            addresses = _format_address_list(esp_event, key)
            if addresses:
                fields.append((header, addresses))
        fields.append(("Subject", get_str(esp_event, "Subject") or ""))
        fields.extend(
            (name, value)
            for name, value in headers
            if name.lower() not in self.replaced_headers
        )
        # Postmark gives these as fields rather than in Headers
        present = {name.lower() for name, _ in fields}
        for header, key in (("Date", "Date"), ("Reply-To", "ReplyTo")):
            value = get_str(esp_event, key)
            if value and header.lower() not in present:
                fields.append((header, value))

        return AnymailInboundMessage.construct(
            headers=fields,
            text=get_str(esp_event, "TextBody") or "",
            html=get_str(esp_event, "HtmlBody") or "",
            attachments=[
                _construct_attachment(attachment)
                for attachment in get_list(esp_event, "Attachments")
            ],
        )


def _as_object(value, what):
    if not isinstance(value, dict):
        raise TypeError(f"Postmark {what} is not an object: {value!r}")
    return value


def _header_item(header):
    """(name, value) from a Postmark {"Name": ..., "Value": ...} header."""
    header = _as_object(header, "header")
    name = get_str(header, "Name")
    if name is None:
        raise KeyError("Postmark header without a Name")
    return name.strip(), get_str(header, "Value") or ""


def _format_address(full):
    """'Name <email>' (or just the email) from a Postmark {"Email", "Name"}."""
    full = _as_object(full, "address")
    email = get_str(full, "Email") or ""
    name = get_str(full, "Name") or ""
    return f"{quote_string(name)} <{email}>" if name else email


def _format_address_list(data, key):
    """Comma-joined addresses from a Postmark list like ToFull ("" if none)."""
    return ", ".join(_format_address(full) for full in get_list(data, key))


def _strip_angle_brackets(value):
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value


def _construct_attachment(attachment):
    """An AnymailInboundMessage part from a Postmark Attachments entry."""
    attachment = _as_object(attachment, "attachment")
    content = attachment.get("Content")
    if content is None:
        content = attachment["Data"]  # Postmark's "Check" test payload uses Data
    if not isinstance(content, str):
        raise TypeError(f"Postmark attachment content is not a string: {content!r}")
    content = b64decode(content)  # binascii.Error (a ValueError) if invalid
    content_type = get_str(attachment, "ContentType") or "application/octet-stream"
    # Postmark sends "" for a missing filename or Content-ID
    filename = get_str(attachment, "Name") or None
    content_id = get_str(attachment, "ContentID") or None

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
