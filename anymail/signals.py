"""Anymail's signals and the normalized event objects they carry."""

from django.dispatch import Signal

#: Sent before each message is sent: kwargs sender (backend class), message, esp_name
pre_send = Signal()
#: Sent after each message's ESP response is parsed: sender, message, status, esp_name
post_send = Signal()
#: Sent for each tracking event: sender (view class), event, esp_name
tracking = Signal()
#: Sent for each received inbound message: sender (view class), event, esp_name
inbound = Signal()


class AnymailEvent:
    """Base for normalized webhook events."""

    def __init__(
        self, event_type, timestamp=None, event_id=None, esp_event=None, **kwargs
    ):
        self.event_type = event_type
        self.timestamp = timestamp
        self.event_id = event_id
        self.esp_event = esp_event


class AnymailTrackingEvent(AnymailEvent):
    """A normalized delivery or engagement event for a sent message."""

    def __init__(
        self,
        *,
        event_type,
        message_id=None,
        recipient=None,
        metadata=None,
        tags=None,
        reject_reason=None,
        description=None,
        mta_response=None,
        user_agent=None,
        click_url=None,
        **kwargs,
    ):
        super().__init__(event_type=event_type, **kwargs)
        self.message_id = message_id
        self.recipient = recipient
        self.metadata = {} if metadata is None else metadata
        self.tags = [] if tags is None else tags
        self.reject_reason = reject_reason
        self.description = description
        self.mta_response = mta_response
        self.user_agent = user_agent
        self.click_url = click_url


class AnymailInboundEvent(AnymailEvent):
    """A normalized inbound-message event."""

    def __init__(self, *, event_type, message=None, **kwargs):
        super().__init__(event_type=event_type, **kwargs)
        self.message = message


class EventType:
    """Normalized values for AnymailEvent.event_type."""

    # Delivery (and non-delivery) events
    QUEUED = "queued"
    SENT = "sent"
    REJECTED = "rejected"
    FAILED = "failed"
    BOUNCED = "bounced"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    AUTORESPONDED = "autoresponded"
    # Engagement events
    OPENED = "opened"
    CLICKED = "clicked"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    SUBSCRIBED = "subscribed"
    # Inbound events
    INBOUND = "inbound"
    INBOUND_FAILED = "inbound_failed"
    # Anything else
    UNKNOWN = "unknown"


class RejectReason:
    """Normalized values for AnymailTrackingEvent.reject_reason."""

    INVALID = "invalid"
    BOUNCED = "bounced"
    TIMED_OUT = "timed_out"
    BLOCKED = "blocked"
    SPAM = "spam"
    UNSUBSCRIBED = "unsubscribed"
    OTHER = "other"
