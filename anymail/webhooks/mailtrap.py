"""Mailtrap tracking and inbound webhooks.

Mailtrap posts ``{"events": [...]}`` batches, as JSON. Each of the two
webhooks can have a signing secret (MAILTRAP_TRACKING_SECRET,
MAILTRAP_INBOUND_SECRET): when the view has one, the ``Mailtrap-Signature``
header must hold the hex HMAC-SHA256 of the raw body under that secret.
Without one, only the shared WEBHOOK_SECRET basic auth (if set) protects the
URL.

The inbound events only name a message, so the inbound view fetches its
details from Mailtrap's inbound API, then streams the raw MIME from the
(presigned) download link straight into the parser.
"""

from typing import Any, TypedDict
from urllib.parse import quote

import requests

from ..exceptions import AnymailConfigurationError
from ..signals import (
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    RejectReason,
    inbound,
    tracking,
)
from ..utils import DEFAULT_DOWNLOAD_CHUNK_SIZE, get_anymail_setting
from .base import (
    AnymailBaseWebhookView,
    check_body_hmac_signature,
    download_raw_message,
    epoch_to_datetime,
    esp_api_errors,
    esp_request_timeout,
    get_str,
    load_json,
)

# -- payload shapes (for type checkers only) -----------------------------------


class MailtrapReceiveEvent(TypedDict, total=False):
    """One item of a Mailtrap sending (tracking) webhook's ``events``."""

    event: str
    timestamp: int
    event_id: str
    message_id: str
    sending_stream: str
    sending_domain_name: str
    email: str
    category: str
    custom_variables: dict[str, Any]
    response: str
    response_code: int
    bounce_category: str
    reason: str
    url: str
    user_agent: str
    ip: str


# ("from" can't be written in the class syntax)
MailtrapInboundEvent = TypedDict(
    "MailtrapInboundEvent",
    {
        "event": str,  # "inbound.message_received"
        "event_id": str,
        "timestamp": int,  # milliseconds since the epoch
        "inbox_id": int,
        "message_id": str,
        "from": str,
    },
    total=False,
)
MailtrapInboundEvent.__doc__ = "One item of a Mailtrap inbound webhook's ``events``."


class MailtrapInboundMessage(TypedDict, total=False):
    """Message details from Mailtrap's inbound API (the fields Anymail uses)."""

    id: str
    inbox_id: int
    subject: str
    raw_message_url: str  # presigned; expires about an hour after the fetch
    raw_message_expires_at: str


# -- shared base ---------------------------------------------------------------


class MailtrapWebhookView(AnymailBaseWebhookView):
    """What Mailtrap's tracking and inbound webhooks have in common.

    Subclasses name their signing-secret setting in ``secret_name``, which is
    also the as_view() keyword and the instance attribute holding the secret
    as given (None when unset). Any value other than None, even "", turns the
    signature check on, and makes the missing-WEBHOOK_SECRET warning
    unnecessary.
    """

    esp_name = "Mailtrap"
    secret_name = None  # "tracking_secret" or "inbound_secret"

    def __init__(self, **kwargs):
        self._signing_key = None
        if self.secret_name is not None:
            secret = get_anymail_setting(
                self.secret_name, esp_name=self.esp_name, kwargs=kwargs, default=None
            )
            setattr(self, self.secret_name, secret)
            if secret is not None:
                self._signing_key = (
                    secret if isinstance(secret, bytes) else str(secret).encode()
                )
        # Instance attribute, set before the basic-auth mixin's __init__ reads it
        self.warn_if_no_basic_auth = self._signing_key is None
        super().__init__(**kwargs)

    @property
    def secret_setting_name(self):
        return f"MAILTRAP_{self.secret_name.upper()}"

    def validate_request(self, request):
        # Basic auth (when WEBHOOK_SECRET is set) first, as with other ESPs
        # whose signature check builds on it; it runs again harmlessly later.
        super().validate_request(request)
        if self._signing_key is not None:
            check_body_hmac_signature(
                request,
                header="Mailtrap-Signature",
                key=self._signing_key,
                esp_name=self.esp_name,
                setting_name=self.secret_setting_name,
            )

    @staticmethod
    def load_events(request):
        """The items of the posted ``{"events": [...]}`` (missing key → none).

        A body that isn't shaped like that raises ValueError or TypeError,
        which the base view answers with a 400.
        """
        events = load_json(request.body, dict).get("events", [])
        if not isinstance(events, list):
            raise TypeError("Mailtrap 'events' is not a JSON array")
        return events


