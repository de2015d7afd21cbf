"""Mandrill webhooks: one combined view for tracking events and inbound mail.

Mandrill posts a form (``application/x-www-form-urlencoded``) whose
``mandrill_events`` field is a JSON array of events. Tracking events (send,
open, click, bounce, ... and the rejection-list "sync" events) go out on the
tracking signal; ``inbound`` events, each carrying the complete raw message,
go out on the inbound signal. Mandrill configures tracking and inbound
webhooks separately, so a single post never mixes the two kinds.

Every post is signed: the X-Mandrill-Signature header is the base64
HMAC-SHA1, keyed with the webhook's authentication key, of the webhook URL
followed by each form field's name and value (fields sorted by name). Mandrill
probes a new URL with an unsigned HEAD before it shows the key, so the key is
only required when a POST is validated. (The shared WEBHOOK_SECRET basic auth
is also checked, when set.)
"""

import hashlib
import hmac
from base64 import b64encode
from urllib.parse import urlsplit, urlunsplit

from django.utils.crypto import constant_time_compare

from ..exceptions import AnymailWebhookValidationFailure
from ..inbound import AnymailInboundMessage
from ..signals import (
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    inbound,
    tracking,
)
from ..utils import (
    DEFAULT_DOWNLOAD_CHUNK_SIZE,
    get_anymail_setting,
    get_request_uri,
    utf8_encoded_chunks,
)
from .base import (
    AnymailBaseWebhookView,
    epoch_to_datetime,
    form_fields,
    get_object,
    load_json,
    signing_key_bytes,
)

SIGNATURE_HEADER = "X-Mandrill-Signature"
EVENTS_FIELD = "mandrill_events"


class MandrillSignatureMixin:
    """Checks Mandrill's X-Mandrill-Signature (HMAC-SHA1 of URL + POST fields)."""

    # The signature check replaces the need for WEBHOOK_SECRET, so never warn
    # about its absence (basic auth is still enforced when it is set)
    warn_if_no_basic_auth = False

    #: MANDRILL_WEBHOOK_KEY: the webhook's authentication key, from Mandrill's
    #: webhook settings (``as_view(webhook_key=...)``). Required for POSTs only.
    webhook_key = None
    #: MANDRILL_WEBHOOK_URL: the exact URL registered at Mandrill, when it
    #: differs from what Django sees (``as_view(webhook_url=...)``). Optional.
    webhook_url = None

    def __init__(self, **kwargs):
        esp_name = self.esp_name
        # A missing key is only an error when a POST needs it: Mandrill checks
        # a new webhook URL with an unsigned HEAD before it reveals the key
        self.webhook_key = get_anymail_setting(
            "webhook_key",
            esp_name=esp_name,
            kwargs=kwargs,
            allow_bare=True,
            default=None,
        )
        self.webhook_url = get_anymail_setting(
            "webhook_url",
            esp_name=esp_name,
            kwargs=kwargs,
            allow_bare=True,
            default=None,
        )
        super().__init__(**kwargs)

    def validate_request(self, request):
        key = signing_key_bytes(
            self.webhook_key,
            setting_name="MANDRILL_WEBHOOK_KEY",
            esp_name=self.esp_name,
            allow_bare=True,
        )
        try:
            signature = request.headers[SIGNATURE_HEADER]
        except KeyError:
            raise AnymailWebhookValidationFailure(
                f"{SIGNATURE_HEADER} header missing from webhook POST"
            ) from None

        url = self.webhook_url or get_request_uri(request)
        expected = _mandrill_signature(key, url, form_fields(request))
        if not constant_time_compare(signature, expected):
            raise AnymailWebhookValidationFailure(
                "Mandrill webhook called with incorrect signature"
                f" (for url {_without_password(url)!r})"
            )


