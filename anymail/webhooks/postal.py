"""Postal webhooks: tracking events and inbound messages.

Postal posts one JSON object per request, to either view. Every request is
signed: the X-Postal-Signature header holds a base64 RSA signature (PKCS#1
v1.5 with SHA-1) of the raw request body, made with the Postal instance's
private key. The views check it with POSTAL_WEBHOOK_KEY, the matching public
key. (The shared WEBHOOK_SECRET basic auth is also checked, when set.)

The ``cryptography`` package does the RSA check. It is imported only when a
request is validated, so importing this module (and anymail.urls) works
without it.
"""

import binascii
import math
from base64 import b64decode

from ..exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure
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
    get_str,
    load_json,
    load_public_key,
    single_addr_spec,
)

SIGNATURE_HEADER = "X-Postal-Signature"


class PostalBaseWebhookView(AnymailBaseWebhookView):
    """What Postal's tracking and inbound webhooks share: the RSA signature."""

    esp_name = "Postal"

    # The signature check replaces the need for WEBHOOK_SECRET, so never warn
    # about its absence (basic auth is still enforced when it is set)
    warn_if_no_basic_auth = False

    #: POSTAL_WEBHOOK_KEY: the Postal instance's public key, as the bare
    #: base64 text of its SubjectPublicKeyInfo (``as_view(webhook_key=...)``)
    webhook_key = None

    def __init__(self, **kwargs):
        # Required on every request, HEAD included (as django-anymail does)
        self.webhook_key = get_anymail_setting(
            "webhook_key", esp_name=self.esp_name, kwargs=kwargs, allow_bare=True
        )
        super().__init__(**kwargs)

    def validate_request(self, request):
        signature = request.headers.get(SIGNATURE_HEADER)
        if signature is None:
            raise AnymailWebhookValidationFailure(
                f"{SIGNATURE_HEADER} header missing from webhook"
            )
        verifier = _RsaSha1Verifier(self.webhook_key)
        if not verifier.is_valid(signature, request.body):
            raise AnymailWebhookValidationFailure(
                "Postal webhook called with incorrect signature"
            )


class PostalTrackingWebhookView(PostalBaseWebhookView):
    """Postal's message, bounce and link click webhook events (one per post)."""

    signal = tracking

    #: payload ``status`` → event_type (any other status is "unknown")
    status_types = {
        "Sent": EventType.DELIVERED,  # MessageSent
        "SoftFail": EventType.DEFERRED,  # MessageDelayed
        "HardFail": EventType.FAILED,  # MessageDeliveryFailed
        "Held": EventType.QUEUED,  # MessageHeld
    }

    def parse_events(self, request):
        esp_event = load_json(request.body, dict)
        if "rcpt_to" in esp_event:
            raise AnymailConfigurationError(
                "You seem to have set Postal's *inbound* webhook"
                " to Anymail's Postal *tracking* webhook URL."
            )
        event = self.esp_to_anymail_event(esp_event)
        return [] if event is None else [event]

    def esp_to_anymail_event(self, esp_event):
        """The AnymailTrackingEvent for esp_event, or None to skip it."""
        payload = esp_event["payload"]
        if not isinstance(payload, dict):
            raise TypeError(f"Postal event payload is not an object: {payload!r}")

        # Bounce events describe the bounced message as original_message
        message = payload.get("message") or payload.get("original_message") or {}
        if not isinstance(message, dict):
            raise TypeError(f"Postal event message is not an object: {message!r}")
        if message.get("direction") == "incoming":
            # Postal's notices about forwarding *inbound* mail aren't tracking
            # events for anything sent through Anymail: acknowledge and ignore
            return None

        # Postal's event name isn't used: the payload's contents decide
        if "status" in payload:
            status = payload["status"]
            event_type = (
                self.status_types.get(status, EventType.UNKNOWN)
                if isinstance(status, str)
                else EventType.UNKNOWN
            )
        elif "bounce" in payload:
            event_type = EventType.BOUNCED
        elif "url" in payload:
            event_type = EventType.CLICKED
        else:
            # includes opens (MessageLoaded), DNS errors and send limit notices
            event_type = EventType.UNKNOWN

        event = AnymailTrackingEvent(
            event_type=event_type,
            timestamp=_whole_seconds_to_datetime(esp_event.get("timestamp")),
            event_id=esp_event.get("uuid"),
            esp_event=esp_event,
            message_id=message.get("id"),  # Postal's integer message id
            recipient=single_addr_spec(message.get("to")),
            # always exactly one tag, even when Postal's is null
            tags=[message.get("tag")],
            reject_reason=(
                RejectReason.BOUNCED if event_type == EventType.BOUNCED else None
            ),
            description=payload.get("details"),
            mta_response=payload.get("output"),
            user_agent=payload.get("user_agent"),
            click_url=payload.get("url"),
        )
        # Postal has no metadata: django-anymail reports None (not {}) for it
        event.metadata = None
        return event


