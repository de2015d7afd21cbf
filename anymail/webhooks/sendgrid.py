"""SendGrid tracking (Event Webhook) and inbound (Inbound Parse) webhooks.

Tracking: SendGrid posts a JSON array of events. When the "Signed Event
Webhook" verification key is configured, every post must carry a valid ECDSA
signature over its timestamp header plus the raw body.

Inbound: SendGrid's Inbound Parse posts a multipart form, either with the
message already taken apart ("headers", "text", "html", attachment files...)
or, with "POST the raw, full MIME message" on, the whole message in an
"email" field.

django-anymail no longer officially supports SendGrid: each view instance
(so every request) emits AnymailNotSupportedWarning.
"""

import binascii
import codecs
import json
import warnings
from base64 import b64decode
from io import BytesIO
from tempfile import SpooledTemporaryFile

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.http.request import RawPostDataException

from ..backends.sendgrid import NOT_SUPPORTED_WARNING
from ..exceptions import AnymailNotSupportedWarning, AnymailWebhookValidationFailure
from ..inbound import AnymailInboundMessage
from ..signals import (
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    RejectReason,
    inbound,
    tracking,
)
from ..utils import (
    DEFAULT_DOWNLOAD_CHUNK_SIZE,
    get_anymail_setting,
    utf8_encoded_chunks,
)
from .base import (
    AnymailBaseWebhookView,
    epoch_to_datetime,
    form_fields,
    load_json,
    load_public_key,
)

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
INCORRECT_SIGNATURE = (
    "SendGrid webhook called with incorrect signature"
    " (check Anymail SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY setting)"
)


def _warn_not_supported():
    warnings.warn(NOT_SUPPORTED_WARNING, AnymailNotSupportedWarning, stacklevel=3)


# ---------------------------------------------------------------------------
# Tracking