class MandrillCombinedWebhookView(MandrillSignatureMixin, AnymailBaseWebhookView):
    """Mandrill's tracking and inbound webhooks, at one URL.

    Each post's events go out on the tracking signal, or (for inbound events)
    on the inbound signal: parse_events picks the signal for the post.
    """

    esp_name = "Mandrill"
    signal = tracking  # inbound posts switch this instance to the inbound signal

    #: Mandrill event (or sync event ``type``) → Anymail event_type.
    #: Any other type, including the whitelist/blacklist sync events, is "unknown".
    event_types = {
        "send": EventType.SENT,
        "deferral": EventType.DEFERRED,
        "hard_bounce": EventType.BOUNCED,
        "soft_bounce": EventType.BOUNCED,
        "open": EventType.OPENED,
        "click": EventType.CLICKED,
        "spam": EventType.COMPLAINED,
        "unsub": EventType.UNSUBSCRIBED,
        "reject": EventType.REJECTED,
    }

    #: pieces (in characters) in which an inbound raw_msg is handed to the parser
    raw_message_chunk_size = DEFAULT_DOWNLOAD_CHUNK_SIZE

    def parse_events(self, request):
        esp_events = load_json(form_fields(request)[EVENTS_FIELD], list)
        for esp_event in esp_events:
            if not isinstance(esp_event, dict):
                raise TypeError(f"Mandrill event is not a JSON object: {esp_event!r}")

        inbound_flags = {_esp_type(esp_event) == "inbound" for esp_event in esp_events}
        if len(inbound_flags) > 1:
            # Mandrill posts tracking and inbound events from separate webhooks
            raise ValueError("Mandrill webhook post mixes inbound and tracking events")
        if inbound_flags == {True}:
            self.signal = inbound
            return [self.esp_to_anymail_inbound_event(e) for e in esp_events]
        self.signal = tracking
        return [self.esp_to_anymail_tracking_event(e) for e in esp_events]

    def esp_to_anymail_tracking_event(self, esp_event):
        esp_type = _esp_type(esp_event)
        event_type = (
            self.event_types.get(esp_type, EventType.UNKNOWN)
            if isinstance(esp_type, str)
            else EventType.UNKNOWN
        )
        msg = get_object(esp_event, "msg") or {}  # message events
        reject = get_object(esp_event, "reject") or {}  # rejection-list sync events

        recipient = msg.get("email")
        if recipient is None:
            recipient = reject.get("email")
        description = reject.get("detail")
        if description is None:
            description = reject.get("reason")

        return AnymailTrackingEvent(
            event_type=event_type,
            timestamp=epoch_to_datetime(esp_event.get("ts")),
            event_id=None,  # Mandrill gives events no id of their own
            esp_event=esp_event,
            message_id=esp_event.get("_id"),
            recipient=recipient,
            metadata=msg.get("metadata") or {},
            tags=msg.get("tags") or [],
            reject_reason=None,  # Mandrill's bounce data doesn't normalize reliably
            description=description,
            mta_response=msg.get("diag"),
            user_agent=esp_event.get("user_agent"),
            click_url=esp_event.get("url"),
        )

    def esp_to_anymail_inbound_event(self, esp_event):
        msg = esp_event["msg"]
        if not isinstance(msg, dict):
            raise TypeError(f"Mandrill inbound msg is not a JSON object: {msg!r}")
        raw_msg = msg["raw_msg"]
        if not isinstance(raw_msg, str):
            raise TypeError(f"Mandrill inbound raw_msg is not a string: {raw_msg!r}")

        # Mandrill's own parsed fields are ignored: the raw MIME has everything.
        # (Unpaired surrogates, which JSON can smuggle in, become "?" rather
        # than failing: the MIME parser is lenient about the rest.)
        message = AnymailInboundMessage.parse_raw_mime_chunks(
            utf8_encoded_chunks(raw_msg, self.raw_message_chunk_size, errors="replace")
        )
        message.envelope_sender = None  # msg.sender only applies to outbound mail
        message.envelope_recipient = msg.get("email")
        message.spam_detected = None  # Mandrill reports only a score
        message.spam_score = _spam_score(msg.get("spam_report"))

        return AnymailInboundEvent(
            event_type=EventType.INBOUND,
            timestamp=epoch_to_datetime(esp_event.get("ts")),
            event_id=None,
            esp_event=esp_event,
            message=message,
        )


# Older name, kept for compatibility: the very same class (routed at both
# mandrill/ and the legacy mandrill/tracking/)
MandrillTrackingWebhookView = MandrillCombinedWebhookView


def _mandrill_signature(key, url, post_data):
    """base64 HMAC-SHA1 of url + each POST field's name and (last) value, by name."""
    signed = hmac.new(key, url.encode("utf-8"), digestmod=hashlib.sha1)
    for name, value in sorted(post_data.items()):
        signed.update(name.encode("utf-8"))
        signed.update(value.encode("utf-8"))
    return b64encode(signed.digest()).decode("ascii")


def _esp_type(esp_event):
    """The event's type: ``event`` (message events) else ``type`` (sync events)."""
    if "event" in esp_event:
        return esp_event["event"]
    return esp_event.get("type")


def _spam_score(spam_report):
    """spam_report.score as a float, or None when absent or not a number."""
    if not isinstance(spam_report, dict):
        return None
    score = spam_report.get("score")
    if isinstance(score, bool):
        return None
    try:
        return float(score)
    except (TypeError, ValueError):
        return None


def _without_password(url):
    """`url` with any basic-auth password masked, for error messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
