"""SparkPost tracking and inbound (relay) webhooks.

SparkPost posts a JSON array of events, each wrapped as
``{"msys": {"<event_class>": {...event...}}}``. An empty ``{"msys": {}}`` is
a ping (sent when a webhook is created or tested) and carries no event.
Tracking events have classes such as ``message_event`` or ``track_event``;
inbound relay webhooks post ``relay_message`` events, in the same format.

SparkPost webhooks have no signature: they are secured only by the shared
WEBHOOK_SECRET basic auth (SparkPost's "Basic Auth" webhook option).

Any payload that isn't what SparkPost sends (not JSON, not an array of
wrapped events, missing or mistyped fields) raises ValueError, KeyError or
TypeError while parsing, which the base view answers with a 400.
"""

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
from ..utils import base64_decoded_chunks, get_anymail_setting, utf8_encoded_chunks
from .base import (
    AnymailBaseWebhookView,
    epoch_to_datetime,
    get_id,
    get_str,
    load_json,
)

#: SparkPost's event class for inbound relay messages
RELAY_MESSAGE_CLASS = "relay_message"


class SparkPostBaseWebhookView(AnymailBaseWebhookView):
    """What SparkPost's tracking and inbound webhooks have in common."""

    esp_name = "SparkPost"

    def parse_events(self, request):
        # Build every event before any signal is sent (the base view does
        # the sending), so a bad event anywhere in the batch sends nothing
        return [
            self.esp_to_anymail_event(event_class, event, wrapped)
            for event_class, event, wrapped in self.unwrap_events(request)
        ]

    def unwrap_events(self, request):
        """(event_class, event, wrapped_event) for each real event in the post.

        Pings (``{"msys": {}}``) are left out.
        """
        unwrapped = []
        for wrapped in load_json(request.body, list):
            if not isinstance(wrapped, dict):
                raise TypeError(
                    f"SparkPost webhook item is not an object: {type(wrapped).__name__}"
                )
            msys = wrapped["msys"]
            if not isinstance(msys, dict):
                raise TypeError(
                    f"SparkPost webhook msys is not an object: {type(msys).__name__}"
                )
            if not msys:
                continue  # ping
            if len(msys) > 1:
                raise TypeError(
                    "Invalid SparkPost webhook event has multiple event classes: "
                    f"{list(msys)!r}"
                )
            [(event_class, event)] = msys.items()
            if not isinstance(event, dict):
                raise TypeError(
                    f"SparkPost {event_class!r} event is not an object: "
                    f"{type(event).__name__}"
                )
            unwrapped.append((event_class, event, wrapped))
        return unwrapped

    def esp_to_anymail_event(self, event_class, event, wrapped):
        raise NotImplementedError()