class SendGridTrackingWebhookView(AnymailBaseWebhookView):
    """SendGrid Event Webhook: a JSON array of delivery and engagement events."""

    esp_name = "SendGrid"
    signal = tracking

    # Accepted as an as_view() keyword (overrides the setting):
    tracking_webhook_verification_key = None

    event_types = {
        "processed": EventType.QUEUED,
        "deferred": EventType.DEFERRED,
        "delivered": EventType.DELIVERED,
        "bounce": EventType.BOUNCED,
        "dropped": EventType.REJECTED,
        "open": EventType.OPENED,
        "click": EventType.CLICKED,
        "spamreport": EventType.COMPLAINED,
        "unsubscribe": EventType.UNSUBSCRIBED,
        "group_unsubscribe": EventType.UNSUBSCRIBED,
        "group_resubscribe": EventType.SUBSCRIBED,
    }

    # dropped events: the lowercased "type" (or "reason")
    reject_reasons = {
        "invalid": RejectReason.INVALID,
        "unsubscribed address": RejectReason.UNSUBSCRIBED,
        "bounce": RejectReason.BOUNCED,
        "bounced address": RejectReason.BOUNCED,
        "blocked": RejectReason.BLOCKED,
        "expired": RejectReason.TIMED_OUT,
    }

    # SendGrid flattens the message's custom_args into each event; every
    # other key is metadata
    sendgrid_event_fields = frozenset(
        [
            "anymail_id",
            "asm_group_id",
            "attempt",
            "category",
            "cert_err",
            "email",
            "event",
            "ip",
            "marketing_campaign_id",
            "marketing_campaign_name",
            "newsletter",
            "nlvx_campaign_id",
            "nlvx_campaign_split_id",
            "nlvx_user_id",
            "pool",
            "post_type",
            "reason",
            "response",
            "send_at",
            "sg_event_id",
            "sg_message_id",
            "smtp-id",
            "status",
            "timestamp",
            "tls",
            "type",
            "url",
            "url_offset",
            "useragent",
        ]
    )

    def __init__(self, **kwargs):
        _warn_not_supported()
        key = get_anymail_setting(
            "tracking_webhook_verification_key",
            esp_name=self.esp_name,
            kwargs=kwargs,
            allow_bare=True,
            default=None,
        )
        self.tracking_webhook_verification_key = key
        self._verifier = _EcdsaVerifier(key) if key else None
        # A signature check replaces the need for WEBHOOK_SECRET
        self.warn_if_no_basic_auth = self._verifier is None
        super().__init__(**kwargs)

    def validate_request(self, request):
        if self._verifier is None:
            return
        signature = request.headers.get(SIGNATURE_HEADER)
        if signature is None:
            raise AnymailWebhookValidationFailure(
                f"{SIGNATURE_HEADER} header missing from webhook"
            )
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        if timestamp is None:
            raise AnymailWebhookValidationFailure(
                f"{TIMESTAMP_HEADER} header missing from webhook"
            )
        signed = timestamp.encode("utf-8") + request.body
        if not self._verifier.is_valid(signature, signed):
            raise AnymailWebhookValidationFailure(INCORRECT_SIGNATURE)

    def parse_events(self, request):
        esp_events = load_json(request.body, list)
        return [self.esp_to_anymail_event(esp_event) for esp_event in esp_events]

    def esp_to_anymail_event(self, esp_event):
        if not isinstance(esp_event, dict):
            raise TypeError("SendGrid tracking events must be JSON objects")
        sendgrid_type = esp_event["event"]
        event_type = self.event_types.get(sendgrid_type, EventType.UNKNOWN)

        if sendgrid_type == "dropped":
            # Dropped before reaching any MTA: the cause is SendGrid's own
            cause = esp_event.get("type", esp_event.get("reason", ""))
            reject_reason = self.reject_reasons.get(cause.lower(), RejectReason.OTHER)
            mta_response = None
        else:
            reject_reason = None
            # delivered has "response"; bounce and deferred have "reason"
            mta_response = esp_event.get("response", esp_event.get("reason"))

        try:
            timestamp = epoch_to_datetime(esp_event.get("timestamp"))
        except ValueError:  # out of range
            timestamp = None

        return AnymailTrackingEvent(
            event_type=event_type,
            timestamp=timestamp,
            event_id=esp_event.get("sg_event_id"),
            # anymail_id is the id Anymail generated when sending; smtp-id
            # identified messages sent by very old versions
            message_id=esp_event.get("anymail_id", esp_event.get("smtp-id")),
            recipient=esp_event.get("email"),
            reject_reason=reject_reason,
            mta_response=mta_response,
            tags=esp_event.get("category", []),
            metadata={
                field: value
                for field, value in esp_event.items()
                if field not in self.sendgrid_event_fields
            },
            click_url=esp_event.get("url"),
            user_agent=esp_event.get("useragent"),
            esp_event=esp_event,
        )


class _EcdsaVerifier:
    """Checks SendGrid's ECDSA-SHA256 signatures with the account's public key."""

    def __init__(self, key):
        self._public_key = load_public_key(
            key,
            key_type="EC",
            setting_name="SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY",
            hint="use the verification key shown in SendGrid's Signed Event"
            " Webhook settings",
            install_extra="sendgrid",
        )
        # (cryptography is installed, or load_public_key would have raised)
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        self._invalid_signature = InvalidSignature
        self._algorithm = ec.ECDSA(hashes.SHA256())

    def is_valid(self, signature_b64, signed_bytes):
        try:
            signature = b64decode(signature_b64)
            self._public_key.verify(signature, signed_bytes, self._algorithm)
        except (binascii.Error, ValueError, self._invalid_signature):
            return False
        return True


# ---------------------------------------------------------------------------
# Inbound


