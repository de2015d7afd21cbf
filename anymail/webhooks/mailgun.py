"""Mailgun tracking and inbound webhooks.

The tracking view receives both of Mailgun's webhook formats at the same URL:

* the current webhooks, which post a JSON object holding a ``signature``
  object and the ``event-data``;
* the "legacy" webhooks, which post form fields (``event``, ``recipient``,
  ..., mixed in with the sender's custom variables) plus ``timestamp``,
  ``token`` and ``signature`` fields.

The inbound view receives what a Mailgun receiving route's forward() action
posts: form fields holding either the whole raw message (``body-mime``, when
the forward URL contains "mime") or the message already taken apart (headers,
bodies and uploaded attachment files).

Either way Mailgun signs the request: the signature is the hex HMAC-SHA256 of
``timestamp`` followed by ``token``, keyed with the domain's webhook signing
key. Both views check it on every POST, so they don't need WEBHOOK_SECRET
basic auth to be secure (they still enforce it when you set one).
"""

import json
import re

from django.utils.crypto import constant_time_compare

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
from ..utils import (
    DEFAULT_DOWNLOAD_CHUNK_SIZE,
    UNSET,
    get_anymail_setting,
    utf8_encoded_chunks,
)
from .base import (
    MALFORMED_PAYLOAD_ERRORS,
    AnymailBaseWebhookView,
    epoch_to_datetime,
    form_fields,
    hmac_sha256_hexdigest,
    load_json,
    single_addr_spec,
)

# Mailgun's own fields in a legacy form post: anything else is a custom
# variable (metadata) the sender attached
_LEGACY_KNOWN_FIELDS = frozenset(
    [
        "event",
        "recipient",
        "domain",
        "ip",
        "country",
        "region",
        "city",
        "user-agent",
        "device-type",
        "client-type",
        "client-name",
        "client-os",
        "campaign-id",
        "campaign-name",
        "tag",
        "mailing-list",
        "timestamp",
        "token",
        "signature",
        "body-plain",
        "h",
        "message-id",
    ]
)
# Legacy events whose posts carry custom variables as loose form fields
# (rather than in a message-headers field)
_LEGACY_LOOSE_VARIABLE_EVENTS = ("opened", "unsubscribed", "clicked")
# Fields Mailgun posts last, after any same-named custom variable
_LEGACY_SIGNATURE_FIELDS = ("signature", "timestamp", "token")


class MailgunBaseWebhookView(AnymailBaseWebhookView):
    """Settings and signature check shared by Mailgun's tracking and inbound views."""

    esp_name = "Mailgun"
    # Every post is signed, so the missing-WEBHOOK_SECRET warning isn't needed
    warn_if_no_basic_auth = False

    # Accepted as as_view() keywords (settings overrides):
    webhook_signing_key = None  # bytes, after __init__
    api_key = None  # older name: the signing-key default

    def __init__(self, **kwargs):
        # Read (and consume) both keywords before View.__init__ sees them
        api_key = get_anymail_setting(
            "api_key",
            esp_name=self.esp_name,
            kwargs=kwargs,
            allow_bare=True,
            default=None,
        )
        signing_key = get_anymail_setting(
            "webhook_signing_key",
            esp_name=self.esp_name,
            kwargs=kwargs,
            default=UNSET if api_key is None else api_key,
        )
        if isinstance(signing_key, str):
            signing_key = signing_key.encode("ascii")
        self.webhook_signing_key = signing_key
        super().__init__(**kwargs)

    # -- validation ---------------------------------------------------------

    def validate_request(self, request):
        # WEBHOOK_SECRET basic auth (when set) is checked before the signature.
        # (The base view runs the basic-auth validator again afterwards; that
        # repeat is harmless.)
        super().validate_request(request)
        if self._is_json(request):
            timestamp, token, signature = self._json_signature_fields(request)
        else:
            timestamp, token, signature = self._form_signature_fields(request)
        expected = hmac_sha256_hexdigest(
            self.webhook_signing_key, f"{timestamp}{token}".encode("ascii")
        )
        if not constant_time_compare(signature, expected):
            raise AnymailWebhookValidationFailure(
                "Mailgun webhook called with incorrect signature"
            )

    @staticmethod
    def _json_signature_fields(request):
        try:
            fields = load_json(request.body)["signature"]
            return fields["timestamp"], fields["token"], fields["signature"]
        except (ValueError, KeyError, TypeError, IndexError):
            # (UnicodeDecodeError and JSONDecodeError are ValueErrors; a body
            # that is JSON but not an object gives TypeError or IndexError)
            raise AnymailWebhookValidationFailure(
                "Mailgun webhook called with invalid payload format"
            ) from None

    @staticmethod
    def _form_signature_fields(request):
        post = form_fields(request)
        try:
            # QueryDict[...] is the last value: Mailgun's own, after any
            # same-named custom variable
            return post["timestamp"], post["token"], post["signature"]
        except KeyError:
            raise AnymailWebhookValidationFailure(
                "Mailgun webhook called without required security fields"
            ) from None

    @staticmethod
    def _is_json(request):
        return request.content_type == "application/json"