def _event_name(esp_event):
    """The event's required ``event`` field (KeyError/TypeError if unusable)."""
    if not isinstance(esp_event, dict):
        raise TypeError("Mailtrap event is not a JSON object")
    name = esp_event["event"]
    if not isinstance(name, str):
        raise TypeError(f"Mailtrap event type {name!r} is not a string")
    return name


# -- tracking --------------------------------------------------------------------


class MailtrapTrackingWebhookView(MailtrapWebhookView):
    """Mailtrap's sending (delivery and engagement) events."""

    signal = tracking
    secret_name = "tracking_secret"
    tracking_secret = None  # as_view(tracking_secret=...) overrides the setting

    event_types = {
        "delivery": EventType.DELIVERED,
        "open": EventType.OPENED,
        "click": EventType.CLICKED,
        "bounce": EventType.BOUNCED,
        "soft bounce": EventType.DEFERRED,
        "spam": EventType.COMPLAINED,
        "unsubscribe": EventType.UNSUBSCRIBED,
        "reject": EventType.REJECTED,
        "suspension": EventType.DEFERRED,
    }

    # Keyed by the event name: Mailtrap's reason/bounce_category aren't used
    reject_reasons = {
        "bounce": RejectReason.BOUNCED,
        "soft bounce": RejectReason.OTHER,
        "spam": RejectReason.SPAM,
        "unsubscribe": RejectReason.UNSUBSCRIBED,
        "reject": RejectReason.BLOCKED,
        "suspension": RejectReason.OTHER,
        "blocked": RejectReason.BLOCKED,  # not a documented Mailtrap event
    }

    def parse_events(self, request):
        # Every event is converted before any is dispatched, so one bad (or
        # misdirected) event means nothing from this POST is dispatched.
        return [
            self.esp_to_anymail_event(esp_event)
            for esp_event in self.load_events(request)
        ]

    def esp_to_anymail_event(self, esp_event: MailtrapReceiveEvent):
        name = _event_name(esp_event)
        if name.startswith("inbound"):
            raise AnymailConfigurationError(
                "You seem to have set Mailtrap's *inbound* webhook"
                " to Anymail's Mailtrap *tracking* webhook URL."
            )
        category = get_str(esp_event, "category")
        metadata = esp_event.get("custom_variables")
        if metadata is None:
            metadata = {}
        elif not isinstance(metadata, dict):
            raise TypeError("Mailtrap 'custom_variables' is not a JSON object")
        message_id = esp_event["message_id"]
        if not isinstance(message_id, str):
            raise TypeError("Mailtrap 'message_id' is not a string")
        timestamp = epoch_to_datetime(esp_event["timestamp"])
        if timestamp is None:
            raise TypeError("Mailtrap 'timestamp' is null")
        return AnymailTrackingEvent(
            event_type=self.event_types.get(name, EventType.UNKNOWN),
            timestamp=timestamp,
            event_id=get_str(esp_event, "event_id"),
            message_id=message_id,
            recipient=get_str(esp_event, "email"),
            reject_reason=self.reject_reasons.get(name),
            description=None,
            mta_response=get_str(esp_event, "response"),
            tags=[category] if category else [],
            metadata=metadata,
            click_url=get_str(esp_event, "url"),
            user_agent=get_str(esp_event, "user_agent"),
            esp_event=esp_event,
        )


# -- inbound ---------------------------------------------------------------------


