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
import json
import re
from base64 import b64decode
from datetime import datetime, timezone

from ..exceptions import (
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailInvalidAddress,
    AnymailWebhookValidationFailure,
)
from ..inbound import AnymailInboundMessage
from ..signals import (
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    RejectReason,
    inbound,
    tracking,
)
from ..utils import DEFAULT_DOWNLOAD_CHUNK_SIZE, get_anymail_setting, parse_address_list
from .base import AnymailBaseWebhookView

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

    def load_esp_event(self, request):
        """The posted JSON object (a dict); ValueError/TypeError for anything else."""
        esp_event = json.loads(request.body)
        if not isinstance(esp_event, dict):
            raise TypeError(
                f"Postal webhook payload is not a JSON object: {type(esp_event)}"
            )
        return esp_event


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
        esp_event = self.load_esp_event(request)
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
            timestamp=_epoch_seconds_to_datetime(esp_event.get("timestamp")),
            event_id=esp_event.get("uuid"),
            esp_event=esp_event,
            message_id=message.get("id"),  # Postal's integer message id
            recipient=_single_addr_spec(message.get("to")),
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
        esp_event = self.load_esp_event(request)
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
        envelope_sender = _optional_str(esp_event, "mail_from")
        envelope_recipient = _optional_str(esp_event, "rcpt_to")

        # Decode and parse a piece at a time, so a large message isn't held
        # again in full as decoded bytes
        if esp_event.get("base64") is True:
            chunks = _base64_chunks(raw_message)
        else:
            chunks = _utf8_chunks(raw_message)
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
        try:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import padding, rsa
        except ImportError as err:
            raise AnymailImproperlyInstalled(
                missing_package="cryptography", install_extra="postal"
            ) from err
        self._invalid_signature = InvalidSignature
        self._padding = padding.PKCS1v15()
        self._algorithm = hashes.SHA1()

        if isinstance(key, bytes):
            key = key.decode("ascii", errors="replace")
        key = str(key).strip()
        if "-----BEGIN" in key:
            pem = key  # already a full PEM block (tolerated)
        else:
            # what `postal default-dkim-record` shows after p=
            pem = f"-----BEGIN PUBLIC KEY-----\n{key}\n-----END PUBLIC KEY-----\n"
        try:
            public_key = serialization.load_pem_public_key(pem.encode("utf-8"))
        except (ValueError, TypeError) as err:
            # a server misconfiguration (500), not a bad request (400)
            raise AnymailConfigurationError(
                "Invalid POSTAL_WEBHOOK_KEY: use the public key from your Postal"
                " server's `postal default-dkim-record` (the text after 'p=')"
                f" ({err})"
            ) from err
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise AnymailConfigurationError(
                "Invalid POSTAL_WEBHOOK_KEY: it must be an RSA public key"
            )
        self._public_key = public_key

    def is_valid(self, signature_b64, signed_bytes):
        try:
            signature = b64decode(signature_b64)
            self._public_key.verify(
                signature, signed_bytes, self._padding, self._algorithm
            )
        except (binascii.Error, ValueError, TypeError, self._invalid_signature):
            return False
        return True


def _epoch_seconds_to_datetime(timestamp):
    """Aware UTC datetime from epoch seconds, truncated to whole seconds.

    None for a missing, null or zero timestamp. Anything else that isn't a
    usable number raises ValueError or TypeError.
    """
    if not timestamp:
        return None
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        raise TypeError(f"Postal timestamp is not a number: {timestamp!r}")
    try:
        return datetime.fromtimestamp(int(timestamp), tz=timezone.utc)
    except (OverflowError, OSError, ValueError) as err:  # nan, inf, out of range
        raise ValueError(f"Invalid Postal timestamp {timestamp!r}") from err


def _single_addr_spec(address):
    """The addr_spec of a single address string; None if missing or unparseable."""
    if not isinstance(address, str):
        return None
    try:
        parsed = parse_address_list([address])
    except AnymailInvalidAddress:
        return None
    return parsed[0].addr_spec if len(parsed) == 1 else None


def _optional_str(esp_event, field):
    value = esp_event.get(field)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"Postal inbound {field} is not a string: {value!r}")
    return value


def _utf8_chunks(text, size=DEFAULT_DOWNLOAD_CHUNK_SIZE):
    """UTF-8 encode text a piece at a time."""
    for start in range(0, len(text), size):
        yield text[start : start + size].encode("utf-8")


_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]+")


def _base64_chunks(text, size=DEFAULT_DOWNLOAD_CHUNK_SIZE):
    """Base64-decode text a piece at a time.

    Like b64decode() without validation, characters outside the base64
    alphabet (such as the line breaks Postal puts in) are ignored. Invalid
    base64 (wrong padding, say) raises binascii.Error, a ValueError.
    """
    size = max(4, size - size % 4)
    pending = ""
    for start in range(0, len(text), size):
        pending += _NOT_BASE64.sub("", text[start : start + size])
        usable = len(pending) - len(pending) % 4
        if usable:
            yield b64decode(pending[:usable])
            pending = pending[usable:]
    if pending:
        yield b64decode(pending)  # an incomplete final group: raises