class MailgunTrackingWebhookView(MailgunBaseWebhookView):
    """Mailgun tracking events, current (JSON) and legacy (form) webhooks."""

    signal = tracking

    #: Current-format event-data.event → normalized event_type
    event_types = {
        "accepted": EventType.QUEUED,
        "rejected": EventType.REJECTED,
        "delivered": EventType.DELIVERED,
        "failed": EventType.BOUNCED,
        "opened": EventType.OPENED,
        "clicked": EventType.CLICKED,
        "unsubscribed": EventType.UNSUBSCRIBED,
        "complained": EventType.COMPLAINED,
    }

    #: Current-format event-data.reason → reject_reason (others: OTHER)
    reject_reasons = {
        "bounce": RejectReason.BOUNCED,
        "suppress-bounce": RejectReason.BOUNCED,
        "generic": RejectReason.OTHER,
    }

    #: Legacy-format event → normalized event_type
    legacy_event_types = {
        "delivered": EventType.DELIVERED,
        "dropped": EventType.REJECTED,
        "bounced": EventType.BOUNCED,
        "complained": EventType.COMPLAINED,
        "unsubscribed": EventType.UNSUBSCRIBED,
        "opened": EventType.OPENED,
        "clicked": EventType.CLICKED,
    }

    #: Legacy-format numeric codes with a specific reject_reason
    legacy_reject_codes = {
        499: RejectReason.TIMED_OUT,  # Mailgun gave up retrying
        605: RejectReason.BOUNCED,  # address bounced before
        607: RejectReason.SPAM,  # recipient complained before
    }

    # -- parsing ------------------------------------------------------------

    def parse_events(self, request):
        if self._is_json(request):
            return [self.parse_json_event(load_json(request.body))]
        return [self.parse_legacy_event(form_fields(request))]

    def parse_json_event(self, payload):
        """The AnymailTrackingEvent for a current-format (JSON) payload."""
        event_data = payload["event-data"]
        event = event_data["event"]
        event_type = self.event_types.get(event, EventType.UNKNOWN)
        if event_data.get("severity") == "temporary":
            event_type = EventType.DEFERRED

        if "reason" in event_data:
            reject_reason = self.reject_reasons.get(
                event_data["reason"], RejectReason.OTHER
            )
        else:
            reject_reason = None

        # delivery-status may be missing, or present as null
        delivery_status = event_data.get("delivery-status") or {}
        description = delivery_status.get("description")
        mta_response = delivery_status.get("message")

        headers = (event_data.get("message") or {}).get("headers") or {}
        recipient = event_data.get("recipient")

        if event_type == EventType.REJECTED:
            # Mailgun's rejected events are shaped differently from the rest
            if reject_reason is None:
                reject_reason = RejectReason.OTHER
            if not description:
                description = (event_data.get("reject") or {}).get("reason")
            if recipient is None:
                recipient = single_addr_spec(headers.get("to"))

        timestamp = event_data.get("timestamp")
        if timestamp is not None:
            timestamp = epoch_to_datetime(float(timestamp))

        return AnymailTrackingEvent(
            event_type=event_type,
            timestamp=timestamp,
            # event-data.id is only unique per day; the signature token is
            # unique for every post
            event_id=payload["signature"]["token"],
            message_id=_wrap_message_id(headers.get("message-id")),
            recipient=recipient,
            reject_reason=reject_reason,
            description=description,
            mta_response=mta_response,
            tags=event_data.get("tags") or [],
            metadata=event_data.get("user-variables") or {},
            click_url=event_data.get("url"),
            user_agent=(event_data.get("client-info") or {}).get("user-agent"),
            esp_event=payload,
        )

    def parse_legacy_event(self, post):
        """The AnymailTrackingEvent for a legacy-format form post (a QueryDict).

        Mailgun mixes the sender's custom variables in with its own fields, so
        a name can repeat: most fields use their first value (Mailgun's), but
        timestamp and token use their last (Mailgun posts those after the
        variables).
        """

        def first(field, default=None):
            values = post.getlist(field)
            return values[0] if values else default

        if "event" not in post and "sender" in post:
            raise AnymailConfigurationError(
                "You seem to have set Mailgun's *inbound* route"
                " to Anymail's Mailgun *tracking* webhook URL."
            )
        event = first("event", UNSET)
        if event is UNSET:
            raise KeyError("Mailgun legacy webhook post has no 'event' field")

        message_id = first("Message-Id")
        if message_id is None:
            message_id = first("message-id")
        mta_response = first("error")
        if mta_response is None:
            mta_response = first("notification")

        return AnymailTrackingEvent(
            event_type=self.legacy_event_types.get(event, EventType.UNKNOWN),
            timestamp=epoch_to_datetime(int(post["timestamp"])),
            event_id=post["token"],
            message_id=_wrap_message_id(message_id),
            recipient=first("recipient"),
            reject_reason=self._legacy_reject_reason(first("code")),
            description=first("description"),
            mta_response=mta_response,
            tags=post.getlist("tag") or post.getlist("X-Mailgun-Tag") or [],
            metadata=self._legacy_metadata(post, event),
            click_url=first("url"),
            user_agent=first("user-agent"),
            esp_event=post,
        )

    def _legacy_reject_reason(self, code):
        if code is None:
            return None
        try:
            status = int(code)
        except ValueError:
            # An RFC 3463 extended status code ("5.1.1"): class 4 or 5 is a
            # (temporary or permanent) delivery failure
            status_class, dot, _ = code.partition(".")
            if dot and status_class in ("4", "5"):
                return RejectReason.BOUNCED
            return RejectReason.OTHER
        if status in self.legacy_reject_codes:
            return self.legacy_reject_codes[status]
        if 400 <= status <= 599:
            return RejectReason.BOUNCED
        return RejectReason.OTHER

    @staticmethod
    def _legacy_metadata(post, event):
        if "message-headers" in post:
            # The original message's headers, as JSON [name, value] pairs:
            # the variables are in X-Mailgun-Variables header(s)
            metadata = {}
            for name, value in json.loads(post.getlist("message-headers")[0]):
                if name.lower() == "x-mailgun-variables":
                    metadata.update(json.loads(value))
            return metadata

        if event not in _LEGACY_LOOSE_VARIABLE_EVENTS:
            return {}

        known_fields = _LEGACY_KNOWN_FIELDS
        if event == "clicked":
            known_fields = known_fields | {"url"}
        metadata = {}
        for field, values in post.lists():
            if field == "tag":
                continue
            if field not in known_fields:
                metadata[field] = values[-1]
            elif len(values) >= 2:
                # A custom variable shadowing one of Mailgun's fields: Mailgun
                # posts the signature fields after the variables, the others
                # before them
                if field in _LEGACY_SIGNATURE_FIELDS:
                    metadata[field] = values[0]
                else:
                    metadata[field] = values[-1]
        return metadata