class MailtrapInboundWebhookView(MailtrapWebhookView):
    """Mailtrap's inbound.message_received events; messages fetched from the API."""

    signal = inbound
    secret_name = "inbound_secret"
    # as_view() keywords that override the settings:
    inbound_secret = None
    api_token = None
    api_url = None

    default_api_url = "https://mailtrap.io/api/"
    event_names = ("inbound.message_received", "inbound_message_received")

    def __init__(self, **kwargs):
        # Read in this order, so a missing token is reported before anything
        # about signatures or basic auth. (as_view(api_token=None) or
        # api_url=None means "use the settings".)
        for name in ("api_token", "api_url"):
            if name in kwargs and kwargs[name] is None:
                del kwargs[name]
        self.api_token = get_anymail_setting(
            "api_token", esp_name=self.esp_name, kwargs=kwargs, allow_bare=True
        )
        api_url = get_anymail_setting(
            "api_url",
            esp_name=self.esp_name,
            kwargs=kwargs,
            default=self.default_api_url,
        )
        if not api_url.endswith("/"):
            api_url += "/"
        self.api_url = api_url
        # settings only (not an as_view() keyword)
        self.download_chunk_size = get_anymail_setting(
            "download_chunk_size",
            esp_name=self.esp_name,
            default=DEFAULT_DOWNLOAD_CHUNK_SIZE,
        )
        super().__init__(**kwargs)  # inbound secret, then WEBHOOK_SECRET

    def parse_events(self, request):
        # Check every event before fetching anything, then fetch them all
        # before any is dispatched.
        wanted = [
            self.message_to_fetch(esp_event)
            for esp_event in self.load_events(request)
            if esp_event is not None
        ]
        return [
            None if item is None else self.fetch_inbound_event(*item) for item in wanted
        ]

    def message_to_fetch(self, esp_event: MailtrapInboundEvent):
        """(inbox_id, message_id, timestamp) as text, or None for a test sample."""
        name = _event_name(esp_event)
        if name not in self.event_names:
            if name.startswith("inbound"):
                raise ValueError(f"Unknown Mailtrap inbound event type: {name}")
            raise AnymailConfigurationError(
                "You seem to have set Mailtrap's *tracking* webhook"
                " to Anymail's Mailtrap *inbound* webhook URL."
            )
        inbox_id = esp_event.get("inbox_id")
        if _is_sample_inbox(inbox_id):
            # Mailtrap's "test your integration" sample names no real message.
            # (Like django-anymail 15.2, its signal is still sent, with
            # event=None.)
            return None
        if isinstance(inbox_id, bool) or not isinstance(inbox_id, (int, str)):
            raise TypeError("Mailtrap 'inbox_id' is not a number or string")
        message_id = esp_event["message_id"]
        if not isinstance(message_id, str):
            raise TypeError("Mailtrap 'message_id' is not a string")
        if inbox_id == "" or message_id == "":
            raise ValueError("Mailtrap inbox_id or message_id is empty")
        try:  # (not worth refusing the message over)
            timestamp = epoch_to_datetime(esp_event.get("timestamp"), milliseconds=True)
        except (TypeError, ValueError):
            timestamp = None
        return str(inbox_id), message_id, timestamp

    def fetch_inbound_event(self, inbox_id, message_id, timestamp):
        what = f"fetch inbound message {inbox_id}/{message_id}"
        with esp_api_errors(self.esp_name, what):
            details = self.fetch_message_details(inbox_id, message_id)
            message = self.download_raw_message(details["raw_message_url"])
        return AnymailInboundEvent(
            event_type=EventType.INBOUND,
            timestamp=timestamp,
            # Mailtrap's own event_id may change when it retries a delivery
            event_id=f"{inbox_id}/{message_id}",
            esp_event=details,
            message=message,
        )

    # -- Mailtrap's inbound API ------------------------------------------------

    def fetch_message_details(self, inbox_id, message_id) -> MailtrapInboundMessage:
        """The message's details from Mailtrap's inbound API.

        An HTTP error from Mailtrap propagates (requests.HTTPError → 500, so
        Mailtrap retries the webhook later). An answer Anymail can't use
        raises TypeError/KeyError, which the caller's esp_api_errors turns
        into AnymailAPIError (also a 500: it isn't the webhook's fault).
        """
        url = (
            f"{self.api_url}inbound/inboxes/{quote(inbox_id, safe='')}"
            f"/messages/{quote(message_id, safe='')}"
        )
        response = requests.get(
            url,
            headers={"Authorization": f"Bearer {self.api_token}"},
            timeout=esp_request_timeout(),
        )
        response.raise_for_status()
        details = response.json()
        if not isinstance(details, dict):
            raise TypeError("expected a JSON object")
        raw_message_url = details["raw_message_url"]
        if not isinstance(raw_message_url, str) or not raw_message_url:
            raise TypeError("raw_message_url is not a URL string")
        return details

    def download_raw_message(self, url):
        """Parse the raw MIME at `url` as it streams in (a presigned URL: no auth)."""
        chunk_size = self.download_chunk_size
        if chunk_size is not None and (
            isinstance(chunk_size, bool)
            or not isinstance(chunk_size, int)
            or chunk_size <= 0
        ):
            raise AnymailConfigurationError(
                "The Anymail MAILTRAP_DOWNLOAD_CHUNK_SIZE setting must be"
                f" a positive int, not {chunk_size!r}"
            )
        return download_raw_message(url, chunk_size)


# -- helpers -----------------------------------------------------------------------


def _is_sample_inbox(inbox_id):
    """Mailtrap's sample event has no inbox_id, or inbox 1."""
    return inbox_id is None or (inbox_id == 1 and not isinstance(inbox_id, bool))
