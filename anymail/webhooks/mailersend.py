"""MailerSend webhooks: activity tracking events and inbound messages.

MailerSend posts one JSON object per request to either view. Every request is
signed: the ``Signature`` header holds the lowercase hex HMAC-SHA256 of the raw
request body, keyed with a secret MailerSend shows you. The tracking webhook
and the inbound route have different secrets: MAILERSEND_SIGNING_SECRET and
MAILERSEND_INBOUND_SECRET. (The shared WEBHOOK_SECRET basic auth is also
checked, when set.)
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
from ..utils import get_anymail_setting, utf8_encoded_chunks
from .base import (
    AnymailBaseWebhookView,
    check_body_hmac_signature,
    get_object,
    get_str,
    load_json,
    optional_iso_datetime,
    signing_key_bytes,
)

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
        self.signing_secret = signing_key_bytes(
            secret, setting_name=self.secret_setting, esp_name=self.esp_name
        )
        super().__init__(**kwargs)

    @property
    def secret_setting(self):
        """The full setting name, e.g. MAILERSEND_SIGNING_SECRET."""
        return f"MAILERSEND_{self.secret_setting_name.upper()}"

    def validate_request(self, request):
        # Basic auth (when WEBHOOK_SECRET is set) is checked first, so its
        # failure is the one reported; the base's own run repeats it harmlessly
        super().validate_request(request)
        check_body_hmac_signature(
            request,
            header=SIGNATURE_HEADER,
            key=self.signing_secret,
            esp_name=self.esp_name,
            setting_name=self.secret_setting,
        )

    @staticmethod
    def load_esp_event(request):
        """The posted JSON object (a dict); ValueError/TypeError for anything else.

        MailerSend escapes "/" as "\\/" in its JSON; any JSON parser undoes that.
        """
        return load_json(request.body, dict)


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
        activity = get_object(esp_event, "data") or {}
        # The activity's own type ("hard_bounced"), not the top-level
        # "activity.hard_bounced"; required
        activity_type = activity["type"]
        if not isinstance(activity_type, str):
            raise TypeError(
                f"MailerSend activity type is not a string: {activity_type!r}"
            )
        email = get_object(activity, "email") or {}
        message = get_object(email, "message") or {}
        recipient = get_object(email, "recipient") or {}
        morph = get_object(activity, "morph") or {}

        morph_object = morph.get("object")
        event = AnymailTrackingEvent(
            event_type=self.event_types.get(activity_type, EventType.UNKNOWN),
            timestamp=optional_iso_datetime(get_str(activity, "created_at")),
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
        message_data = get_object(esp_event, "data") or {}
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
        # (Unpaired surrogates, valid JSON escapes but not encodable, become
        # "?": the parser is lenient with the rest of the message too.)
        message = AnymailInboundMessage.parse_raw_mime_chunks(
            utf8_encoded_chunks(raw, errors="replace")
        )
        message.envelope_sender = envelope_sender
        message.envelope_recipient = envelope_recipient
        # MailerSend gives no spam verdict or score (its spf_check and
        # dkim_check aren't that) and no stripped bodies: those stay None

        return AnymailInboundEvent(
            event_type=EventType.INBOUND,
            timestamp=optional_iso_datetime(get_str(message_data, "created_at")),
            event_id=message_data.get("id"),
            esp_event=esp_event,
            message=message,
        )


def _envelope_sender(message_data):
    """data.sender.email (None when MailerSend doesn't give it)."""
    sender = get_object(message_data, "sender") or {}
    return get_str(sender, "email")


def _envelope_recipient(message_data):
    """The first of data.recipients.rcptTo (None when there isn't one)."""
    recipients = get_object(message_data, "recipients") or {}
    rcpt_to = recipients.get("rcptTo")
    if not rcpt_to:
        return None
    if not isinstance(rcpt_to, list):
        raise TypeError(f"MailerSend data.recipients.rcptTo is not a list: {rcpt_to!r}")
    first = rcpt_to[0]
    if first is None:
        return None
    if not isinstance(first, dict):
        raise TypeError(
            f"MailerSend data.recipients.rcptTo[0] is not an object: {first!r}"
        )
    return get_str(first, "email")
