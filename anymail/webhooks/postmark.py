"""Postmark webhooks.

Postmark posts one JSON object per request. Its webhooks have no signature:
they are secured only by the shared WEBHOOK_SECRET basic auth.
"""

import json
from datetime import timezone

from django.utils.dateparse import parse_datetime

from ..exceptions import AnymailConfigurationError
from ..signals import AnymailTrackingEvent, EventType, RejectReason, tracking
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
