"""MailerSend webhooks: activity tracking events and inbound messages.

MailerSend posts one JSON object per request to either view. Every request is
signed: the ``Signature`` header holds the lowercase hex HMAC-SHA256 of the raw
request body, keyed with a secret MailerSend shows you. The tracking webhook
and the inbound route have different secrets: MAILERSEND_SIGNING_SECRET and
MAILERSEND_INBOUND_SECRET. (The shared WEBHOOK_SECRET basic auth is also
checked, when set.)
"""

import hashlib
import hmac
import json
from datetime import timezone

from django.utils.crypto import constant_time_compare
from django.utils.dateparse import parse_datetime

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
from ..utils import DEFAULT_DOWNLOAD_CHUNK_SIZE, get_anymail_setting
from .base import AnymailBaseWebhookView

SIGNATURE_HEADER = "Signature"
INBOUND_TYPE = "inbound.message"


class MailerSendBaseWebhookView(AnymailBaseWebhookView):
    """What MailerSend's webhooks share: the HMAC-SHA256 body signature."""

    esp_name = "MailerSend"

    # The signature check replaces the need for WEBHOOK_SECRET, so never warn
    # about its absence (basic auth is still enforced when it is set)
    warn_if_no_basic_auth = False

    #: name of the view's secret setting (without the MAILERSEND_ prefix),
    #: which is also the as_view() keyword for it
    secret_setting_name = None

    def __init__(self, **kwargs):
        # Required on every request, HEAD included
        secret = get_anymail_setting(
            self.secret_setting_name,
            esp_name=self.esp_name,
            kwargs=kwargs,
            default=None,
        )
        #: the secret as bytes, the HMAC key
        self.signing_secret = self._secret_bytes(secret)
        super().__init__(**kwargs)

    @property
    def secret_setting(self):
        """The full setting name, e.g. MAILERSEND_SIGNING_SECRET."""
        return f"MAILERSEND_{self.secret_setting_name.upper()}"

    def _secret_bytes(self, secret):
        if not secret:
            # missing, None or "" (an empty key would let anyone sign calls)
            setting = self.secret_setting
            raise AnymailConfigurationError(
                f"You must set ANYMAIL = {{'{setting}': ...}} or ANYMAIL_{setting}"
                " in your Django settings"
            )
        if isinstance(secret, bytes):
            return secret
        try:
            return str(secret).encode("ascii")
        except UnicodeEncodeError:
            raise AnymailConfigurationError(
                f"{self.secret_setting} must be ASCII text: use the secret"
                " exactly as MailerSend shows it"
            ) from None

    def validate_request(self, request):
        # Basic auth (when WEBHOOK_SECRET is set) is checked first, so its
        # failure is the one reported; the base's own run repeats it harmlessly
        super().validate_request(request)
        signature = request.headers.get(SIGNATURE_HEADER)
        if signature is None:
            raise AnymailWebhookValidationFailure(
                "MailerSend webhook called without signature"
            )
        expected = hmac.new(
            key=self.signing_secret, msg=request.body, digestmod=hashlib.sha256
        ).hexdigest()
        if not constant_time_compare(signature, expected):
            raise AnymailWebhookValidationFailure(
                "MailerSend webhook called with incorrect signature"
                f" (check Anymail {self.secret_setting} setting)"
            )

    @staticmethod
    def load_esp_event(request):
        """The posted JSON object (a dict); ValueError/TypeError for anything else.

        MailerSend escapes "/" as "\\/" in its JSON; any JSON parser undoes that.
        """
        esp_event = json.loads(request.body)
        if not isinstance(esp_event, dict):
            raise TypeError(
                f"MailerSend webhook payload is not a JSON object: {type(esp_event)}"
            )
        return esp_event


class MailerSendTrackingWebhookView(MailerSendBaseWebhookView):
    """MailerSend's activity webhook (one activity per post)."""

    signal = tracking
    secret_setting_name = "signing_secret"

    #: MAILERSEND_SIGNING_SECRET (``as_view(signing_secret=...)``); stored as bytes
    signing_secret = None

    #: activity ``data.type`` → event_type (anything else is "unknown")
    event_types = {
        "sent": EventType.SENT,
        "delivered": EventType.DELIVERED,
        "soft_bounced": EventType.BOUNCED,
        "hard_bounced": EventType.BOUNCED,
        "opened": EventType.OPENED,
        "clicked": EventType.CLICKED,
        "unsubscribed": EventType.UNSUBSCRIBED,
        "spam_complaint": EventType.COMPLAINED,
    }

    #: ``data.morph.object`` → reject_reason (anything else is None)
    morph_reject_reasons = {
        "recipient_bounce": RejectReason.BOUNCED,
        "spam_complaint": RejectReason.SPAM,
        "recipient_unsubscribe": RejectReason.UNSUBSCRIBED,
    }

    def parse_events(self, request):
        esp_event = self.load_esp_event(request)
        if esp_event.get("type") == INBOUND_TYPE:
            raise AnymailConfigurationError(
                "You seem to have set MailerSend's *inbound* route endpoint"
                " to Anymail's MailerSend *activity tracking* webhook URL."
            )
        return [self.esp_to_anymail_event(esp_event)]

    def esp_to_anymail_event(self, esp_event):
        activity = _object(esp_event["data"], "data")
        # The activity's own type ("hard_bounced"), not the top-level
        # "activity.hard_bounced"; required
        activity_type = activity["type"]
        if not isinstance(activity_type, str):
            raise TypeError(
                f"MailerSend activity type is not a string: {activity_type!r}"
            )
        email = _object(activity.get("email"), "data.email")
        message = _object(email.get("message"), "data.email.message")
        recipient = _object(email.get("recipient"), "data.email.recipient")
        morph = _object(activity.get("morph"), "data.morph")

        morph_object = morph.get("object")
        event = AnymailTrackingEvent(
            event_type=self.event_types.get(activity_type, EventType.UNKNOWN),
            timestamp=_parse_iso_datetime(activity.get("created_at")),
            event_id=activity.get("id"),
            esp_event=esp_event,
            message_id=message.get("id"),
            recipient=recipient.get("email"),
            metadata={},  # MailerSend doesn't support metadata
            reject_reason=(
                self.morph_reject_reasons.get(morph_object)
                if isinstance(morph_object, str)
                else None
            ),
            description=morph.get("readable_reason") or morph.get("reason"),
            mta_response=None,
            user_agent=None,
            click_url=morph.get("url"),
            # (a JSON null gives [], where django-anymail passes None through)
            tags=email.get("tags") or [],
        )
        return event