class MailgunInboundWebhookView(MailgunBaseWebhookView):
    """Mailgun inbound: a receiving route's forward() post, one message each.

    Mailgun posts the raw message in ``body-mime`` when the forward URL
    contains "mime"; otherwise it posts the message taken apart:
    ``message-headers``, ``body-plain``, ``body-html`` and the attachments as
    uploaded files ``attachment-1`` ... ``attachment-<attachment-count>``.
    """

    signal = inbound

    def parse_events(self, request):
        if self._is_json(request):
            # (Mailgun's inbound posts are forms; JSON is a tracking event,
            # even if it's one Anymail can't name)
            try:
                event = load_json(request.body, dict)["event-data"]["event"]
            except MALFORMED_PAYLOAD_ERRORS:
                event = "unknown"
            raise AnymailConfigurationError(
                f"You seem to have set Mailgun's *{event} tracking* webhook"
                " to Anymail's Mailgun *inbound* webhook URL."
                " (Or Mailgun has changed inbound events to use json.)"
            )
        post = form_fields(request)
        if "event" in post and post.getlist("event")[0] != "inbound":
            raise AnymailConfigurationError(
                f"You seem to have set Mailgun's *{post.getlist('event')[0]}"
                " tracking* webhook to Anymail's Mailgun *inbound* webhook URL."
            )
        if "attachments" in post:
            # a store() action's notification: attachments are JSON info
            # about files kept at Mailgun, not uploads
            raise AnymailConfigurationError(
                "You seem to have configured Mailgun's receiving route using"
                " the store() action. Anymail's inbound webhook requires the"
                " forward() action."
            )
        return [self.parse_inbound_event(request)]

    def parse_inbound_event(self, request):
        """The AnymailInboundEvent for a forward() post."""
        post, files = request.POST, request.FILES
        if "body-mime" in files:
            # (Mailgun sends a plain field, but a file upload works too, and
            # keeps 8-bit content byte for byte)
            upload = files["body-mime"]
            message = AnymailInboundMessage.parse_raw_mime_chunks(
                upload.chunks(DEFAULT_DOWNLOAD_CHUNK_SIZE)
            )
        elif "body-mime" in post:
            message = AnymailInboundMessage.parse_raw_mime_chunks(
                utf8_encoded_chunks(post["body-mime"])
            )
        else:
            message = AnymailInboundMessage.construct(
                headers=_message_header_pairs(post["message-headers"]),
                text=post.get("body-plain"),
                html=post.get("body-html"),
                attachments=self.parse_attachments(post, files),
            )

        message.envelope_sender = post.get("sender")
        message.envelope_recipient = post.get("recipient")
        message.stripped_text = post.get("stripped-text")
        message.stripped_html = post.get("stripped-html")
        spam_flag = message.get("X-Mailgun-Sflag")
        message.spam_detected = (
            spam_flag is not None and str(spam_flag).strip().lower() == "yes"
        )
        spam_score = message.get("X-Mailgun-Sscore")
        if spam_score is not None:
            try:
                message.spam_score = float(str(spam_score))
            except ValueError:
                pass  # not a number: leave it None

        return AnymailInboundEvent(
            event_type=EventType.INBOUND,
            timestamp=epoch_to_datetime(int(post["timestamp"])),
            event_id=post["token"],
            esp_event=request,
            message=message,
        )

    @staticmethod
    def parse_attachments(post, files):
        """Attachment parts for the uploaded attachment-1 ... attachment-N files.

        A file named in the content-id-map is an inline part with that
        Content-ID. Files Django didn't keep (it drops some filenames) are
        skipped.
        """
        count = int(post.get("attachment-count") or 0)
        content_ids = _content_ids_by_field(post.get("content-id-map"))
        numbered = []
        for field in files:  # (not range(count): the count could be huge)
            match = _ATTACHMENT_FIELD_RE.fullmatch(field)
            if match and int(match.group(1)) <= count:
                numbered.append((int(match.group(1)), field))
        return [
            _attachment_from_upload(files[field], content_ids.get(field))
            for _number, field in sorted(numbered)
        ]