class SparkPostTrackingWebhookView(SparkPostBaseWebhookView):
    """SparkPost's event webhooks: message, engagement, generation and
    unsubscribe events (any number of classes may share this one URL)."""

    signal = tracking

    #: Whether initial_open and amp_initial_open count as "opened"
    #: (SPARKPOST_TRACK_INITIAL_OPEN_AS_OPENED)
    track_initial_open_as_opened = False

    #: SparkPost event ``type`` → event_type
    event_types = {
        # Message events
        "injection": EventType.QUEUED,
        "delivery": EventType.DELIVERED,
        "bounce": EventType.BOUNCED,
        "out_of_band": EventType.BOUNCED,
        "delay": EventType.DEFERRED,
        "policy_rejection": EventType.REJECTED,
        "spam_complaint": EventType.COMPLAINED,
        # Generation events
        "generation_rejection": EventType.REJECTED,
        "generation_failure": EventType.FAILED,
        # Engagement events
        "open": EventType.OPENED,
        "amp_open": EventType.OPENED,
        "click": EventType.CLICKED,
        "amp_click": EventType.CLICKED,
        # Unsubscribe events
        "list_unsubscribe": EventType.UNSUBSCRIBED,
        "link_unsubscribe": EventType.UNSUBSCRIBED,
    }

    #: SparkPost's "first open" events, which may be the only open reported
    initial_open_types = {"initial_open", "amp_initial_open"}

    #: SparkPost bounce_class → (reject_reason, event_type override or None).
    #: https://support.sparkpost.com/docs/deliverability/bounce-classification-codes
    bounce_classes = {
        "1": (RejectReason.OTHER, None),  # undetermined
        "10": (RejectReason.INVALID, None),  # invalid recipient
        "20": (RejectReason.BOUNCED, None),  # soft bounce
        "21": (RejectReason.BOUNCED, None),  # DNS failure
        "22": (RejectReason.BOUNCED, None),  # mailbox full
        "23": (RejectReason.BOUNCED, None),  # too large
        "24": (RejectReason.TIMED_OUT, None),  # timeout
        "25": (RejectReason.BLOCKED, None),  # admin failure
        "30": (RejectReason.BOUNCED, None),  # generic bounce: no RCPT
        "40": (RejectReason.BOUNCED, None),  # generic bounce
        "50": (RejectReason.BLOCKED, None),  # mail block
        "51": (RejectReason.SPAM, None),  # spam block
        "52": (RejectReason.SPAM, None),  # spam content
        "53": (RejectReason.OTHER, None),  # prohibited attachment
        "54": (RejectReason.BLOCKED, None),  # relaying denied
        "60": (RejectReason.OTHER, EventType.AUTORESPONDED),  # auto-reply
        "70": (RejectReason.BOUNCED, None),  # transient failure
        "80": (RejectReason.OTHER, EventType.SUBSCRIBED),  # subscribe
        "90": (RejectReason.UNSUBSCRIBED, EventType.UNSUBSCRIBED),  # unsubscribe
        "100": (RejectReason.OTHER, EventType.AUTORESPONDED),  # challenge-response
    }

    def __init__(self, **kwargs):
        self.track_initial_open_as_opened = get_anymail_setting(
            "track_initial_open_as_opened",
            esp_name=self.esp_name,
            kwargs=kwargs,
            default=False,
        )
        super().__init__(**kwargs)

    def esp_to_anymail_event(self, event_class, event, wrapped):
        if event_class == RELAY_MESSAGE_CLASS:
            raise AnymailConfigurationError(
                "You seem to have set SparkPost's *inbound* relay webhook URL"
                " to Anymail's SparkPost *tracking* webhook URL."
            )

        event_type = self.get_event_type(get_str(event, "type"))
        reject_reason = None
        if "bounce_class" in event:
            reject_reason, override = self.get_bounce_class_info(event["bounce_class"])
            if override is not None:
                event_type = override

        tracking_event = AnymailTrackingEvent(
            event_type=event_type,
            timestamp=_parse_epoch_seconds(event.get("timestamp")),
            event_id=get_id(event, "event_id"),
            esp_event=wrapped,
            # Anymail's send-time message_id is SparkPost's transmission id
            # (SparkPost's own per-message message_id isn't known at send time)
            message_id=get_id(event, "transmission_id"),
            recipient=get_str(event, "raw_rcpt_to"),
            metadata=self.get_metadata(event),
            reject_reason=reject_reason,
            mta_response=get_str(event, "raw_reason"),
            user_agent=get_str(event, "user_agent"),
            click_url=get_str(event, "target_link_url"),
            tags=self.get_tags(event),
        )
        return tracking_event

    def get_event_type(self, sparkpost_type):
        if sparkpost_type in self.initial_open_types:
            if self.track_initial_open_as_opened:
                return EventType.OPENED
            return EventType.UNKNOWN
        return self.event_types.get(sparkpost_type, EventType.UNKNOWN)

    def get_bounce_class_info(self, bounce_class):
        """(reject_reason, event_type override or None) for a bounce_class."""
        if isinstance(bounce_class, int) and not isinstance(bounce_class, bool):
            bounce_class = str(bounce_class)
        if not isinstance(bounce_class, str):
            return RejectReason.OTHER, None
        return self.bounce_classes.get(bounce_class, (RejectReason.OTHER, None))

    @staticmethod
    def get_metadata(event):
        # rcpt_meta holds the message's and the recipient's metadata combined
        metadata = event.get("rcpt_meta")
        if not metadata:
            return {}
        if not isinstance(metadata, dict):
            raise TypeError(
                f"SparkPost rcpt_meta is not an object: {type(metadata).__name__}"
            )
        return metadata

    @staticmethod
    def get_tags(event):
        # Anymail sends a message's (single) tag as its campaign_id. (An empty
        # or null one gives [], where django-anymail gives tags=None.)
        campaign_id = event.get("campaign_id")
        return [campaign_id] if campaign_id else []


class SparkPostInboundWebhookView(SparkPostBaseWebhookView):
    """SparkPost's inbound relay webhook (relay_message events)."""

    signal = inbound

    def esp_to_anymail_event(self, event_class, event, wrapped):
        if event_class != RELAY_MESSAGE_CLASS:
            raise AnymailConfigurationError(
                "You seem to have set SparkPost's *tracking* webhook URL"
                " to Anymail's SparkPost *inbound* relay webhook URL."
            )
        protocol = event["protocol"]
        if protocol != "smtp":
            raise AnymailConfigurationError(
                f"You cannot use Anymail's webhooks for SparkPost '{protocol}' relay"
                " events. Anymail only handles the 'smtp' protocol"
            )

        content = event["content"]
        if not isinstance(content, dict):
            raise TypeError(
                f"SparkPost relay content is not an object: {type(content).__name__}"
            )
        raw_mime = content["email_rfc822"]
        if not isinstance(raw_mime, str):
            raise TypeError(
                f"SparkPost email_rfc822 is not a string: {type(raw_mime).__name__}"
            )
        if content.get("email_rfc822_is_base64"):
            chunks = base64_decoded_chunks(raw_mime)
        else:
            chunks = utf8_encoded_chunks(raw_mime)
        # Parse as the pieces are decoded, rather than building a second full
        # copy of a possibly large message
        message = AnymailInboundMessage.parse_raw_mime_chunks(chunks)
        message.envelope_sender = get_str(event, "msg_from")
        message.envelope_recipient = get_str(event, "rcpt_to")

        return AnymailInboundEvent(
            event_type=EventType.INBOUND,
            timestamp=None,  # SparkPost doesn't give one
            event_id=None,  # nor a unique id
            esp_event=wrapped,
            message=message,
        )


def _parse_epoch_seconds(value):
    """Aware UTC datetime from integer epoch seconds (an int or a digit str).

    None for anything else: missing, null, ISO 8601 strings, fractions,
    out-of-range values.
    """
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        return None
    try:
        return epoch_to_datetime(int(value))
    except (TypeError, ValueError, OverflowError):
        return None