class MailerSendInboundWebhookView(MailerSendBaseWebhookView):
    """MailerSend's inbound route webhook (one message per post)."""

    signal = inbound
    secret_setting_name = "inbound_secret"

    #: MAILERSEND_INBOUND_SECRET (``as_view(inbound_secret=...)``); the view
    #: keeps it, as bytes, in ``signing_secret``
    inbound_secret = None

    def parse_events(self, request):
        esp_event = self.load_esp_event(request)
        esp_type = esp_event["type"]
        if not isinstance(esp_type, str):
            raise TypeError(f"MailerSend webhook type is not a string: {esp_type!r}")
        if esp_type != INBOUND_TYPE:
            raise AnymailConfigurationError(
                f"You seem to have set MailerSend's *{esp_type}* webhook"
                " to Anymail's MailerSend *inbound* webhook URL."
            )
        return [self.esp_to_anymail_event(esp_event)]

    def esp_to_anymail_event(self, esp_event):
        message_data = _object(esp_event["data"], "data")
        raw = message_data["raw"]
        if not isinstance(raw, str):
            raise TypeError(
                f"MailerSend inbound raw message is not a string: {type(raw)}"
            )
        envelope_sender = _envelope_sender(message_data)
        envelope_recipient = _envelope_recipient(message_data)

        # Everything about the message comes from its raw MIME source (the
        # JSON's own text, html, headers and attachments are not used). It is
        # encoded and parsed a piece at a time, so a big message isn't held
        # again in full as bytes.
        message = AnymailInboundMessage.parse_raw_mime_chunks(_utf8_chunks(raw))
        message.envelope_sender = envelope_sender
        message.envelope_recipient = envelope_recipient
        # MailerSend gives no spam verdict or score (its spf_check and
        # dkim_check aren't that) and no stripped bodies: those stay None

        return AnymailInboundEvent(
            event_type=EventType.INBOUND,
            timestamp=_parse_iso_datetime(message_data.get("created_at")),
            event_id=message_data.get("id"),
            esp_event=esp_event,
            message=message,
        )


def _object(value, name):
    """value if it is a JSON object, {} for null/missing; TypeError otherwise."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"MailerSend {name} is not an object: {value!r}")
    return value


def _optional_email(value, name):
    if value is not None and not isinstance(value, str):
        raise TypeError(f"MailerSend {name} is not a string: {value!r}")
    return value


def _envelope_sender(message_data):
    """data.sender.email (None when MailerSend doesn't give it)."""
    sender = _object(message_data.get("sender"), "data.sender")
    return _optional_email(sender.get("email"), "data.sender.email")


def _envelope_recipient(message_data):
    """The first of data.recipients.rcptTo (None when there isn't one)."""
    recipients = _object(message_data.get("recipients"), "data.recipients")
    rcpt_to = recipients.get("rcptTo")
    if not rcpt_to:
        return None
    if not isinstance(rcpt_to, list):
        raise TypeError(f"MailerSend data.recipients.rcptTo is not a list: {rcpt_to!r}")
    first = _object(rcpt_to[0], "data.recipients.rcptTo[0]")
    return _optional_email(first.get("email"), "data.recipients.rcptTo[0].email")


def _parse_iso_datetime(value):
    """An aware datetime from MailerSend's ISO 8601 timestamps.

    "2023-02-27T21:09:49.506000Z" → 2023-02-27 21:09:49.506 UTC. A time without
    an offset is taken as UTC. None when missing, null or not a date Django's
    parse_datetime understands; TypeError when not a string at all.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"MailerSend created_at is not a string: {value!r}")
    try:
        parsed = parse_datetime(value)
    except ValueError:  # well-formed but out of range (e.g. month 13)
        return None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def _utf8_chunks(text, size=DEFAULT_DOWNLOAD_CHUNK_SIZE):
    """UTF-8 encode text a piece at a time.

    Unpaired surrogates (valid JSON escapes, but not encodable) become "?"
    rather than failing: the parser is lenient with the rest of the message too.
    """
    for start in range(0, len(text), size):
        yield text[start : start + size].encode("utf-8", errors="replace")