class PostalInboundWebhookView(PostalBaseWebhookView):
    """A Postal HTTP route endpoint, delivering "the raw message" as JSON."""

    signal = inbound

    def parse_events(self, request):
        esp_event = load_json(request.body, dict)
        if "status" in esp_event or ("event" in esp_event and "payload" in esp_event):
            raise AnymailConfigurationError(
                "You seem to have set Postal's *tracking* webhook"
                " to Anymail's Postal *inbound* webhook URL."
            )
        return [self.esp_to_anymail_event(esp_event)]

    def esp_to_anymail_event(self, esp_event):
        raw_message = esp_event["message"]
        if not isinstance(raw_message, str):
            raise TypeError(
                f"Postal inbound message is not a string: {type(raw_message)}"
            )
        envelope_sender = get_str(esp_event, "mail_from")
        envelope_recipient = get_str(esp_event, "rcpt_to")

        # Decode and parse a piece at a time, so a large message isn't held
        # again in full as decoded bytes
        if esp_event.get("base64") is True:
            chunks = base64_decoded_chunks(raw_message)
        else:
            chunks = utf8_encoded_chunks(raw_message)
        message = AnymailInboundMessage.parse_raw_mime_chunks(chunks)
        message.envelope_sender = envelope_sender
        message.envelope_recipient = envelope_recipient
        # Postal gives no spam verdict or stripped bodies: those stay None

        return AnymailInboundEvent(
            event_type=EventType.INBOUND,
            timestamp=None,  # Postal doesn't say when it received the message
            event_id=esp_event.get("id"),
            esp_event=esp_event,
            message=message,
        )


class _RsaSha1Verifier:
    """Checks Postal's RSA (PKCS#1 v1.5, SHA-1) signatures with a public key."""

    def __init__(self, key):
        self._public_key = load_public_key(
            key,
            key_type="RSA",
            setting_name="POSTAL_WEBHOOK_KEY",
            hint="use the public key from your Postal server's"
            " `postal default-dkim-record` (the text after 'p=')",
            install_extra="postal",
        )
        # (cryptography is installed, or load_public_key would have raised)
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        self._invalid_signature = InvalidSignature
        self._padding = padding.PKCS1v15()
        self._algorithm = hashes.SHA1()

    def is_valid(self, signature_b64, signed_bytes):
        try:
            signature = b64decode(signature_b64)
            self._public_key.verify(
                signature, signed_bytes, self._padding, self._algorithm
            )
        except (binascii.Error, ValueError, TypeError, self._invalid_signature):
            return False
        return True


def _whole_seconds_to_datetime(timestamp):
    """Aware UTC datetime from epoch seconds, truncated to whole seconds.

    None for a missing, null or zero timestamp; otherwise as epoch_to_datetime
    (TypeError for a non-number, ValueError if out of range).
    """
    if not timestamp:
        return None
    if isinstance(timestamp, float) and math.isfinite(timestamp):
        timestamp = int(timestamp)  # (nan and inf: epoch_to_datetime refuses them)
    return epoch_to_datetime(timestamp)