def _wrap_message_id(message_id):
    """Mailgun's Message-Id without angle brackets → the <...> form Anymail
    reports when sending (left alone if it already starts with "<")."""
    if message_id is None or message_id.startswith("<"):
        return message_id
    return f"<{message_id}>"


_ATTACHMENT_FIELD_RE = re.compile(r"attachment-([1-9][0-9]*)")


class _JsonObjectPairs(list):
    """A JSON object's (key, value) pairs, in order, duplicate keys included."""


def _content_ids_by_field(content_id_map):
    """content-id-map's {"<cid>": "attachment-N", ...} as {field: cid}.

    Mailgun's map can repeat a key (several files with the same Content-ID),
    so every pair counts.
    """
    if not content_id_map:
        return {}
    pairs = json.loads(content_id_map, object_pairs_hook=_JsonObjectPairs)
    if not isinstance(pairs, _JsonObjectPairs):
        raise TypeError("Mailgun content-id-map must be a JSON object")
    content_ids = {}
    for content_id, field in pairs:
        if not isinstance(content_id, str) or not isinstance(field, str):
            raise TypeError("Mailgun content-id-map must map strings to strings")
        content_ids[field] = content_id
    return content_ids


def _message_header_pairs(message_headers):
    """message-headers' JSON [[name, value], ...] as (name, value) tuples."""
    pairs = []
    for name, value in load_json(message_headers, list):
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("Mailgun message-headers must be [name, value] strings")
        pairs.append((name, value))
    return pairs


def _attachment_from_upload(upload, content_id=None):
    """An AnymailInboundMessage attachment part for a Django UploadedFile.

    Reads the file once (an attached message/* is parsed as it streams), and
    keeps its bytes exactly as uploaded; inline when content_id is not None.
    """
    content_type = upload.content_type or "application/octet-stream"
    if content_type.partition("/")[0].strip().lower() == "message":
        part = AnymailInboundMessage.construct_attachment(
            content_type, "", filename=upload.name, content_id=content_id
        )
        # (parsed from the bytes as they are: no UTF-8 decoding required)
        part.set_payload(
            [
                AnymailInboundMessage.parse_raw_mime_chunks(
                    upload.chunks(DEFAULT_DOWNLOAD_CHUNK_SIZE)
                )
            ]
        )
        return part
    upload.seek(0)
    part = AnymailInboundMessage.construct_attachment(
        content_type, upload.read(), filename=upload.name, content_id=content_id
    )
    # The upload's declared charset is only recorded: giving it to
    # construct_attachment would re-encode the content (for some charsets
    # turning CRLF into LF)
    charset = _upload_charset(upload)
    if charset:
        part.set_param("charset", charset, header="Content-Type")
    return part


def _upload_charset(upload):
    """An UploadedFile's declared charset as a str (None if none or not ASCII).

    (Django gives it as bytes.)
    """
    charset = upload.charset
    if isinstance(charset, bytes):
        try:
            charset = charset.decode("ascii")
        except UnicodeDecodeError:
            return None
    return charset or None