class SendGridInboundWebhookView(AnymailBaseWebhookView):
    """SendGrid Inbound Parse: one received message per multipart form post."""

    esp_name = "SendGrid"
    signal = inbound

    def __init__(self, **kwargs):
        _warn_not_supported()
        super().__init__(**kwargs)

    def parse_events(self, request):
        # Must happen before anything reads request.POST
        raw_body = _RawBodyKeeper(request)
        try:
            return [self.esp_to_anymail_event(request, raw_body)]
        finally:
            raw_body.close()

    def esp_to_anymail_event(self, request, raw_body):
        post, files = form_fields(request), request.FILES

        if "headers" in post:
            message = self.message_from_parsed_fields(request, raw_body)
        elif "email" in files:
            # (SendGrid sends a plain field, but a file upload works too)
            message = AnymailInboundMessage.parse_raw_mime_chunks(
                files["email"].chunks()
            )
        elif "email" in post:
            message = self.message_from_raw_field(request, raw_body)
        else:
            raise KeyError(
                "Invalid SendGrid inbound event data"
                " (missing both 'headers' and 'email' fields)"
            )

        try:
            envelope = json.loads(post["envelope"])
        except (KeyError, ValueError):
            pass  # no (usable) envelope: leave the envelope fields None
        else:
            # a well-formed envelope that isn't SendGrid's shape is malformed
            message.envelope_sender = envelope["from"]
            message.envelope_recipient = envelope["to"][0]

        # SendGrid gives a score, but no yes/no verdict
        message.spam_detected = None
        try:
            message.spam_score = float(post["spam_score"])
        except (KeyError, ValueError, OverflowError):
            message.spam_score = None

        return AnymailInboundEvent(
            event_type=EventType.INBOUND,
            timestamp=None,
            event_id=None,
            esp_event=request,
            message=message,
        )

    def message_from_parsed_fields(self, request, raw_body):
        post = request.POST
        bodies = {field: post.get(field) for field in ("text", "html")}

        # Inbound Parse posts each body in the message's own charset, and
        # reports it in "charsets"; Django decoded them with the form's
        # encoding. Where those differ, re-decode the body from the raw post.
        form_encoding = request.encoding or settings.DEFAULT_CHARSET
        declared = _declared_charsets(post.get("charsets"))
        redecode = {
            field: declared[field]
            for field, value in bodies.items()
            if value is not None
            and field in declared
            and not _same_charset(declared[field], form_encoding)
        }
        if redecode:
            raw_fields = raw_body.fields(list(redecode))
            for field, charset in redecode.items():
                if field in raw_fields:
                    bodies[field] = raw_fields[field].decode(charset, "replace")

        return AnymailInboundMessage.construct(
            raw_headers=post["headers"],
            text=bodies["text"],
            html=bodies["html"],
            attachments=self.attachments_from_form(request),
        )

    def attachments_from_form(self, request):
        attachment_info = json.loads(request.POST.get("attachment-info", "{}"))
        attachments = []
        for field in sorted(attachment_info):
            info = attachment_info[field]
            content_id = info.get("content-id") or None
            try:
                uploaded_file = request.FILES[field]
            except KeyError:
                # Django drops file parts with an unusable (e.g. empty) name
                continue
            attachments.append(
                AnymailInboundMessage.construct_attachment_from_uploaded_file(
                    uploaded_file, content_id=content_id
                )
            )
        return attachments

    def message_from_raw_field(self, request, raw_body):
        raw_mime = request.POST["email"]
        if "\N{REPLACEMENT CHARACTER}" in raw_mime:
            # Probably 8-bit content that wasn't in the form's encoding:
            # parse the field's exact bytes instead, if they're still around
            raw_fields = raw_body.fields(["email"])
            if "email" in raw_fields:
                return AnymailInboundMessage.parse_raw_mime_bytes(raw_fields["email"])
        return AnymailInboundMessage.parse_raw_mime_chunks(
            utf8_encoded_chunks(raw_mime)
        )


def _declared_charsets(charsets_field):
    """The "charsets" field's {field: charset}; {} if missing or invalid."""
    try:
        charsets = json.loads(charsets_field)
    except (TypeError, ValueError):
        return {}
    if not isinstance(charsets, dict):
        return {}
    return {
        field: charset
        for field, charset in charsets.items()
        if isinstance(charset, str) and _known_charset(charset)
    }


def _known_charset(charset):
    try:
        codecs.lookup(charset)
    except LookupError:
        return False
    return True


def _same_charset(charset, other):
    try:
        return codecs.lookup(charset).name == codecs.lookup(other).name
    except LookupError:
        return charset.lower() == other.lower()


class _RawBodyKeeper:
    """Keeps an inbound post's raw multipart body readable after Django parses it.

    Needed to re-decode fields whose charset isn't the form's. A body small
    enough for ``request.body`` (DATA_UPLOAD_MAX_MEMORY_SIZE) is simply read
    first, as receivers may want ``request.body`` too. A larger one is
    copied, while Django parses it, to a temporary file that stays in memory
    only up to FILE_UPLOAD_MAX_MEMORY_SIZE, so big attachments aren't held in
    memory twice.
    """

    def __init__(self, request):
        self.request = request
        self.spooler = None
        try:
            content_length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            content_length = 0
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is None or content_length <= limit:
            try:
                request.body  # noqa: B018 (reads and keeps the raw body)
            except RawPostDataException:
                pass  # already parsed (by middleware?): raw body unavailable
        else:
            handlers = request.upload_handlers
            # (once Django has parsed the form, the list is immutable, and the
            # raw body is gone)
            if isinstance(handlers, list):
                self.spooler = _SpoolingUploadHandler(request)
                handlers.insert(0, self.spooler)

    def open(self):
        """A binary file of the raw body, or None if it is no longer available."""
        if self.spooler is not None:
            return self.spooler.rewound_spool()
        try:
            return BytesIO(self.request.body)
        except RawPostDataException:
            return None

    def fields(self, names):
        """{name: bytes} for the named (non-file) form fields that are present.

        Decoding with ISO-8859-1 maps every byte to one character, so the
        exact bytes come back out of Django's parser.
        """
        stream = self.open()
        if stream is None:
            return {}
        try:
            post, _files = MultiPartParser(
                self.request.META, stream, [_SkipFilesHandler()], "iso-8859-1"
            ).parse()
        except MultiPartParserError:
            return {}
        return {
            name: post.getlist(name)[0].encode("iso-8859-1")
            for name in names
            if post.getlist(name)
        }

    def close(self):
        if self.spooler is not None:
            self.spooler.close()


class _SpoolingUploadHandler(FileUploadHandler):
    """Copies the raw body to a spooled temp file, and has Django parse that."""

    def __init__(self, request):
        super().__init__(request)
        self.spool = None

    def handle_raw_input(
        self, input_data, META, content_length, boundary, encoding=None
    ):
        # (closed by close(), once the view is done with it)
        self.spool = SpooledTemporaryFile(  # noqa: SIM115
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
            dir=settings.FILE_UPLOAD_TEMP_DIR,
        )
        while chunk := input_data.read(DEFAULT_DOWNLOAD_CHUNK_SIZE):
            self.spool.write(chunk)
        self.spool.seek(0)
        # Django's own parse, with the other handlers, from the copy
        other_handlers = [
            handler for handler in self.request.upload_handlers if handler is not self
        ]
        return MultiPartParser(META, self.spool, other_handlers, encoding).parse()

    def rewound_spool(self):
        if self.spool is None:
            return None
        self.spool.seek(0)
        return self.spool

    def receive_data_chunk(self, raw_data, start):
        return raw_data

    def file_complete(self, file_size):
        return None

    def close(self):
        if self.spool is not None:
            self.spool.close()
            self.spool = None


class _SkipFilesHandler(FileUploadHandler):
    """Upload handler for a fields-only parse: discards every file part."""

    def new_file(self, *args, **kwargs):
        raise SkipFile()

    def receive_data_chunk(self, raw_data, start):
        return None

    def file_complete(self, file_size):
        return None
